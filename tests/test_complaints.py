"""Complaints (投诉举报): working-day deadlines over the holiday calendar, the public form end to end (challenge,
rate limit, hostile input), handling by station staff, outcomes as evidence, the late alert, the monthly report,
the credit score and the repeat-offender query."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from sqlalchemy import func, select

from app.clock import today
from app.complaints import challenge, queries, services
from app.complaints.models import Complaint, ComplaintOutcome, State
from app.db import utcnow
from app.errors import DomainError, Invalid
from app.public.services import ensure_public_token
from app.workdays.models import CalendarDay
from app.workdays.services import add_day, add_working_days, seed_china_2026
from config import TestConfig
from tests import factories
from tests.conftest import fresh_app, login

D = dt.date
DAYS = services.DEFAULT_DEADLINE_WORKING_DAYS


def transfer(session, world, merchant=None, received_on=None, number="12315-0001", **values):
    """A complaint transferred from 12315 about merchant A (by default)."""
    return services.receive_transfer(session, world.admin, factories.ALL, merchant or world.merchant_a, {
        "channel": "12315", "transfer_no": number, "received_on": received_on or today(),
        "category": "short_weight", "description": "少称二两", **values}, DAYS, today())


# --- working days ---------------------------------------------------------------------------------------------

def test_deadline_skips_a_holiday_and_counts_an_adjusted_working_day(session):
    """Without the calendar, 3 working days after Wed 30 Sep 2026 is Mon 5 Oct; with China's 2026 calendar the
    National Day week (1-7 Oct) does not count and Sat 10 Oct (调休上班) does: Thu 8, Fri 9, Sat 10."""
    assert add_working_days(session, D(2026, 9, 30), 3) == D(2026, 10, 5)
    assert seed_china_2026(session) == 39  # 33 holidays, 6 adjusted working days
    assert seed_china_2026(session) == 0  # idempotent
    assert add_working_days(session, D(2026, 9, 30), 3) == D(2026, 10, 10)
    # Spring Festival: Fri 13 Feb + 1 is Sat 14 Feb (worked); + 2 skips 15-23 Feb to Tue 24 Feb.
    assert add_working_days(session, D(2026, 2, 13), 1) == D(2026, 2, 14)
    assert add_working_days(session, D(2026, 2, 13), 2) == D(2026, 2, 24)
    sources = set(session.scalars(select(CalendarDay.source)))
    assert sources == {"国务院办公厅关于2026年部分节假日安排的通知（2025年11月4日发布）"}


def test_admin_keeps_the_calendar_and_a_weekday_cannot_be_an_adjusted_working_day(session, world):
    add_day(session, world.admin, {"day": D(2027, 1, 1), "kind": "holiday", "name": "元旦", "source": "国办通知"})
    with pytest.raises(DomainError, match="已在日历中"):
        add_day(session, world.admin, {"day": D(2027, 1, 1), "kind": "holiday"})
    with pytest.raises(Invalid, match="周六或周日"):
        add_day(session, world.admin, {"day": D(2027, 1, 4), "kind": "workday"})
    # Thu 31 Dec 2026 + 1 working day: Fri 1 Jan 2027 is now a holiday, so Mon 4 Jan.
    assert add_working_days(session, D(2026, 12, 31), 1) == D(2027, 1, 4)


def test_calendar_page_for_installation_admins(client, world, session):
    login(client, "admin1")
    resp = client.post("/admin/calendar/", data={"day": "2027-02-06", "kind": "workday", "name": "春节",
                                                "source": "测试"}, follow_redirects=True)
    assert "已加入 2027-02-06 调休上班 春节" in resp.get_data(as_text=True)
    resp = client.post("/admin/calendar/", data={"day": "2027-02-08", "kind": "workday"})
    assert resp.status_code == 200 and "周六或周日" in resp.get_data(as_text=True)
    assert client.post("/admin/calendar/seed-2026").status_code == 302
    assert session.scalar(select(func.count()).select_from(CalendarDay)) == 40


# --- the public form ------------------------------------------------------------------------------------------

def challenge_of(html: str) -> str:
    """The signed challenge token of a rendered form."""
    found = re.search(r'name="challenge"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="challenge"', html)
    assert found, html[:2000]
    return found.group(1)


def public_form(client, url: str, **values) -> dict:
    """Open the form, answer its question right and return the fields to post (overridable)."""
    html = client.get(url).get_data(as_text=True)
    token = challenge_of(html)
    data = {"category": "short_weight", "description": "买了两斤苹果，回家称只有一斤七两。", "challenge": token,
            "answer": str(challenge.answer_of(TestConfig.SECRET_KEY, token)), "website": ""}
    data.update(values)
    return data


@pytest.fixture()
def label(session, world):
    """The public address of instrument A's label."""
    token = ensure_public_token(session, None, world.instrument_a)
    session.commit()
    return f"/public/i/{token}/report"


def count(session, model=Complaint) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_public_complaint_end_to_end(app, client, session, world, label):
    """From the label's page to the form, a reference, staff handling, and the public seeing only the reference,
    the state and the reply."""
    page = client.get(label.rsplit("/", 1)[0]).get_data(as_text=True)
    assert label in page and "我要反映问题" in page
    data = public_form(client, label, phone="13912345678", phone_consent="y",
                       photo=(io.BytesIO(factories.image_bytes("PNG")), "现场.png"))
    resp = client.post(label, data=data, content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
    done = client.get(resp.headers["Location"]).get_data(as_text=True)
    reference = re.search(r'id="new-reference">([^<]+)<', done).group(1)
    assert re.fullmatch(r"TS-[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}", reference)
    complaint = session.scalars(select(Complaint)).one()
    assert (complaint.reference, complaint.station_id, complaint.instrument_id, complaint.phone) == (
        reference, world.station_a.id, world.instrument_a.id, "13912345678")
    assert complaint.photo_type == "image/png" and complaint.deadline > complaint.received_on
    assert "核查处理中" not in done and "已受理，待分派" in done

    # Station A's inspector handles it; the public page shows the reply and nothing private.
    services.record_outcome(session, world.inspector_a, complaint, "substantiated", "现场复秤少称三两")
    services.close(session, world.inspector_a, complaint, reply="经核查属实，已责令改正。", reward_eligible=True,
                   on=today(), expected_version=complaint.version)
    session.commit()
    public = client.get(f"/public/complaints/?ref={reference.lower().replace('-', ' ')}").get_data(as_text=True)
    assert "已办结" in public and "经核查属实，已责令改正。" in public
    for private in ("13912345678", "现场复秤少称三两", world.merchant_a.name, "买了两斤苹果", "属实，" + "x"):
        assert private not in public
    assert "没有找到" in client.get("/public/complaints/?ref=TS-2222-2222-2222").get_data(as_text=True)
    # Staff download the photo; another station's inspector cannot.
    login(client, "insp_a")
    photo = client.get(f"/complaints/{complaint.id}/photo")
    assert photo.status_code == 200 and photo.headers["Content-Disposition"].startswith("attachment")
    other = app.test_client()
    login(other, "insp_b")
    assert other.get(f"/complaints/{complaint.id}/photo").status_code == 404


def test_merchant_complaint_from_the_public_search(client, session, world):
    html = client.get("/public/?q=甲市场").get_data(as_text=True)
    url = re.search(r'href="(/public/m/[^"]+/report)"', html).group(1)
    resp = client.post(url, data=public_form(client, url, category="refused_reweigh", description="不让复秤"))
    assert resp.status_code == 302
    assert session.scalars(select(Complaint)).one().merchant_id == world.merchant_a.id
    # A merchant id in place of the signed reference, or a reference tampered with: 404.
    assert client.get(f"/public/m/{world.merchant_a.id}/report").status_code == 404
    assert client.get(url.replace("/report", "x/report")).status_code == 404


def test_the_challenge_refuses_a_wrong_answer_the_honeypot_and_a_replay(client, session, label):
    wrong = public_form(client, label)
    wrong["answer"] = str(int(wrong["answer"]) + 1)
    resp = client.post(label, data=wrong)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "验证题答案不正确" in html and challenge_of(html) != wrong["challenge"]
    assert "买了两斤苹果" in html  # the description typed is kept
    assert client.post(label, data=public_form(client, label, website="http://spam")).status_code == 200
    forged = public_form(client, label)
    forged["challenge"] = forged["challenge"][:-2] + "xx"
    assert "验证题答案不正确" in client.post(label, data=forged).get_data(as_text=True)
    assert count(session) == 0
    # Right once; the same answered question again is refused (no second complaint).
    data = public_form(client, label)
    assert client.post(label, data=data).status_code == 302
    again = client.post(label, data=data)
    assert again.status_code == 200 and "已经用过" in again.get_data(as_text=True)
    assert count(session) == 1


def test_an_expired_challenge_is_refused(session):
    issued = challenge.issue("k" * 32)
    with pytest.raises(Invalid, match="已过期"):
        challenge.check("k" * 32, issued.token, str(challenge.answer_of("k" * 32, issued.token)), "", max_age=-1)
    # Full-width digits from a Chinese keyboard are the same answer.
    wide = str(challenge.answer_of("k" * 32, issued.token)).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert challenge.check("k" * 32, issued.token, wide, "", max_age=60)


def test_hostile_input_is_refused_in_chinese_and_saves_nothing(client, session, label):
    control = client.post(label, data=public_form(client, label, description="少称\x00二两"))
    assert control.status_code == 400 and "控制字符" in control.get_data(as_text=True)
    huge = client.post(label, data=public_form(client, label, description="少" * 2001))
    assert huge.status_code == 200 and "不能超过2000个字" in huge.get_data(as_text=True)
    for name, data, message in (("报告.pdf", factories.WHOLE_PDF, "不是照片"), ("照片.png", b"<html>x</html>", "不是照片"),
                                ("坏图.png", factories.PNG, "无法读取")):
        resp = client.post(label, data=public_form(client, label, photo=(io.BytesIO(data), name)),
                           content_type="multipart/form-data")
        assert resp.status_code == 200 and message in resp.get_data(as_text=True), name
    no_consent = client.post(label, data=public_form(client, label, phone="13912345678"))
    assert "同意" in no_consent.get_data(as_text=True)
    assert "联系电话格式不正确" in client.post(label, data=public_form(client, label, phone="<script>",
                                                                     phone_consent="y")).get_data(as_text=True)
    assert client.post(label, data=public_form(client, label, category="bribe")).status_code == 200
    assert count(session) == 0


def test_sending_complaints_is_rate_limited(database_url):
    app = fresh_app(database_url, COMPLAINT_RATE_LIMIT="2 per minute")
    try:
        with app.extensions["database"].session_scope() as session:
            world = factories.build_world(session)
            token = ensure_public_token(session, None, world.instrument_a)
        url = f"/public/i/{token}/report"
        client = app.test_client()
        sent = [client.post(url, data=public_form(client, url)).status_code for _ in range(3)]
        assert sent[:2] == [302, 302] and sent[2] == 429
        html = client.post(url, data=public_form(client, url)).get_data(as_text=True)
        assert "提交过于频繁" in html and 'lang="zh-CN"' in html
        # Opening the form and looking a reference up are still within the public budget.
        assert client.get(url).status_code == 200
        with app.extensions["database"].session_scope() as session:
            assert session.scalar(select(func.count()).select_from(Complaint)) == 2
    finally:
        app.extensions["database"].dispose()


# --- handling: services ---------------------------------------------------------------------------------------

def test_transfer_is_checked_and_numbers_are_not_entered_twice(session, world):
    complaint = transfer(session, world)
    assert complaint.channel.value == "12315" and complaint.station_id == world.station_a.id
    with pytest.raises(DomainError, match="已登记"):
        transfer(session, world)
    with pytest.raises(Invalid, match="不能晚于今天"):
        transfer(session, world, number="x-2", received_on=today() + dt.timedelta(days=1))
    from app.scope import Scope
    with pytest.raises(Exception, match="管辖范围"):
        services.receive_transfer(session, world.inspector_b, Scope.for_user(world.inspector_b), world.merchant_a,
                                  {"channel": "12345", "transfer_no": "y", "received_on": today(),
                                   "category": "other", "description": "x"}, DAYS, today())


def test_outcomes_are_evidence_recorded_once_corrected_or_voided(session, world):
    complaint = transfer(session, world)
    first = services.record_outcome(session, world.inspector_a, complaint, "unfounded", "复秤无误")
    with pytest.raises(Invalid, match="更正"):
        services.record_outcome(session, world.inspector_a, complaint, "substantiated", "")
    with pytest.raises(Invalid, match="更正原因"):
        services.record_outcome(session, world.inspector_a, complaint, "substantiated", "", corrects_id=first.id)
    second = services.record_outcome(session, world.inspector_a, complaint, "substantiated", "监控显示少称",
                                     corrects_id=first.id)
    assert complaint.current_outcome is second and not first.is_voided
    services.void_outcome(session, world.inspector_a, second, "录入错误")
    assert complaint.current_outcome is first
    # An outcome is never edited in place.
    from app.audit.services import AppendOnlyViolation
    first.note = "改写"
    with pytest.raises(AppendOnlyViolation):
        session.flush()
    session.rollback()


def test_closing_needs_an_outcome_and_a_reply(session, world):
    complaint = transfer(session, world)
    with pytest.raises(Invalid, match="先记录核查结论"):
        services.close(session, world.admin, complaint, reply="x", reward_eligible=False, on=today(),
                       expected_version=complaint.version)
    services.record_outcome(session, world.admin, complaint, "unreachable", "")
    with pytest.raises(Invalid, match="答复内容"):
        services.close(session, world.admin, complaint, reply=" ", reward_eligible=False, on=today(),
                       expected_version=complaint.version)
    with pytest.raises(Exception):
        services.close(session, world.admin, complaint, reply="无法联系", reward_eligible=False, on=today(),
                       expected_version=complaint.version - 1)
    services.close(session, world.admin, complaint, reply="多次联系未果", reward_eligible=False, on=today(),
                   expected_version=complaint.version)
    assert complaint.state == State.CLOSED


def test_inspection_must_be_of_the_merchant_and_assignee_of_the_station(session, world):
    complaint = transfer(session, world)
    elsewhere = factories.inspection(session, world.merchant_b, [world.inspector_b, world.supervisor])
    with pytest.raises(Invalid, match="该使用单位"):
        services.link_inspection(session, world.admin, complaint, elsewhere.id, expected_version=complaint.version)
    here = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor])
    services.link_inspection(session, world.admin, complaint, here.id, expected_version=complaint.version)
    with pytest.raises(Invalid, match="本所的承办人"):
        services.assign(session, world.admin, complaint, world.inspector_b.id, expected_version=complaint.version)
    services.assign(session, world.admin, complaint, world.inspector_a.id, expected_version=complaint.version)
    assert complaint.state == State.IN_PROGRESS and complaint.inspection_id == here.id


# --- the late alert -------------------------------------------------------------------------------------------

def alerts_of(session, complaint):
    from app.alerts.models import Alert

    session.expire_all()
    return {a.status.value for a in session.scalars(select(Alert).where(Alert.kind == "complaint_late",
                                                                         Alert.subject_id == complaint.id))}


def test_a_late_complaint_alerts_until_closed_and_a_voided_one_never(session, world):
    from app.alerts.jobs import due_date_sweep

    late = transfer(session, world, received_on=today() - dt.timedelta(days=60))
    voided = transfer(session, world, number="12315-0002", received_on=today() - dt.timedelta(days=60))
    services.void_complaint(session, world.admin, voided, "重复转办")
    in_time = transfer(session, world, number="12315-0003")
    due_date_sweep(session=session, now=utcnow(), config={})
    assert alerts_of(session, late) == {"open"} and alerts_of(session, voided) == alerts_of(session, in_time) == set()
    assert due_date_sweep(session=session, now=utcnow(), config={})["created"] == 0  # idempotent
    services.record_outcome(session, world.admin, late, "partly", "")
    services.close(session, world.admin, late, reply="已处理", reward_eligible=False, on=today(),
                   expected_version=late.version)
    due_date_sweep(session=session, now=utcnow(), config={})
    assert alerts_of(session, late) == {"resolved"}


# --- figures: monthly report, credit, repeat offenders -------------------------------------------------------

def test_the_monthly_report_counts_complaints(session, world):
    from openpyxl import load_workbook

    from app.monthly.services import report_sections
    from reports.monthly import Month, build_monthly_report
    from tests.test_monthly import read_table

    month = Month(2026, 10)
    upheld = transfer(session, world, received_on=D(2026, 10, 9))
    services.record_outcome(session, world.admin, upheld, "substantiated", "")
    services.close(session, world.admin, upheld, reply="属实", reward_eligible=True, on=D(2026, 10, 20),
                   expected_version=upheld.version)
    services.receive_public(session, merchant=world.merchant_a, instrument=None,
                            values={"category": "other", "description": "x"}, photo=None, nonce="n1",
                            received_on=D(2026, 10, 12), deadline_days=DAYS, storage_dir="", max_bytes=0)
    transfer(session, world, merchant=world.merchant_b, number="b-1", received_on=D(2026, 9, 1))
    gone = transfer(session, world, number="void-1", received_on=D(2026, 10, 13))
    services.void_complaint(session, world.admin, gone, "重复")
    session.commit()
    out = io.BytesIO()
    build_monthly_report(session, month, out, sections=report_sections())
    table = read_table(load_workbook(io.BytesIO(out.getvalue()))["投诉举报"], "监管所")
    a, b = world.station_a.name, world.station_b.name
    assert table[a] == {"本月受理": 2, "群众在线反映": 1, "12315/12345 转办": 1, "本月办结": 1, "按期办结": 1,
                        "月末未办结": 1, "月末逾期未办结": 0, "属实或部分属实": 1, "符合举报奖励条件": 1}
    assert table[b]["本月受理"] == 0 and table[b]["月末未办结"] == 1 and table[b]["月末逾期未办结"] == 1
    assert table["合计"]["本月受理"] == 2


def test_an_upheld_complaint_raises_the_merchants_risk_score(session, world):
    from app.credit import services as credit
    from app.credit.models import CreditScore

    credit.recompute(session, today(), utcnow())
    before = session.get(CreditScore, world.merchant_a.id).score
    complaint = transfer(session, world, received_on=today() - dt.timedelta(days=5))
    services.record_outcome(session, world.admin, complaint, "unfounded", "")
    credit.recompute(session, today(), utcnow())
    assert session.get(CreditScore, world.merchant_a.id).score == before
    services.record_outcome(session, world.admin, complaint, "partly", "更正：部分属实", corrects_id=complaint.outcomes[0].id)
    credit.recompute(session, today(), utcnow())
    score = session.get(CreditScore, world.merchant_a.id)
    assert (score.complaints, score.score) == (1, before + credit.get_rule(session).complaint_points)
    # Per county: county A's own rule weighs a complaint 20 points.
    from app.credit.services import default_rule
    rule = default_rule(world.county_a.id)
    rule.complaint_points = 20
    session.add(rule)
    session.flush()
    credit.recompute(session, today(), utcnow())
    assert session.get(CreditScore, world.merchant_a.id).score == before + 20


def test_repeated_complaint_merchants(session, world):
    since = today() - dt.timedelta(days=365)
    for n, outcome in enumerate(("substantiated", "partly", "unfounded")):
        c = transfer(session, world, number=f"r-{n}", received_on=today() - dt.timedelta(days=10))
        services.record_outcome(session, world.admin, c, outcome, "")
    old = transfer(session, world, merchant=world.merchant_b, number="old", received_on=since - dt.timedelta(days=1))
    services.record_outcome(session, world.admin, old, "substantiated", "")
    recent = transfer(session, world, merchant=world.merchant_b, number="new", received_on=today())
    services.record_outcome(session, world.admin, recent, "substantiated", "")
    assert set(session.scalars(queries.repeated_complaint_merchants(since))) == {world.merchant_a.id}
    assert set(session.scalars(queries.repeated_complaint_merchants(since, at_least=3))) == set()
    assert set(session.scalars(queries.repeated_complaint_merchants(since - dt.timedelta(days=5)))) == {
        world.merchant_a.id, world.merchant_b.id}
    # Voiding one upheld complaint of A takes it below two.
    upheld = session.scalars(select(Complaint).where(Complaint.transfer_no == "r-0")).one()
    services.void_complaint(session, world.admin, upheld, "重复")
    assert set(session.scalars(queries.repeated_complaint_merchants(since))) == set()
    assert session.scalar(select(func.count()).select_from(ComplaintOutcome)) == 5


# --- staff pages ----------------------------------------------------------------------------------------------

def test_the_worklist_filters_and_keeps_to_the_users_stations(client, session, world):
    late = transfer(session, world, received_on=today() - dt.timedelta(days=60))
    transfer(session, world, merchant=world.merchant_b, number="b-9")
    session.commit()
    login(client, "insp_a")
    html = client.get("/complaints/").get_data(as_text=True)
    assert late.reference in html and world.merchant_b.name not in html and "逾期" in html
    assert late.reference in client.get("/complaints/?overdue=1").get_data(as_text=True)
    assert late.reference not in client.get("/complaints/?state=closed").get_data(as_text=True)
    assert 'id="nav-count-complaints">1<' in html


def test_the_export_is_the_filtered_list_of_the_users_stations_without_the_telephone(client, session, world):
    from openpyxl import load_workbook

    late = transfer(session, world, received_on=today() - dt.timedelta(days=60), phone="13800138000",
                    phone_consent=True, description="少称二两\n第二次反映")
    transfer(session, world, number="a-2")
    transfer(session, world, merchant=world.merchant_b, number="b-9")
    session.commit()
    login(client, "insp_a")
    assert 'id="export-xlsx" href="/complaints/export.xlsx?overdue=1"' in client.get(
        "/complaints/?overdue=1").get_data(as_text=True)
    resp = client.get("/complaints/export.xlsx?overdue=1")
    assert resp.status_code == 200 and "%E6%8A%95%E8%AF%89%E4%B8%BE%E6%8A%A5_" in resp.headers["Content-Disposition"]
    rows = list(load_workbook(io.BytesIO(resp.data)).active.iter_rows(values_only=True))
    header = rows[0]
    assert header[:3] == ("查询编号", "监管所", "使用单位") and len(rows) == 2, rows   # the late one only
    row = dict(zip(header, rows[1]))
    assert row["查询编号"] == late.reference and row["使用单位"] == world.merchant_a.name
    assert row["是否逾期"] == "逾期" and row["办理期限"].date() == late.deadline and row["来源"] == "12315 转办"
    assert row["问题描述"] == "少称二两\n第二次反映"   # as typed, on its lines
    assert "13800138000" not in {v for r in rows for v in r}
    everything = list(load_workbook(io.BytesIO(client.get("/complaints/export.xlsx?state=all").data))
                      .active.iter_rows(values_only=True))
    assert len(everything) == 3 and world.merchant_b.name not in {v for r in everything for v in r}


def test_staff_handle_a_complaint_through_the_page(client, session, world):
    login(client, "insp_a")
    resp = client.post(f"/complaints/new?merchant_id={world.merchant_a.id}", data={
        "channel": "12345", "transfer_no": "12345-77", "received_on": today().isoformat(), "category": "other",
        "description": "电话反映", "phone": "", "phone_consent": ""})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
    complaint = session.scalars(select(Complaint)).one()
    url = f"/complaints/{complaint.id}"
    assert client.post(f"{url}/assign", data={"assignee_id": world.inspector_a.id,
                                             "version": complaint.version}).status_code == 302
    session.expire_all()
    refused = client.post(f"{url}/close", data={"reply": "已处理", "version": complaint.version})
    assert refused.status_code == 200 and "先记录核查结论" in refused.get_data(as_text=True)
    assert client.post(f"{url}/outcome", data={"outcome": "substantiated", "note": "属实"}).status_code == 302
    session.expire_all()
    assert client.post(f"{url}/close", data={"reply": "已责令改正", "reward_eligible": "y",
                                            "version": complaint.version}).status_code == 302
    session.expire_all()
    assert complaint.state == State.CLOSED and complaint.reward_eligible
    page = client.get(url).get_data(as_text=True)
    assert "已责令改正" in page and "记录核查结论" in page


def test_repeated_upheld_complaints_flag_the_merchant_for_attention(session, world):
    """Two upheld complaints in the window are a reason of the 重点关注 flag (app/attention)."""
    from app.attention.queries import flagged_merchants, reasons_of

    first = transfer(session, world, number="a-1", received_on=today() - dt.timedelta(days=40))
    services.record_outcome(session, world.admin, first, "substantiated", "")
    second = transfer(session, world, number="a-2", received_on=today() - dt.timedelta(days=5))
    services.record_outcome(session, world.admin, second, "unfounded", "")
    assert world.merchant_a.id not in set(session.scalars(flagged_merchants(today())))
    third = transfer(session, world, number="a-3", received_on=today() - dt.timedelta(days=2))
    services.record_outcome(session, world.admin, third, "partly", "")
    assert world.merchant_a.id in set(session.scalars(flagged_merchants(today())))
    assert set(session.execute(reasons_of([world.merchant_a.id], today()))) == {
        (world.merchant_a.id, "repeat_complaint")}
