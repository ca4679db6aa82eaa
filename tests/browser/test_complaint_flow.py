"""The public's 我要反映问题 in a real browser with JavaScript turned off, on a phone, CSRF on: from the QR label's
page to the form, a wrong answer to the question, the right one with a photo, the reference, and the lookup."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from app.public.services import ensure_public_token
from tests import factories
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.test_signature_flow import PIXEL


def runs_on_postgresql(test: str, params: dict) -> bool:
    """The browser's part is not about the database (tests/test_complaints.py runs on both)."""
    return False


def solve(question: str) -> int:
    a, b = (int(n) for n in re.findall(r"\d+", question))
    return a + b


def test_a_complaint_from_a_label_without_javascript(live_app, browser, live_server):
    with live_app.extensions["database"].session_scope() as session:
        st = factories.station(session, "CG", "城关市场监管所")
        scale = factories.instrument(session, factories.merchant(session, st, "城关农贸市场王记肉摊"), serial="CG-001")
        token = ensure_public_token(session, None, scale)
    context = browser.new_context(base_url=live_server, locale="zh-CN", java_script_enabled=False,
                                  viewport={"width": 390, "height": 844})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(f"/public/i/{token}")
        page.get_by_role("link", name="我要反映问题").click()
        expect(page.get_by_role("heading", name="我要反映问题")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.get_by_label("短斤少两").check()
        page.get_by_label("具体情况").fill("买了两斤猪肉，回家称只有一斤八两。")
        # The honeypot is not shown to people.
        expect(page.locator("#website")).to_be_hidden()
        question = page.locator("#challenge-question").inner_text()
        page.locator("#answer").fill(str(solve(question) + 1))
        page.get_by_role("button", name="提交").click()
        expect(page.locator(".invalid-feedback")).to_contain_text("验证题答案不正确")
        assert page.get_by_label("具体情况").input_value() == "买了两斤猪肉，回家称只有一斤八两。"

        page.get_by_label("短斤少两").check()
        page.get_by_label("照片（可不传）").set_input_files({"name": "现场.png", "mimeType": "image/png",
                                                         "buffer": PIXEL})
        page.locator("#answer").fill(str(solve(page.locator("#challenge-question").inner_text())))
        page.get_by_role("button", name="提交").click()
        reference = page.locator("#new-reference").inner_text()
        assert re.fullmatch(r"TS-[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}", reference)
        expect(page.locator("#public-complaint-state")).to_have_text("已受理，待分派")

        page.goto("/public/complaints/")
        page.get_by_label("查询编号").fill(reference.lower())
        page.get_by_role("button", name="查询").click()
        expect(page.locator("#complaint-result")).to_contain_text(reference)
    finally:
        context.close()
