"""Named alert queries: the sweep's set-based statements, the alert centre and the digests.

Each function returns a select(), insert() or update() statement; nothing here runs SQL.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import (Insert, Integer, Select, TextClause, Update, and_, case, exists, func, literal, or_, select,
                        tuple_, update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.models import Station, User, user_stations
from app.alerts import kinds
from app.alerts.models import Alert, AlertDigest, AlertStatus
from app.audit.models import AuditEntry
from app.db import Analyze, UTCDateTime, set_local_work_mem
from app.instruments.models import Instrument, InstrumentStatus, VerificationResult
from app.scope import Scope

ALERTS = Alert.__table__
OPEN, RESOLVED = AlertStatus.OPEN.value, AlertStatus.RESOLVED.value


@dataclass(frozen=True)
class SweepDates:
    """The dates one sweep reckons with, all in Asia/Shanghai."""

    today: dt.date
    # Per instrument kind (type_id): today + its reminder lead time.
    lead_until: dict[int, dt.date] = field(default_factory=dict)
    # today + the second reminder (7 days by default).
    second_until: dt.date | None = None
    # today + the service-life warning (90 days by default).
    life_until: dt.date | None = None
    # Stations whose county sets other lead times (app/rollups/settings.py): (station ids, type_id -> date).
    lead_groups: tuple[tuple[tuple[int, ...], dict[int, dt.date]], ...] = ()

    @property
    def max_lead_until(self) -> dt.date:
        """The furthest first-reminder date over all kinds and counties (the index range of the due-soon scan)."""
        dates = [*self.lead_until.values(), *(d for _, leads in self.lead_groups for d in leads.values())]
        return max(dates, default=self.today)


def _kind_case(leads: dict[int, dt.date]) -> ColumnElement:
    return case(leads, value=Instrument.type_id, else_=None) if leads else literal(None)


def _lead_until(d: SweepDates) -> ColumnElement:
    # The kind's own lead time, as a CASE over the few catalogue kinds: no date arithmetic in SQL,
    # so the statement is the same on SQLite and PostgreSQL. Counties with lead times of their own add
    # one branch per group of stations sharing them, around the catalogue's CASE: still one statement.
    default = _kind_case(d.lead_until)
    if not d.lead_groups:
        return default
    return case(*((Instrument.station_id.in_(ids), _kind_case(leads)) for ids, leads in d.lead_groups),
                else_=default)


def _in_use() -> ColumnElement:
    # Stopped, scrapped and replaced instruments never alert.
    return Instrument.status == InstrumentStatus.IN_USE


def _usable() -> ColumnElement:
    # A failed instrument has its own kind; its due date (the day it failed) must not also make it overdue.
    return or_(Instrument.last_result.is_(None), Instrument.last_result != VerificationResult.FAIL)


def _due_soon(d: SweepDates):
    return (and_(_in_use(), Instrument.next_due_on > d.second_until, Instrument.next_due_on <= d.max_lead_until,
                 Instrument.next_due_on <= _lead_until(d), _usable()), Instrument.next_due_on)


def _due_week(d: SweepDates):
    # Within 7 days, and within the kind's own lead time when that is shorter.
    return (and_(_in_use(), Instrument.next_due_on >= d.today, Instrument.next_due_on <= d.second_until,
                 Instrument.next_due_on <= _lead_until(d), _usable()), Instrument.next_due_on)


def _overdue(d: SweepDates):
    return and_(_in_use(), Instrument.next_due_on < d.today, _usable()), Instrument.next_due_on


def _service_life_ending(d: SweepDates):
    return (and_(_in_use(), Instrument.replace_by >= d.today, Instrument.replace_by <= d.life_until),
            Instrument.replace_by)


def _past_service_life(d: SweepDates):
    return and_(_in_use(), Instrument.replace_by < d.today), Instrument.replace_by


def _failed(d: SweepDates):
    # The engine makes a failed instrument due the day it failed: that date keys the alert.
    return (and_(_in_use(), Instrument.last_result == VerificationResult.FAIL, Instrument.next_due_on.is_not(None)),
            Instrument.next_due_on)


# kind -> (condition on instruments, the instrument's date that keys the alert).
INSTRUMENT_RULES: dict[str, Callable[[SweepDates], tuple[ColumnElement, ColumnElement]]] = {
    kinds.DUE_SOON.code: _due_soon,
    kinds.DUE_WEEK.code: _due_week,
    kinds.OVERDUE.code: _overdue,
    kinds.SERVICE_LIFE_ENDING.code: _service_life_ending,
    kinds.PAST_SERVICE_LIFE.code: _past_service_life,
    kinds.FAILED.code: _failed,
}


def _same_key(alert_table, kind: str, due_col: ColumnElement) -> ColumnElement:
    return and_(alert_table.c.kind == kind, alert_table.c.subject_type == kinds.INSTRUMENT,
                alert_table.c.subject_id == Instrument.id, alert_table.c.due_on == due_col)


def insert_instrument_alerts(kind: str, dates: SweepDates, now: dt.datetime) -> Insert:
    """PostgreSQL: INSERT ... SELECT the instruments meeting a kind's condition that have no alert with that key yet.

    NOT EXISTS skips the rows already alerted (any status, as the unique key does); resolved alerts whose
    condition holds again are reopened by reopen_instrument_alerts(). Sweeps follow one another under
    sweep_lock(), and the plain INSERT costs a third less than ON CONFLICT's speculative insertion of every row
    (76,000 overdue alerts at 1,000,000: 1.0-1.25 s against 1.4-2.6 s). SQLite runs open_instrument_alerts()
    instead. Rows go in by instrument id, so the unique and foreign-key indexes of alerts grow at their end
    instead of at random places (a third of the first sweep's time on SQLite); the candidates come from a
    covering index, so the sort is over them only.
    """
    condition, due_col = INSTRUMENT_RULES[kind](dates)
    existing = select(ALERTS.c.id).where(_same_key(ALERTS, kind, due_col))
    stmt = ALERTS.insert().from_select(_ALERT_COLUMNS, _alert_rows(kind, dates, now).where(~exists(existing)))
    # SQLAlchemy reports no rowcount for INSERT ... SELECT on psycopg unless asked to keep it.
    return stmt.execution_options(preserve_rowcount=True)


_ALERT_COLUMNS = ["kind", "subject_type", "subject_id", "instrument_id", "merchant_id", "station_id", "due_on",
                  "status", "version", "created_at", "updated_at"]


def _alert_rows(kind: str, dates: SweepDates, now: dt.datetime) -> Select:
    condition, due_col = INSTRUMENT_RULES[kind](dates)
    stamp = literal(now, UTCDateTime())
    return (select(literal(kind), literal(kinds.INSTRUMENT), Instrument.id, Instrument.id, Instrument.merchant_id,
                   Instrument.station_id, due_col, literal(OPEN), literal(1), stamp, stamp)
            .where(condition).order_by(Instrument.id + 0))


def open_instrument_alerts(kind: str, dates: SweepDates, now: dt.datetime) -> Insert:
    """SQLite: one upsert that adds an alert for each instrument meeting the kind's condition and reopens its
    resolved alert when it has one (a voided verification brings a date back); open alerts stay as they are.

    SQLite checks the unique key before it writes a row (and ON CONFLICT keeps a concurrent sweep from failing
    on it), so one pass over the instruments does what insert_instrument_alerts() and reopen_instrument_alerts()
    do in two (0.18 + 0.28 s for the overdue kind at 1,000,000 instruments). Its rowcount is created + reopened
    together: the created are the rows with an id above the table's largest before it (alerts_above()).
    """
    _, due_col = INSTRUMENT_RULES[kind](dates)
    # Instruments whose alert is open are left out by a look into the (status, kind, subject_id, due_on) index;
    # only the rest reach the upsert, which reads a conflicting row to see whether it is resolved.
    # (The kind implies subject_type "instrument": naming it too would send SQLite to the table row.)
    alerted = select(ALERTS.c.id).where(ALERTS.c.status == OPEN, ALERTS.c.kind == kind,
                                        ALERTS.c.subject_id == Instrument.id, ALERTS.c.due_on == due_col)
    excluded = sqlite.insert(ALERTS).excluded
    stmt = (sqlite.insert(ALERTS).from_select(_ALERT_COLUMNS, _alert_rows(kind, dates, now).where(~exists(alerted)))
            .on_conflict_do_update(index_elements=["subject_type", "subject_id", "kind", "due_on"],
                                   set_={"status": OPEN, "resolved_at": None, "updated_at": excluded.updated_at,
                                         "version": ALERTS.c.version + 1},
                                   where=ALERTS.c.status == RESOLVED))
    return stmt.execution_options(preserve_rowcount=True)


def last_alert_id() -> Select:
    """The largest alert id (SQLite gives every new row an id above it)."""
    return select(func.coalesce(func.max(ALERTS.c.id), 0))


def alerts_above(alert_id: int) -> Select:
    """How many alerts have an id above this one."""
    return select(func.count()).select_from(ALERTS).where(ALERTS.c.id > alert_id)


def reopen_instrument_alerts(kind: str, dates: SweepDates, now: dt.datetime) -> Update:
    """Open again the resolved alerts whose condition holds again (a voided verification brings a date back).

    Read from the resolved alerts' side, index-only: (subject_id, due_on) IN (the instruments meeting
    the condition), the same shape as resolving.
    """
    condition, due_col = INSTRUMENT_RULES[kind](dates)
    holding = select(Instrument.id, due_col).where(condition)
    return (update(ALERTS)
            .where(ALERTS.c.status == RESOLVED, ALERTS.c.kind == kind,
                   tuple_(ALERTS.c.subject_id, ALERTS.c.due_on).in_(holding))
            .values(status=OPEN, resolved_at=None, updated_at=now, version=ALERTS.c.version + 1))


def resolve_instrument_alerts(kind: str, dates: SweepDates, now: dt.datetime) -> Update:
    """Resolve the open alerts of a kind whose instrument no longer meets the condition for that date.

    (subject_id, due_on) NOT IN (the instruments meeting the condition): the database reads that set
    once from a covering index instead of looking up every alert's instrument row. An instrument kind implies
    subject_type "instrument"; naming it would take the alerts' own side out of their (status, kind, subject_id,
    due_on) index too.
    """
    condition, due_col = INSTRUMENT_RULES[kind](dates)
    still = select(Instrument.id, due_col).where(condition)
    return (update(ALERTS)
            .where(ALERTS.c.status == OPEN, ALERTS.c.kind == kind,
                   tuple_(ALERTS.c.subject_id, ALERTS.c.due_on).not_in(still))
            .values(status=RESOLVED, resolved_at=now, updated_at=now, version=ALERTS.c.version + 1))


# --- alerts about other subjects (rectification orders ...): each rule selects, for a day, the subjects
# whose condition holds as (subject_id, instrument_id, merchant_id, station_id, due_on).

def _late_rectifications(today: dt.date) -> Select:
    from app.inspections.models import Finding, InspectionInstrument, Rectification
    from app.inspections.queries import late_rectifications

    late = late_rectifications(today).subquery()
    return (select(late.c.id, InspectionInstrument.instrument_id, late.c.merchant_id, late.c.station_id,
                   late.c.deadline)
            .select_from(late).join(Rectification, Rectification.id == late.c.id)
            .join(Finding, Finding.id == Rectification.finding_id)
            .outerjoin(InspectionInstrument, InspectionInstrument.id == Finding.check_id))


def _pledges_to_review(today: dt.date) -> Select:
    from app.catalog.models import FindingCode, Severity
    from app.inspections.models import Finding, Inspection
    from app.integrity.models import Pledge
    from app.integrity.queries import is_active
    from app.merchants.models import Merchant

    # One per pledge in force and date of an inspection (since it was signed) that found a major or severe problem.
    return (select(Pledge.id, literal(None, Integer()), Pledge.merchant_id, Merchant.station_id, Inspection.inspected_on)
            .join(Merchant, Merchant.id == Pledge.merchant_id)
            .join(Inspection, Inspection.merchant_id == Pledge.merchant_id)
            .join(Finding, Finding.inspection_id == Inspection.id)
            .join(FindingCode, FindingCode.id == Finding.code_id)
            .where(is_active(today), Inspection.inspected_on >= Pledge.signed_on,
                   FindingCode.severity.in_([Severity.MAJOR, Severity.SEVERE]), Finding.in_force())
            .distinct())


def _late_complaints(today: dt.date) -> Select:
    from app.complaints.queries import late_complaints

    # Closed and voided complaints are not in it: their alerts resolve, and they never alert again.
    return late_complaints(today)


def _late_cases(today: dt.date) -> Select:
    from app.cases.queries import late_cases

    return late_cases(today)


SUBJECT_RULES: dict[str, Callable[[dt.date], Select]] = {
    kinds.RECTIFICATION_LATE.code: _late_rectifications,
    kinds.PLEDGE_REVIEW.code: _pledges_to_review,
    kinds.COMPLAINT_LATE.code: _late_complaints,
    kinds.CASE_LATE.code: _late_cases,
}


def insert_subject_alerts(kind: str, today: dt.date, now: dt.datetime, dialect: str) -> Insert:
    """INSERT ... SELECT an alert for each subject meeting the kind's condition that has none with that key."""
    holding = SUBJECT_RULES[kind](today).subquery()
    subject_type = kinds.get_kind(kind).subject_type
    existing = select(ALERTS.c.id).where(ALERTS.c.kind == kind, ALERTS.c.subject_type == subject_type,
                                         ALERTS.c.subject_id == holding.c[0], ALERTS.c.due_on == holding.c[4])
    stamp = literal(now, UTCDateTime())
    rows = select(literal(kind), literal(subject_type), *holding.c, literal(OPEN), literal(1), stamp, stamp
                  ).where(~exists(existing))
    columns = ["kind", "subject_type", "subject_id", "instrument_id", "merchant_id", "station_id", "due_on",
               "status", "version", "created_at", "updated_at"]
    insert_for = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    stmt = (insert_for(ALERTS).from_select(columns, rows).on_conflict_do_nothing() if insert_for
            else ALERTS.insert().from_select(columns, rows))
    return stmt.execution_options(preserve_rowcount=True)


def resolve_subject_alerts(kind: str, today: dt.date, now: dt.datetime) -> Update:
    """Resolve the open alerts of a kind whose subject no longer meets the condition (the order was closed)."""
    holding = SUBJECT_RULES[kind](today).subquery()
    still = select(holding.c[0], holding.c[4])
    return (update(ALERTS)
            .where(ALERTS.c.status == OPEN, ALERTS.c.kind == kind,
                   ALERTS.c.subject_type == kinds.get_kind(kind).subject_type,
                   tuple_(ALERTS.c.subject_id, ALERTS.c.due_on).not_in(still))
            .values(status=RESOLVED, resolved_at=now, updated_at=now, version=ALERTS.c.version + 1))


# The resolve statements' NOT IN sets are hashed once only while they fit PostgreSQL's work_mem (4 MB by default,
# times hash_mem_multiplier: about 150,000 instruments); past that PostgreSQL scans the whole set again for every
# open alert, and the 10,000,000-instrument sweep never finished. 256 MB holds the overdue set of a province
# (1,078,646 instruments: about 70 MB) for this one transaction. NOT EXISTS would not degrade, but its anti-join
# reads the instruments' rows where NOT IN reads a covering index: 1.1 s against 0.2-0.3 s at 1,000,000.
SWEEP_WORK_MEM = "256MB"


# The key of the PostgreSQL advisory lock sweeps take (any constant of this application's own).
SWEEP_LOCK_KEY = 7_402_018


def sweep_lock() -> Select:
    """PostgreSQL: wait for any other sweep's transaction to end and hold the sweep's lock until this one ends (the
    scheduler's run and an administrator's 运行 can meet); the second then sees the first's alerts and adds none."""
    return select(func.pg_advisory_xact_lock(SWEEP_LOCK_KEY))


def sweep_memory() -> TextClause:
    """SET LOCAL work_mem for the sweep's transaction (PostgreSQL), so its NOT IN sets stay hashed."""
    return set_local_work_mem(SWEEP_WORK_MEM)


def refresh_statistics() -> Analyze:
    """Fresh planner statistics for the alerts table (after a sweep that added many rows)."""
    return Analyze(ALERTS)


# --- the alert centre ----------------------------------------------------------------------------

@dataclass(frozen=True)
class AlertFilter:
    """What the user narrowed the alert centre to."""

    kind: str | None = None
    station_id: int | None = None
    status: str = OPEN          # "open", "resolved" or "" for both
    unacknowledged: bool = False


def _filtered(stmt: Select, scope: Scope, f: AlertFilter) -> Select:
    stmt = scope.apply(stmt, Alert.station_id)
    if f.status:
        stmt = stmt.where(Alert.status == AlertStatus(f.status))
    if f.kind:
        stmt = stmt.where(Alert.kind == f.kind)
    if f.station_id:
        stmt = stmt.where(Alert.station_id == f.station_id)
    if f.unacknowledged:
        stmt = stmt.where(Alert.acknowledged_at.is_(None))
    return stmt


def alert_list(scope: Scope, f: AlertFilter) -> Select:
    """Alerts in scope matching the filter, earliest due date first, with their instrument and merchant."""
    # selectinload: the page's 50 rows fetch their instrument, merchant and station afterwards; joined
    # into the main query, every open alert (150,000 for a supervisor) was joined before the sort.
    return (_filtered(select(Alert), scope, f)
            .options(selectinload(Alert.instrument), selectinload(Alert.merchant), selectinload(Alert.station),
                     selectinload(Alert.acknowledged_by))
            .order_by(Alert.due_on, Alert.id))


def counts_by_kind(scope: Scope, f: AlertFilter) -> Select:
    """(kind, count) of the filtered alerts, ignoring the kind filter itself (for the filter's badges)."""
    unkinded = AlertFilter(station_id=f.station_id, status=f.status, unacknowledged=f.unacknowledged)
    return _filtered(select(Alert.kind, func.count()), scope, unkinded).group_by(Alert.kind)


# The navigation badge counts unacknowledged alerts up to this many and then shows "999+": every page of a
# city's supervisor counted all of them (163,000 at 1,000,000 instruments: 38 ms of a 58 ms page on PostgreSQL),
# for a figure nobody reads digit by digit; the alert centre gives the exact counts by kind.
BADGE_CAP = 1000


def pending_count(scope: Scope, cap: int) -> Select:
    """How many open alerts in scope nobody has acknowledged yet, counted up to `cap` (the navigation badge)."""
    pending = scope.apply(select(Alert.id).where(Alert.status == AlertStatus.OPEN, Alert.acknowledged_at.is_(None)),
                          Alert.station_id)
    return select(func.count()).select_from(pending.limit(cap).subquery())


def alerts_of_instrument(instrument_id: int, status: AlertStatus | None = AlertStatus.OPEN) -> Select:
    """An instrument's alerts (open ones by default), latest due date first."""
    stmt = select(Alert).where(Alert.subject_type == kinds.INSTRUMENT, Alert.subject_id == instrument_id)
    if status is not None:
        stmt = stmt.where(Alert.status == status)
    return stmt.order_by(Alert.due_on.desc(), Alert.id.desc())


# --- digests -------------------------------------------------------------------------------------

def stations_with_open_alerts() -> Select:
    """Stations that have at least one open alert, by code."""
    has_open = exists(select(ALERTS.c.id).where(ALERTS.c.status == OPEN, ALERTS.c.station_id == Station.id))
    return select(Station).where(has_open).order_by(Station.code)


def digest_of(station_id: int, day: dt.date) -> Select:
    """The station's digest of a local day, if written."""
    return select(AlertDigest).where(AlertDigest.station_id == station_id, AlertDigest.digest_on == day)


def last_digest_before(station_id: int, day: dt.date) -> Select:
    """The station's latest digest before a local day."""
    return (select(AlertDigest).where(AlertDigest.station_id == station_id, AlertDigest.digest_on < day)
            .order_by(AlertDigest.digest_on.desc()).limit(1))


def digest_recipients(station_id: int) -> Select:
    """Active users assigned to the station who want the digest and have an e-mail address."""
    return (select(User).join(user_stations, user_stations.c.user_id == User.id)
            .where(user_stations.c.station_id == station_id, User.is_active.is_(True),
                   User.wants_alert_digest.is_(True), User.email != "")
            .order_by(User.username))


def open_alerts_of_station(station_id: int, created_after: dt.datetime | None = None) -> Select:
    """A station's open alerts (only those created after a moment when given), earliest due first."""
    stmt = (select(Alert).where(Alert.station_id == station_id, Alert.status == AlertStatus.OPEN)
            .options(joinedload(Alert.instrument), joinedload(Alert.merchant)).order_by(Alert.due_on, Alert.id))
    if created_after is not None:
        stmt = stmt.where(Alert.created_at > created_after)
    return stmt


def open_counts_of_station(station_id: int, created_after: dt.datetime | None = None) -> Select:
    """(kind, count) of a station's open alerts (only those created after a moment when given)."""
    stmt = (select(Alert.kind, func.count()).where(Alert.station_id == station_id, Alert.status == AlertStatus.OPEN)
            .group_by(Alert.kind))
    if created_after is not None:
        stmt = stmt.where(Alert.created_at > created_after)
    return stmt



# Before the note was shown, an acknowledgement without one was logged with this text in its place.
NO_NOTE = "确认预警"


def acknowledgement_notes(alert_ids: list[int]) -> Select:
    """(alert id, note) of the acknowledgements of some alerts, oldest first: the note lives in the audit log."""
    return (select(AuditEntry.entity_id, AuditEntry.note)
            .where(AuditEntry.entity_type == "alerts", AuditEntry.entity_id.in_(alert_ids),
                   AuditEntry.action == "acknowledge")
            .order_by(AuditEntry.id))


def acknowledgement_note() -> ColumnElement:
    """The note of the alert's latest acknowledgement, as a column of a statement over alerts (the audit log's
    index on entity type, id and entry id finds it)."""
    return (select(AuditEntry.note)
            .where(AuditEntry.entity_type == "alerts", AuditEntry.entity_id == Alert.id,
                   AuditEntry.action == "acknowledge")
            .order_by(AuditEntry.id.desc()).limit(1).correlate(Alert).scalar_subquery())
