"""Layout details users noticed, in a real Chromium on the demo data: dates in lists stay on one line at
1366 px, and the public pages (the lookup, an instrument, a published draw, their 404 and 429 pages) use the
public layout on a phone (390x844), without the staff brand, menu or login link."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.instruments.models import Instrument
from app.merchants.models import Merchant
from tests.browser.conftest import sqlite_only
from tests.conftest import fresh_app


runs_on_postgresql = sqlite_only

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
PUBLIC_LIMIT = 12  # requests a minute to the public pages in this module's app

# Every date (and date-time) of a table cell whose text spans more than one line, as "text (page)".
WRAPPED_DATES = """() => {
  const found = [];
  const pattern = /\\d{4}-\\d{2}-\\d{2}( \\d{2}:\\d{2})?/g;
  const walker = document.createTreeWalker(document.querySelector("main") || document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement.closest("td")) continue;
    for (const m of node.data.matchAll(pattern)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
      if (tops.size > 1) found.push(m[0]);
    }
  }
  return found;
}"""


@pytest.fixture()
def live_app(database_url):
    """The demo county (small) on an app with CSRF on and a low public rate limit, so a 429 can be seen."""
    application = fresh_app(database_url, WTF_CSRF_ENABLED=True, PUBLIC_RATE_LIMIT=f"{PUBLIC_LIMIT} per minute")
    result = application.test_cli_runner().invoke(
        args=["demo", "load", "--merchants", "60", "--instruments", "600", "--stations", "4"])
    assert result.exit_code == 0, result.output
    yield application
    application.extensions["database"].dispose()


def demo_log_in(page, username: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/login" not in url)


def test_dates_in_lists_stay_on_one_line_at_1366(live_app, page, problems):
    with live_app.extensions["database"].session_scope() as session:
        merchant = session.scalar(select(Merchant.id).join(Instrument, Instrument.merchant_id == Merchant.id)
                                  .order_by(Merchant.id).limit(1))
        instrument = session.scalar(select(Instrument.id).where(Instrument.merchant_id == merchant).limit(1))
    page.set_viewport_size(LAPTOP)
    demo_log_in(page, "admin", "admin-demo-1")
    wrapped = {}
    for path in ("/instruments/", "/worklists/overdue", "/worklists/due_soon", "/merchants/",
                 f"/merchants/{merchant}", f"/instruments/{instrument}", "/alerts/?status=all", "/inspections/",
                 "/rectifications/?state=all", "/campaigns/", "/integrity/", "/reports/monthly/", "/imports/",
                 "/admin/audit/", "/admin/jobs/", "/admin/jobs/due_date_sweep", "/admin/outbox", "/admin/users"):
        response = page.goto(path)
        assert response.status == 200, (path, response.status)
        found = page.evaluate(WRAPPED_DATES)
        if found:
            wrapped[path] = found
    assert wrapped == {}, f"dates broken over two lines at 1366 px: {wrapped}"
    problems.assert_clean()


def test_public_pages_use_the_public_layout_on_a_phone(live_app, page, problems):
    import datetime as dt

    from app.accounts.models import Role, Station, User
    from app.clock import today
    from app.inspections import services as inspections
    from app.public.services import assign_public_tokens
    from tests import factories

    with live_app.extensions["database"].session_scope() as session:
        assign_public_tokens(session, None, select(Instrument).order_by(Instrument.id).limit(5))
        session.flush()
        token = session.scalar(select(Instrument.public_token).where(Instrument.public_token.is_not(None)).limit(1))
        merchant = session.scalar(select(Merchant.name).order_by(Merchant.id).limit(1))
        stations = session.scalars(select(Station).order_by(Station.id)).all()
        roster = session.scalars(select(User).where(User.role.in_([Role.INSPECTOR, Role.SUPERVISOR]))).all()
        supervisor = next(u for u in roster if u.role == Role.SUPERVISOR)
        ended = factories.campaign(session, stations, "上季度双随机抽查", starts_on=today() - dt.timedelta(days=90),
                                   ends_on=today() - dt.timedelta(days=1))
        draw = inspections.run_draw(session, supervisor, ended, station_ids=[s.id for s in stations], industries=[],
                                    rates={"A": 5, "B": 5, "C": 5, "D": 5, "none": 5}, inspectors_per_target=2,
                                    exclude_own_station=False, roster_ids=[u.id for u in roster], seed=7,
                                    today=ended.ends_on)  # drawn on its last day: no draw after the end
        inspections.publish_draw(session, supervisor, draw, today())
        published_draw, unpublished = draw.id, draw.id + 1000
    page.set_viewport_size(PHONE)
    pages = [("/public/", 200), (f"/public/?q={merchant[:4]}", 200), (f"/public/i/{token}", 200),
             (f"/public/draws/{published_draw}", 200), (f"/public/draws/{unpublished}", 404),
             ("/public/no-such-page", 404)]
    for path, status in pages:
        response = page.goto(path)
        assert response.status == status, (path, response.status)
        check_public_layout(page, path)
    # Past the limit, the 429 page is public too.
    for _ in range(PUBLIC_LIMIT):
        response = page.goto("/public/")
        if response.status == 429:
            break
    assert response.status == 429
    check_public_layout(page, "429")
    assert "查询过于频繁" in page.locator("main").inner_text()
    problems.bad_responses.clear()  # the 404 and 429 answers above were asked for
    problems.assert_clean()


def check_public_layout(page, what: str) -> None:
    """The public header, no staff brand, menu or login link, nothing wider than the phone."""
    assert page.locator("header").inner_text().strip() == "计量器具公开查询", what
    assert page.locator(".navbar, a[href^='/login'], a[href='/']").count() == 0, what
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (what, width)


def test_staff_404_keeps_the_staff_layout(live_app, page):
    page.set_viewport_size(LAPTOP)
    response = page.goto("/no-such-page")
    assert response.status == 404
    assert page.locator(".navbar-brand").inner_text() == "计量监管台账"

