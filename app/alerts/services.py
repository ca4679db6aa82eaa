"""The due-date sweep, acknowledging alerts and the daily digests (flush, never commit)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.alerts import kinds, queries
from app.alerts.models import Alert, AlertDigest
from app.alerts.queries import SweepDates
from app.audit import services as audit
from app.clock import LOCAL_TZ
from app.errors import Invalid, NotFound, StaleEdit
from app.mail.services import enqueue
from app.scope import Scope
from app.text import as_typed

DEFAULT_SECOND_REMINDER_DAYS = 7
DEFAULT_SERVICE_LIFE_DAYS = 90
# After a sweep creates this many alerts, the table's statistics are refreshed at once.
ANALYZE_AFTER = 10_000
# A digest lists at most this many new alerts one by one; the rest are counted by kind.
DIGEST_LINES = 100


def local_day(now: dt.datetime) -> dt.date:
    """The Asia/Shanghai date of an aware moment."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(LOCAL_TZ).date()


def sweep_dates(session: Session, today: dt.date, config: Mapping[str, Any]) -> SweepDates:
    """The windows of one sweep: each kind's lead time, the second reminder and the service-life warning."""
    second = int(config.get("ALERT_SECOND_REMINDER_DAYS", DEFAULT_SECOND_REMINDER_DAYS))
    life = int(config.get("ALERT_SERVICE_LIFE_DAYS", DEFAULT_SERVICE_LIFE_DAYS))
    from app.rollups.settings import lead_groups

    default, groups = lead_groups(session)

    def until(leads: dict[int, int]) -> dict[int, dt.date]:
        return {type_id: today + dt.timedelta(days=max(0, lead)) for type_id, lead in leads.items()}

    return queries.SweepDates(today=today, lead_until=until(default), second_until=today + dt.timedelta(days=second),
                              life_until=today + dt.timedelta(days=life),
                              lead_groups=tuple((ids, until(leads)) for ids, leads in groups))



def run_sweep(session: Session, *, now: dt.datetime, config: Mapping[str, Any]) -> dict[str, int]:
    """Create, reopen and resolve instrument alerts with set-based statements; returns the counts.

    Idempotent: a second run on the same day changes nothing. Resolving runs first, so an alert
    superseded by a more urgent kind (due soon -> due within 7 days -> overdue) is closed in the
    same run that opens its successor.
    """
    session.flush()
    dates = sweep_dates(session, local_day(now), config)
    dialect = session.get_bind().dialect.name
    counts = {"created": 0, "reopened": 0, "resolved": 0}
    if dialect == "postgresql":
        session.execute(queries.sweep_lock())
        session.execute(queries.sweep_memory())
    for kind in queries.INSTRUMENT_RULES:
        counts["resolved"] += session.execute(queries.resolve_instrument_alerts(kind, dates, now)).rowcount
        if dialect == "sqlite":
            created, reopened = _open_in_one_pass(session, kind, dates, now)
            counts["created"] += created
            counts["reopened"] += reopened
            continue
        counts["reopened"] += session.execute(queries.reopen_instrument_alerts(kind, dates, now)).rowcount
        counts["created"] += session.execute(queries.insert_instrument_alerts(kind, dates, now)).rowcount
    for kind in queries.SUBJECT_RULES:
        counts["resolved"] += session.execute(queries.resolve_subject_alerts(kind, dates.today, now)).rowcount
        counts["created"] += session.execute(queries.insert_subject_alerts(kind, dates.today, now, dialect)).rowcount
    if counts["created"] >= ANALYZE_AFTER:
        # A first sweep fills an empty table. Until the statistics know that, PostgreSQL plans the next
        # sweep's anti-joins for a table of one row (a merge join on due_on alone: 2 s instead of
        # 0.1 s), and autovacuum may only catch up a minute later.
        session.execute(queries.refresh_statistics())
    if any(counts.values()):
        # Statements bypass the identity map: objects loaded before must not show stale states.
        session.expire_all()
        audit.record(session, None, "alert_sweep", entity_type="alerts", entity_label="到期预警扫描",
                     note=f"{dates.today.isoformat()}：新增 {counts['created']} 条，重新打开 {counts['reopened']} 条，"
                          f"解除 {counts['resolved']} 条")
    return counts


def _open_in_one_pass(session: Session, kind: str, dates: SweepDates, now: dt.datetime) -> tuple[int, int]:
    # SQLite: one upsert creates and reopens; the new rows are those above the largest id before it.
    top = session.scalar(queries.last_alert_id())
    touched = session.execute(queries.open_instrument_alerts(kind, dates, now)).rowcount
    created = session.scalar(queries.alerts_above(top)) if touched else 0
    return created, touched - created


def raise_subject_alerts(session: Session, kind: str, *, now: dt.datetime) -> int:
    """Run one subject rule's insert at once (e.g. right after a finding is recorded); how many alerts it made."""
    session.flush()
    created = session.execute(queries.insert_subject_alerts(kind, local_day(now), now,
                                                            session.get_bind().dialect.name)).rowcount
    if created:
        session.expire_all()
    return created


def get_alert(session: Session, scope: Scope, alert_id: int) -> Alert:
    """An alert inside the scope, else NotFound."""
    alert = session.get(Alert, alert_id)
    if alert is None or not scope.allows(alert.station_id):
        raise NotFound("预警不存在")
    return alert


def acknowledge(session: Session, actor, alert: Alert, *, now: dt.datetime, note: str = "") -> bool:
    """Record who acknowledged an alert and when; False when it already was."""
    note = as_typed(note)
    if len(note) > 200:
        raise Invalid("备注不能超过200字", field="note")
    if alert.acknowledged_at is not None:
        return False
    alert.acknowledged_at = now
    alert.acknowledged_by_id = getattr(actor, "id", None)
    try:
        session.flush()
    except StaleDataError as err:
        # The sweep resolved or reopened it between the page and the click.
        raise StaleEdit("该预警") from err
    audit.record(session, actor, "acknowledge", alert, [audit.change_row("acknowledged_at", "确认时间", None, now)],
                 note=note)
    return True


# --- digests -------------------------------------------------------------------------------------

def build_digests(session: Session, *, now: dt.datetime, config: Mapping[str, Any]) -> dict[str, int]:
    """Enqueue one digest e-mail per station and recipient, once per station and local day."""
    day = local_day(now)
    counts = {"stations": 0, "messages": 0, "already_sent": 0, "no_recipients": 0}
    for station in session.scalars(queries.stations_with_open_alerts()).all():
        if session.scalars(queries.digest_of(station.id, day)).first() is not None:
            counts["already_sent"] += 1
            continue
        recipients = session.scalars(queries.digest_recipients(station.id)).all()
        if not recipients:
            counts["no_recipients"] += 1
            continue
        previous = session.scalars(queries.last_digest_before(station.id, day)).first()
        since = previous.created_at if previous is not None else None
        subject, body, new_count, open_count = digest_text(session, station, day, since, config)
        for user in recipients:
            enqueue(session, user.email, subject, body, category="alert_digest", user_id=user.id,
                    station_id=station.id, now=now)
        session.add(AlertDigest(station_id=station.id, digest_on=day, created_at=now, new_count=new_count,
                                open_count=open_count, recipients=len(recipients)))
        session.flush()
        counts["stations"] += 1
        counts["messages"] += len(recipients)
    if counts["messages"]:
        audit.record(session, None, "alert_digest", entity_type="alert_digests", entity_label="预警日报",
                     note=f"{day.isoformat()}：{counts['stations']} 个监管所，{counts['messages']} 封邮件")
    return counts


def _kind_lines(rows) -> list[str]:
    counts = dict(rows)
    ordered = [k for k in kinds.KINDS if k in counts] + sorted(k for k in counts if k not in kinds.KINDS)
    return [f"  {kinds.label_of(k)}：{counts[k]} 条" for k in ordered]


def _alert_line(alert: Alert) -> str:
    inst = alert.instrument
    what = (f"{inst.type.name_zh} {inst.serial_no}" if inst is not None
            else f"{kinds.SUBJECT_LABELS.get(alert.subject_type, alert.subject_type)} {alert.subject_id}")
    where = alert.merchant.name if alert.merchant is not None else ""
    location = f"（{inst.location}）" if inst is not None and inst.location else ""
    return f"  [{alert.kind_label}] {what}，{where}{location}，日期 {alert.due_on.isoformat()}"


def digest_text(session: Session, station, day: dt.date, since: dt.datetime | None,
                config: Mapping[str, Any]) -> tuple[str, str, int, int]:
    """The digest's subject and body for a station: new alerts since the last digest and all still open."""
    new_rows = session.execute(queries.open_counts_of_station(station.id, since)).all()
    open_rows = session.execute(queries.open_counts_of_station(station.id)).all()
    new_count, open_count = sum(n for _, n in new_rows), sum(n for _, n in open_rows)
    new_alerts = session.scalars(queries.open_alerts_of_station(station.id, since).limit(DIGEST_LINES)).all()
    subject = f"【计量监管台账】{station.name} {day.isoformat()} 预警日报：新增 {new_count} 条，未解除 {open_count} 条"
    lines = [f"{station.name}：", "", f"截至 {day.isoformat()}，本所有 {open_count} 条预警尚未解除，"
             f"其中 {new_count} 条是{'上次日报以来' if since else ''}新增的。", ""]
    if new_count:
        lines += ["一、新增预警", *_kind_lines(new_rows), ""]
        lines += [_alert_line(a) for a in new_alerts]
        if new_count > len(new_alerts):
            lines.append(f"  ……另有 {new_count - len(new_alerts)} 条，请在预警中心查看。")
        lines.append("")
    lines += ["二、全部未解除的预警", *_kind_lines(open_rows), ""]
    base = (config.get("APP_BASE_URL") or "").rstrip("/")
    lines.append(f"请登录系统，在“预警中心”查看和处理：{base}/alerts/" if base else "请登录系统，在“预警中心”查看和处理。")
    lines += ["", "本邮件由系统自动发送。如不需要接收，请在“我的设置”中关闭“接收预警日报”。"]
    return subject, "\n".join(lines), new_count, open_count
