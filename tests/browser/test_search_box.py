"""The navigation's search box in a real Chromium, at desktop width and on a phone (390x844): typed as the
list shows a name (full-width brackets) or as part of a serial number, it opens /search with the record;
on a phone it sits beside the menu button, visible and usable without opening the menu."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.accounts.models import Role
from tests import factories
from tests.browser.conftest import sqlite_only
from tests.browser.test_csp import VIEWPORTS, log_in

runs_on_postgresql = sqlite_only

NAME = "华联超市（城关店）"


def make_records(app) -> None:
    with app.extensions["database"].session_scope() as session:
        st = factories.station(session, "GS", "城关市场监管所")
        other = factories.station(session, "NX", "南乡市场监管所")
        factories.user(session, "insp_gs", Role.INSPECTOR, [st])
        shop = factories.merchant(session, st, NAME, industry="retail")
        factories.instrument(session, shop, serial="FM2026120001", location="生鲜区3号台")
        far = factories.merchant(session, other, "华联超市（南乡店）", industry="retail")
        factories.instrument(session, far, serial="FM2026120002")


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=list(VIEWPORTS))
def test_the_nav_search_box_finds_what_the_list_shows(live_app, page, problems, viewport):
    make_records(live_app)
    page.set_viewport_size(VIEWPORTS[viewport])
    log_in(page, "insp_gs")
    box = page.locator("#nav-search")
    # Usable without opening the collapsed menu, and wide enough to type into.
    expect(box).to_be_visible()
    assert box.bounding_box()["width"] > 120, box.bounding_box()
    if viewport == "phone":
        expect(page.locator("#nav")).not_to_be_visible()
    box.fill("华联超市(城关店)")
    box.press("Enter")
    page.wait_for_url("**/search?q=*")
    expect(page.locator("#results-merchants")).to_contain_text("城关店")
    expect(page.locator("main")).not_to_contain_text("南乡店")
    expect(page.locator("#count-merchants")).to_have_text("1")

    page.locator("#nav-search").fill("2026120001")
    page.locator("#nav-search").press("Enter")
    expect(page.locator("#results-instruments")).to_contain_text("FM2026120001")
    expect(page.locator("main")).not_to_contain_text("FM2026120002")
    page.locator("#results-instruments a", has_text="FM2026120001").click()
    page.wait_for_url("**/instruments/*")

    page.locator("#nav-search").fill("华联")
    page.locator("#nav-search").press("Enter")
    expect(page.locator("#search-message")).to_contain_text("请至少输入 3 个字")
    # Nothing on the page is wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[viewport]["width"] + 1
    problems.assert_clean()
