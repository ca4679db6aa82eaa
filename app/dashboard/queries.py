"""Named queries of the dashboard's trend and due-soon figures.

Over every station the trend is counted month by month, each month a range count over an index (scalar
subqueries of one statement), rather than grouped by EXTRACT(year/month), which converted the date of each of
the year's ~530,000 records at a million instruments; a range count only steps through index entries
(docs/decisions.md, issue 13).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, extract, func, select

from app.instruments.models import Instrument, InstrumentStatus, Verification
from app.instruments.queries import worklist_condition
from app.scope import Scope


def _station(stmt: Select, scope: Scope, station_id: int | None) -> Select:
    stmt = scope.apply(stmt, Instrument.station_id)
    return stmt.where(Instrument.station_id == station_id) if station_id else stmt


def month_ranges(starts: list[dt.date], last: dt.date) -> list[tuple[dt.date, dt.date]]:
    """[first, next first) of each month starting at `starts`; the last range ends the day after `last`."""
    ends = starts[1:] + [last + dt.timedelta(days=1)]
    return list(zip(starts, ends))


def verifications_in_months(starts: list[dt.date], last: dt.date) -> Select:
    """One row: the valid verification records of every station dated in each month of `starts` (the last
    month up to `last`), a column per month, oldest first; each a range count over the date index alone."""
    def in_month(first: dt.date, end: dt.date):
        return (select(func.count()).select_from(Verification)
                .where(Verification.in_force(), Verification.verified_on >= first,
                       Verification.verified_on < end).scalar_subquery())

    return select(*(in_month(first, end).label(f"m{k}") for k, (first, end) in enumerate(month_ranges(starts, last))))


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
