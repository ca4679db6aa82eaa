"""Capturing instrument and verification changes into the webhook outbox, in the change's own transaction.

Every write path ends here (no Flask):
- ORM writes (forms, the API, the field app, recompute_kind): an `after_flush` listener on every Session
  collects the instruments and verifications the flush created or changed and calls `capture`;
- Core and bulk writes (importers/apply.py: apply, recompute, undo; merchants' station move; bodies'
  linking) call `capture` themselves with the ids they wrote.

`capture` is one set-based INSERT ... SELECT per event type and chunk of ids: the database joins the
records with the subscriptions whose token covers them and builds each event's JSON itself, so 100,000
imported rows cost a few statements. It first asks whether any active subscription exists (one indexed
read per transaction), so an installation without webhooks writes nothing and pays one query per
transaction that touches these records.

Not captured, on purpose: a record's search text (derived, written after the change that is captured) and
its public token (app/public: not an edit of the instrument, it bypasses the version counter too).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import and_, case, event, exists, false, insert, inspect, literal, or_, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.api.models import ApiToken, TokenScope, api_token_stations
from app.catalog.models import InstrumentType
from app.db import JsonObject, UTCDateTime, utcnow
from app.instruments.models import Instrument, InstrumentStatus, Verification
from app.webhooks.models import DeliveryStatus, WebhookEvent, WebhookSubscription

CHUNK = 5000
INSTRUMENT, VERIFICATION = "instrument", "verification"
EVENTS, SUBS, TOKENS = WebhookEvent.__table__, WebhookSubscription.__table__, ApiToken.__table__
I, V, K = Instrument.__table__, Verification.__table__, InstrumentType.__table__
STATION_SCOPES = (TokenScope.READ.value, TokenScope.WRITE.value)

# The fields an event carries: what the API shows of the record, without timestamps (their text differs
# between the backends; `occurred_at` says when).
INSTRUMENT_FIELDS = ("id", "type_id", "merchant_id", "station_id", "serial_no", "maker", "model", "measuring_range",
                     "accuracy_class", "location", "install_address", "region", "purpose", "origin", "submission",
                     "nozzle_count", "status", "notes", "first_verified_on", "last_verified_on", "last_result",
                     "next_due_on", "replace_by", "replaced_by_id", "version")
VERIFICATION_FIELDS = ("id", "instrument_id", "verified_on", "institution", "body_id", "certificate_no", "result",
                       "valid_until", "notes", "void_reason")


def _instrument_data() -> JsonObject:
    return JsonObject({**{f: I.c[f] for f in INSTRUMENT_FIELDS}, "type_code": K.c.code})


def _verification_data() -> JsonObject:
    return JsonObject({**{f: V.c[f] for f in VERIFICATION_FIELDS},
                       "voided": case((V.c.voided_at.is_(None), false()), else_=true()),
                       "station_id": I.c.station_id, "type_id": I.c.type_id, "serial_no": I.c.serial_no})


def _usable_token(now: dt.datetime):
    return and_(TOKENS.c.id == SUBS.c.token_id, TOKENS.c.revoked_at.is_(None), TOKENS.c.expires_at > now)


def _covers_station(station_id, merchant_id):
    """A station token covers its stations (and, when it is limited to one merchant, only that merchant's)."""
    ts = api_token_stations
    return and_(TOKENS.c.scope.in_(STATION_SCOPES),
                exists().where(ts.c.token_id == TOKENS.c.id, ts.c.station_id == station_id),
                or_(TOKENS.c.merchant_id.is_(None), TOKENS.c.merchant_id == merchant_id))


def capture_statement(record_type: str, event_type: str, ids: list[int], now: dt.datetime):
    """INSERT ... SELECT of one event per (record, covering subscription) for the records `ids`."""
    at = literal(now, UTCDateTime())
    if record_type == INSTRUMENT:
        source = I.join(K, K.c.id == I.c.type_id)
        record, version, data, covers = I.c.id, I.c.version, _instrument_data(), _covers_station(I.c.station_id,
                                                                                                 I.c.merchant_id)
    else:
        source = V.join(I, I.c.id == V.c.instrument_id)
        record, version, data = V.c.id, literal(None, EVENTS.c.record_version.type), _verification_data()
        covers = or_(_covers_station(I.c.station_id, I.c.merchant_id),
                     and_(TOKENS.c.scope == TokenScope.INSTITUTION.value, TOKENS.c.body_id == V.c.body_id))
    rows = (select(SUBS.c.id, literal(event_type), literal(record_type), record, version, I.c.station_id, at, data,
                   literal(DeliveryStatus.PENDING.value), literal(0), at, at, at)
            .select_from(source)
            .join(SUBS, and_(SUBS.c.is_active.is_(True), SUBS.c.event_types.contains(f",{event_type},")))
            .join(TOKENS, _usable_token(now))
            .where(record.in_(ids), covers)
            .order_by(record, SUBS.c.id))
    columns = ["subscription_id", "event_type", "record_type", "record_id", "record_version", "station_id",
               "occurred_at", "data", "status", "attempts", "next_attempt_at", "created_at", "updated_at"]
    return insert(EVENTS).from_select(columns, rows)


def any_subscription(connection: Connection) -> bool:
    """Whether any subscription is active: the cheap check that spares installations without webhooks."""
    return connection.scalar(select(SUBS.c.id).where(SUBS.c.is_active.is_(True)).limit(1)) is not None


def wanted(session: Session) -> bool:
    """Whether this transaction must capture events: some subscription is active (asked once per transaction)."""
    # Asked once per transaction (a flush-heavy loop such as recompute_kind asks once): the answer is kept
    # with the transaction it was read in, so the next transaction asks again.
    transaction = session.get_transaction()
    while transaction is not None and transaction.parent is not None:
        transaction = transaction.parent
    kept = session.info.get("webhooks_active")
    if kept is None or kept[0] is not transaction:
        kept = session.info["webhooks_active"] = (transaction, any_subscription(session.connection()))
    return kept[1]


def capture(session: Session, record_type: str, event_type: str, ids: Iterable[int],
            now: dt.datetime | None = None) -> int:
    """Write the events of these records' change for every subscription that covers them; how many rows."""
    ids = sorted(set(ids))
    if not ids or not wanted(session):
        return 0
    now = now or utcnow()
    written = 0
    connection = session.connection()
    for start in range(0, len(ids), CHUNK):
        written += connection.execute(capture_statement(record_type, event_type, ids[start:start + CHUNK],
                                                        now)).rowcount or 0
    if written:  # once committed, a delivery task is queued at once (app/webhooks/tasks.py)
        session.info["webhook_events"] = True
    return written


def _changed(state, name: str) -> bool:
    return state.attrs[name].history.has_changes()


def _orm_events(session: Session) -> list[tuple[str, str, list[int]]]:
    """The (record type, event type, ids) of what this flush wrote through the ORM, in a stable order."""
    found: dict[tuple[str, str], list[int]] = {}

    def add(record_type: str, event_type: str, obj) -> None:
        found.setdefault((record_type, event_type), []).append(obj.id)

    for obj in session.new:
        if isinstance(obj, Instrument):
            add(INSTRUMENT, "instrument.created", obj)
        elif isinstance(obj, Verification):
            add(VERIFICATION, "verification.recorded", obj)
    for obj in session.dirty:
        if isinstance(obj, Instrument) and session.is_modified(obj, include_collections=False):
            state = inspect(obj)
            retired = _changed(state, "status") and obj.status != InstrumentStatus.IN_USE
            add(INSTRUMENT, "instrument.retired" if retired else "instrument.updated", obj)
        elif isinstance(obj, Verification) and session.is_modified(obj, include_collections=False):
            state = inspect(obj)
            if _changed(state, "voided_at") and obj.voided_at is not None:
                add(VERIFICATION, "verification.voided", obj)
            elif _changed(state, "body_id"):
                add(VERIFICATION, "verification.updated", obj)
    order = ["instrument.created", "verification.recorded", "instrument.updated", "instrument.retired",
             "verification.voided", "verification.updated"]
    return [(r, e, found[(r, e)]) for r, e in sorted(found, key=lambda k: order.index(k[1]))]


def _after_flush(session: Session, _context) -> None:
    for record_type, event_type, ids in _orm_events(session):
        capture(session, record_type, event_type, ids)


def install() -> None:
    """Capture ORM changes of instruments and verifications at every flush (idempotent)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
