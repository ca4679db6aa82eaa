"""Named instrument queries: lists, worklists and counts. Each returns a select()."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from app.instruments.models import HELD_COPY_MARK, Instrument, InstrumentStatus, Verification, VerificationResult
from app.scope import Scope
from app.search.keys import MIN_QUERY_CHARS, search_key
from app.search.match import Contains
from app.text import as_typed, identifier

WORKLISTS = {
    "due_soon": "即将到期",
    "overdue": "已超期",
    "past_service_life": "超过使用年限",
    "never_verified": "从未检定",
    "failed": "检定不合格",
}

SORTS = {
    "due": (Instrument.next_due_on, Instrument.id),
    "-due": (Instrument.next_due_on.desc(), Instrument.id.desc()),
    "replace": (Instrument.replace_by, Instrument.id),
    "-replace": (Instrument.replace_by.desc(), Instrument.id.desc()),
    "serial": (Instrument.serial_no, Instrument.id),
    "-serial": (Instrument.serial_no.desc(), Instrument.id.desc()),
    "new": (Instrument.id.desc(),),
    "old": (Instrument.id,),
}


# The sorts each list offers: each is read from an index in its order, whatever the depth (keyset pages,
# app/keyset.py), for one station, several (merged station by station) or all. A sort not offered (the list's
# column header is plain text) gets the list's default when a link asks for it.
LIST_SORTS = frozenset({"new", "old", "serial", "-serial", "due", "-due"})
WORKLIST_SORTS = {
    "due_soon": frozenset({"due", "-due"}),
    "overdue": frozenset({"due", "-due"}),
    "past_service_life": frozenset({"replace", "-replace"}),
    "never_verified": frozenset({"new", "old"}),
    "failed": frozenset({"due", "-due"}),
}
WORKLIST_DEFAULT_SORTS = {"due_soon": "due", "overdue": "due", "past_service_life": "replace",
                          "never_verified": "new", "failed": "due"}


@dataclass(frozen=True)
class InstrumentFilter:
    """What the user narrowed an instrument list to."""

    station_id: int | None = None
    type_id: int | None = None
    merchant_id: int | None = None
    status: str | None = None
    q: str = ""


def _filtered(stmt: Select, scope: Scope, f: InstrumentFilter) -> Select:
    stmt = scope.apply(stmt, Instrument.station_id)
    if f.station_id:
        stmt = stmt.where(Instrument.station_id == f.station_id)
    if f.type_id:
        stmt = stmt.where(Instrument.type_id == f.type_id)
    if f.merchant_id:
        stmt = stmt.where(Instrument.merchant_id == f.merchant_id)
    if f.status:
        stmt = stmt.where(Instrument.status == InstrumentStatus(f.status))
    text = as_typed(f.q)
    if len(key := search_key(f.q)) >= MIN_QUERY_CHARS:
        # The search page's indexed match: any part of the serial number or location.
        stmt = stmt.where(Contains(Instrument, key))
    elif text:
        stmt = stmt.where(Instrument.serial_no.startswith(identifier(text), autoescape=True)
                           | Instrument.location.contains(text, autoescape=True))
    return stmt


def instrument_list(scope: Scope, f: InstrumentFilter, sort: str = "new", sorts=LIST_SORTS) -> Select:
    """Instruments in scope matching the filter, in the chosen order (newest first unless `sort` is one of
    `sorts`: a page's are LIST_SORTS, an export, read once in full, may take any of SORTS)."""
    return _filtered(select(Instrument), scope, f).order_by(*SORTS[sort if sort in sorts else "new"])


def worklist_condition(name: str, today: dt.date, days: int):
    """The WHERE clause of a named worklist (in-use instruments only)."""
    in_use = Instrument.status == InstrumentStatus.IN_USE
    if name == "due_soon":
        return in_use & Instrument.next_due_on.between(today, today + dt.timedelta(days=days))
    if name == "overdue":
        return in_use & (Instrument.next_due_on < today)
    if name == "past_service_life":
        return in_use & (Instrument.replace_by < today)
    if name == "never_verified":
        return in_use & Instrument.last_verified_on.is_(None)
    if name == "failed":
        return in_use & (Instrument.last_result == VerificationResult.FAIL)
    raise KeyError(name)


def worklist(name: str, scope: Scope, f: InstrumentFilter, today: dt.date, days: int, sort: str = "",
             sorts=None) -> Select:
    """A worklist's instruments, most urgent first unless another of `sorts` is chosen (a page's: the
    worklist's WORKLIST_SORTS; None, for an export: any of SORTS)."""
    chosen = sort if sort in (SORTS if sorts is None else sorts) else WORKLIST_DEFAULT_SORTS[name]
    stmt = _filtered(select(Instrument), scope, f).where(worklist_condition(name, today, days))
    return stmt.order_by(*SORTS[chosen])


def worklist_count(name: str, scope: Scope, today: dt.date, days: int) -> Select:
    """How many instruments are on a worklist in the scope."""
    stmt = select(func.count()).select_from(Instrument).where(worklist_condition(name, today, days))
    return scope.apply(stmt, Instrument.station_id)


def counts_by_type_and_status(scope: Scope, station_id: int | None = None) -> Select:
    """(type_id, status, count) over the scope; served by a covering index."""
    stmt = select(Instrument.type_id, Instrument.status, func.count()).group_by(Instrument.type_id, Instrument.status)
    if station_id:
        stmt = stmt.where(Instrument.station_id == station_id)
    return scope.apply(stmt, Instrument.station_id)


def overdue_by_type(scope: Scope, today: dt.date, station_id: int | None = None) -> Select:
    """(type_id, count) of in-use overdue instruments."""
    stmt = (select(Instrument.type_id, func.count()).where(worklist_condition("overdue", today, 0))
            .group_by(Instrument.type_id))
    if station_id:
        stmt = stmt.where(Instrument.station_id == station_id)
    return scope.apply(stmt, Instrument.station_id)


def verifications_of(instrument_id: int) -> Select:
    """All of an instrument's records, voided ones included, newest first."""
    return (select(Verification).where(Verification.instrument_id == instrument_id)
            .order_by(Verification.verified_on.desc(), Verification.id.desc()))


def instruments_of_merchant(merchant_id: int) -> Select:
    """A merchant's instruments by kind and serial."""
    return select(Instrument).where(Instrument.merchant_id == merchant_id).order_by(Instrument.type_id,
                                                                                    Instrument.serial_no)


def replaced_by(instrument_id: int) -> Select:
    """The instruments this one replaced."""
    return select(Instrument).where(Instrument.replaced_by_id == instrument_id)


def held_copies() -> Select:
    """Instruments held by migration 0014 as copies of an earlier record (their serial key carries their id)."""
    return select(Instrument).where(Instrument.serial_key.contains(HELD_COPY_MARK)).order_by(Instrument.id)


def same_identity(type_id: int, serial_key: str) -> Select:
    """Every instrument (held copies included) of this kind whose serial folds to `serial_key`."""
    return (select(Instrument).where(Instrument.type_id == type_id,
                                     (Instrument.serial_key == serial_key)
                                     | Instrument.serial_key.startswith(serial_key + HELD_COPY_MARK, autoescape=True))
            .order_by(Instrument.id))


def unknown_maker_collisions() -> Select:
    """(type id, serial key) where an instrument without a maker shares kind and serial with one that has one:
    the forms and the import take them for one instrument, which the unique key alone cannot tell."""
    other = aliased(Instrument)
    return (select(Instrument.type_id, Instrument.serial_key).distinct()
            .join(other, (other.type_id == Instrument.type_id) & (other.serial_key == Instrument.serial_key)
                  & (other.maker_key != ""))
            .where(Instrument.maker_key == "")
            .order_by(Instrument.type_id, Instrument.serial_key))
