"""Named queries of the monthly report archive."""
from __future__ import annotations

from sqlalchemy import Select, or_, select

from app.monthly.models import ALL_STATIONS, MonthlyReport
from app.scope import Scope


def archive(scope: Scope, month: str | None = None, regions: frozenset[int] | None = frozenset()) -> Select:
    """Reports the user may open, newest month first: all-station reports only for an unrestricted scope; a
    city's or province's edition for users whose region it is or lies under (`regions`: those region ids;
    None: every region)."""
    stmt = select(MonthlyReport).order_by(MonthlyReport.month.desc(), MonthlyReport.scope_key)
    if month:
        stmt = stmt.where(MonthlyReport.month == month)
    if scope.is_all:
        return stmt
    stations = scope.condition(MonthlyReport.station_id)
    mine = stations if not regions else or_(stations, MonthlyReport.region_id.in_(sorted(regions)))
    return stmt.where(MonthlyReport.scope_key != ALL_STATIONS, mine)


def report_in_scope(scope: Scope, report_id: int, regions: frozenset[int] | None = frozenset()) -> Select:
    """One report, if the user may open it."""
    return archive(scope, regions=regions).where(MonthlyReport.id == report_id)


