"""Instruments, verifications, the due-date engine in the ledger, replacement and worklists."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.audit.services import AppendOnlyViolation
from app.clock import today
from app.errors import Duplicate, Invalid, StaleEdit
from app.instruments import queries
from app.instruments.models import Instrument, InstrumentStatus, Verification, VerificationResult
from app.instruments.services import replace_instrument, update_instrument, void_verification
from app.scope import Scope
from tests import factories as f
from tests.conftest import login

D = dt.date
ALL = Scope.everything()


def test_same_kind_and_serial_is_refused_with_link(session, world):
    with pytest.raises(Duplicate) as err:
        f.instrument(session, world.merchant_b, serial="A-001")
    assert err.value.link == f"/instruments/{world.instrument_a.id}"
    assert "甲市场摊位1" in err.value.message


def test_same_serial_of_another_kind_is_fine(session, world):
    taximeter = f.instrument(session, world.merchant_a, "taximeter", serial="A-001")
    assert taximeter.id != world.instrument_a.id and taximeter.serial_no == world.instrument_a.serial_no


def test_maker_distinguishes_when_both_known(session, world):
    f.instrument(session, world.merchant_a, "bp_auto", serial="X1", maker="欧姆龙")
    f.instrument(session, world.merchant_a, "bp_auto", serial="X1", maker="鱼跃")
    with pytest.raises(Duplicate):
        f.instrument(session, world.merchant_a, "bp_auto", serial="X1", maker=" 欧姆龙 ")
    with pytest.raises(Duplicate):  # maker unknown: matches any of the same kind and serial
        f.instrument(session, world.merchant_a, "bp_auto", serial="X1")


def test_duplicate_via_form_shows_link_to_existing(client, session, world):
    login(client, "insp_b")
    kind = f.kind(session, "elec_price_scale")
    resp = client.post(f"/instruments/new?merchant_id={world.merchant_b.id}",
                       data={"type_id": kind.id, "serial_no": "A-001", "status": "in_use"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and f'href="/instruments/{world.instrument_a.id}"' in html


def test_verification_moves_due_date_and_is_audited(session, world):
    inst = world.instrument_a
    assert inst.next_due_on == D(2025, 1, 10)
    f.verify(session, inst, D(2025, 1, 31), cert="JD-1")
    assert (inst.last_verified_on, inst.next_due_on, inst.first_verified_on) == (D(2025, 1, 31), D(2026, 1, 31),
                                                                                   D(2024, 1, 10))
    f.verify(session, inst, D(2025, 3, 1), valid_until=D(2026, 2, 28))
    assert inst.next_due_on == D(2026, 2, 28)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "verifications")
                            .order_by(AuditEntry.id.desc())).first()
    assert {"field": "next_due_on", "label": "下次检定日期", "old": "2026-01-31", "new": "2026-02-28"} in entry.changes


def test_failed_verification_makes_instrument_due_now_and_unusable(session, world):
    inst = world.instrument_a
    f.verify(session, inst, D(2025, 6, 1), result="fail")
    assert inst.last_result == VerificationResult.FAIL and not inst.is_usable
    assert inst.next_due_on == D(2025, 6, 1)
    session.commit()
    ids = session.scalars(queries.worklist("failed", ALL, queries.InstrumentFilter(), today(), 30)
                          .with_only_columns(Instrument.id)).all()
    assert inst.id in ids


def test_verification_date_rules(session, world):
    with pytest.raises(Invalid):
        f.verify(session, world.instrument_a, today() + dt.timedelta(days=1))
    with pytest.raises(Invalid):
        f.verify(session, world.instrument_a, D(2025, 1, 1), valid_until=D(2024, 12, 31))


def test_void_recomputes_and_keeps_the_record(session, world):
    inst = world.instrument_a
    wrong = f.verify(session, inst, D(2025, 1, 5), cert="TYPO")
    assert inst.next_due_on == D(2026, 1, 5)
    void_verification(session, world.inspector_a, wrong, "证书号录错")
    assert inst.next_due_on == D(2025, 1, 10)
    session.commit()
    session.expire_all()
    kept = session.get(Verification, wrong.id)
    assert kept.is_voided and kept.void_reason == "证书号录错" and kept.voided_by_id == world.inspector_a.id
    with pytest.raises(Invalid):
        void_verification(session, None, kept, "again")
    with pytest.raises(Invalid):
        void_verification(session, None, session.get(Verification, inst.verifications[-1].id), "  ")


def test_voided_record_stays_visible_on_the_page(client, session, world):
    wrong = f.verify(session, world.instrument_a, D(2025, 1, 5), cert="TYPO-9")
    session.commit()
    login(client, "insp_a")
    resp = client.post(f"/verifications/{wrong.id}/void", data={"reason": "录错了"})
    assert resp.status_code == 302
    html = client.get(f"/instruments/{world.instrument_a.id}").get_data(as_text=True)
    assert "TYPO-9" in html and "已作废：录错了" in html


def test_verification_records_are_never_edited_or_deleted(session, world):
    ver = world.instrument_a.verifications[0]
    ver.certificate_no = "changed"
    with pytest.raises(AppendOnlyViolation):
        session.flush()
    session.rollback()
    session.delete(session.get(Verification, ver.id))
    with pytest.raises(AppendOnlyViolation):
        session.flush()


def test_audit_entries_are_append_only(session, world):
    entry = session.scalars(select(AuditEntry)).first()
    entry.note = "rewritten"
    with pytest.raises(AppendOnlyViolation):
        session.flush()
    session.rollback()
    session.delete(session.scalars(select(AuditEntry)).first())
    with pytest.raises(AppendOnlyViolation):
        session.flush()


def test_service_life_meter_gets_replace_by_and_no_next_due(session, world):
    utility = f.merchant(session, world.station_a, "自来水公司", industry="utility")
    meter = f.instrument(session, utility, "water_meter_le25", serial="W-1", location="户号 1001")
    f.verify(session, meter, D(2020, 2, 29))
    assert meter.replace_by == D(2026, 2, 28) and meter.next_due_on is None


def test_replacing_a_meter_retires_it_and_links_the_new_one(session, world):
    utility = f.merchant(session, world.station_a, "燃气公司", industry="utility")
    old = f.instrument(session, utility, "gas_meter_ng", serial="G-1", location="户号 2002")
    f.verify(session, old, D(2014, 5, 1))
    new = replace_instrument(session, world.inspector_a, Scope.for_user(world.inspector_a), old,
                             {"serial_no": "G-2", "maker": "某燃气表厂"},
                             {"verified_on": D(2024, 5, 1), "result": "pass", "certificate_no": "R-1"})
    assert old.status == InstrumentStatus.REPLACED and old.replaced_by_id == new.id
    assert new.location == "户号 2002" and new.replace_by == D(2034, 5, 1)
    with pytest.raises(Invalid):
        replace_instrument(session, None, ALL, old, {"serial_no": "G-3"}, None)
    session.commit()
    for name in queries.WORKLISTS:
        ids = session.scalars(queries.worklist(name, ALL, queries.InstrumentFilter(), today(), 30)
                              .with_only_columns(Instrument.id)).all()
        assert old.id not in ids


def test_replace_form(client, session, world):
    utility = f.merchant(session, world.station_a, "电力公司", industry="utility")
    old = f.instrument(session, utility, "elec_meter", serial="E-1")
    session.commit()
    login(client, "insp_a")
    resp = client.post(f"/instruments/{old.id}/replace", data={"serial_no": "E-2", "verified_on": "2026-01-05"})
    assert resp.status_code == 302
    new = session.scalars(select(Instrument).where(Instrument.serial_no == "E-2")).one()
    assert new.replace_by == D(2034, 1, 5)
    assert f"/instruments/{new.id}" in client.get(f"/instruments/{old.id}").get_data(as_text=True)


def _ids(session, name, scope=ALL, days=30, on=None):
    stmt = queries.worklist(name, scope, queries.InstrumentFilter(), on or today(), days)
    return set(session.scalars(stmt.with_only_columns(Instrument.id)))


def test_worklists_pick_the_right_instruments(session, world):
    now = today()
    m = world.merchant_a
    due_soon = f.instrument(session, m, serial="SOON")
    f.verify(session, due_soon, now - dt.timedelta(days=20), valid_until=now + dt.timedelta(days=10))
    later = f.instrument(session, m, serial="LATER")
    f.verify(session, later, now - dt.timedelta(days=20), valid_until=now + dt.timedelta(days=100))
    overdue = f.instrument(session, m, serial="LATE")
    f.verify(session, overdue, now - dt.timedelta(days=400))
    stopped = f.instrument(session, m, serial="STOPPED", status="stopped")
    f.verify(session, stopped, now - dt.timedelta(days=400))
    never = f.instrument(session, m, serial="NEVER")
    utility = f.merchant(session, world.station_a, "水务", industry="utility")
    old_meter = f.instrument(session, utility, "water_meter_le25", serial="OLDW")
    f.verify(session, old_meter, now.replace(year=now.year - 7))
    session.commit()
    assert due_soon.id in _ids(session, "due_soon") and later.id not in _ids(session, "due_soon")
    assert later.id in _ids(session, "due_soon", days=120)
    assert {overdue.id, world.instrument_a.id} <= _ids(session, "overdue")
    assert stopped.id not in _ids(session, "overdue") | _ids(session, "never_verified")
    assert never.id in _ids(session, "never_verified")
    assert old_meter.id in _ids(session, "past_service_life") and old_meter.id not in _ids(session, "overdue")
    # Scope: station B's inspector sees none of station A's.
    assert not _ids(session, "overdue", Scope.for_user(world.inspector_b)) & {overdue.id, world.instrument_a.id}


def test_worklist_pages_and_nav_counts(client, session, world):
    login(client, "insp_a")
    html = client.get("/worklists/overdue").get_data(as_text=True)
    assert "A-001" in html and "B-001" not in html
    assert 'id="nav-count-overdue">1<' in html
    assert client.get("/worklists/nope").status_code == 404
    html = client.get(f"/worklists/overdue?type_id={f.kind(session, 'taximeter').id}").get_data(as_text=True)
    assert "A-001" not in html


def test_instrument_stale_edit_refused(session, world):
    inst = world.instrument_a
    opened = inst.version
    values = {"type_id": inst.type_id, "merchant_id": inst.merchant_id, "serial_no": inst.serial_no,
              "location": "1号摊位"}
    update_instrument(session, None, ALL, inst, expected_version=opened, values=values)
    session.commit()
    with pytest.raises(StaleEdit):
        update_instrument(session, None, ALL, inst, expected_version=opened, values={**values, "location": "2号"})


def test_changing_kind_recomputes_dates(session, world):
    inst = world.instrument_a  # verified 2024-01-10, scale (12 months)
    values = {"type_id": f.kind(session, "fuel_dispenser").id, "merchant_id": inst.merchant_id,
              "serial_no": inst.serial_no}
    update_instrument(session, None, ALL, inst, expected_version=inst.version, values=values)
    assert inst.next_due_on == D(2024, 7, 10)


def test_dashboard_counts_by_kind_and_status(client, session, world):
    f.instrument(session, world.merchant_a, serial="S2", status="scrapped")
    session.commit()
    login(client, "super1")
    html = client.get("/").get_data(as_text=True)
    assert "电子计价秤" in html and "燃油加油机" in html
    login_a = client.post("/logout")
    assert login_a.status_code == 302
    login(client, "insp_b")
    html = client.get("/").get_data(as_text=True)
    assert "燃油加油机" in html and "电子计价秤" not in html


def test_verification_count_unchanged_by_refused_form(client, session, world):
    login(client, "insp_a")
    before = session.scalar(select(func.count()).select_from(Verification))
    resp = client.post(f"/instruments/{world.instrument_a.id}/verifications/new",
                       data={"verified_on": "2025-13-01", "result": "pass"})
    assert resp.status_code == 200 and "日期" in resp.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Verification)) == before
