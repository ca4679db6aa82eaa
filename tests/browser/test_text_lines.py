"""Text as typed in a real Chromium (issue 13), at desktop width and on a phone: full-width punctuation is shown
as typed, and a multi-line finding description or note keeps its lines on the page and on the printed notice."""
from __future__ import annotations

import pytest

from app.accounts.models import Role
from app.clock import today
from tests import factories
from tests.browser.conftest import sqlite_only
from tests.browser.test_csp import VIEWPORTS, log_in, visit

runs_on_postgresql = sqlite_only

DESCRIPTION = "铅封破损，\n铅封编号无法辨认；"


def _ledger(app) -> dict:
    with app.extensions["database"].session_scope() as session:
        st = factories.station(session, "HL", "城关市场监管所")
        inspector = factories.user(session, "insp_hl", Role.INSPECTOR, [st])
        other = factories.user(session, "insp_hl2", Role.INSPECTOR, [st])
        m = factories.merchant(session, st, "华联超市（城关店）", notes="营业时间：\n8:00—21:00（周一休息）")
        scale = factories.instrument(session, m, serial="HL-1", maker="欧姆龙（大连）有限公司")
        visit_ = factories.inspection(session, m, [inspector, other], on=today(), checks=[(scale, "problem")])
        factories.finding(session, visit_, "OVERDUE", check=visit_.checks[0], description=DESCRIPTION)
        session.flush()
        return {"merchant": m.id, "inspection": visit_.id}


def _lines(page, selector: str) -> list[str]:
    """The element's text as the browser lays it out (innerText follows white-space), line by line."""
    text = page.locator(selector).first.evaluate("e => e.innerText")
    return [line.strip() for line in text.split("\n") if line.strip()]


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=list(VIEWPORTS))
def test_multi_line_text_keeps_its_lines(live_app, page, problems, viewport):
    ids = _ledger(live_app)
    page.set_viewport_size(VIEWPORTS[viewport])
    log_in(page, "insp_hl")

    visit(page, f"/merchants/{ids['merchant']}")
    assert "华联超市（城关店）" in page.locator("main").inner_text()
    assert _lines(page, "dd.text-lines") == ["营业时间：", "8:00—21:00（周一休息）"]

    visit(page, f"/inspections/{ids['inspection']}")
    assert _lines(page, "div.text-lines") == ["铅封破损，", "铅封编号无法辨认；"]

    visit(page, f"/inspections/{ids['inspection']}/print/notice")
    assert _lines(page, "#notice-findings span.text-lines") == ["铅封破损，", "铅封编号无法辨认；"]
    assert "华联超市（城关店）" in page.locator(".sheet").inner_text()
    problems.assert_clean()
