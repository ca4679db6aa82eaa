"""The due-date sweep: which alerts it raises, with which dates, that it is idempotent, that alerts resolve
(and reopen) with the ledger; the alert centre's scope and acknowledging; the daily digest."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, func, select, text

from app.accounts.models import Role
from app.alerts import kinds
from app.alerts.jobs import alert_digest, due_date_sweep, sweep_now
from app.alerts.models import Alert, AlertStatus
from app.audit.models import AuditEntry
from app.instruments.models import Instrument, InstrumentStatus, Verification
from app.instruments.services import replace_instrument, void_verification
from app.mail.models import OutboxMessage
from tests import factories
from tests.conftest import login

UTC = dt.timezone.utc
# 10:00 in Asia/Shanghai on 2026-06-01.
NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
CONFIG = {"ALERT_SERVICE_LIFE_DAYS": 90, "ALERT_SECOND_REMINDER_DAYS": 7}
D = dt.date


def sweep(session, now=NOW, config=CONFIG) -> dict[str, int]:
    counts = due_date_sweep(session=session, now=now, config=config)
    session.commit()
    return counts


def add(session, merchant, serial, type_code="elec_price_scale", *, on=D(2025, 6, 1), result="pass",
        valid_until=None, status=None):
    """An instrument with one verification (its dates follow the engine), optionally taken out of use."""
    inst = factories.instrument(session, merchant, type_code, serial=serial)
    factories.verify(session, inst, on, result=result, valid_until=valid_until)
    if status is not None:
        inst.status = status
    session.flush()
    return inst


def alerts_by_serial(session, status=None) -> set[tuple[str, str, dt.date]]:
    stmt = select(Instrument.serial_no, Alert.kind, Alert.due_on).join(Instrument, Alert.instrument_id == Instrument.id)
    if status is not None:
        stmt = stmt.where(Alert.status == status)
    return set(session.execute(stmt).all())


@pytest.fixture()
def station(session):
    """One station with a merchant, an inspector and no instruments yet."""
    st = factories.station(session, "A")
    factories.user(session, "insp_a", Role.INSPECTOR, [st])
    m = factories.merchant(session, st, "甲市场摊位1")
    session.commit()
    return st, m


def test_sweep_raises_each_kind_with_its_date(session, station):
    _, m = station
    factories.kind(session, "fuel_dispenser").lead_days = 10
    factories.kind(session, "bp_auto").lead_days = 5
    add(session, m, "DUE-19", valid_until=D(2026, 6, 20))          # 19 days: first reminder (lead 30)
    add(session, m, "DUE-4", valid_until=D(2026, 6, 5))            # 4 days: second reminder
    add(session, m, "DUE-0", valid_until=D(2026, 6, 1))            # due today: still the second reminder
    add(session, m, "LATE", valid_until=D(2026, 5, 20))            # overdue
    add(session, m, "FAIL", on=D(2026, 5, 25), result="fail")      # failed: its own kind, not also overdue
    add(session, m, "FINE", valid_until=D(2026, 9, 1))             # nothing
    add(session, m, "FUEL-19", "fuel_dispenser", valid_until=D(2026, 6, 20))  # outside its 10-day lead
    add(session, m, "FUEL-8", "fuel_dispenser", valid_until=D(2026, 6, 9))    # inside it
    add(session, m, "BP-5", "bp_auto", valid_until=D(2026, 6, 6))             # lead 5 < 7: within 5 days
    add(session, m, "BP-6", "bp_auto", valid_until=D(2026, 6, 7))             # 6 days: beyond its lead 5
    add(session, m, "WM-END", "water_meter_le25", on=D(2020, 7, 15))  # replace_by 2026-07-15: within 90 days
    add(session, m, "WM-PAST", "water_meter_le25", on=D(2020, 1, 10))  # replace_by 2026-01-10: past
    add(session, m, "WM-NEW", "water_meter_le25", on=D(2024, 1, 1))   # replace_by 2030: nothing
    add(session, m, "WM-FAIL", "water_meter_le25", on=D(2026, 4, 1), result="fail")
    # Out of use: never alert, however late.
    add(session, m, "STOP", valid_until=D(2026, 1, 1), status=InstrumentStatus.STOPPED)
    add(session, m, "SCRAP", valid_until=D(2026, 1, 1), status=InstrumentStatus.SCRAPPED)
    add(session, m, "REPL", "water_meter_le25", on=D(2018, 1, 1), status=InstrumentStatus.REPLACED)
    session.commit()

    counts = sweep(session)

    expected = {
        ("DUE-19", "due_soon", D(2026, 6, 20)),
        ("DUE-4", "due_week", D(2026, 6, 5)),
        ("DUE-0", "due_week", D(2026, 6, 1)),
        ("LATE", "overdue", D(2026, 5, 20)),
        ("FAIL", "failed", D(2026, 5, 25)),
        ("FUEL-8", "due_soon", D(2026, 6, 9)),
        ("BP-5", "due_week", D(2026, 6, 6)),
        ("WM-END", "service_life_ending", D(2026, 7, 15)),
        ("WM-PAST", "past_service_life", D(2026, 1, 10)),
        ("WM-FAIL", "failed", D(2026, 4, 1)),
    }
    assert alerts_by_serial(session) == expected
    assert counts == {"created": len(expected), "reopened": 0, "resolved": 0}
    alert = session.scalars(select(Alert).where(Alert.kind == "overdue")).one()
    late = session.scalars(select(Instrument).where(Instrument.serial_no == "LATE")).one()
    assert (alert.subject_type, alert.subject_id, alert.instrument_id) == ("instrument", late.id, late.id)
    assert (alert.merchant_id, alert.station_id, alert.status) == (m.id, m.station_id, AlertStatus.OPEN)
    assert alert.created_at == NOW and alert.acknowledged_at is None


def test_second_sweep_changes_nothing(session, station):
    _, m = station
    add(session, m, "LATE", valid_until=D(2026, 5, 20))
    add(session, m, "DUE-4", valid_until=D(2026, 6, 5))
    session.commit()
    assert sweep(session)["created"] == 2
    before = session.execute(select(Alert.id, Alert.version, Alert.updated_at)).all()
    audits = session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "alert_sweep"))

    assert sweep(session) == {"created": 0, "reopened": 0, "resolved": 0}
    assert sweep(session, now=NOW + dt.timedelta(hours=3)) == {"created": 0, "reopened": 0, "resolved": 0}
    assert session.execute(select(Alert.id, Alert.version, Alert.updated_at)).all() == before
    # A run that changed nothing leaves no trace in the audit log either.
    assert session.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.action == "alert_sweep")) == audits == 1


def test_the_sweep_raises_work_mem_for_its_transaction(session, station):
    """PostgreSQL: the sweep's NOT IN sets stay hashed only within work_mem, so the sweep raises it (SET LOCAL: for
    its own transaction, app/alerts/queries.SWEEP_WORK_MEM)."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("work_mem is PostgreSQL's")
    default = session.execute(text("SHOW work_mem")).scalar()
    session.commit()
    due_date_sweep(session=session, now=NOW, config=CONFIG)
    assert session.execute(text("SHOW work_mem")).scalar() == "256MB" != default


def test_two_sweeps_at_once_follow_one_another(database_url):
    """PostgreSQL: a sweep started while another's transaction is open waits for it (the sweep's advisory lock),
    then sees its alerts and adds none; the instrument alerts go in without ON CONFLICT there, so without the lock
    the second would fail on the unique key once the first committed."""
    import threading

    from tests.conftest import fresh_app

    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite writes one transaction at a time anyway")
    app = fresh_app(database_url)
    database = app.extensions["database"]
    with database.session_scope() as s:
        st = factories.station(s, "A")
        m = factories.merchant(s, st, "甲市场摊位1")
        for k in range(3):
            add(s, m, f"OVER-{k}", valid_until=D(2026, 5, 1))  # overdue on NOW
    first, second = database.session_factory(), database.session_factory()
    outcome: dict = {}

    def run_second():
        try:
            outcome["counts"] = sweep(second)
        except Exception as err:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = err

    try:
        assert due_date_sweep(session=first, now=NOW, config=CONFIG)["created"] == 3
        thread = threading.Thread(target=run_second)
        thread.start()
        # The second sweep is waiting on the lock the first holds (not yet past it: it inserted nothing).
        waiting = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        with database.session_scope() as probe:
            for _ in range(200):
                if probe.execute(waiting).scalar():
                    break
                probe.rollback()
                thread.join(0.05)
            else:
                pytest.fail("the second sweep never waited for the first")
        first.commit()
        thread.join(30)
        assert outcome == {"counts": {"created": 0, "reopened": 0, "resolved": 0}}
        assert first.scalar(select(func.count()).select_from(Alert)) == 3
    finally:
        first.close()
        second.close()
        database.dispose()


def test_alerts_move_through_the_kinds_as_days_pass(session, station):
    _, m = station
    add(session, m, "DUE", valid_until=D(2026, 6, 20))
    session.commit()
    sweep(session)
    assert alerts_by_serial(session, AlertStatus.OPEN) == {("DUE", "due_soon", D(2026, 6, 20))}

    later = NOW + dt.timedelta(days=14)  # 2026-06-15: within 7 days
    assert sweep(session, later) == {"created": 1, "reopened": 0, "resolved": 1}
    assert alerts_by_serial(session, AlertStatus.OPEN) == {("DUE", "due_week", D(2026, 6, 20))}

    late = NOW + dt.timedelta(days=20)  # 2026-06-21: overdue
    assert sweep(session, late) == {"created": 1, "reopened": 0, "resolved": 1}
    assert alerts_by_serial(session, AlertStatus.OPEN) == {("DUE", "overdue", D(2026, 6, 20))}
    resolved = session.scalars(select(Alert).where(Alert.status == AlertStatus.RESOLVED).order_by(Alert.id)).all()
    assert [(a.kind, a.resolved_at) for a in resolved] == [("due_soon", later), ("due_week", late)]


def test_recording_a_verification_resolves_and_voiding_it_reopens(session, station):
    _, m = station
    late = add(session, m, "LATE", valid_until=D(2026, 5, 20))
    failed = add(session, m, "FAIL", on=D(2026, 5, 25), result="fail")
    session.commit()
    sweep(session)
    overdue = session.scalars(select(Alert).where(Alert.kind == "overdue")).one()

    ver = factories.verify(session, late, D(2026, 6, 2), valid_until=D(2027, 6, 1))
    factories.verify(session, failed, D(2026, 6, 2), valid_until=D(2027, 6, 1))
    session.commit()
    next_day = NOW + dt.timedelta(days=1)
    assert sweep(session, next_day) == {"created": 0, "reopened": 0, "resolved": 2}
    session.refresh(overdue)
    assert (overdue.status, overdue.resolved_at) == (AlertStatus.RESOLVED, next_day)
    assert alerts_by_serial(session, AlertStatus.OPEN) == set()

    # The record was a mistake: voided, the old due date is back and so is the same alert.
    void_verification(session, None, ver, "证书录错")
    session.commit()
    assert sweep(session, next_day) == {"created": 0, "reopened": 1, "resolved": 0}
    session.refresh(overdue)
    assert (overdue.status, overdue.resolved_at) == (AlertStatus.OPEN, None)
    assert session.scalar(select(func.count()).select_from(Alert)) == 2


def test_one_sweep_reopens_and_creates_alerts_of_the_same_kind_and_counts_each(session, station):
    # On SQLite one upsert does both; the counts must still tell them apart.
    _, m = station
    late = add(session, m, "LATE", valid_until=D(2026, 5, 20))
    session.commit()
    sweep(session)
    ver = factories.verify(session, late, D(2026, 6, 1), valid_until=D(2027, 6, 1))
    session.commit()
    assert sweep(session)["resolved"] == 1
    void_verification(session, None, ver, "证书录错")
    add(session, m, "LATE-2", valid_until=D(2026, 5, 10))
    add(session, m, "LATE-3", valid_until=D(2026, 5, 12))
    session.commit()
    assert sweep(session) == {"created": 2, "reopened": 1, "resolved": 0}
    assert alerts_by_serial(session, AlertStatus.OPEN) == {("LATE", "overdue", D(2026, 5, 20)),
                                                           ("LATE-2", "overdue", D(2026, 5, 10)),
                                                           ("LATE-3", "overdue", D(2026, 5, 12))}
    assert sweep(session) == {"created": 0, "reopened": 0, "resolved": 0}
    assert session.scalar(select(func.max(Alert.version)).where(Alert.subject_id == late.id)) == 3


@pytest.mark.parametrize("status", [InstrumentStatus.STOPPED, InstrumentStatus.SCRAPPED])
def test_taking_an_instrument_out_of_use_resolves_its_alerts(session, station, status):
    _, m = station
    late = add(session, m, "LATE", valid_until=D(2026, 5, 20))
    session.commit()
    sweep(session)
    late.status = status
    session.commit()
    assert sweep(session)["resolved"] == 1
    assert alerts_by_serial(session, AlertStatus.OPEN) == set()


def test_replacing_a_meter_resolves_its_service_life_alert(session, station):
    _, m = station
    old = add(session, m, "WM-OLD", "water_meter_le25", on=D(2020, 1, 10))
    session.commit()
    sweep(session)
    assert alerts_by_serial(session, AlertStatus.OPEN) == {("WM-OLD", "past_service_life", D(2026, 1, 10))}
    replace_instrument(session, None, factories.ALL, old, {"serial_no": "WM-NEW"},
                       {"verified_on": D(2026, 6, 1), "result": "pass"})
    session.commit()
    assert sweep(session) == {"created": 0, "reopened": 0, "resolved": 1}
    assert alerts_by_serial(session, AlertStatus.OPEN) == set()


def test_dates_are_reckoned_in_shanghai(session, station):
    _, m = station
    add(session, m, "DUE-0531", valid_until=D(2026, 5, 31))
    session.commit()
    # 23:30 on 31 May in Shanghai (15:30 UTC): due today, not late.
    sweep(session, dt.datetime(2026, 5, 31, 15, 30, tzinfo=UTC))
    assert alerts_by_serial(session, AlertStatus.OPEN) == {("DUE-0531", "due_week", D(2026, 5, 31))}
    # 00:30 on 1 June in Shanghai is still 31 May in UTC: overdue.
    sweep(session, dt.datetime(2026, 5, 31, 16, 30, tzinfo=UTC))
    assert alerts_by_serial(session, AlertStatus.OPEN) == {("DUE-0531", "overdue", D(2026, 5, 31))}


def test_service_life_warning_days_come_from_config(session, station):
    _, m = station
    add(session, m, "WM", "water_meter_le25", on=D(2020, 9, 1))  # replace_by 2026-09-01: 92 days ahead
    session.commit()
    assert sweep(session)["created"] == 0
    assert sweep(session, config={**CONFIG, "ALERT_SERVICE_LIFE_DAYS": 120})["created"] == 1


def test_deleting_an_instrument_takes_its_alerts(session, station):
    """Undoing an import deletes instruments with Core statements: their alerts must not block it."""
    _, m = station
    late = add(session, m, "LATE", valid_until=D(2026, 5, 20))
    session.commit()
    sweep(session)
    session.execute(delete(Verification.__table__).where(Verification.__table__.c.instrument_id == late.id))
    session.execute(delete(Instrument.__table__).where(Instrument.__table__.c.id == late.id))
    session.commit()
    assert session.scalar(select(func.count()).select_from(Alert)) == 0


def test_kinds_are_checked_against_the_registry():
    with pytest.raises(ValueError):
        Alert(kind="no_such_kind", subject_type="instrument", subject_id=1, due_on=D(2026, 1, 1))
    assert Alert(kind="overdue", subject_type="instrument", subject_id=1, due_on=D(2026, 1, 1)).kind_label == "已超期"
    # A later capability adds a kind without touching the model.
    kind = kinds.register(kinds.AlertKind("test_rectification_late", "整改逾期", "rectification", "danger"))
    try:
        assert Alert(kind=kind.code, subject_type="rectification", subject_id=7, due_on=D(2026, 1, 1)).kind_label == "整改逾期"
    finally:
        kinds.KINDS.pop(kind.code)


def test_sweep_wrapper_commits(app, session, station):
    _, m = station
    add(session, m, "LATE", valid_until=D(2026, 5, 20))
    session.commit()
    assert sweep_now(app.extensions["database"], now=NOW, config=CONFIG)["created"] == 1
    assert session.scalar(select(func.count()).select_from(Alert)) == 1


# --- the alert centre ----------------------------------------------------------------------------

@pytest.fixture()
def swept(session, world):
    """The world (both instruments overdue) swept."""
    sweep(session, now=dt.datetime.now(UTC))
    return world


def test_alert_centre_shows_an_inspector_their_stations_only(app, client, session, swept):
    login(client, "insp_a")
    page = client.get("/alerts/").get_data(as_text=True)
    assert "A-001" in page and "B-001" not in page
    assert f'href="/instruments/{swept.instrument_a.id}"' in page  # jumps to the instrument
    assert 'id="nav-alert-count"' in page
    # Asking for station B by filter shows nothing.
    page = client.get(f"/alerts/?station_id={swept.station_b.id}").get_data(as_text=True)
    assert "A-001" not in page and "B-001" not in page

    sup = app.test_client()
    login(sup, "super1")
    page = sup.get("/alerts/").get_data(as_text=True)
    assert "A-001" in page and "B-001" in page
    page = sup.get(f"/alerts/?station_id={swept.station_b.id}").get_data(as_text=True)
    assert "A-001" not in page and "B-001" in page
    page = sup.get("/alerts/?kind=due_soon").get_data(as_text=True)
    assert "A-001" not in page and "没有符合条件的预警" in page


def test_the_navigation_badge_counts_unacknowledged_alerts_up_to_its_cap(app, client, session, swept, monkeypatch):
    import re

    from app.alerts import queries

    def badge(who: str) -> str:
        c = app.test_client()
        login(c, who)
        found = re.search(r'id="nav-alert-count"[^>]*>([^<]*)<', c.get("/alerts/").get_data(as_text=True))
        return found.group(1) if found else ""

    assert (badge("insp_a"), badge("super1")) == ("1", "2")
    monkeypatch.setattr(queries, "BADGE_CAP", 2)
    assert (badge("insp_a"), badge("super1")) == ("1", "1+")
    monkeypatch.setattr(queries, "BADGE_CAP", 3)
    assert badge("super1") == "2"


def test_the_alert_centres_counts_are_a_snapshot_that_a_write_drops(app, client, session, swept):
    import re

    def shown(c) -> tuple[int, bool]:
        page = c.get("/alerts/").get_data(as_text=True)
        total = int(re.search(r'id="total-count">共 ([\d,]+) 条', page).group(1))
        return total, 'id="counted-at"' in page

    sup = app.test_client()
    login(sup, "super1")
    login(client, "insp_a")
    assert shown(sup) == (2, True) and shown(client) == (1, True)
    add(session, swept.instrument_a.merchant, "A-LATE", valid_until=D(2026, 1, 5))
    session.commit()
    sweep(session, now=dt.datetime.now(UTC))
    assert shown(sup) == (3, True) and shown(client) == (2, True)


def test_acknowledging_keeps_who_and_when_and_is_logged(client, session, swept):
    alert_a = session.scalars(select(Alert).where(Alert.instrument_id == swept.instrument_a.id)).one()
    alert_b = session.scalars(select(Alert).where(Alert.instrument_id == swept.instrument_b.id)).one()
    login(client, "insp_a")
    assert client.post(f"/alerts/{alert_b.id}/acknowledge", data={}).status_code == 404
    resp = client.post(f"/alerts/{alert_a.id}/acknowledge", data={"note": "已电话通知", "next": "/alerts/?kind=overdue"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/alerts/?kind=overdue")
    session.expire_all()
    alert_a, alert_b = session.get(Alert, alert_a.id), session.get(Alert, alert_b.id)
    assert alert_a.acknowledged_by_id == swept.inspector_a.id and alert_a.acknowledged_at is not None
    assert alert_a.status == AlertStatus.OPEN  # acknowledged is not resolved
    assert alert_b.acknowledged_at is None
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "acknowledge")).one()
    assert (entry.entity_type, entry.entity_id, entry.note) == ("alerts", alert_a.id, "已电话通知")
    # Nothing left to acknowledge in station A: the navigation badge is gone.
    page = client.get("/alerts/").get_data(as_text=True)
    assert 'id="nav-alert-count"' not in page
    # A second click changes nothing.
    first = alert_a.acknowledged_at
    client.post(f"/alerts/{alert_a.id}/acknowledge", data={})
    session.expire_all()
    assert session.get(Alert, alert_a.id).acknowledged_at == first


def test_the_acknowledgement_note_is_shown_on_the_alert_and_in_its_export(client, session, swept):
    """The note typed when acknowledging is shown in the alert's row and in the export; none, nothing."""
    import io

    from openpyxl import load_workbook

    alert_a = session.scalars(select(Alert).where(Alert.instrument_id == swept.instrument_a.id)).one()
    alert_b = session.scalars(select(Alert).where(Alert.instrument_id == swept.instrument_b.id)).one()
    login(client, "admin1")
    client.post(f"/alerts/{alert_a.id}/acknowledge", data={"note": "已电话通知经营者约定下周送检"})
    client.post(f"/alerts/{alert_b.id}/acknowledge", data={})
    page = client.get("/alerts/").get_data(as_text=True)
    row_a = page.split(f'id="alert-{alert_a.id}"', 1)[1].split("</tr>", 1)[0]
    row_b = page.split(f'id="alert-{alert_b.id}"', 1)[1].split("</tr>", 1)[0]
    assert "备注：已电话通知经营者约定下周送检" in row_a
    assert "备注" not in row_b and "确认预警" not in row_b
    sheet = load_workbook(io.BytesIO(client.get("/alerts/export.xlsx?status=all").get_data())).active
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    header = next(r for r in rows if "确认备注" in r)
    notes = {r[header.index("出厂编号")]: r[header.index("确认备注")] for r in rows[rows.index(header) + 1:]}
    assert notes["A-001"] == "已电话通知经营者约定下周送检"
    assert notes["B-001"] in (None, "")


def test_instrument_page_shows_its_open_alerts(client, swept):
    login(client, "insp_a")
    page = client.get(f"/instruments/{swept.instrument_a.id}").get_data(as_text=True)
    assert 'id="instrument-alerts"' in page and "已超期 2025-01-10" in page


def test_statistics_refresh_runs_on_both_backends(session, swept):
    """ANALYZE of the alerts table leaves the planner a row count equal to the table's, on either backend."""
    from app.alerts.queries import refresh_statistics

    alerts = session.scalar(select(func.count()).select_from(Alert))
    assert alerts >= 2
    session.execute(refresh_statistics())
    session.commit()
    if session.get_bind().dialect.name == "sqlite":
        # sqlite_stat1: one row per index of the table, its stat text starting with the table's row count.
        stats = session.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'alerts'")).scalars().all()
        assert stats and {int(stat.split()[0]) for stat in stats} == {alerts}
    else:
        assert session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'alerts'")) == alerts


def test_acknowledge_does_not_redirect_elsewhere(client, session, swept):
    alert_a = session.scalars(select(Alert).where(Alert.instrument_id == swept.instrument_a.id)).one()
    login(client, "insp_a")
    resp = client.post(f"/alerts/{alert_a.id}/acknowledge", data={"next": "//evil.example/alerts/"})
    assert resp.headers["Location"].endswith("/alerts/")
    assert "evil" not in resp.headers["Location"]


# --- the daily digest ----------------------------------------------------------------------------

def digest(session, now) -> dict[str, int]:
    counts = alert_digest(session=session, now=now, config={"APP_BASE_URL": "http://metrology.local"})
    session.commit()
    return counts


def test_digest_goes_to_the_stations_users_who_want_it(session, world):
    a, b = world.station_a, world.station_b
    world.inspector_a.email = "insp_a@example.com"
    world.inspector_b.email = "insp_b@example.com"
    opted_out = factories.user(session, "insp_a2", Role.INSPECTOR, [a])
    opted_out.email, opted_out.wants_alert_digest = "a2@example.com", False
    factories.user(session, "insp_a3", Role.INSPECTOR, [a])  # no e-mail address
    inactive = factories.user(session, "insp_a4", Role.INSPECTOR, [a])
    inactive.email, inactive.is_active = "a4@example.com", False
    world.admin.email = "admin@example.com"  # sees every station but is assigned to none
    both = factories.user(session, "insp_ab", Role.INSPECTOR, [a, b])
    both.email = "ab@example.com"
    session.commit()
    sweep(session)

    counts = digest(session, NOW)
    assert counts == {"stations": 2, "messages": 4, "already_sent": 0, "no_recipients": 0}
    sent = session.execute(select(OutboxMessage.to_addr, OutboxMessage.station_id)).all()
    assert sorted(sent) == sorted([("insp_a@example.com", a.id), ("ab@example.com", a.id),
                                   ("insp_b@example.com", b.id), ("ab@example.com", b.id)])
    msg = session.scalars(select(OutboxMessage).where(OutboxMessage.to_addr == "insp_a@example.com")).one()
    assert msg.subject == "【计量监管台账】A所 2026-06-01 预警日报：新增 1 条，未解除 1 条"
    assert "一、新增预警" in msg.body and "已超期：1 条" in msg.body
    assert "[已超期] 电子计价秤 A-001，甲市场摊位1，日期 2025-01-10" in msg.body
    assert "B-001" not in msg.body and "http://metrology.local/alerts/" in msg.body
    assert msg.status.value == "pending" and msg.category == "alert_digest"


def test_digest_once_a_day_and_new_since_the_last_one(session, world):
    world.inspector_a.email = "insp_a@example.com"
    session.commit()
    sweep(session)
    assert digest(session, NOW)["messages"] == 1
    # Again the same (Shanghai) day: nothing more. (Station B has nobody to send it to.)
    assert digest(session, NOW + dt.timedelta(hours=10)) == {"stations": 0, "messages": 0, "already_sent": 1,
                                                            "no_recipients": 1}
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1

    # Next day, a new alert in station A: the digest lists it as new and counts both as open.
    add(session, world.merchant_a, "A-002", valid_until=D(2026, 6, 5))
    session.commit()
    next_day = NOW + dt.timedelta(days=1)
    sweep(session, next_day)
    assert digest(session, next_day)["messages"] == 1
    latest = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert "新增 1 条，未解除 2 条" in latest.subject
    assert "A-002" in latest.body and "A-001" not in latest.body  # A-001 is open, but not new
    assert "7天内到期：1 条" in latest.body and "已超期：1 条" in latest.body


def test_my_settings_turn_the_digest_off(client, session, world):
    world.inspector_a.email = "insp_a@example.com"
    session.commit()
    login(client, "insp_a")
    page = client.get("/me/settings").get_data(as_text=True)
    assert "接收预警日报" in page and 'checked' in page
    resp = client.post("/me/settings", data={"email": "insp_a@example.com"})  # box unticked
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(type(world.inspector_a), world.inspector_a.id).wants_alert_digest is False
    sweep(session)
    assert digest(session, NOW)["messages"] == 0
    # Wanting the digest needs an address to send it to.
    resp = client.post("/me/settings", data={"email": "", "wants_alert_digest": "y"})
    assert resp.status_code == 200 and "接收预警日报需要填写电子邮箱" in resp.get_data(as_text=True)


def test_admin_sets_the_digest_in_the_user_form(client, session, world):
    login(client, "admin1")
    u = world.inspector_a
    resp = client.post(f"/admin/users/{u.id}/edit", data={
        "username": "insp_a", "display_name": "检查员甲", "role": "inspector", "station_ids": [str(world.station_a.id)],
        "is_active": "y", "email": "a@example.com", "version": u.version})
    assert resp.status_code == 302
    session.expire_all()
    u = session.get(type(u), u.id)
    assert (u.email, u.wants_alert_digest) == ("a@example.com", False)


def test_late_rectification_raises_an_alert_until_the_recheck_closes_it(app, client, session, world):
    """A rectification order past its deadline is an alert of kind 整改逾期; closing it resolves the alert."""
    from app.inspections.services import record_recheck

    crew = [world.inspector_a, world.supervisor]
    visit = factories.inspection(session, world.merchant_a, crew, on=D(2026, 5, 1),
                                 checks=[(world.instrument_a, "problem")])
    order = factories.finding(session, visit, "OVERDUE", check=visit.checks[0]).rectification
    on_time = factories.inspection(session, world.merchant_b, crew, on=D(2026, 5, 25))
    factories.finding(session, on_time, "NOT_FILED")   # deadline 2026-06-09: not late on 2026-06-01
    session.commit()
    assert order.deadline == D(2026, 5, 16)
    sweep(session)
    late = session.scalars(select(Alert).where(Alert.kind == kinds.RECTIFICATION_LATE.code)).all()
    assert [(a.subject_type, a.subject_id, a.instrument_id, a.station_id, a.due_on) for a in late] == [
        ("rectification", order.id, world.instrument_a.id, world.station_a.id, D(2026, 5, 16))]
    assert sweep(session)["created"] == 0

    login(client, "insp_a")
    page = client.get("/alerts/?kind=rectification_late").get_data(as_text=True)
    assert "整改逾期" in page and f"/rectifications/{order.id}/recheck" in page

    record_recheck(session, world.inspector_a, order, expected_version=order.version,
                   values={"rechecked_on": D(2026, 5, 30), "rectified": True, "notes": ""}, today=D(2026, 6, 1))
    session.commit()
    assert sweep(session)["resolved"] >= 1
    session.expire_all()
    assert session.get(Alert, late[0].id).status is AlertStatus.RESOLVED
