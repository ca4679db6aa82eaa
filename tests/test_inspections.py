"""Special inspections: the draw, inspections and findings, rectification, evidence, figures and pages."""
from __future__ import annotations

import datetime as dt
import io
import random
import re
from collections import Counter

import lxml.html
import pytest
from sqlalchemy import select

from app.accounts.models import Role
from app.audit.services import AppendOnlyViolation
from app.clock import today
from app.errors import Invalid, StaleEdit
from app.inspections import draw as drawing
from app.inspections import queries, services
from app.inspections.models import EvidenceFile, Finding, Inspection, InspectionInstrument, RandomDraw
from app.instruments.models import InstrumentStatus
from app.instruments.services import update_instrument
from app.scope import Scope
from tests import factories
from tests.conftest import login

ALL = Scope.everything()


# --- the draw as a pure function ------------------------------------------------------------------

def pool_of(n_per_class: dict, stations=(1, 2)) -> list[drawing.PoolMerchant]:
    pool, next_id = [], 1
    for cls, n in n_per_class.items():
        for _ in range(n):
            pool.append(drawing.PoolMerchant(next_id, stations[next_id % len(stations)], cls))
            next_id += 1
    return pool


ROSTER = [drawing.RosterInspector(100 + i, (1 + i % 2,)) for i in range(6)]
RATES = {"A": 1, "B": 2, "C": 10, "D": 30, "none": 5}


def test_same_seed_and_inputs_give_the_same_draw_whatever_the_pool_order():
    pool = pool_of({"A": 100, "B": 100, "C": 50, "D": 20, None: 40})
    first = drawing.draw(12345, RATES, 2, False, pool, ROSTER)
    shuffled = pool[:]
    random.Random(1).shuffle(shuffled)
    assert drawing.draw(12345, RATES, 2, False, shuffled, list(reversed(ROSTER))) == first
    assert drawing.draw(12346, RATES, 2, False, pool, ROSTER) != first


def test_rates_per_credit_class_round_up_and_unclassed_has_its_own_rate():
    pool = pool_of({"A": 100, "B": 100, "C": 50, "D": 20, None: 40})
    result = drawing.draw(7, RATES, 2, False, pool, ROSTER)
    assert Counter(r["credit_class"] for r in result) == {"A": 1, "B": 2, "C": 5, "D": 6, "none": 2}
    # 30 % of 10 is exactly 3 (no float rounding up to 4); 1 % of 7 still draws one.
    assert drawing.sample_size(10, 30) == 3
    assert drawing.sample_size(7, 1) == 1
    assert drawing.sample_size(7, 0) == 0
    assert drawing.sample_size(3, 100) == 3


def test_every_target_gets_distinct_inspectors_and_at_least_two():
    pool = pool_of({"D": 30})
    for r in drawing.draw(99, {"D": 100}, 3, False, pool, ROSTER):
        assert len(set(r["inspector_ids"])) == 3
    with pytest.raises(drawing.DrawError):
        drawing.draw(99, {"D": 100}, 1, False, pool, ROSTER)


def test_own_station_inspectors_can_be_excluded():
    pool = pool_of({"D": 40})
    station_of = {u.id: u.station_ids for u in ROSTER}
    for r in drawing.draw(5, {"D": 100}, 2, True, pool, ROSTER):
        assert all(r["station_id"] not in station_of[uid] for uid in r["inspector_ids"])
    lonely = [drawing.RosterInspector(1, (1,)), drawing.RosterInspector(2, (1,)), drawing.RosterInspector(3, (2,))]
    with pytest.raises(drawing.DrawError, match="不足"):
        drawing.draw(5, {"D": 100}, 2, True, pool, lonely)


# --- the draw through the service: recorded, reproducible, locked ----------------------------------

def roster_users(world):
    return [world.inspector_a.id, world.inspector_b.id, world.supervisor.id]


def run(session, world, campaign, **over):
    args = {"station_ids": [world.station_a.id, world.station_b.id], "industries": [],
            "rates": {"A": 100, "B": 100, "C": 100, "D": 100, "none": 100}, "inspectors_per_target": 2,
            "exclude_own_station": False, "roster_ids": roster_users(world), "seed": 42, **over}
    return services.run_draw(session, world.supervisor, campaign, **args)


def test_draw_records_seed_inputs_and_result_and_plans_the_targets(session, world):
    for i in range(10):
        # The credit class is computed by another capability; here it is set directly.
        factories.merchant(session, world.station_a, f"甲摊位{i}").credit_class = "D" if i < 4 else None
    camp = factories.campaign(session, [world.station_a, world.station_b])
    found = run(session, world, camp, rates={"A": 0, "B": 0, "C": 0, "D": 50, "none": 10})
    session.commit()
    assert found.seed == 42 and found.inputs["rates"]["D"] == 50
    assert [row[0] for row in found.inputs["pool"]] == sorted(row[0] for row in found.inputs["pool"])
    assert Counter(r["credit_class"] for r in found.result) == {"D": 2, "none": 1}
    assert services.draw_reproduces(found)
    # Anyone can re-run it from what was recorded, with the pure function.
    assert drawing.rerun(found.seed, found.inputs) == found.result
    targets = session.scalars(queries.targets_of(camp.id, ALL)).all()
    assert sorted(t.merchant_id for t in targets) == sorted(r["merchant_id"] for r in found.result)
    assert all(len(t.inspector_ids) == 2 for t in targets)


def test_a_drawn_result_is_never_edited_and_a_campaign_draws_once(session, world):
    camp = factories.campaign(session, [world.station_a, world.station_b])
    found = run(session, world, camp)
    session.commit()
    found.seed = 43
    with pytest.raises(AppendOnlyViolation):
        session.flush()
    session.rollback()
    with pytest.raises(Invalid, match="不能重抽"):
        run(session, world, camp)


def test_draw_locks_when_its_campaign_starts(session, world):
    later = today() + dt.timedelta(days=10)
    camp = factories.campaign(session, [world.station_a, world.station_b], starts_on=later)
    found = run(session, world, camp)
    session.commit()
    assert not found.is_locked(today())
    assert found.is_locked(later)


def test_the_first_inspection_locks_the_draw_for_good(session, world):
    camp = factories.campaign(session, [world.station_a, world.station_b])
    found = run(session, world, camp)
    session.commit()
    assert found.locked_at is None
    factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor], campaign_id=camp.id)
    session.commit()
    session.refresh(found)
    assert found.locked_at is not None and found.is_locked(today())


def test_an_inspection_in_a_campaign_falls_within_its_period(session, world):
    camp = factories.campaign(session, [world.station_a], starts_on=today() - dt.timedelta(days=30),
                              ends_on=today() - dt.timedelta(days=10))
    with pytest.raises(Invalid, match="期间"):
        factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor], campaign_id=camp.id)
    with pytest.raises(Invalid, match="未参加"):
        factories.inspection(session, world.merchant_b, [world.inspector_a, world.supervisor], campaign_id=camp.id,
                             on=today() - dt.timedelta(days=20))


def test_draw_needs_two_inspectors_per_target(session, world):
    camp = factories.campaign(session, [world.station_a])
    with pytest.raises(Invalid, match="两名"):
        run(session, world, camp, station_ids=[world.station_a.id], inspectors_per_target=1)


def test_draw_page_shows_reproduction_check(client, session, world):
    camp = factories.campaign(session, [world.station_a, world.station_b])
    found = run(session, world, camp)
    session.commit()
    login(client, "super1")
    text = client.get(f"/draws/{found.id}").get_data(as_text=True)
    assert "结果一致" in text and str(found.seed) in text


def test_draw_form_runs_the_draw(client, session, world):
    camp = factories.campaign(session, [world.station_a, world.station_b])
    session.commit()
    login(client, "super1")
    resp = client.post(f"/campaigns/{camp.id}/draw", data={
        "station_ids": [str(world.station_a.id), str(world.station_b.id)], "rate_A": "1", "rate_B": "2",
        "rate_C": "10", "rate_D": "30", "rate_none": "100", "inspectors_per_target": "2",
        "exclude_own_station": "y", "roster_ids": [str(u) for u in roster_users(world)], "seed": "2026"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    found = session.scalars(select(RandomDraw).where(RandomDraw.campaign_id == camp.id)).one()
    assert found.seed == 2026 and found.inputs["exclude_own_station"] is True
    assert len(found.result) == 2
    # insp_a belongs to station A: never sent to the station A merchant.
    for r in found.result:
        if r["station_id"] == world.station_a.id:
            assert world.inspector_a.id not in r["inspector_ids"]


# --- inspections and findings ---------------------------------------------------------------------

def test_an_inspection_needs_two_inspectors(session, world):
    with pytest.raises(Invalid, match="两名以上"):
        factories.inspection(session, world.merchant_a, [world.inspector_a])
    with pytest.raises(Invalid, match="两名以上"):
        factories.inspection(session, world.merchant_a, [world.inspector_a, world.inspector_a])


def test_snapshot_keeps_the_instrument_as_it_was(session, world):
    inst = world.instrument_a
    insp = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor],
                                checks=[(inst, "problem")])
    check = insp.checks[0] if insp.checks else session.scalars(select(InspectionInstrument)).one()
    factories.finding(session, insp, check=check)
    session.commit()
    before = (check.serial_no, check.status, check.next_due_on, check.kind_name)
    update_instrument(session, None, ALL, inst, expected_version=inst.version,
                      values={"type_id": inst.type_id, "merchant_id": inst.merchant_id, "serial_no": "A-001-NEW",
                              "status": "scrapped"})
    session.commit()
    session.expire_all()
    check = session.get(InspectionInstrument, check.id)
    assert (check.serial_no, check.status, check.next_due_on, check.kind_name) == before
    assert check.serial_no == "A-001" and check.status == InstrumentStatus.IN_USE


def test_findings_and_inspections_are_never_edited_or_deleted(session, world):
    insp = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor],
                                checks=[(world.instrument_a, "problem")])
    f = factories.finding(session, insp)
    session.commit()
    f.description = "改写"
    with pytest.raises(AppendOnlyViolation):
        session.flush()
    session.rollback()
    insp.notes = "改写"
    with pytest.raises(AppendOnlyViolation):
        session.flush()
    session.rollback()
    session.delete(session.get(InspectionInstrument, insp.checks[0].id))
    with pytest.raises(AppendOnlyViolation):
        session.flush()
    session.rollback()


def test_stop_use_sets_the_instrument_status(session, world):
    insp = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor],
                                checks=[(world.instrument_a, "problem")])
    factories.finding(session, insp, "FAILED_IN_USE", "stop_use", check=insp.checks[0])
    session.commit()
    session.refresh(world.instrument_a)
    assert world.instrument_a.status == InstrumentStatus.STOPPED
    # The snapshot still says what the inspectors saw: in use.
    assert insp.checks[0].status == InstrumentStatus.IN_USE
    with pytest.raises(Invalid, match="涉及的器具"):
        factories.finding(session, insp, "FAILED_IN_USE", "stop_use")


def test_a_case_keeps_its_number_and_numbers_are_unique(session, world):
    insp = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor])
    with pytest.raises(Invalid, match="案件编号"):
        factories.finding(session, insp, "CHEAT_DEVICE", "case")
    f = factories.finding(session, insp, "CHEAT_DEVICE", "case", case_no="青市监立〔2026〕12号")
    session.commit()
    assert session.get(Finding, f.id).case_no == "青市监立〔2026〕12号"
    assert f.rectification is None
    with pytest.raises(Exception, match="已被使用"):
        factories.finding(session, insp, "CHEAT_DEVICE", "case", case_no="青市监立〔2026〕12号")


def test_unregistered_instrument_is_registered_on_the_spot(session, world):
    scale = factories.kind(session, "elec_price_scale")
    insp = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor],
                                new_instrument={"type_id": scale.id, "serial_no": "SPOT-1", "maker": ""})
    session.commit()
    [check] = insp.checks
    assert check.registered_on_spot and check.serial_no == "SPOT-1"
    assert check.instrument.merchant_id == world.merchant_a.id


# --- rectification ----------------------------------------------------------------------------------

def test_rectification_deadline_defaults_to_15_days_and_is_editable(session, world):
    on = today() - dt.timedelta(days=3)
    insp = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor], on=on)
    f = factories.finding(session, insp, "NO_VALID_MARK", "rectify")
    g = factories.finding(session, insp, "NOT_MEASURING", "rectify", deadline=on + dt.timedelta(days=30))
    h = factories.finding(session, insp, "PLEDGE_NOT_DISPLAYED", "on_the_spot")
    session.commit()
    assert f.rectification.deadline == on + dt.timedelta(days=15)
    assert g.rectification.deadline == on + dt.timedelta(days=30)
    assert h.rectification is None


def test_recheck_closes_the_order_or_keeps_it_open(session, world):
    on = today() - dt.timedelta(days=20)
    insp = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor], on=on)
    rect = factories.finding(session, insp, "NO_VALID_MARK").rectification
    session.commit()
    services.record_recheck(session, world.inspector_a, rect, expected_version=rect.version, today=today(),
                            values={"rechecked_on": on + dt.timedelta(days=10), "rectified": False})
    session.commit()
    assert rect.is_open and len(rect.rechecks) == 1
    with pytest.raises(StaleEdit):
        services.record_recheck(session, world.inspector_a, rect, expected_version=rect.version - 1,
                                today=today(), values={"rechecked_on": today(), "rectified": True})
    services.record_recheck(session, world.inspector_a, rect, expected_version=rect.version, today=today(),
                            values={"rechecked_on": today(), "rectified": True, "notes": "已张贴合格标志"})
    session.commit()
    session.refresh(rect)
    assert rect.closed_on == today() and not rect.is_open
    assert rect.is_late(today())  # closed after its deadline
    with pytest.raises(Invalid, match="已复查关闭"):
        services.record_recheck(session, world.inspector_a, rect, expected_version=rect.version, today=today(),
                                values={"rechecked_on": today(), "rectified": True})


def test_late_rectifications_query_finds_open_orders_past_their_deadline(session, world):
    old = today() - dt.timedelta(days=30)
    insp = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor], on=old)
    late = factories.finding(session, insp, "NO_VALID_MARK").rectification
    fresh = factories.finding(session, insp, "NOT_MEASURING", deadline=today() + dt.timedelta(days=1)).rectification
    closed = factories.finding(session, insp, "NO_FAIR_SCALE").rectification
    session.flush()
    services.record_recheck(session, None, closed, expected_version=closed.version, today=today(),
                            values={"rechecked_on": today(), "rectified": True})
    session.commit()
    rows = session.execute(queries.late_rectifications(today())).all()
    assert [(r.id, r.station_id, r.merchant_id, r.deadline) for r in rows] == [
        (late.id, world.station_a.id, world.merchant_a.id, old + dt.timedelta(days=15))]
    # The day the deadline passes, not before.
    assert session.execute(queries.late_rectifications(late.deadline)).all() == []
    assert fresh.id not in [r.id for r in session.execute(queries.late_rectifications(today() + dt.timedelta(days=1)))]


def test_late_shows_in_the_rectification_list(client, session, world):
    insp = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor],
                                on=today() - dt.timedelta(days=30))
    factories.finding(session, insp, "NO_VALID_MARK")
    session.commit()
    login(client, "insp_a")
    assert "已逾期" in client.get("/rectifications/?state=late").get_data(as_text=True)
    assert "已逾期" in client.get(f"/inspections/{insp.id}").get_data(as_text=True)


# --- evidence files ---------------------------------------------------------------------------------

@pytest.fixture()
def evidence_app(database_url, tmp_path):
    from tests.conftest import fresh_app

    application = fresh_app(database_url, EVIDENCE_STORAGE=str(tmp_path / "evidence"), EVIDENCE_MAX_BYTES=1024)
    yield application
    application.extensions["database"].dispose()


def test_evidence_is_checked_by_content_and_size(evidence_app, tmp_path):
    client = evidence_app.test_client()
    database = evidence_app.extensions["database"]
    with database.session_scope() as s:
        world = factories.build_world(s)
        insp = factories.inspection(s, world.merchant_a, [world.inspector_a, world.supervisor])
        insp_id = insp.id
    login(client, "insp_a")
    url = f"/inspections/{insp_id}/evidence"
    resp = client.post(url, data={"file": (io.BytesIO(b"GIF89a not allowed"), "photo.jpg")})
    assert resp.status_code == 200 and "只能上传 JPEG、PNG、HEIC 图片或 PDF" in resp.get_data(as_text=True)
    resp = client.post(url, data={"file": (io.BytesIO(factories.PNG + b"\x00" * 2000), "big.png")})
    assert resp.status_code == 200 and "文件过大" in resp.get_data(as_text=True)
    for data, name, ctype in ((factories.PNG, "现场.png", "image/png"), (factories.JPEG, "a.jpg", "image/jpeg"),
                              (factories.PDF, "扫描件.pdf", "application/pdf")):
        assert client.post(url, data={"file": (io.BytesIO(data), name)}).status_code == 302
    with database.session_scope() as s:
        files = s.scalars(select(EvidenceFile).order_by(EvidenceFile.id)).all()
        assert [f.content_type for f in files] == ["image/png", "image/jpeg", "application/pdf"]
        stored = [tmp_path / "evidence" / f.stored_name for f in files]
        ids = [f.id for f in files]
    assert all(p.is_file() for p in stored)
    assert stored[0].read_bytes() == factories.PNG
    resp = client.get(f"/evidence/{ids[0]}")
    assert resp.status_code == 200 and resp.data == factories.PNG and resp.mimetype == "image/png"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    # Another station's inspector gets the same answer as for a file that does not exist.
    other = evidence_app.test_client()
    login(other, "insp_b")
    assert other.get(f"/evidence/{ids[0]}").status_code == 404
    assert evidence_app.test_client().get(f"/evidence/{ids[0]}").status_code == 302  # anonymous: to login


def test_evidence_files_are_never_deleted(session, world, tmp_path):
    insp = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor])
    ev = services.store_evidence(session, None, insp, file_name="../../etc/passwd.png", data=factories.PNG,
                                 storage_dir=str(tmp_path), max_bytes=10_000)
    session.commit()
    assert ev.original_name == "passwd.png" and ".." not in ev.stored_name
    session.delete(ev)
    with pytest.raises(AppendOnlyViolation):
        session.flush()
    session.rollback()


# --- figures ----------------------------------------------------------------------------------------

def test_campaign_progress_counts_against_the_database(client, session, world):
    camp = factories.campaign(session, [world.station_a, world.station_b], starts_on=today() - dt.timedelta(days=40),
                              ends_on=today())
    extra = factories.merchant(session, world.station_a, "甲摊位X")
    planned = [world.merchant_a, world.merchant_b, extra]
    for m in planned:
        services.add_target(session, None, camp, m)
    inspectors = [world.inspector_a, world.supervisor]
    i1 = factories.inspection(session, world.merchant_a, inspectors, campaign_id=camp.id,
                              on=today() - dt.timedelta(days=30), checks=[(world.instrument_a, "problem")])
    factories.finding(session, i1, "OVERDUE", check=i1.checks[0])                    # late (deadline passed)
    factories.finding(session, i1, "NO_VALID_MARK", deadline=today() + dt.timedelta(days=5))  # open
    factories.finding(session, i1, "CHEAT_DEVICE", "case", case_no="CASE-1")
    factories.inspection(session, world.merchant_b, inspectors, campaign_id=camp.id,
                              checks=[(world.instrument_b, "ok")])
    factories.inspection(session, extra, inspectors, campaign_id=camp.id, visit_outcome="unreachable")
    # Not in the campaign: never counted on its page.
    factories.inspection(session, world.merchant_a, inspectors)
    session.commit()

    totals = {}
    for stmt in (queries.inspection_figures(ALL, campaign_id=camp.id),
                 queries.instrument_figures(ALL, campaign_id=camp.id),
                 queries.finding_figures(ALL, today(), campaign_id=camp.id), queries.planned_figures(camp.id, ALL)):
        totals.update(session.execute(stmt).one()._asdict())
    assert totals == {"inspections": 3, "merchants": 3, "conducted": 2, "instruments": 2, "with_problem": 1,
                      "findings": 3, "merchants_with_findings": 1, "cases": 1, "rectifications": 2, "open": 1,
                      "late": 1, "closed_on_time": 0, "closed_late": 0, "planned": 3, "planned_inspected": 3}
    # An inspector of station B sees station B's share only.
    b_only = session.execute(queries.finding_figures(Scope(frozenset({world.station_b.id})), today(),
                                                     campaign_id=camp.id)).one()
    assert b_only.findings == 0
    by_code = dict((code, n) for code, _, n in session.execute(queries.findings_by_code(ALL, campaign_id=camp.id)))
    assert by_code == {"OVERDUE": 1, "NO_VALID_MARK": 1, "CHEAT_DEVICE": 1}

    login(client, "super1")
    text = client.get(f"/campaigns/{camp.id}").get_data(as_text=True)
    assert 'id="fig-planned">3<' in text and 'id="fig-findings">3<' in text and 'id="fig-cases">1<' in text
    assert 'id="fig-late" class="due-overdue">1<' in text


# --- publication (一公开) --------------------------------------------------------------------------

def test_public_page_lists_outcomes_and_nothing_private(client, session, world):
    person = factories.merchant(session, world.station_a, "王小明蔬菜摊", contact="王小明", phone="13800001111",
                                notes="摊主腿脚不便")
    firm = factories.merchant(session, world.station_b, "恒通加油站", industry="fuel_station", contact="李经理",
                              phone="0571-88886666")
    camp = factories.campaign(session, [world.station_a, world.station_b], starts_on=today() - dt.timedelta(days=40),
                              ends_on=today() - dt.timedelta(days=1))
    found = run(session, world, camp, station_ids=[world.station_a.id, world.station_b.id], today=camp.ends_on)
    inspectors = [world.inspector_a, world.supervisor]
    i1 = factories.inspection(session, person, inspectors, campaign_id=camp.id, on=today() - dt.timedelta(days=20))
    factories.finding(session, i1, "NO_VALID_MARK", description="秤上合格标志已过期，摊主称下周补办")
    factories.inspection(session, firm, inspectors, campaign_id=camp.id, on=today() - dt.timedelta(days=20))
    factories.inspection(session, world.merchant_b, inspectors, campaign_id=camp.id, visit_outcome="no_activity",
                         on=today() - dt.timedelta(days=20))
    session.commit()
    assert client.get(f"/public/draws/{found.id}").status_code == 404  # not published yet
    services.publish_draw(session, world.supervisor, found, today())
    session.commit()
    resp = client.get(f"/public/draws/{found.id}")
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert "王小明蔬菜摊" in text and "恒通加油站" in text
    assert "发现问题待后续处理" in text and "未发现问题" in text and "未发现开展本次抽查涉及的经营活动" in text
    for private in ("insp_a", "super1", "13800001111", "0571-88886666", "摊主腿脚不便", "秤上合格标志已过期",
                    "合格标志", "NO_VALID_MARK", "责令改正通知书", "王小明<", "李经理", "退出"):
        assert private not in text, private
    # The seed is a small number: looked for as a whole number in what the page shows, not inside
    # the markup, where a random CSP nonce may contain its digits.
    shown = lxml.html.fromstring(text).text_content()
    assert not re.search(rf"(?<!\d){found.seed}(?!\d)", shown), found.seed


def test_public_page_never_shows_credit_codes(client, session, world):
    code = "91330100MA27Y8QX4N"
    from app.merchants import credit_code as cc
    code = code[:17] + cc.check_character(code[:17])
    m = factories.merchant(session, world.station_a, "个体工商户张三", credit_code=code)
    camp = factories.campaign(session, [world.station_a, world.station_b], starts_on=today() - dt.timedelta(days=40),
                              ends_on=today() - dt.timedelta(days=1))
    # Planned by hand before the draw, then drawn: listed once, as drawn.
    services.add_target(session, None, camp, m)
    # Planned by hand in a station outside the draw: not part of 双随机, so not published.
    services.add_target(session, None, camp, world.merchant_b)
    found = run(session, world, camp, station_ids=[world.station_a.id], today=camp.ends_on)
    services.publish_draw(session, world.supervisor, found, today())
    session.commit()
    text = client.get(f"/public/draws/{found.id}").get_data(as_text=True)
    assert m.name in text and code not in text and "尚未检查" in text
    assert text.count(m.name) == 1 and world.merchant_b.name not in text


def test_publishing_waits_for_the_end_of_the_campaign(session, world):
    camp = factories.campaign(session, [world.station_a, world.station_b])
    found = run(session, world, camp)
    with pytest.raises(Invalid, match="结束"):
        services.publish_draw(session, world.supervisor, found, today())


# --- pages ------------------------------------------------------------------------------------------

def test_inspection_form_records_checks_and_keeps_input_on_error(client, session, world):
    login(client, "insp_a")
    url = f"/inspections/new?merchant_id={world.merchant_a.id}"
    data = {"inspected_on": today().isoformat(), "visit_outcome": "conducted", "notes": "现场检查记录甲",
            "inspector_ids": [str(world.inspector_a.id)], f"inst_{world.instrument_a.id}": "problem"}
    resp = client.post(url, data=data)
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "两名以上" in text and "现场检查记录甲" in text
    assert 'value="problem" selected' in text
    data["inspector_ids"] = [str(world.inspector_a.id), str(world.supervisor.id)]
    resp = client.post(url, data=data)
    assert resp.status_code == 302
    insp = session.scalars(select(Inspection)).one()
    assert [c.instrument_id for c in insp.checks] == [world.instrument_a.id]
    assert {u.username for u in insp.inspectors} == {"insp_a", "super1"}


def test_print_views_render_for_a4(client, session, world):
    insp = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor],
                                checks=[(world.instrument_a, "problem")])
    factories.finding(session, insp, "OVERDUE", "stop_use", check=insp.checks[0])
    session.commit()
    login(client, "insp_a")
    notice = client.get(f"/inspections/{insp.id}/print/notice").get_data(as_text=True)
    assert "责令改正通知书" in notice and "size: A4" in notice and "超过检定周期使用" in notice and "A-001" in notice
    record = client.get(f"/inspections/{insp.id}/print/record").get_data(as_text=True)
    assert "现场检查笔录" in record and "size: A4" in record and "insp_a" in record and "责令停止使用" in record


def test_supervisor_reads_but_does_not_record(client, session, world):
    insp = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor])
    session.commit()
    login(client, "super1")
    assert client.get(f"/inspections/{insp.id}").status_code == 200
    assert client.get(f"/inspections/{insp.id}/findings/new").status_code == 403
    assert world.supervisor.role == Role.SUPERVISOR
