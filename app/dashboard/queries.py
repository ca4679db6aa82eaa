"""Named queries of the dashboard's trend and due-soon figures for one station; several stations read the
per-station counts (app/counts), which count each month as a range over the date index (docs/decisions.md,
issues 13 and 18)."""
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
    """(year, month, valid verification records) of the scope's (or one station's) instruments, dated first..last."""
    year, month = extract("year", Verification.verified_on), extract("month", Verification.verified_on)
    # The scope's instrument ids drive the index (instrument_id, verified_on, voided_at): written as a join,
    # SQLite's planner went through the year's records of every station and looked each instrument up.
    ids = _station(select(Instrument.id), scope, station_id)
    return (select(year, month, func.count()).select_from(Verification)
            .where(Verification.in_force(), Verification.verified_on.between(first, last),
                   Verification.instrument_id.in_(ids))
            .group_by(year, month))


def overdue_by_month(scope: Scope, starts: list[dt.date], today: dt.date, station_id: int | None = None) -> Select:
    """One row: in-use instruments whose due date falls before the second month of `starts`, then in each
    later month (the last one up to the day before `today`); summed up they give the overdue at each month's end."""
    bounds = [dt.date.min] + starts[1:] + [today]

    def due_between(lo: dt.date, hi: dt.date):
        stmt = select(func.count()).select_from(Instrument).where(Instrument.status == InstrumentStatus.IN_USE,
                                                                  Instrument.next_due_on < hi)
        if lo != dt.date.min:
            stmt = stmt.where(Instrument.next_due_on >= lo)
        return _station(stmt, scope, station_id).scalar_subquery()

    return select(*(due_between(lo, hi).label(f"m{k}") for k, (lo, hi) in enumerate(zip(bounds, bounds[1:]))))


def due_soon_by_type(scope: Scope, today: dt.date, days: int, station_id: int | None = None) -> Select:
    """(type_id, in-use instruments due within `days`)."""
    stmt = (select(Instrument.type_id, func.count()).where(worklist_condition("due_soon", today, days))
            .group_by(Instrument.type_id))
    return _station(stmt, scope, station_id)
