"""The station inspector's core loop in a real browser, with CSRF on:
log in, register a merchant and an instrument, record an old verification (the instrument
turns up on the overdue worklist), record a fresh one (it leaves the list, the due date moves)."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from app.accounts.models import Role
from app.clock import today
from app.instruments.engine import add_months
from tests import factories

SCREENSHOT = "/tmp/ledger_flow.png"
CREDIT_CODE = "91350100M000100Y43"
SERIAL = "JJC-2024-0817"
MERCHANT = "城东农贸市场李记水产"
STATION = "城东市场监管所"


def make_inspector(app) -> None:
    """An inspector of one station, committed so the server thread sees it."""
    with app.extensions["database"].session_scope() as session:
        st = factories.station(session, "CD", STATION)
        factories.user(session, "insp_cd", Role.INSPECTOR, [st])


def submit(page, url_pattern: str) -> None:
    """Click the form's save button and wait for the redirect; on failure show what the page said."""
    page.get_by_role("button", name="保存").click()
    try:
        page.wait_for_url(re.compile(url_pattern))
    except Exception as exc:  # noqa: BLE001 - re-raised with the page's own error messages
        errors = page.locator(".invalid-feedback, .alert-danger").all_inner_texts()
        raise AssertionError(f"form was not accepted at {page.url}: {errors}") from exc


def overdue_row(page):
    return page.locator("#instrument-list tbody tr", has=page.get_by_role("link", name=SERIAL, exact=True))


def record_verification(page, on) -> None:
    page.locator("#record-verification").click()
    expect(page.locator("h1")).to_contain_text("记录检定")
    page.get_by_label("检定日期", exact=True).fill(on.isoformat())
    page.get_by_label("检定结论", exact=True).select_option(label="合格")
    expect(page.get_by_label("有效期至", exact=True)).to_have_value("")
    submit(page, r"/instruments/\d+$")
    expect(page.locator(".alert-success")).to_contain_text("已记录检定结果")


def test_register_verify_and_clear_overdue(live_app, page, problems):
    make_inspector(live_app)
    now = today()
    old_on = add_months(now, -24)
    old_due = add_months(old_on, 12)  # elec_price_scale: periodic, 12 months, no valid-until given
    new_due = add_months(now, 12)
    assert old_due < now <= new_due

    # Log in through the form; CSRF is on, so the hidden token must travel with it.
    page.goto("/login")
    assert page.locator("input[name=csrf_token]").first.get_attribute("value")
    page.get_by_label("用户名").fill("insp_cd")
    page.get_by_label("密码").fill(factories.PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".navbar-text")).to_contain_text("insp_cd")

    # The same server refuses a post without a token: the flow below really exercises CSRF.
    refused = page.request.post("/merchants/new", form={"name": "无令牌", "industry": "retail"})
    assert refused.status == 400, refused.status

    # Register a merchant.
    page.goto("/merchants/new")
    page.get_by_label("名称", exact=True).fill(MERCHANT)
    page.get_by_label("统一社会信用代码").fill(CREDIT_CODE.lower())  # normalised to upper case by the app
    page.get_by_label("行业").select_option(label="集贸市场经营户")
    page.get_by_label("所属监管所").select_option(label=STATION)
    submit(page, r"/merchants/\d+$")
    expect(page.locator("h1")).to_have_text(MERCHANT)
    expect(page.locator("dl")).to_contain_text(CREDIT_CODE)

    # Register an instrument for it.
    page.get_by_role("link", name="登记计量器具").click()
    kind = page.locator("#type_id option", has_text="电子计价秤")
    expect(kind).to_have_count(1)
    page.get_by_label("器具种类").select_option(value=kind.get_attribute("value"))
    page.get_by_label("出厂编号").fill(SERIAL)
    page.get_by_label("安装位置").fill("水产区 12 号摊位")
    submit(page, r"/instruments/\d+$")
    instrument_url = page.url
    expect(page.locator("h1")).to_contain_text("电子计价秤")
    expect(page.locator("h1")).to_contain_text(SERIAL)
    expect(page.locator("#next-due")).to_have_text("—")

    # A verification two years ago, passed, no valid-until: due a year ago, so overdue.
    record_verification(page, old_on)
    expect(page.locator("#next-due")).to_have_text(old_due.isoformat())
    expect(page.locator("#next-due")).to_have_class(re.compile(r"\bdue-overdue\b"))

    page.goto("/worklists/overdue")
    expect(page.locator("#list-title")).to_be_visible()
    expect(overdue_row(page)).to_have_count(1)
    expect(overdue_row(page)).to_contain_text(MERCHANT)
    expect(overdue_row(page)).to_contain_text(old_due.isoformat())
    expect(page.locator("#nav-count-overdue")).to_have_text("1")

    # Verified again today: off the overdue list, next due date a cycle from today.
    overdue_row(page).get_by_role("link", name=SERIAL).click()
    page.wait_for_url(instrument_url)
    record_verification(page, now)
    expect(page.locator("#next-due")).to_have_text(new_due.isoformat())
    expect(page.locator("#next-due")).not_to_have_class(re.compile(r"\bdue-overdue\b"))
    expect(page.locator("#verifications tbody tr")).to_have_count(2)

    page.goto("/worklists/overdue")
    expect(overdue_row(page)).to_have_count(0)
    expect(page.locator("#instrument-list tbody")).to_contain_text("没有符合条件的计量器具")
    expect(page.locator("#nav-count-overdue")).to_have_text("0")

    page.goto(instrument_url)
    expect(page.locator("#next-due")).to_have_text(new_due.isoformat())
    page.screenshot(path=SCREENSHOT, full_page=True)
    problems.assert_clean()
