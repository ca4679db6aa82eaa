"""Named queries of the monthly report archive."""
from __future__ import annotations

from sqlalchemy import Select, select

from app.monthly.models import ALL_STATIONS, MonthlyReport
from app.scope import Scope


def archive(scope: Scope, month: str | None = None) -> Select:
    """Reports the user may open, newest month first; all-station reports only for an unrestricted scope."""
    stmt = select(MonthlyReport).order_by(MonthlyReport.month.desc(), MonthlyReport.scope_key)
    if month:
        stmt = stmt.where(MonthlyReport.month == month)
    if scope.is_all:
        return stmt
    return scope.apply(stmt.where(MonthlyReport.scope_key != ALL_STATIONS), MonthlyReport.station_id)


def report_in_scope(scope: Scope, report_id: int) -> Select:
    """One report, if the user may open it."""
    return archive(scope).where(MonthlyReport.id == report_id)


