"""Correcting a finding and publishing a draw in a real browser (CSRF on), at desktop width and on a
390x844 phone: a wrong finding is voided with a reason (struck through, its order closed), a finding on an
instrument checked as 未发现问题 leads to correcting the check first; publishing shows what will be public,
warns about uninspected merchants and needs a confirmation."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from app.accounts.models import Role
from app.clock import today
from app.inspections import services
from tests import factories
from tests.browser.test_csp import phone_only_on_postgresql

runs_on_postgresql = phone_only_on_postgresql("sized_page")

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def login(page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(factories.PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".navbar-text, .navbar").first).to_contain_text(username)


def choose(page, label: str, text: str) -> None:
    """Select the option of a select (by its label) whose text contains `text`."""
    select = page.get_by_label(label)
    select.select_option(select.locator("option", has_text=text).first.get_attribute("value"))


def make_visit(app) -> dict:
    """Station CG with an inspector and a supervisor, a merchant whose two scales were checked (one ok, one with
    a problem) and a wrong finding with a rectification order on the problem scale."""
    with app.extensions["database"].session_scope() as session:
        st = factories.station(session, "CG", "城关市场监管所")
        insp = factories.user(session, "insp_cg", Role.INSPECTOR, [st])
        sup = factories.user(session, "super_cg", Role.SUPERVISOR)
        m = factories.merchant(session, st, "城关农贸市场王记肉摊")
        wrong_scale = factories.instrument(session, m, serial="CG-001")
        ok_scale = factories.instrument(session, m, serial="CG-002")
        visit = factories.inspection(session, m, [insp, sup], on=today() - dt.timedelta(days=2),
                                     checks=[(wrong_scale, "problem"), (ok_scale, "ok")])
        wrong = factories.finding(session, visit, "SEAL_TAMPERED", check=visit.checks[0],
                                  description="铅封破损，编号无法辨认")
        return {"inspection": visit.id, "finding": wrong.id}


def make_ended_draw(app) -> int:
    """An ended campaign over station CG with its draw (three merchants, one of them inspected)."""
    with app.extensions["database"].session_scope() as session:
        st = factories.station(session, "CG", "城关市场监管所")
        insp = factories.user(session, "insp_cg", Role.INSPECTOR, [st])
        insp2 = factories.user(session, "insp_cg2", Role.INSPECTOR, [st])
        sup = factories.user(session, "super_cg", Role.SUPERVISOR)
        merchants = [factories.merchant(session, st, f"城关超市{i}号店") for i in range(3)]
        camp = factories.campaign(session, [st], name="秋季双随机抽查", starts_on=today() - dt.timedelta(days=40),
                                  ends_on=today() - dt.timedelta(days=1))
        found = services.run_draw(session, sup, camp, station_ids=[st.id], industries=[],
                                  rates={"A": 100, "B": 100, "C": 100, "D": 100, "none": 100},
                                  inspectors_per_target=2, exclude_own_station=False,
                                  roster_ids=[insp.id, insp2.id, sup.id], seed=11, today=camp.ends_on)
        factories.inspection(session, merchants[0], [insp, sup], campaign_id=camp.id,
                             on=today() - dt.timedelta(days=10))
        return found.id


@pytest.fixture(params=list(VIEWPORTS))
def sized_page(request, page):
    page.set_viewport_size(VIEWPORTS[request.param])
    return page


def test_void_a_wrong_finding_then_correct_the_check_and_record_the_right_one(live_app, sized_page, problems):
    page = sized_page
    ids = make_visit(live_app)
    login(page, "insp_cg")
    page.goto(f"/inspections/{ids['inspection']}")
    row = page.locator(f"#finding-{ids['finding']}")
    expect(row).to_contain_text("铅封破坏或擅自改动")
    row.locator(".finding-void").click()
    expect(page.locator("h1")).to_contain_text("作废问题")
    expect(page.locator(".alert-warning")).to_contain_text("将随之关闭")
    page.locator("#void-submit").click()                     # no reason: refused in Chinese
    expect(page.locator(".invalid-feedback")).to_contain_text("请填写作废原因")
    page.get_by_label("作废原因").fill("问题应记在 CG-002 上，登记错了器具")
    page.locator("#void-submit").click()
    page.wait_for_url(re.compile(rf"/inspections/{ids['inspection']}$"))
    expect(page.locator(".alert-success")).to_contain_text("问题已作废")
    row = page.locator(f"#finding-{ids['finding']}")
    expect(row).to_have_class(re.compile("voided"))
    assert row.evaluate("r => getComputedStyle(r).textDecorationLine") == "line-through"
    expect(row).to_contain_text("已作废：问题应记在 CG-002 上")
    expect(row).to_contain_text("随问题作废")
    expect(page.locator("#findings .finding-void")).to_have_count(0)

    # The right instrument was checked as 未发现问题: the finding form says to correct the check first.
    page.locator("#add-finding").click()
    choose(page, "问题类型", "铅封破坏")
    choose(page, "涉及器具", "CG-002")
    page.get_by_role("button", name="保存").click()
    error = page.locator("#domain-error")
    expect(error).to_contain_text("未发现问题")
    error.get_by_role("link", name="改为发现问题").click()
    expect(page.locator("h1")).to_contain_text("更正检查结论")
    page.get_by_label("更正原因").fill("复核现场照片，CG-002 铅封破损")
    page.locator("#correct-submit").click()
    page.wait_for_url(re.compile(r"/findings/new$"))
    choose(page, "问题类型", "铅封破坏")
    choose(page, "涉及器具", "CG-002")
    page.get_by_label("问题描述").fill("铅封破损")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(re.compile(rf"/inspections/{ids['inspection']}$"))
    expect(page.locator("#findings tbody tr")).to_have_count(2)
    expect(page.locator("#findings tbody tr.voided")).to_have_count(1)
    # The reprinted notice lists only the finding in force.
    page.goto(f"/inspections/{ids['inspection']}/print/notice")
    expect(page.locator("#notice-findings")).to_contain_text("CG-002")
    expect(page.locator("#notice-findings")).not_to_contain_text("CG-001")
    problems.assert_clean()


def test_publishing_shows_the_public_rows_warns_and_asks_for_confirmation(live_app, sized_page, problems):
    page = sized_page
    draw_id = make_ended_draw(live_app)
    login(page, "super_cg")
    page.goto(f"/draws/{draw_id}")
    page.locator("#publish").click()
    expect(page.locator("h1")).to_contain_text("确认公示抽查结果")
    expect(page.locator("#uninspected-count")).to_have_text("2")
    expect(page.locator("#publish-preview tbody tr")).to_have_count(3)
    expect(page.locator("#publish-preview")).to_contain_text("尚未检查")
    page.locator("#publish-confirm").click()                 # not ticked: refused
    expect(page.locator(".invalid-feedback")).to_contain_text("请先勾选确认")
    page.get_by_label("我已核对以上将要公示的内容，确认公示").check()
    page.locator("#publish-confirm").click()
    page.wait_for_url(re.compile(rf"/draws/{draw_id}$"))
    expect(page.locator(".alert-success")).to_contain_text("抽查结果已公示")
    expect(page.locator("#public-link")).to_be_visible()
    problems.assert_clean()
