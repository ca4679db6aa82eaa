"""The main pages under the Content-Security-Policy in a real Chromium, at desktop width and on a phone
(390x844): the policy is on, Chromium reports no violation, and what the policy could break still works:
the server-drawn SVG charts, segno's inline SVG QR codes, the print pages' nonce'd <style> blocks, the bar
widths that were style attributes, and Bootstrap's and the app's own scripts (menus, collapse)."""
from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.accounts.models import Role
from app.clock import today
from app.instruments.models import Instrument
from tests import factories
from tests.browser.conftest import sqlite_only

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
MERCHANT = "城南农贸市场张记干货"


def phone_only_on_postgresql(param: str):
    """A module's `runs_on_postgresql` (tests/conftest.py) that keeps, on PostgreSQL, only the phone width of the
    viewport parameter `param` (tests without it run whole). What a browser test adds to the request-level tests,
    which run on both databases, is layout and markup, which no database changes; keeps CI under 5 minutes."""
    def runs_on_postgresql(test: str, params: dict) -> bool:
        return params.get(param, "phone") == "phone"
    return runs_on_postgresql


runs_on_postgresql = sqlite_only


def make_ledger(app) -> dict:
    """A station with an inspector, a merchant, verified and overdue scales, an inspection with a finding,
    a pledge and public tokens; the ids the pages need."""
    from app.integrity import services as integrity
    from app.public.services import assign_public_tokens

    now = today()
    with app.extensions["database"].session_scope() as session:
        st = factories.station(session, "CN", "城南市场监管所")
        inspector = factories.user(session, "insp_cn", Role.INSPECTOR, [st])
        other = factories.user(session, "insp_cn2", Role.INSPECTOR, [st])
        m = factories.merchant(session, st, MERCHANT)
        scales = [factories.instrument(session, m, serial=f"CN-{i}") for i in range(3)]
        factories.verify(session, scales[0], now - dt.timedelta(days=20))
        factories.verify(session, scales[1], now - dt.timedelta(days=400), valid_until=now - dt.timedelta(days=30))
        visit = factories.inspection(session, m, [inspector, other], on=now, checks=[(scales[1], "problem")])
        factories.finding(session, visit, "OVERDUE", check=visit.checks[0], description="超期未检")
        integrity.create_pledge(session, None, factories.ALL, m, {"signed_on": now, "scope_text": "全部"}, None,
                                today=now, storage_dir=app.config["INTEGRITY_STORAGE"], max_bytes=1024 * 1024)
        integrity.set_targets(session, None, {("pledges", st.id): 3})
        assign_public_tokens(session, None, select(Instrument))
        session.flush()
        token = session.scalar(select(Instrument.public_token).where(Instrument.id == scales[0].id))
        return {"merchant": m.id, "instrument": scales[1].id, "inspection": visit.id, "token": token}


def log_in(page, username: str = "insp_cn") -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(factories.PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".navbar-brand")).to_be_visible()
    page.wait_for_url(lambda url: "/login" not in url)


def visit(page, path: str) -> None:
    """Open a page and check the policy came with it."""
    response = page.goto(path)
    assert response is not None and response.status == 200, (path, response and response.status)
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, (path, policy)
    page.wait_for_load_state("load")


def box(page, selector: str) -> dict:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not rendered"
    return found


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=list(VIEWPORTS))
def test_main_pages_render_under_the_policy(live_app, page, problems, viewport):
    ids = make_ledger(live_app)
    page.set_viewport_size(VIEWPORTS[viewport])

    # Public pages, logged out.
    for path in ("/login", "/public/", f"/public/?q={MERCHANT}", f"/public/i/{ids['token']}"):
        visit(page, path)
    expect(page.locator("main")).to_contain_text("CN-0")

    log_in(page)
    # Dashboard: the server-drawn SVG charts have bars, and the menus (Bootstrap's script) open.
    visit(page, "/")
    assert page.locator("svg.chart").count() >= 2
    tallest = page.locator("#trend-verified rect").evaluate_all(
        "rects => Math.max(...rects.map(r => r.getBoundingClientRect().height))")
    assert tallest > 10, tallest
    if viewport == "phone":
        page.locator(".navbar-toggler").click()
        expect(page.locator("#nav")).to_be_visible()
    page.locator("#worklists-menu").click()
    expect(page.locator("#worklists-menu + .dropdown-menu")).to_be_visible()

    for path in ("/instruments/", f"/instruments/{ids['instrument']}", f"/merchants/{ids['merchant']}",
                 f"/inspections/{ids['inspection']}", "/inspections/", "/alerts/", "/imports/new",
                 "/instruments/labels"):
        visit(page, path)

    # Pledge targets: the bar width is a class now (pct-33), and it renders as a third of its track.
    visit(page, "/integrity/")
    bar, track = box(page, "#progress .progress-bar"), box(page, "#progress .progress")
    assert 0.25 < bar["width"] / track["width"] < 0.4, (bar, track)

    # QR labels: segno's inline SVG renders, and the nonce'd <style> lays out the A4 sheet (210 mm wide).
    visit(page, "/instruments/labels/sheet?size=38x21")
    qr = box(page, "svg.qr")
    assert qr["width"] > 30 and abs(qr["width"] - qr["height"]) < 1, qr
    assert abs(box(page, ".sheet")["width"] - 210 / 25.4 * 96) < 3

    # A printed notice: its nonce'd <style> applies (the first-line indent that was a style attribute).
    visit(page, f"/inspections/{ids['inspection']}/print/notice")
    assert page.locator("p.indent").first.evaluate("p => getComputedStyle(p).textIndent") != "0px"

    problems.assert_clean()


def test_a_violation_is_caught(live_app, page, problems):
    """The listener itself: an inline script injected into a page is refused by the policy and reported."""
    visit(page, "/login")
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';
                             document.body.appendChild(s); }""")
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.ran") is None  # the policy blocked it
    assert problems.csp_violations, "the violation was not reported"
    problems.csp_violations.clear()
    problems.assert_clean()


def test_the_apps_own_script_still_drives_the_page(live_app, page, problems):
    """The handlers that were onchange= / onsubmit= attributes work from app.js: the dashboard's station
    choice sends its form."""
    make_ledger(live_app)
    with live_app.extensions["database"].session_scope() as session:
        factories.user(session, "super_cn", Role.SUPERVISOR)
    log_in(page, "super_cn")
    visit(page, "/")
    page.locator("select[name=station_id]").select_option(label="城南市场监管所")
    page.wait_for_url(lambda url: "station_id=" in url)
    problems.assert_clean()
