"""Cases and penalties (案件): a 立案 finding opens a case; stages in order, appended never edited, corrected by new
entries, voided with a reason; deadlines and the late alert; decision amounts; publication; monthly figures.
Repeat offenders (重点关注): the flag, its effect on the credit class and on random draws."""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.alerts.models import Alert, AlertStatus
from app.alerts.services import run_sweep
from app.attention.queries import flagged_merchants
from app.audit.services import AppendOnlyViolation
from app.cases import services
from app.cases.models import Case, CaseStage, DecisionKind, Stage
from app.cases.queries import CaseAccess, case_list
from app.clock import today
from app.db import utcnow
from app.errors import Invalid, StaleEdit
from app.instruments.models import InstrumentStatus
from app.scope import Scope
from tests import factories
from tests.conftest import login


def _case(session, world, *, days_ago: int = 10, merchant=None, case_no: str = "甲市监立〔2026〕1号") -> Case:
    merchant = merchant or world.merchant_a
    inst = world.instrument_a if merchant is world.merchant_a else None
    visit = factories.inspection(session, merchant, [world.inspector_a, world.supervisor],
                                 on=today() - dt.timedelta(days=days_ago),
                                 checks=[(inst, "problem")] if inst is not None else ())
    finding = factories.finding(session, visit, "CHEAT_DEVICE", "case", case_no=case_no)
    return session.scalars(select(Case).where(Case.finding_id == finding.id)).one()


def _stage(session, case, stage: Stage, on: dt.date | None = None, actor=None, **values):
    return services.add_stage(session, actor, case, expected_version=case.version, today=today(),
                              values={"stage": stage.value, "stage_on": on or today(), **values})


def _to_decision(session, case, **decision):
    start = case.opened_on
    _stage(session, case, Stage.INVESTIGATION, start + dt.timedelta(days=1))
    _stage(session, case, Stage.NOTICE, start + dt.timedelta(days=2))
    return _stage(session, case, Stage.DECISION, start + dt.timedelta(days=3), **decision)


# --- opening and stages -------------------------------------------------------------------------------

def test_case_finding_opens_a_case_at_filed(session, world):
    case = _case(session, world, days_ago=10)
    assert case.stage == Stage.FILED and case.opened_on == today() - dt.timedelta(days=10)
    assert case.station_id == world.station_a.id and case.merchant_id == world.merchant_a.id
    assert [e.stage for e in case.entries] == [Stage.FILED]
    # The next stage (调查取证) is due 60 days after 立案 by default; 立案 itself was due 15 working days after
    # discovery (test_filing_is_due_fifteen_working_days_after_discovery).
    assert case.due_on == case.opened_on + dt.timedelta(days=60)
    assert case.entries[0].deadline > case.discovered_on + dt.timedelta(days=15)


def test_the_decisions_limit_is_extended_thirty_days_then_as_the_heads_decide(session, world):
    """第六十四条: 90 days from 立案 for the decision; the head may extend it by thirty days at most, and after that
    the heads together by a period they set. Each extension is kept as written (never edited); after the decision
    none is taken, and a stale form is refused."""
    case = _case(session, world, days_ago=10)
    _stage(session, case, Stage.INVESTIGATION, case.opened_on + dt.timedelta(days=1))
    _stage(session, case, Stage.NOTICE, case.opened_on + dt.timedelta(days=2))
    assert case.due_on == case.opened_on + dt.timedelta(days=90)

    def extend(days, **values):
        return services.extend(session, world.inspector_a, case, expected_version=case.version, today=today(),
                               values={"days": days, "approved_on": today(), "approver": "王局长",
                                       "reason": "案情复杂，需补充检定", **values})

    with pytest.raises(Invalid, match="最多延长三十日"):
        extend(31)
    with pytest.raises(Invalid, match="批准日期"):
        extend(30, approved_on=case.opened_on - dt.timedelta(days=1))
    with pytest.raises(Invalid, match="延期理由"):
        extend(30, reason="  ")
    first = extend(30)
    assert case.due_on == case.opened_on + dt.timedelta(days=120) and first.approver == "王局长"
    with pytest.raises(StaleEdit):
        services.extend(session, None, case, expected_version=case.version - 1, today=today(),
                        values={"days": 10, "approved_on": today(), "approver": "局务会", "reason": "再延"})
    extend(45, approver="局务会集体讨论")   # a later extension: the period the heads set
    assert case.due_on == case.opened_on + dt.timedelta(days=165)
    assert [x.days for x in case.extensions] == [30, 45]
    decision = _stage(session, case, Stage.DECISION, case.opened_on + dt.timedelta(days=3), decision="penalty",
                      fine="100")
    assert decision.deadline == case.opened_on + dt.timedelta(days=165)   # the decision kept its extended limit
    with pytest.raises(Invalid, match="已作出处理决定"):
        extend(10)
    first.reason = "改过的理由"
    with pytest.raises(AppendOnlyViolation):
        session.flush()
    session.rollback()


def test_filing_is_due_fifteen_working_days_after_discovery(session, world):
    """《市场监督管理行政处罚程序规定》第十八条 counts 立案 in working days: from Wed 30 Sep 2026, weekends skipped
    it is Wed 21 Oct; with China's 2026 calendar the National Day week (1-7 Oct) does not count and Sat 10 Oct
    (调休上班) does: Tue 27 Oct. The later stages count calendar days (调查取证: 60 days after 立案)."""
    from app.workdays.services import seed_china_2026

    def filed_deadline(case_no: str) -> dt.date:
        visit = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor],
                                     on=dt.date(2026, 9, 30), checks=[(world.instrument_a, "problem")])
        finding = factories.finding(session, visit, "CHEAT_DEVICE", "case", case_no=case_no)
        case = session.scalars(select(Case).where(Case.finding_id == finding.id)).one()
        assert case.due_on == dt.date(2026, 9, 30) + dt.timedelta(days=60)
        return case.entries[0].deadline

    assert filed_deadline("甲市监立〔2026〕7号") == dt.date(2026, 10, 21)
    seed_china_2026(session)
    assert filed_deadline("甲市监立〔2026〕8号") == dt.date(2026, 10, 27)
    assert services.limits(session)[Stage.FILED].working_days
    with pytest.raises(Invalid, match="1到200之间的工作日数"):
        services.set_limits(session, world.admin, {Stage.FILED: 201})


def test_other_measures_open_no_case(session, world):
    visit = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor])
    factories.finding(session, visit, "NO_VALID_MARK", "rectify")
    assert session.scalars(select(Case)).all() == []


def test_stages_must_follow_the_procedure_order(session, world):
    case = _case(session, world)
    with pytest.raises(Invalid, match="下一步只能登记：调查取证"):
        _stage(session, case, Stage.DECISION, decision="penalty", fine="100")
    _stage(session, case, Stage.INVESTIGATION, case.opened_on + dt.timedelta(days=1))
    with pytest.raises(Invalid, match="不能早于上一阶段"):
        _stage(session, case, Stage.NOTICE, case.opened_on)
    with pytest.raises(Invalid, match="不能晚于今天"):
        _stage(session, case, Stage.NOTICE, today() + dt.timedelta(days=1))
    _stage(session, case, Stage.NOTICE, case.opened_on + dt.timedelta(days=2))
    assert case.stage == Stage.NOTICE
    # 决定 is due 90 days from 立案, not from 告知.
    assert case.due_on == case.opened_on + dt.timedelta(days=90)


def test_full_penalty_case_retires_confiscated_instruments_and_closes(session, world):
    case = _case(session, world)
    decision = _to_decision(session, case, decision="penalty", fine="5,000", confiscation="1234.5",
                            instrument_ids=[world.instrument_a.id])
    assert decision.fine == Decimal("5000.00") and decision.confiscation == Decimal("1234.50")
    assert world.instrument_a.status == InstrumentStatus.SCRAPPED
    assert [i.id for i in decision.confiscated] == [world.instrument_a.id]
    assert case.due_on == decision.stage_on + dt.timedelta(days=15)  # 执行 within 15 days of the decision
    _stage(session, case, Stage.EXECUTION)
    _stage(session, case, Stage.CLOSED)
    assert case.is_closed and case.due_on is None and services.next_stages(case) == []
    with pytest.raises(Invalid, match="无（案件已结案）"):
        _stage(session, case, Stage.CLOSED)


def test_no_penalty_needs_a_basis_and_skips_execution(session, world):
    case = _case(session, world)
    with pytest.raises(Invalid, match="须选择依据"):
        _to_decision(session, case, decision="no_penalty")
    session.rollback()
    case = _case(session, world, case_no="案-2")
    with pytest.raises(Invalid, match="写明不予处罚的依据"):
        _to_decision(session, case, decision="no_penalty", basis="other", notes="")
    session.rollback()
    case = _case(session, world, case_no="案-3")
    with pytest.raises(Invalid, match="不能填写罚没金额"):
        _to_decision(session, case, decision="no_penalty", basis="first_minor", fine="100")
    session.rollback()
    case = _case(session, world, case_no="案-4")
    entry = _to_decision(session, case, decision="no_penalty", basis="first_minor", notes="当场改正，首次违法")
    assert entry.decision == DecisionKind.NO_PENALTY and entry.fine is None
    assert services.next_stages(case) == [Stage.CLOSED]
    _stage(session, case, Stage.CLOSED)
    assert case.is_closed


@pytest.mark.parametrize("text, message", [
    ("-1", "不能为负数"), ("abc", "应为数字"), ("一千", "应为数字"), ("1.005", "最多保留两位小数"),
    ("1e15", "过大"), ("99999999999999999999", "过大"), ("NaN", "应为数字"), ("Infinity", "应为数字"),
])
def test_bad_amounts_get_chinese_messages(session, world, text, message):
    case = _case(session, world)
    with pytest.raises(Invalid, match=message) as err:
        _to_decision(session, case, decision="penalty", fine=text)
    assert err.value.field == "fine"


def test_the_largest_amount_is_kept_exactly(session, world):
    case = _case(session, world)
    _to_decision(session, case, decision="penalty", fine="999999999999.99", confiscation="0.01")
    session.commit()
    session.expire_all()
    entry = session.scalars(select(CaseStage).where(CaseStage.stage == Stage.DECISION)).one()
    assert entry.fine == Decimal("999999999999.99") and entry.confiscation == Decimal("0.01")


def test_penalty_needs_something_and_instruments_of_the_merchant(session, world):
    case = _case(session, world)
    with pytest.raises(Invalid, match="须填写罚款"):
        _to_decision(session, case, decision="penalty")
    session.rollback()
    case = _case(session, world, case_no="案-5")
    with pytest.raises(Invalid, match="本案当事人的器具"):
        _to_decision(session, case, decision="penalty", instrument_ids=[world.instrument_b.id])


def test_stages_are_never_edited_and_corrections_are_new_entries(session, world):
    case = _case(session, world)
    decision = _to_decision(session, case, decision="penalty", fine="500")
    session.commit()
    decision.fine = Decimal("1")
    with pytest.raises(AppendOnlyViolation):
        session.flush()
    session.rollback()
    case = session.get(Case, case.id)
    old = case.decision
    fixed = services.add_stage(session, None, case, expected_version=case.version, today=today(), corrects=old,
                               values={"stage_on": old.stage_on, "decision": "penalty", "fine": "800"})
    assert fixed.corrects_id == old.id and case.decision.id == fixed.id and case.decision.fine == Decimal("800.00")
    assert len(case.entries) == 5  # the old decision stays, marked as corrected
    with pytest.raises(Invalid, match="只能更正最近一个阶段"):
        services.add_stage(session, None, case, expected_version=case.version, today=today(),
                           corrects=case.entries[0], values={"stage_on": case.opened_on})


def test_a_stale_form_is_refused(session, world):
    case = _case(session, world)
    with pytest.raises(StaleEdit):
        services.add_stage(session, None, case, expected_version=case.version - 1, today=today(),
                           values={"stage": "investigation", "stage_on": today()})


def test_voiding_the_finding_voids_the_case(session, world):
    from app.inspections.services import void_finding

    case = _case(session, world)
    void_finding(session, None, case.finding, "登记错误", today())
    assert case.is_voided and "登记错误" in case.void_reason
    with pytest.raises(Invalid, match="已作废"):
        _stage(session, case, Stage.INVESTIGATION)


# --- late alerts ---------------------------------------------------------------------------------------

def _alerts(session, case_id):
    session.expire_all()
    return session.scalars(select(Alert).where(Alert.kind == "case_late", Alert.subject_id == case_id)).all()


def test_late_stage_raises_an_alert_and_the_next_stage_resolves_it(session, world):
    late = _case(session, world, days_ago=70)           # 调查取证 was due 60 days after 立案
    on_time = _case(session, world, days_ago=5, case_no="案-6")
    run_sweep(session, now=utcnow(), config={})
    [alert] = _alerts(session, late.id)
    assert alert.status == AlertStatus.OPEN and alert.due_on == late.due_on
    assert alert.station_id == world.station_a.id and alert.merchant_id == world.merchant_a.id
    assert _alerts(session, on_time.id) == []
    assert run_sweep(session, now=utcnow(), config={})["created"] == 0  # idempotent
    late = session.get(Case, late.id)
    _stage(session, late, Stage.INVESTIGATION)
    run_sweep(session, now=utcnow(), config={})
    assert [a.status for a in _alerts(session, late.id)] == [AlertStatus.RESOLVED]


def test_closed_and_voided_cases_never_alert(session, world):
    closed = _case(session, world, days_ago=200)
    _to_decision(session, closed, decision="no_penalty", basis="minor")
    _stage(session, closed, Stage.CLOSED, closed.opened_on + dt.timedelta(days=4))
    voided = _case(session, world, days_ago=200, case_no="案-7")
    services.void_case(session, None, voided, "重复立案")
    run_sweep(session, now=utcnow(), config={})
    assert _alerts(session, closed.id) == [] and _alerts(session, voided.id) == []


def test_admin_limits_apply_to_new_stages(session, world):
    services.set_limits(session, None, {Stage.INVESTIGATION: 20})
    case = _case(session, world, days_ago=30)
    assert case.due_on == case.opened_on + dt.timedelta(days=20)
    with pytest.raises(Invalid, match="1到3650"):
        services.set_limits(session, None, {Stage.NOTICE: 0})


# --- worklist and access --------------------------------------------------------------------------------

def test_worklist_filters_and_brigade_access(session, world):
    a = _case(session, world, days_ago=70)
    b = _case(session, world, merchant=world.merchant_b, days_ago=5, case_no="乙-1")
    team = services.save_team(session, None, None, name="县市场监管综合执法大队", is_active=True,
                              member_ids=[world.inspector_b.id])
    _stage(session, b, Stage.INVESTIGATION, team_id=team.id)
    ids = lambda stmt: [c.id for c in session.scalars(stmt)]  # noqa: E731
    everything = CaseAccess(Scope.everything())
    assert ids(case_list(everything, today(), state="late")) == [a.id]
    assert ids(case_list(everything, today(), stage="investigation")) == [b.id]
    assert ids(case_list(everything, today(), team_id=team.id)) == [b.id]
    assert ids(case_list(everything, today(), station_id=world.station_a.id)) == [a.id]
    # A brigade member with no station sees the cases assigned to the brigade, nothing else.
    brigade_only = CaseAccess(Scope(frozenset()), frozenset({team.id}))
    assert ids(case_list(brigade_only, today(), state="")) == [b.id]
    assert ids(case_list(CaseAccess(Scope(frozenset({world.station_a.id}))), today(), state="")) == [a.id]


def test_pages_of_a_case(client, session, world):
    case = _case(session, world)
    session.commit()
    login(client, "insp_a")
    assert "甲市监立〔2026〕1号" in client.get("/cases/").get_data(as_text=True)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "立案" in page and "登记调查取证" in page
    resp = client.post(f"/cases/{case.id}/stage", data={"stage": "investigation", "stage_on": today().isoformat(),
                                                         "team_id": "", "version": case.version})
    assert resp.status_code == 302
    resp = client.post(f"/cases/{case.id}/stage", data={"stage": "decision", "stage_on": today().isoformat(),
                                                         "version": case.version + 1})
    # The form offers only the next stage: a stage out of order is refused there, nothing saved.
    assert resp.status_code == 200 and "不是有效的选择" in resp.get_data(as_text=True)
    session.expire_all()
    assert session.get(Case, case.id).stage == Stage.INVESTIGATION
    book = load_workbook(io.BytesIO(client.get("/cases/export.xlsx").data))
    assert any("甲市监立〔2026〕1号" in str(c.value) for row in book.active.iter_rows() for c in row)
    client.post("/logout")
    login(client, "insp_b")
    assert client.get(f"/cases/{case.id}").status_code == 404
    assert "甲市监立〔2026〕1号" not in client.get("/cases/").get_data(as_text=True)


def test_an_extension_through_the_case_page(client, session, world):
    case = _case(session, world)
    session.commit()
    login(client, "insp_a")
    assert 'id="case-extend"' in client.get(f"/cases/{case.id}").get_data(as_text=True)
    form = client.get(f"/cases/{case.id}/extend").get_data(as_text=True)
    assert "本次最多延长三十日" in form
    refused = client.post(f"/cases/{case.id}/extend", data={"days": "40", "approved_on": today().isoformat(),
                                                            "approver": "王局长", "reason": "需补充检定",
                                                            "version": case.version})
    assert refused.status_code == 200 and "最多延长三十日" in refused.get_data(as_text=True)
    resp = client.post(f"/cases/{case.id}/extend", data={"days": "30", "approved_on": today().isoformat(),
                                                         "approver": "王局长", "reason": "需补充检定\n另案并查",
                                                         "version": case.version})
    assert resp.status_code == 302
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="case-extensions"' in page and "王局长" in page and "需补充检定\n另案并查" in page and "30 日" in page
    assert "本案已延期 30 日" in client.get(f"/cases/{case.id}/extend").get_data(as_text=True)


def test_decision_amount_errors_on_the_form(client, session, world):
    case = _case(session, world)
    for stage in (Stage.INVESTIGATION, Stage.NOTICE):
        _stage(session, case, stage)
    session.commit()
    login(client, "insp_a")
    resp = client.post(f"/cases/{case.id}/stage", data={"stage": "decision", "stage_on": today().isoformat(),
                                                         "decision": "penalty", "fine": "-50",
                                                         "version": case.version})
    assert resp.status_code == 200 and "罚款金额不能为负数" in resp.get_data(as_text=True)


# --- publication -------------------------------------------------------------------------------------

def test_published_decision_shows_on_public_pages(client, session, world):
    from app.public.services import assign_public_tokens
    from app.instruments.models import Instrument

    case = _case(session, world)
    with pytest.raises(Invalid, match="尚未作出处理决定"):
        services.publish(session, None, case, on=today(), today=today())
    _to_decision(session, case, decision="penalty", fine="3000")
    session.commit()
    assert "行政处罚信息" not in client.get("/public/?q=甲市场").get_data(as_text=True)
    services.publish(session, None, case, on=today(), today=today())
    assign_public_tokens(session, None, select(Instrument))
    session.commit()
    page = client.get("/public/?q=甲市场").get_data(as_text=True)
    assert "行政处罚信息" in page and "罚款 3,000.00 元" in page and "甲市监立〔2026〕1号" in page
    token = session.scalar(select(Instrument.public_token).where(Instrument.id == world.instrument_a.id))
    assert "罚款 3,000.00 元" in client.get(f"/public/i/{token}").get_data(as_text=True)
    services.void_case(session, None, case, "决定已撤销")
    session.commit()
    assert "行政处罚信息" not in client.get("/public/?q=甲市场").get_data(as_text=True)


def test_no_penalty_is_not_published(session, world):
    case = _case(session, world)
    _to_decision(session, case, decision="no_penalty", basis="first_minor")
    with pytest.raises(Invalid, match="不在行政处罚信息中公示"):
        services.publish(session, None, case, on=today(), today=today())


# --- monthly report -------------------------------------------------------------------------------------

def test_monthly_report_counts_cases_and_fines(session, world):
    from app.monthly.services import build_report
    from reports.monthly import Month

    month = Month.of(today())
    case = _case(session, world, days_ago=0)
    services.add_stage(session, None, case, expected_version=case.version, today=today(),
                       values={"stage": "investigation", "stage_on": today()})
    _stage(session, case, Stage.NOTICE)
    _stage(session, case, Stage.DECISION, decision="penalty", fine="1000.10", confiscation="200.20")
    _case(session, world, days_ago=0, case_no="案-8")
    report = build_report(session, world.admin, month, world.station_a.id)
    book = load_workbook(io.BytesIO(report.content))
    sheet = book["案件办理"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    header = next(r for r in rows if r and r[0] == "监管所")
    line = next(r for r in rows if r and r[0] == world.station_a.name)
    figures = dict(zip([h.replace("\n", "") for h in header], line))
    assert figures["本月立案"] == 2 and figures["当前决定"] == 1 and figures["当前立案"] == 1
    assert figures["本月处罚决定"] == 1
    assert Decimal(str(figures["罚款（元）"])) == Decimal("1000.10")
    assert Decimal(str(figures["罚没款合计（元）"])) == Decimal("1200.30")


# --- repeat offenders (重点关注) --------------------------------------------------------------------------

def _visit(session, world, merchant, days_ago, code="NO_VALID_MARK"):
    visit = factories.inspection(session, merchant, [world.inspector_a, world.supervisor],
                                 on=today() - dt.timedelta(days=days_ago))
    return factories.finding(session, visit, code)


def _flagged(session) -> set[int]:
    return set(session.scalars(flagged_merchants(today())))


def test_same_code_twice_within_24_months_flags(session, world):
    twice = factories.merchant(session, world.station_a, "两次同一问题")
    _visit(session, world, twice, 30)
    _visit(session, world, twice, 600)
    apart = factories.merchant(session, world.station_a, "相隔25个月")
    _visit(session, world, apart, 10)
    _visit(session, world, apart, 10 + 25 * 31)
    other = factories.merchant(session, world.station_a, "两次不同问题")
    _visit(session, world, other, 30)
    _visit(session, world, other, 60, code="OVERDUE")
    once_twice = factories.merchant(session, world.station_a, "一次检查两条同一问题")
    visit = factories.inspection(session, once_twice, [world.inspector_a, world.supervisor])
    factories.finding(session, visit, "NO_VALID_MARK")
    factories.finding(session, visit, "NO_VALID_MARK")
    assert _flagged(session) == {twice.id}


def test_a_voided_finding_does_not_count(session, world):
    from app.inspections.services import void_finding

    m = factories.merchant(session, world.station_a, "作废后不再关注")
    _visit(session, world, m, 30)
    second = _visit(session, world, m, 90)
    assert m.id in _flagged(session)
    void_finding(session, None, second, "记错了单位", today())
    assert m.id not in _flagged(session)


def test_flag_on_merchant_page_list_and_export(client, session, world):
    m = factories.merchant(session, world.station_a, "重点关注摊位")
    _visit(session, world, m, 30)
    _visit(session, world, m, 90)
    session.commit()
    login(client, "insp_a")
    page = client.get(f"/merchants/{m.id}").get_data(as_text=True)
    assert "重点关注" in page and "两年内同一问题重复出现" in page and "未张贴有效检定合格标志" in page
    listing = client.get("/merchants/?attention=1").get_data(as_text=True)
    assert "重点关注摊位" in listing and "甲市场摊位1" not in listing
    book = load_workbook(io.BytesIO(client.get("/merchants/export.xlsx").data))
    rows = [[c.value for c in row] for row in book.active.iter_rows()]
    flagged = [r for r in rows if "重点关注摊位" in r]
    plain = [r for r in rows if "甲市场摊位1" in r]
    assert "两年内同一问题重复出现" in flagged[0] and "是" in flagged[0]
    assert "两年内同一问题重复出现" not in plain[0]


def test_flagged_merchant_is_never_class_a(session, world):
    from app.credit.models import CreditScore
    from app.credit.services import get_rule, recompute, update_rule

    rule = get_rule(session)
    update_rule(session, None, rule, expected_version=rule.version,
                values={**{k: getattr(rule, k) for k in services_rule_fields()}, "a_max": 10, "b_max": 20,
                        "c_max": 30})
    repeat = factories.merchant(session, world.station_a, "两次一般问题")
    _visit(session, world, repeat, 30)
    _visit(session, world, repeat, 90)
    single = factories.merchant(session, world.station_a, "一次一般问题")
    _visit(session, world, single, 30)
    _visit(session, world, single, 90, code="NOT_FILED")
    recompute(session, today(), utcnow())
    session.expire_all()
    scores = {s.merchant_id: s for s in session.scalars(select(CreditScore))}
    # Same score (two minor findings), only the repeat keeps it out of A.
    assert scores[repeat.id].score == scores[single.id].score
    assert scores[single.id].credit_class == "A" and not scores[single.id].repeat_offender
    assert scores[repeat.id].credit_class == "B" and scores[repeat.id].repeat_offender


def services_rule_fields():
    from app.credit.services import RULE_FIELDS

    return RULE_FIELDS


def test_draw_can_target_flagged_merchants(session, world):
    from app.inspections import services as inspections

    flagged = factories.merchant(session, world.station_a, "抽查重点关注")
    _visit(session, world, flagged, 30)
    _visit(session, world, flagged, 90)
    campaign = factories.campaign(session, [world.station_a, world.station_b], starts_on=today() + dt.timedelta(days=1))
    drawn = inspections.run_draw(session, world.supervisor, campaign,
                                 station_ids=[world.station_a.id, world.station_b.id], industries=[],
                                 rates={k: 100 for k in ("A", "B", "C", "D", "none")}, inspectors_per_target=2,
                                 exclude_own_station=False,
                                 roster_ids=[world.inspector_a.id, world.inspector_b.id, world.supervisor.id],
                                 seed=3, today=today(), attention_only=True)
    assert [t["merchant_id"] for t in drawn.result] == [flagged.id]
    assert drawn.inputs["attention_only"] is True and inspections.draw_reproduces(drawn)


def test_correcting_the_filing_date_moves_the_case_and_its_deadline(session, world):
    case = _case(session, world, days_ago=20)
    filed = case.entries[0]
    with pytest.raises(Invalid, match="不能早于发现问题"):
        services.add_stage(session, None, case, expected_version=case.version, today=today(), corrects=filed,
                           values={"stage_on": case.discovered_on - dt.timedelta(days=1)})
    later = case.discovered_on + dt.timedelta(days=4)
    services.add_stage(session, None, case, expected_version=case.version, today=today(), corrects=filed,
                       values={"stage_on": later, "notes": "立案审批日期更正"})
    assert case.opened_on == later and case.due_on == later + dt.timedelta(days=60)
    assert [e.stage_on for e in case.effective_entries] == [later]
