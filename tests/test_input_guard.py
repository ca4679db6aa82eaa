"""The input guard: control characters refused in Chinese, typed whitespace kept, numbers bounded, and
generated odd strings and numbers never answered with a 500 (the route walk is in test_input_walk.py).
"""
from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.guard import CONTROL_MESSAGE, has_control
from tests.conftest import fresh_app, login
from tests.test_access import ADMIN, INSP_A, body
from tests.test_input_walk import NO_LIMITS, REFUSED, assert_answered, client_as

MULTILINE = "第一行\r\n\t第二行\n"


@pytest.fixture()
def app(database_url):
    """The app with exceptions propagating to the test and limits no test reaches."""
    application = fresh_app(database_url, PROPAGATE_EXCEPTIONS=True, **NO_LIMITS)
    yield application
    application.extensions["database"].dispose()


def test_multi_line_text_passes_the_guard(app, client, session, world):
    """Tabs and line breaks are typed text: the guard lets a multi-line note through (it refuses only controls)."""
    from app.merchants.models import Merchant

    login(client, ADMIN)
    resp = client.post("/merchants/new", data={"name": "多行备注商户", "industry": "market_vendor",
                                              "station_id": str(world.station_a.id), "parent_id": "",
                                              "notes": MULTILINE})
    assert resp.status_code == 302, body(resp)[:800]
    session.expire_all()
    merchant = session.query(Merchant).filter_by(name="多行备注商户").one()
    assert "第一行" in merchant.notes and "第二行" in merchant.notes


def test_control_characters_are_refused_in_chinese(app, client, world):
    """NUL in the public search, the login form and a staff search: the 400 page says in Chinese what is wrong."""
    for resp in (client.get("/public/?q=%E9%9D%92%E6%BA%AA%00"),
                 client.post("/login", data={"username": "admin\x00", "password": "x"})):
        assert resp.status_code == 400
        assert CONTROL_MESSAGE in body(resp)
    login(client, INSP_A)
    resp = client.get("/merchants/?q=%01")
    assert resp.status_code == 400 and CONTROL_MESSAGE in body(resp)


@pytest.mark.parametrize("url", ["/merchants/?station_id=99999999999", "/instruments/?page=99999999999999",
                                 "/worklists/due_soon?days=99999999", "/merchants/99999999999",
                                 "/plans/?merchant_id=-1", "/merchants/?industry=x"])
def test_numbers_out_of_range_are_answered(app, client, world, url):
    """Numbers past the id columns, a days count past any date and unknown codes: a Chinese answer, never a 500."""
    login(client, ADMIN)
    assert_answered(client.get(url), url)


def test_has_control_keeps_typed_whitespace():
    """The guard's test of text: tab, CR and LF are typed; NUL, ESC, DEL and C1 controls are not."""
    assert not has_control(MULTILINE + "全角　空格")
    assert all(has_control(v) for v in REFUSED)


ODD_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
ODD_NUMBER = st.integers(min_value=-(2 ** 70), max_value=2 ** 70).map(str)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(ODD_TEXT, ODD_NUMBER), number=st.one_of(ODD_NUMBER, ODD_TEXT))
def test_odd_values_never_500(app, world, text, number):
    """Generated odd strings and numbers in searches, filters, page and days, the login and a merchant form."""
    client = client_as(app, ADMIN)
    args = {"q": text, "station_id": number, "merchant_id": number, "page": number, "industry": text,
            "status": text, "sort": text}
    for path in ("/public/", "/merchants/", "/instruments/", "/worklists/due_soon", "/integrity/", "/plans/",
                 "/inspections/", "/alerts/", "/admin/audit/"):
        resp = client.get(path + "?" + urlencode({**args, "days": number, "period": text}))
        assert_answered(resp, f"GET {path} {args}", refused=has_control(text) or has_control(number))
    resp = client.post("/merchants/new", data={"name": text, "industry": text, "station_id": number,
                                              "parent_id": number})
    assert_answered(resp, f"POST /merchants/new {text!r} {number!r}", refused=has_control(text) or has_control(number))
    resp = app.test_client().post("/login", data={"username": text, "password": number})
    assert_answered(resp, f"POST /login {text!r}", refused=has_control(text) or has_control(number))
