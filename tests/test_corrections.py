"""Mistakes corrected, and the record shows it (issue 13 part 4): a finding is voided with a reason and leaves
every count, figure, score, public page, export count and printed notice, while it stays visible; a finding on
an instrument checked as 未发现问题 asks for the check to be corrected first; a rectification deadline is
extended with a reason and a later date. One void mechanism serves verifications and findings."""
from __future__ import annotations

import datetime as dt
import io

import lxml.html
import openpyxl
import pytest
from sqlalchemy import select

from app.alerts.kinds import PLEDGE_REVIEW
from app.alerts.queries import SUBJECT_RULES
from app.audit.models import AuditEntry
from app.audit.services import AppendOnlyViolation
from app.clock import today
from app.credit import services as credit
from app.credit.models import CreditScore
from app.db import utcnow
from app.errors import Invalid, StaleEdit
from app.inspections import queries, services
from app.inspections.models import DeadlineExtension, Finding, Rectification
from app.instruments.models import Verification
from app.integrity.queries import merchant_finding
from app.scope import Scope
from app.voiding.models import Voidable
from config import TestConfig
from tests import factories
from tests.conftest import login

ALL = Scope.everything()
CREW = lambda world: [world.inspector_a, world.supervisor]  # noqa: E731


@pytest.fixture()
def visit(session, world):
    """An inspection of merchant A in a running campaign with a wrong finding (an order) and a right one (a case)."""
    camp = factories.campaign(session, [world.station_a, world.station_b], name="铅封专项",
                              starts_on=today() - dt.timedelta(days=10))
    insp = factories.inspection(session, world.merchant_a, CREW(world), campaign_id=camp.id,
                                on=today() - dt.timedelta(days=3), checks=[(world.instrument_a, "problem")])
    wrong = factories.finding(session, insp, "SEAL_TAMPERED", check=insp.checks[0], description="铅封破损，编号无法辨认")
    right = factories.finding(session, insp, "NO_VALID_MARK", "case", case_no="案-2026-1")
    session.commit()
    return {"campaign": camp, "inspection": insp, "wrong": wrong, "right": right}


def _void(session, world, finding, reason="登记在错误的器具上"):
    services.void_finding(session, world.inspector_a, finding, reason, today())
    session.commit()


# --- one mechanism ----------------------------------------------------------------------------------

def test_verifications_and_findings_share_one_void_mechanism():
    assert issubclass(Verification, Voidable) and issubclass(Finding, Voidable)
    for model in (Verification, Finding):
        assert {"voided_at", "voided_by_id", "void_reason"} <= set(model.__table__.c.keys())


def test_void_needs_a_reason_happens_once_and_changes_nothing_else(session, world, visit):
    wrong = visit["wrong"]
    with pytest.raises(Invalid, match="作废原因"):
        services.void_finding(session, world.inspector_a, wrong, "   ", today())
    session.rollback()
    _void(session, world, wrong)
    assert wrong.is_voided and wrong.void_reason == "登记在错误的器具上" and wrong.voided_by_id == world.inspector_a.id
    with pytest.raises(Invalid, match="该问题已作废"):
        services.void_finding(session, world.inspector_a, wrong, "再次", today())
    session.rollback()
    # Still evidence: nothing but the void columns may change.
    wrong.description = "改写"
    with pytest.raises(AppendOnlyViolation):
        session.flush()
    session.rollback()
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "findings",
                                                     AuditEntry.entity_id == wrong.id,
                                                     AuditEntry.action == "void")).one()
    assert any(c["new"] == "登记在错误的器具上" for c in entry.changes)


def test_voiding_closes_the_open_order_as_voided(session, world, visit):
    rect = visit["wrong"].rectification
    assert rect.is_open
    _void(session, world, visit["wrong"])
    session.refresh(rect)
    assert rect.closed_on == today() and rect.is_voided
    # Not late any more, not open: the late sweep and the open list leave it.
    assert rect.id not in [r.id for r in session.execute(queries.late_rectifications(today() + dt.timedelta(days=90)))]
    assert rect.id not in [r.id for r in session.scalars(queries.rectification_list(ALL, today(), "open"))]
    assert session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "rectifications",
                                                    AuditEntry.entity_id == rect.id,
                                                    AuditEntry.action == "void")).one()


# --- it leaves every count ----------------------------------------------------------------------------

def test_voided_findings_leave_campaign_and_station_figures(session, world, visit):
    camp = visit["campaign"]

    def figures():
        row = session.execute(queries.finding_figures(ALL, today(), campaign_id=camp.id)).one()
        codes = {c: n for c, _, n in session.execute(queries.findings_by_code(ALL, campaign_id=camp.id))}
        return row.findings, row.rectifications, row.open, row.cases, codes

    assert figures() == (2, 1, 1, 1, {"SEAL_TAMPERED": 1, "NO_VALID_MARK": 1})
    _void(session, world, visit["wrong"])
    assert figures() == (1, 0, 0, 1, {"NO_VALID_MARK": 1})
    # Station statistics over a period use the same statements.
    stats = services.figures(session, ALL, today(), date_from=today() - dt.timedelta(days=30), date_to=today())
    assert stats["totals"]["findings"] == 1 and stats["totals"]["rectifications"] == 0


def test_voided_findings_leave_the_dashboard(client, session, world, visit):
    from app.dashboard.services import inspection_summary

    _void(session, world, visit["wrong"])
    summary = inspection_summary(session, ALL, today())
    assert summary["findings"] == 1 and [c.code for c in summary["codes"]] == ["NO_VALID_MARK"]
    login(client, "super1")
    text = client.get("/").get_data(as_text=True)
    assert "共 1 条" in text and "铅封破坏或擅自改动" not in text


def test_voided_findings_leave_the_monthly_report(session, world, visit):
    from reports.monthly import Month
    from reports.monthly_inspections import _by_station

    before = _by_station(session, ALL, Month.of(today() - dt.timedelta(days=3)))
    _void(session, world, visit["wrong"])
    after = _by_station(session, ALL, Month.of(today() - dt.timedelta(days=3)))
    a = world.station_a.id
    assert (before[a]["findings"], before[a]["rectifications"]) == (2, 1)
    assert (after[a]["findings"], after[a]["rectifications"], after[a]["cases"]) == (1, 0, 1)


def test_voided_findings_leave_the_credit_score(session, world):
    insp = factories.inspection(session, world.merchant_a, CREW(world), on=today() - dt.timedelta(days=3))
    severe = factories.finding(session, insp, "CHEAT_DEVICE")
    session.commit()
    credit.recompute(session, today(), utcnow())
    score = session.scalars(select(CreditScore).where(CreditScore.merchant_id == world.merchant_a.id)).one()
    assert score.severe == 1
    _void(session, world, severe)
    credit.recompute(session, today(), utcnow())
    session.expire_all()
    score = session.scalars(select(CreditScore).where(CreditScore.merchant_id == world.merchant_a.id)).one()
    assert score.severe == 0


def test_voided_findings_leave_integrity_checks(session, world, visit):
    from app.integrity import services as integrity

    pledge = integrity.create_pledge(session, world.admin, ALL, world.merchant_a,
                                     {"signed_on": today() - dt.timedelta(days=100), "scope_text": "全部计量器具"},
                                     None, storage_dir=TestConfig.INTEGRITY_STORAGE, max_bytes=1024, today=today())
    session.commit()
    wrong = visit["wrong"]
    rule = SUBJECT_RULES[PLEDGE_REVIEW.code]
    assert pledge.id in [row[0] for row in session.execute(rule(today()))]
    assert session.scalar(merchant_finding(wrong.id, world.merchant_a.id, ALL)) == wrong.id
    _void(session, world, wrong)
    # The severe finding no longer asks for a review of the pledge, nor can it be the reason to revoke it.
    assert pledge.id not in [row[0] for row in session.execute(rule(today()))]
    assert session.scalar(merchant_finding(wrong.id, world.merchant_a.id, ALL)) is None


def test_voided_findings_leave_the_public_results(client, session, world):
    camp = factories.campaign(session, [world.station_a], name="公示专项", starts_on=today() - dt.timedelta(days=40),
                              ends_on=today() - dt.timedelta(days=1))
    found = services.run_draw(session, world.supervisor, camp, station_ids=[world.station_a.id], industries=[],
                              rates={"A": 100, "B": 100, "C": 100, "D": 100, "none": 100}, inspectors_per_target=2,
                              exclude_own_station=False, roster_ids=[world.inspector_a.id, world.supervisor.id],
                              seed=5, today=camp.ends_on)
    insp = factories.inspection(session, world.merchant_a, CREW(world), campaign_id=camp.id,
                                on=today() - dt.timedelta(days=5))
    wrong = factories.finding(session, insp, "SEAL_TAMPERED")
    services.publish_draw(session, world.supervisor, found, today())
    session.commit()
    def outcome() -> str:
        page = lxml.html.fromstring(client.get(f"/public/draws/{found.id}").get_data(as_text=True))
        rows = page.get_element_by_id("public-results").findall("tbody/tr")
        return {r[1].text_content(): r[3].text_content() for r in rows}[world.merchant_a.name]

    assert outcome() == "发现问题待后续处理"
    _void(session, world, wrong)
    assert outcome() == "未发现问题"


def test_voided_findings_leave_export_counts_and_are_marked_in_the_findings_export(client, session, world, visit):
    _void(session, world, visit["wrong"])
    login(client, "insp_a")
    ws = openpyxl.load_workbook(io.BytesIO(client.get("/inspections/export.xlsx").data)).active
    header = [c.value for c in ws[1]]
    row = [c.value for c in ws[2]]
    assert row[header.index("发现问题（条）")] == 1
    ws = openpyxl.load_workbook(io.BytesIO(client.get("/inspections/findings.xlsx").data)).active
    header = [c.value for c in ws[1]]
    rows = {r[header.index("问题代码")]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    reason = header.index("作废原因（已作废的问题）")
    assert rows["SEAL_TAMPERED"][reason] == "登记在错误的器具上" and not rows["NO_VALID_MARK"][reason]


def test_voided_finding_stays_visible_struck_through_and_leaves_printed_documents(client, session, world, visit):
    insp = visit["inspection"]
    login(client, "insp_a")
    notice = client.get(f"/inspections/{insp.id}/print/notice").get_data(as_text=True)
    assert "铅封破坏或擅自改动" in notice
    resp = client.post(f"/findings/{visit['wrong'].id}/void", data={"reason": "应为另一台秤"})
    assert resp.status_code == 302
    page = lxml.html.fromstring(client.get(f"/inspections/{insp.id}").get_data(as_text=True))
    row = page.get_element_by_id(f"finding-{visit['wrong'].id}")
    assert "voided" in row.get("class") and "已作废：应为另一台秤" in row.text_content()
    assert "随问题作废" in row.text_content()
    # The notice of the remaining findings (here only a case, so no order) and the record drop it.
    for url in (f"/inspections/{insp.id}/print/notice", f"/inspections/{insp.id}/print/record"):
        assert "铅封破坏或擅自改动" not in client.get(url).get_data(as_text=True), url
    # The rectification list says how the order was closed.
    assert "随问题作废于" in client.get("/rectifications/?state=voided").get_data(as_text=True)
    assert "随问题作废于" not in client.get("/rectifications/?state=closed").get_data(as_text=True)


def test_void_form_refuses_a_blank_reason_in_chinese(client, session, world, visit):
    login(client, "insp_a")
    resp = client.post(f"/findings/{visit['wrong'].id}/void", data={"reason": ""})
    assert resp.status_code == 200 and "请填写作废原因" in resp.get_data(as_text=True)
    session.expire_all()
    assert not session.get(Finding, visit["wrong"].id).is_voided


# --- a finding on an instrument checked as 未发现问题 ---------------------------------------------------

def test_a_finding_on_a_check_marked_ok_asks_to_change_the_check_first(client, session, world):
    insp = factories.inspection(session, world.merchant_a, CREW(world), checks=[(world.instrument_a, "ok")])
    session.commit()
    check = insp.checks[0]
    with pytest.raises(Invalid, match="未发现问题") as err:
        factories.finding(session, insp, "SEAL_TAMPERED", check=check)
    assert err.value.link == f"/inspections/checks/{check.id}/outcome"
    session.rollback()
    login(client, "insp_a")
    form = {"code_id": str(factories.finding_code(session, "SEAL_TAMPERED").id), "check_id": str(check.id),
            "measure": "rectify", "description": "铅封破损"}
    resp = client.post(f"/inspections/{insp.id}/findings/new", data=form)
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "请先" in text and "改为发现问题" in text
    assert f"/inspections/checks/{check.id}/outcome" in text
    # Correct the check (with a reason), then the finding is accepted.
    assert "请填写更正原因" in client.post(f"/inspections/checks/{check.id}/outcome",
                                          data={"reason": ""}).get_data(as_text=True)
    resp = client.post(f"/inspections/checks/{check.id}/outcome", data={"reason": "复核照片发现铅封破损"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/inspections/{insp.id}/findings/new")
    assert client.post(f"/inspections/{insp.id}/findings/new", data=form).status_code == 302
    session.expire_all()
    assert session.get(type(check), check.id).outcome.value == "problem"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "inspection_instruments",
                                                     AuditEntry.entity_id == check.id)).one()
    assert entry.action == "correct" and "复核照片发现铅封破损" in entry.note


def test_a_check_correction_changes_only_the_outcome(session, world):
    insp = factories.inspection(session, world.merchant_a, CREW(world), checks=[(world.instrument_a, "ok")])
    session.commit()
    check = insp.checks[0]
    check.serial_no = "改写"
    with pytest.raises(AppendOnlyViolation):
        session.flush()
    session.rollback()
    services.mark_check_problem(session, world.inspector_a, check, "复核")
    with pytest.raises(Invalid, match="已是"):
        services.mark_check_problem(session, world.inspector_a, check, "复核")


# --- extending a deadline -----------------------------------------------------------------------------

def test_deadline_extends_with_a_reason_to_a_later_date_more_than_once(session, world, visit):
    rect = visit["wrong"].rectification
    first = rect.deadline
    with pytest.raises(Invalid, match="晚于当前期限"):
        services.extend_deadline(session, world.inspector_a, rect, expected_version=rect.version,
                                 new_deadline=first, reason="返厂维修")
    session.rollback()
    with pytest.raises(Invalid, match="延期原因"):
        services.extend_deadline(session, world.inspector_a, rect, expected_version=rect.version,
                                 new_deadline=first + dt.timedelta(days=10), reason=" ")
    session.rollback()
    services.extend_deadline(session, world.inspector_a, rect, expected_version=rect.version,
                             new_deadline=first + dt.timedelta(days=10), reason="返厂维修")
    session.commit()
    with pytest.raises(StaleEdit):
        services.extend_deadline(session, world.inspector_a, rect, expected_version=rect.version - 1,
                                 new_deadline=first + dt.timedelta(days=20), reason="再次")
    session.rollback()
    services.extend_deadline(session, world.inspector_a, rect, expected_version=rect.version,
                             new_deadline=first + dt.timedelta(days=30), reason="配件未到")
    session.commit()
    session.refresh(rect)
    assert rect.deadline == first + dt.timedelta(days=30)
    assert [(e.old_deadline, e.new_deadline, e.reason) for e in rect.extensions] == [
        (first, first + dt.timedelta(days=10), "返厂维修"),
        (first + dt.timedelta(days=10), first + dt.timedelta(days=30), "配件未到")]
    entries = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "rectifications",
                                                       AuditEntry.entity_id == rect.id,
                                                       AuditEntry.action == "extend")
                              .order_by(AuditEntry.id)).all()
    assert len(entries) == 2 and entries[1].changes[0]["label"] == "整改期限"
    assert any(c["new"] == "配件未到" for c in entries[1].changes)
    # The extensions are kept as they were.
    rect.extensions[0].reason = "改写"
    with pytest.raises(AppendOnlyViolation):
        session.flush()
    session.rollback()


def test_a_closed_order_is_not_extended(session, world, visit):
    rect = visit["wrong"].rectification
    services.record_recheck(session, world.inspector_a, rect, expected_version=rect.version,
                            values={"rechecked_on": today(), "rectified": True}, today=today())
    session.commit()
    with pytest.raises(Invalid, match="已关闭"):
        services.extend_deadline(session, world.inspector_a, rect, expected_version=rect.version,
                                 new_deadline=rect.deadline + dt.timedelta(days=5), reason="x")


def test_extend_page_lists_extensions_and_refuses_bad_input_in_chinese(client, session, world, visit):
    rect = visit["wrong"].rectification
    login(client, "insp_a")
    url = f"/rectifications/{rect.id}/extend"
    later = rect.deadline + dt.timedelta(days=14)
    resp = client.post(url, data={"new_deadline": rect.deadline.isoformat(), "reason": "返厂维修",
                                  "version": rect.version})
    assert resp.status_code == 200 and "新的整改期限应晚于当前期限" in resp.get_data(as_text=True)
    resp = client.post(url, data={"new_deadline": later.isoformat(), "reason": "返厂维修", "version": rect.version})
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(Rectification, rect.id).deadline == later
    assert session.scalars(select(DeadlineExtension)).one().reason == "返厂维修"
    for page in (url, f"/inspections/{visit['inspection'].id}"):
        text = client.get(page).get_data(as_text=True)
        assert "返厂维修" in text and later.isoformat() in text, page
    assert "延期 1 次" in client.get("/rectifications/").get_data(as_text=True)
