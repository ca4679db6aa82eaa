"""Named queries of the dashboard's overdue-by-month and due-soon figures; the verification records of each
month come from the per-station counts (app/counts, docs/decisions.md issues 13 and 18)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, func, select

from app.instruments.models import Instrument, InstrumentStatus
from app.instruments.queries import worklist_condition
from app.scope import Scope


def _station(stmt: Select, scope: Scope, station_id: int | None) -> Select:
    stmt = scope.apply(stmt, Instrument.station_id)
    return stmt.where(Instrument.station_id == station_id) if station_id else stmt


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
