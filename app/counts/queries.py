"""Named queries of the per-station counts: the grouped count that builds them (the same conditions as the
worklists, app/instruments/queries.worklist_condition) and the sums read over a set of stations."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Select, delete, func, insert, literal, or_, select

from app.counts.models import FIGURES, STATUS_FIGURES, WORKLIST_FIGURES, StationCount, StationCountDay, StationMonth
from app.db import count_if
from app.instruments.models import Instrument, InstrumentStatus, Verification
from app.instruments.queries import worklist_condition


def counted(today: dt.date, days: int, station_ids: Iterable[int] | None = None,
            type_ids: Iterable[int] | None = None) -> Select:
    """(station_id, type_id, *FIGURES) counted from the ledger now: one grouped pass over the stations' rows."""
    figures = [count_if(Instrument.status == InstrumentStatus(s)).label(s) for s in STATUS_FIGURES]
    figures += [count_if(worklist_condition(w, today, days)).label(w) for w in WORKLIST_FIGURES]
    stmt = (select(Instrument.station_id, Instrument.type_id, *figures)
            .group_by(Instrument.station_id, Instrument.type_id))
    if station_ids is not None:
        stmt = stmt.where(Instrument.station_id.in_(sorted(station_ids)))
    if type_ids is not None:
        stmt = stmt.where(Instrument.type_id.in_(sorted(type_ids)))
    return stmt


def insert_counted(today: dt.date, days: int, station_ids: Iterable[int] | None = None,
                   type_ids: Iterable[int] | None = None):
    """INSERT ... SELECT of the counted rows."""
    return insert(StationCount).from_select(["station_id", "type_id", *FIGURES],
                                            counted(today, days, station_ids, type_ids))


def delete_rows(station_ids: Iterable[int] | None = None, type_ids: Iterable[int] | None = None):
    """DELETE the stored rows of these stations (all when None), only these kinds when given."""
    stmt = delete(StationCount)
    if station_ids is not None:
        stmt = stmt.where(StationCount.station_id.in_(sorted(station_ids)))
    if type_ids is not None:
        stmt = stmt.where(StationCount.type_id.in_(sorted(type_ids)))
    return stmt


def delete_days(station_ids: Iterable[int] | None = None):
    """DELETE the day rows of these stations (all when None): they are counted live until rebuilt."""
    stmt = delete(StationCountDay)
    if station_ids is not None:
        stmt = stmt.where(StationCountDay.station_id.in_(sorted(station_ids)))
    return stmt


def days_of(station_ids: Iterable[int] | None = None) -> Select:
    """(station_id, as_of, due_soon_days, counted_at) of the stations whose rows are stored."""
    stmt = select(StationCountDay.station_id, StationCountDay.as_of, StationCountDay.due_soon_days,
                  StationCountDay.counted_at)
    if station_ids is not None:
        stmt = stmt.where(StationCountDay.station_id.in_(sorted(station_ids)))
    return stmt


def stored(station_ids: Iterable[int], by: str) -> Select:
    """(station_id or type_id, *FIGURES) summed from the stored rows of these stations, grouped `by` "station"
    or "type"."""
    key = StationCount.station_id if by == "station" else StationCount.type_id
    return (select(key, *(func.sum(getattr(StationCount, f)).label(f) for f in FIGURES))
            .where(StationCount.station_id.in_(sorted(station_ids))).group_by(key))


def stored_sum(station_ids: Iterable[int], names: tuple[str, ...], type_id: int | None = None) -> Select:
    """These figures added up over the stored rows of these stations (of one kind when given)."""
    columns = [getattr(StationCount, n) for n in names]
    stmt = select(func.sum(sum(columns[1:], columns[0]))).where(StationCount.station_id.in_(sorted(station_ids)))
    if type_id is not None:
        stmt = stmt.where(StationCount.type_id == type_id)
    return stmt


def live(today: dt.date, days: int, station_ids: Iterable[int] | None, by: str) -> Select:
    """The same figures counted from the ledger, grouped `by` "station" or "type"."""
    key = Instrument.station_id if by == "station" else Instrument.type_id
    figures = [count_if(Instrument.status == InstrumentStatus(s)).label(s) for s in STATUS_FIGURES]
    figures += [count_if(worklist_condition(w, today, days)).label(w) for w in WORKLIST_FIGURES]
    stmt = select(key, *figures).group_by(key)
    if station_ids is not None:
        stmt = stmt.where(Instrument.station_id.in_(sorted(station_ids)))
    return stmt


def months_counted(ranges: list[tuple[dt.date, dt.date]], station_ids: Iterable[int] | None = None) -> Select:
    """(station_id, n per range): valid verification records of each station's instruments dated in each
    [first, end) range, one grouped pass over the records of those dates joined to their instruments."""
    columns = [count_if((Verification.verified_on >= first) & (Verification.verified_on < end)).label(f"m{k}")
               for k, (first, end) in enumerate(ranges)]
    stmt = (select(Instrument.station_id, *columns).join(Verification, Verification.instrument_id == Instrument.id)
            .where(Verification.in_force(), _in_ranges(ranges)).group_by(Instrument.station_id))
    if station_ids is not None:
        stmt = stmt.where(Instrument.station_id.in_(sorted(station_ids)))
    return stmt


def station_months_counted(ranges: list[tuple[dt.date, dt.date]], station_id: int) -> Select:
    """(station_id, n per range) of one station: its instrument ids drive the index (instrument_id,
    verified_on, voided_at); written as a join, SQLite's planner walks those dates' records of every station."""
    columns = [count_if((Verification.verified_on >= first) & (Verification.verified_on < end)).label(f"m{k}")
               for k, (first, end) in enumerate(ranges)]
    ids = select(Instrument.id).where(Instrument.station_id == station_id)
    return (select(literal(station_id).label("station_id"), *columns)
            .where(Verification.in_force(), _in_ranges(ranges), Verification.instrument_id.in_(ids)))


def _in_ranges(ranges: list[tuple[dt.date, dt.date]]):
    return or_(*(Verification.verified_on.between(first, end - dt.timedelta(days=1)) for first, end in ranges))


def delete_months(station_ids: Iterable[int] | None = None, months: Iterable[dt.date] | None = None):
    """DELETE the stored months of these stations (all when None), only these months when given."""
    stmt = delete(StationMonth)
    if station_ids is not None:
        stmt = stmt.where(StationMonth.station_id.in_(sorted(station_ids)))
    if months is not None:
        stmt = stmt.where(StationMonth.month.in_(sorted(months)))
    return stmt


def stored_months(station_ids: Iterable[int], months: list[dt.date]) -> Select:
    """(month, verified) summed over these stations' stored months."""
    return (select(StationMonth.month, func.sum(StationMonth.verified))
            .where(StationMonth.station_id.in_(sorted(station_ids)), StationMonth.month.in_(months))
            .group_by(StationMonth.month))
