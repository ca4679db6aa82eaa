"""Keep the per-station counts in step with the ledger, and read them for a scope (no Flask).

Every write of the ledger that can move a count is seen in its own transaction and applied just before it
commits, so what commits is as exact as a fresh count: ORM changes of an instrument or a verification record
(one at a time: forms, the field app, recompute_kind) are taken at flush as before/after states and applied as
+1/-1 on the stored rows; set-based writes (imports and their undo, recompute_dates, a merchant moving station)
name their stations through counts_changed()/verifications_changed_for() and those (station, kind) rows and
months are recounted by grouped INSERT ... SELECT. Each commit's stations are locked in id order first. The
worklists depend on the day: a station's rows hold the day they were counted for (StationCountDay); readers
count live any station whose rows are of another day or missing, and the daily job rebuilds every station.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import Select, delete, event, inspect, insert, literal, select, update
from sqlalchemy.orm import Session

from app.accounts.models import Station
from app.counts import queries, snapshots
from app.counts.models import FIGURES, STATUS_FIGURES, StationCount, StationCountDay, StationMonth
from app.db import count_of, utcnow
from app.instruments.engine import add_months
from app.instruments.models import Instrument, InstrumentStatus, Verification, VerificationResult
from app.scope import Scope

log = logging.getLogger(__name__)

# config.py's DUE_SOON_DAYS default: the window a station's rows are first counted with; a reader asking for
# another window counts live.
DEFAULT_DAYS = 30
# The instrument columns a count depends on.
COUNTED_COLUMNS = frozenset({"station_id", "type_id", "status", "next_due_on", "replace_by", "last_verified_on",
                             "last_result"})
# Up to this many stations, their months are counted one station at a time (an index walk each); more, in one
# grouped pass over the records of those months.
FEW_STATIONS = 20
# The columns of a verification record the trend depends on.
COUNTED_RECORD_COLUMNS = ("instrument_id", "verified_on", "voided_at")
PENDING, DECLARED, UNDECLARED = "counts_pending", "counts_declared", "counts_undeclared_write"
# Months whose records were written set-based: {station_id: {first day of month}}, recounted at commit.
STATION_MONTHS = "counts_station_months"
# Set when this transaction wrote anything: its commit drops the page snapshots (app/counts/snapshots.py).
WROTE = "counts_wrote"
ALL_KINDS = None


def _today() -> dt.date:
    from app import clock  # looked up at call time: tests move the clock

    return clock.today()


def counts_changed(session: Session, station_ids: Iterable[int | None], type_ids: Iterable[int] | None = ALL_KINDS
                   ) -> None:
    """Record that a write in this transaction moved these stations' counts (of these kinds; all when None);
    they are recounted just before commit."""
    pending: dict[int, set[int] | None] = session.info.setdefault(PENDING, {})
    kinds = None if type_ids is None else set(type_ids)
    for sid in station_ids:
        if sid is None:
            continue
        if kinds is None or (sid in pending and pending[sid] is None):
            pending[sid] = None
        else:
            pending.setdefault(sid, set()).update(kinds)
    session.info[DECLARED] = True
    session.info[WROTE] = True


def counts_changed_for(session: Session, instrument_ids: Iterable[int]) -> None:
    """counts_changed() for the stations and kinds of these instruments (read set-based, by chunks)."""
    ids = sorted(set(instrument_ids))
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        pairs = session.execute(select(Instrument.station_id, Instrument.type_id).distinct()
                                .where(Instrument.id.in_(chunk))).all()
        by_station: dict[int, set[int]] = defaultdict(set)
        for sid, tid in pairs:
            by_station[sid].add(tid)
        for sid, kinds in by_station.items():
            counts_changed(session, [sid], kinds)
    session.info[DECLARED] = True


def window(today: dt.date) -> list[tuple[dt.date, dt.date]]:
    """[first, end) of the twelve months ending with today's; the last ends the day after `today`."""
    this_month = today.replace(day=1)
    starts = [add_months(this_month, -k) for k in range(11, -1, -1)]
    return list(zip(starts, starts[1:] + [today + dt.timedelta(days=1)]))


def verifications_changed_for(session: Session, verification_ids: Iterable[int]) -> None:
    """Record that these verification records were written set-based (their months are recounted before commit;
    call it before deleting them)."""
    ids = sorted(set(verification_ids))
    months: dict[int, set[dt.date]] = session.info.setdefault(STATION_MONTHS, {})
    for start in range(0, len(ids), 5000):
        rows = session.execute(select(Instrument.station_id, Verification.verified_on).distinct()
                               .join(Verification, Verification.instrument_id == Instrument.id)
                               .where(Verification.id.in_(ids[start:start + 5000]))).all()
        for sid, on in rows:
            months.setdefault(sid, set()).add(on.replace(day=1))
    session.info[DECLARED] = True


def _store_months(session: Session, today: dt.date, station_ids: set[int] | None,
                  months: set[dt.date] | None = None) -> None:
    ranges = [r for r in window(today) if months is None or r[0] in months]
    if not ranges:
        return
    session.execute(queries.delete_months(station_ids, None if months is None else [r[0] for r in ranges]))
    if station_ids is not None and len(station_ids) <= FEW_STATIONS:
        counted = [row for sid in sorted(station_ids)
                   for row in session.execute(queries.station_months_counted(ranges, sid))]
    else:
        counted = list(session.execute(queries.months_counted(ranges, station_ids)))
    rows = [{"station_id": sid, "month": first, "verified": int(n)}
            for sid, *counts in counted for (first, _end), n in zip(ranges, counts) if n]
    if rows:
        session.execute(insert(StationMonth), rows)


def refresh_months(session: Session, today: dt.date, months: dict[int, set[dt.date]]) -> None:
    """Recount these stations' months (those of today's twelve) from the ledger; a station not counted for
    today is recounted whole."""
    if not months:
        return
    _lock(session, months)
    current = {sid for sid, as_of, _d, _at in session.execute(queries.days_of(months)) if as_of == today}
    by_months: dict[frozenset[dt.date], set[int]] = defaultdict(set)
    for sid, wanted in months.items():
        if sid in current:
            by_months[frozenset(wanted)].add(sid)
    for wanted, group in by_months.items():
        _store_months(session, today, group, set(wanted))
    refresh(session, today, set(months) - current)


def _lock(session: Session, station_ids: Iterable[int] | None) -> None:
    """Take the stations' rows (in id order) for this transaction's recount: two writers' recounts of a station
    follow one another, the second seeing the first's rows, rather than both inserting them (PostgreSQL; SQLite
    writes one at a time anyway). NO KEY UPDATE leaves the foreign-key checks of other writers free."""
    # key_share without read: FOR NO KEY UPDATE.
    stmt = select(Station.id).order_by(Station.id).with_for_update(key_share=True, of=Station)
    if station_ids is not None:
        stmt = stmt.where(Station.id.in_(sorted(station_ids)))
    session.execute(stmt).all()


def refresh(session: Session, today: dt.date, station_ids: Iterable[int], type_ids: Iterable[int] | None = None,
            days: int | None = None) -> None:
    """Recount these stations' rows (only these kinds when given, for stations already counted for `today`)
    from the ledger, set-based."""
    stations = set(station_ids)
    if not stations:
        return
    _lock(session, stations)
    known = {sid: (as_of, d) for sid, as_of, d, _at in session.execute(queries.days_of(stations))}
    current = {sid for sid, (as_of, d) in known.items() if as_of == today and (days is None or d == days)}
    if type_ids is not None and current:
        by_days: dict[int, set[int]] = defaultdict(set)
        for sid in current:
            by_days[known[sid][1]].add(sid)
        for d, group in by_days.items():
            session.execute(queries.delete_rows(group, type_ids))
            session.execute(queries.insert_counted(today, d, group, type_ids))
        stations -= current
    if not stations:
        return
    by_days = defaultdict(set)
    for sid in stations:
        by_days[days or (known[sid][1] if sid in known else DEFAULT_DAYS)].add(sid)
    for d, group in by_days.items():
        session.execute(queries.delete_rows(group))
        session.execute(queries.insert_counted(today, d, group))
        _store_months(session, today, group)
        session.execute(queries.delete_days(group))
        session.execute(insert(StationCountDay), [{"station_id": sid, "as_of": today, "due_soon_days": d,
                                                   "counted_at": utcnow()} for sid in sorted(group)])


def rebuild(session: Session, today: dt.date, days: int = DEFAULT_DAYS) -> int:
    """Recount every station for `today` (the daily job, after the day changed; the demo and bench loaders after
    their set-based loads); returns the stations counted."""
    session.flush()
    _lock(session, None)
    session.execute(queries.delete_rows())
    session.execute(queries.insert_counted(today, days))
    _store_months(session, today, None)
    session.execute(queries.delete_days())
    session.execute(insert(StationCountDay).from_select(
        ["station_id", "as_of", "due_soon_days", "counted_at"],
        select(Station.id, literal(today), literal(days), literal(utcnow(), StationCountDay.counted_at.type))))
    # Everything written before in this transaction is counted now.
    for key in (PENDING, UNDECLARED, STATION_MONTHS, INSTRUMENT_DELTAS, RECORD_DELTAS):
        session.info.pop(key, None)
    return session.scalar(select(queries.func.count()).select_from(StationCountDay)) or 0


def one_station(scope: Scope) -> bool:
    """True for a scope of at most one station: its figures are counted live (a station's rows are few);
    several stations read the per-station counts kept in step with the ledger."""
    return scope.station_ids is not None and len(scope.station_ids) <= 1


def narrowed(scope: Scope, station_id: int | None) -> Scope:
    """The scope cut to one of its stations when one is chosen."""
    if not station_id:
        return scope
    return Scope(frozenset({station_id}) & scope.station_ids if scope.station_ids is not None
                 else frozenset({station_id}))


def figures(session: Session, scope: Scope, today: dt.date, days: int, by: str = "type") -> dict[int, dict[str, int]]:
    """{type_id or station_id: {figure: n}} over the scope, grouped `by` "type" or "station": stored rows for
    the stations counted for today with this window, a live grouped count for the others."""
    wanted = None if scope.is_all else set(scope.station_ids or ())
    if wanted is not None and not wanted:
        return {}
    fresh = {sid for sid, as_of, d, _at in session.execute(queries.days_of(wanted)) if as_of == today and d == days}
    if wanted is None:
        stale = set(session.scalars(select(Station.id))) - fresh
    else:
        stale = wanted - fresh
    out: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    parts = []
    if fresh:
        parts.append(queries.stored(fresh, by))
    if stale:
        # Everything stale (nothing stored yet): one unrestricted count rather than a list of every station.
        parts.append(queries.live(today, days, None if (wanted is None and not fresh) else stale, by))
    for stmt in parts:
        for key, *values in session.execute(stmt):
            row = out[key]
            for name, n in zip(FIGURES, values):
                row[name] += int(n or 0)
    return dict(out)


def list_total(session: Session, stmt: Select, scope: Scope, today: dt.date, days: int, names: tuple[str, ...],
               type_id: int | None = None) -> int:
    """The rows of `stmt`, a list of the scope's instruments (of one kind when given) under these figures (their
    statuses, or one worklist): summed from the stored rows, and counted by `stmt` for the stations those cannot
    answer for. A station's status figures hold whatever day it was counted for (every write recounts or
    adjusts it); a worklist's only for today, and due-soon only for the same window."""
    wanted = None if scope.is_all else set(scope.station_ids or ())
    if wanted is not None and not wanted:
        return 0
    by_status = set(names) <= set(STATUS_FIGURES)
    fresh = {sid for sid, as_of, d, _at in session.execute(queries.days_of(wanted))
             if by_status or (as_of == today and (d == days or "due_soon" not in names))}
    stale = (set(session.scalars(select(Station.id))) if wanted is None else wanted) - fresh
    total = int(session.scalar(queries.stored_sum(fresh, names, type_id)) or 0) if fresh else 0
    if stale:
        total += session.execute(count_of(stmt.where(Instrument.station_id.in_(sorted(stale))))).scalar_one()
    return total


def verified_by_month(session: Session, scope: Scope, today: dt.date) -> list[int]:
    """Valid verification records of the scope's instruments in each of the twelve months ending with today's
    (oldest first): stored months for the stations counted for today, a live grouped count for the others."""
    ranges = window(today)
    wanted = None if scope.is_all else set(scope.station_ids or ())
    if wanted is not None and not wanted:
        return [0] * len(ranges)
    fresh = {sid for sid, as_of, _d, _at in session.execute(queries.days_of(wanted)) if as_of == today}
    stale = (set(session.scalars(select(Station.id))) if wanted is None else wanted) - fresh
    by_month: dict[dt.date, int] = defaultdict(int)
    if fresh:
        for month, n in session.execute(queries.stored_months(fresh, [first for first, _ in ranges])):
            by_month[month] += int(n or 0)
    if stale:
        if len(stale) <= FEW_STATIONS:
            live = [row for sid in sorted(stale) for row in session.execute(queries.station_months_counted(ranges, sid))]
        else:
            live = session.execute(queries.months_counted(ranges, None if (wanted is None and not fresh) else stale))
        for _sid, *counts in live:
            for (first, _end), n in zip(ranges, counts):
                by_month[first] += int(n or 0)
    return [by_month[first] for first, _ in ranges]


def totals(rows: dict[int, dict[str, int]]) -> dict[str, int]:
    """The figures summed over every row."""
    return {name: sum(r[name] for r in rows.values()) for name in FIGURES}


# --- keeping in step: ORM writes are seen at flush, set-based ones are declared; recounted before commit ---

# An instrument's counted columns, in this order, before and after a flush (None: it did not exist).
STATE_COLUMNS = ("station_id", "type_id", "status", "next_due_on", "replace_by", "last_verified_on", "last_result")
INSTRUMENT_DELTAS, RECORD_DELTAS = "counts_instrument_deltas", "counts_record_deltas"


def _before_after(obj, session: Session, columns: tuple[str, ...]) -> tuple[tuple | None, tuple | None, bool]:
    """The object's columns as committed before this flush and as flushed (None when new or deleted), and
    whether the old values are unknown (a column set while expired: the ORM did not load what it replaced)."""
    state = inspect(obj)
    now = tuple(getattr(obj, c) for c in columns)
    if obj in session.new:
        return None, now, False
    old, unknown = [], False
    for name, value in zip(columns, now):
        history = state.attrs[name].history
        if history.added and not history.deleted:
            unknown = True
        old.append(history.deleted[0] if history.deleted else value)
    return tuple(old), (None if obj in session.deleted else now), unknown


def _after_flush(session: Session, _context) -> None:
    # ORM writes (one instrument or record at a time): kept as before/after states and applied at commit as
    # +1/-1 on the stored rows, which costs nothing like a recount of the station.
    instruments = session.info.setdefault(INSTRUMENT_DELTAS, [])
    records = session.info.setdefault(RECORD_DELTAS, [])
    pending = session.info.setdefault(PENDING, {})
    for obj in list(session.new) + list(session.deleted) + list(session.dirty):
        if isinstance(obj, Instrument):
            old, new, unknown = _before_after(obj, session, STATE_COLUMNS)
            if unknown:
                if inspect(obj).attrs.station_id.history.added and not inspect(obj).attrs.station_id.history.deleted:
                    session.info[UNDECLARED] = True  # moved from an unknown station: every station counted live
                pending[obj.station_id] = None
                continue
            if old == new:
                continue
            if old is not None and new is not None and old[0] != new[0]:
                # Moved to another station with its records: both stations are recounted whole.
                pending[old[0]] = pending[new[0]] = None
                continue
            instruments.append((old, new))
        elif isinstance(obj, Verification):
            old, new, unknown = _before_after(obj, session, COUNTED_RECORD_COLUMNS)
            if unknown:
                session.info.setdefault(STATION_MONTHS, {}).setdefault(
                    session.scalar(select(Instrument.station_id).where(Instrument.id == obj.instrument_id)),
                    set()).update(first for first, _end in window(_today()))
            elif old != new:
                records.append((old, new))


def _contribution(state: tuple, today: dt.date, days: int) -> dict[str, int]:
    """What one instrument adds to its (station, kind) row: the Python twin of queries.counted()."""
    _sid, _tid, status, due, replace_by, last_verified, last_result = state
    status = InstrumentStatus(getattr(status, "value", status))
    in_use = status == InstrumentStatus.IN_USE
    result = getattr(last_result, "value", last_result)
    figures = {s: int(status == InstrumentStatus(s)) for s in STATUS_FIGURES}
    figures.update(
        due_soon=int(in_use and due is not None and today <= due <= today + dt.timedelta(days=days)),
        overdue=int(in_use and due is not None and due < today),
        past_service_life=int(in_use and replace_by is not None and replace_by < today),
        never_verified=int(in_use and last_verified is None),
        failed=int(in_use and result == VerificationResult.FAIL.value))
    return figures


def _delta_stations(session: Session) -> tuple[set[int], dict[int, int]]:
    """The stations this transaction's ORM changes touch, and the station of each record's instrument."""
    records = session.info.get(RECORD_DELTAS, [])
    inst_ids = sorted({st[0] for pair in records for st in pair if st is not None})
    station_of: dict[int, int] = {}
    for start in range(0, len(inst_ids), 5000):
        station_of.update(session.execute(select(Instrument.id, Instrument.station_id)
                                          .where(Instrument.id.in_(inst_ids[start:start + 5000]))).all())
    instruments = session.info.get(INSTRUMENT_DELTAS, [])
    return {st[0] for pair in instruments for st in pair if st is not None} | set(station_of.values()), station_of


def _apply_deltas(session: Session, today: dt.date, stations: set[int], station_of: dict[int, int]) -> set[int]:
    """Apply this transaction's ORM changes as +1/-1 to these stations where counted for today; returns the
    stations that were not (to be recounted whole)."""
    instruments = session.info.pop(INSTRUMENT_DELTAS, [])
    records = session.info.pop(RECORD_DELTAS, [])
    if not stations:
        return set()
    days_of = {sid: d for sid, as_of, d, _at in session.execute(queries.days_of(stations)) if as_of == today}
    counts: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    for pair in instruments:
        for sign, st in zip((-1, 1), pair):
            if st is not None and st[0] in days_of and st[0] in stations:
                row = counts[(st[0], st[1])]
                for name, n in _contribution(st, today, days_of[st[0]]).items():
                    row[name] += sign * n
    months: dict[tuple[int, dt.date], int] = defaultdict(int)
    first = window(today)[0][0]
    for pair in records:
        for sign, st in zip((-1, 1), pair):
            # st: (instrument_id, verified_on, voided_at); only valid records in today's twelve months count.
            if st is None or st[2] is not None or st[1] is None or not first <= st[1] <= today:
                continue
            sid = station_of.get(st[0])
            if sid in days_of and sid in stations:
                months[(sid, st[1].replace(day=1))] += sign
    for (sid, tid), delta in counts.items():
        if any(delta.values()):
            _add(session, StationCount, {"station_id": sid, "type_id": tid}, delta)
    for (sid, month), delta in months.items():
        if delta:
            _add(session, StationMonth, {"station_id": sid, "month": month}, {"verified": delta})
    session.execute(delete(StationCount).where(StationCount.station_id.in_(sorted(days_of)),
                                               sum((getattr(StationCount, s) for s in STATUS_FIGURES[1:]),
                                                   StationCount.in_use) == 0))
    session.execute(delete(StationMonth).where(StationMonth.station_id.in_(sorted(days_of)),
                                               StationMonth.verified == 0))
    return stations - set(days_of)


def _add(session: Session, model, key: dict, delta: dict[str, int]) -> None:
    """Add `delta` to the stored row of `key`, creating it (the stations are locked: no one else inserts it)."""
    table = model.__table__
    cond = [table.c[k] == v for k, v in key.items()]
    done = session.execute(update(table).where(*cond)
                           .values({k: table.c[k] + v for k, v in delta.items()})).rowcount
    if not done:
        session.execute(insert(table).values({**key, **{k: v for k, v in delta.items()}}))


def _executed(state) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    state.session.info[WROTE] = True
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) != Instrument.__tablename__:
        return
    if state.is_update:
        columns = {getattr(k, "key", getattr(k, "name", k)) for k in getattr(state.statement, "_values", None) or ()}
        if columns and not columns & COUNTED_COLUMNS:
            return  # a token or search text: no count moves
    state.session.info[UNDECLARED] = True


def _before_commit(session: Session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()  # changes not flushed yet are seen by _after_flush now, not after this hook
    keys = (PENDING, UNDECLARED, STATION_MONTHS, INSTRUMENT_DELTAS, RECORD_DELTAS)
    if not any(session.info.get(k) for k in keys):
        return
    pending = session.info.pop(PENDING, {})
    months: dict[int, set[dt.date]] = session.info.pop(STATION_MONTHS, {})
    if session.info.pop(UNDECLARED, False) and not session.info.get(DECLARED):
        # A set-based write that named no stations: nobody knows which counts moved, so every station is
        # counted live until the next rebuild rather than shown wrong.
        log.warning("instruments written without counts_changed(): every station counted live until rebuilt")
        session.execute(queries.delete_days())
    session.info.pop(DECLARED, None)
    today = _today()
    # Every station this commit recounts, locked at once in id order (locked piecemeal, two commits could each
    # hold a station the other waits for).
    delta_stations, station_of = _delta_stations(session)
    _lock(session, set(pending) | set(months) | delta_stations)
    # A station also recounted by a set-based write of this transaction is recounted whole, its ORM changes
    # included (a recount and a +1 of the same change would count it twice).
    for sid in delta_stations & (set(pending) | set(months)):
        pending[sid] = None
    by_kinds: dict[frozenset[int] | None, set[int]] = defaultdict(set)
    for sid, kinds in pending.items():
        by_kinds[None if kinds is None else frozenset(kinds)].add(sid)
    for kinds, stations in by_kinds.items():
        if kinds is not None and not kinds:
            continue
        refresh(session, today, stations, kinds)
    # Stations recounted whole above have their months already.
    whole = {sid for sid, kinds in pending.items() if kinds is None}
    refresh_months(session, today, {sid: m for sid, m in months.items() if sid not in whole})
    # Then the ORM changes as +1/-1 (a whole recount for a station not yet counted for today).
    whole = {sid for sid, kinds in pending.items() if kinds is None}
    refresh(session, today, _apply_deltas(session, today, delta_stations - whole, station_of))


def _wrote(session: Session, *_args) -> None:
    session.info[WROTE] = True


def _committed(session: Session) -> None:
    if session.info.pop(WROTE, False):
        snapshots.bump()


def _forget(session: Session, *_args) -> None:
    for key in (PENDING, DECLARED, UNDECLARED, STATION_MONTHS, WROTE, INSTRUMENT_DELTAS,
                RECORD_DELTAS):
        session.info.pop(key, None)


event.listen(Session, "after_flush", _after_flush)
event.listen(Session, "do_orm_execute", _executed)
event.listen(Session, "before_commit", _before_commit)
event.listen(Session, "after_rollback", _forget)
event.listen(Session, "after_flush", _wrote)
event.listen(Session, "after_commit", _committed)
