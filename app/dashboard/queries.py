"""Named queries of the dashboard's trend and due-soon figures."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, extract, func, select

from app.instruments.models import Instrument, InstrumentStatus, Verification
from app.instruments.queries import worklist_condition
from app.scope import Scope


def _station(stmt: Select, scope: Scope, station_id: int | None) -> Select:
    stmt = scope.apply(stmt, Instrument.station_id)
    return stmt.where(Instrument.station_id == station_id) if station_id else stmt


def verifications_by_month(scope: Scope, first: dt.date, last: dt.date, station_id: int | None = None) -> Select:
    """(year, month, valid verification records) dated first..last."""
    year, month = extract("year", Verification.verified_on), extract("month", Verification.verified_on)
    stmt = (select(year, month, func.count()).select_from(Verification)
            .where(Verification.voided_at.is_(None), Verification.verified_on.between(first, last))
            .group_by(year, month))
    if scope.is_all and not station_id:
        return stmt  # no join needed when nothing narrows the stations
    return _station(stmt.join(Instrument, Instrument.id == Verification.instrument_id), scope, station_id)


def due_by_month_before(scope: Scope, day: dt.date, station_id: int | None = None) -> Select:
    """(year, month, in-use instruments) by the month of their due date, for due dates before `day`."""
    year, month = extract("year", Instrument.next_due_on), extract("month", Instrument.next_due_on)
    stmt = (select(year, month, func.count())
            .where(Instrument.status == InstrumentStatus.IN_USE, Instrument.next_due_on < day)
            .group_by(year, month))
    return _station(stmt, scope, station_id)


def due_soon_by_type(scope: Scope, today: dt.date, days: int, station_id: int | None = None) -> Select:
    """(type_id, in-use instruments due within `days`)."""
    stmt = (select(Instrument.type_id, func.count()).where(worklist_condition("due_soon", today, days))
            .group_by(Instrument.type_id))
    return _station(stmt, scope, station_id)
