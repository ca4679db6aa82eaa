"""Scan to work (issue 15.2): a label's address sends staff of the instrument's station on to its internal page
with the field actions, shows other staff the public page with a notice whose instrument it is, and anyone else
the public page; such answers are never cached for someone else. What the 扫码 page asks of the server about a
code it read: the user's instrument, another station's, or not this system's label."""
from __future__ import annotations

import pytest

from app.field.labels import read_label
from app.instruments.models import InstrumentStatus
from app.public import services as public
from tests.conftest import login

OTHER_STATION = "不在您负责的监管所范围内"


def token_of(session, instrument) -> str:
    token = public.ensure_public_token(session, None, instrument)
    session.commit()
    return token


def runs_on_postgresql(test: str, params: dict) -> bool:
    """The label parser is plain Python; the requests run on both databases."""
    return test != "test_read_label"


@pytest.mark.parametrize("persona,internal", [("insp_a", True), ("super1", True), ("admin1", True),
                                              ("insp_b", False), (None, False)])
def test_a_label_opens_the_internal_page_for_its_stations_staff(client, session, world, persona, internal):
    token = token_of(session, world.instrument_a)
    if persona:
        login(client, persona)
    resp = client.get(f"/public/i/{token}")
    assert resp.headers["Cache-Control"] == "private, no-cache" and "Cookie" in resp.headers["Vary"]
    if internal:
        assert resp.status_code == 302
        assert resp.headers["Location"] == f"/instruments/{world.instrument_a.id}"
        return
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "A-001" in html and 'id="public-state"' in html
    if persona:  # another station's inspector is told why this is the public page
        assert f"该器具属于{world.station_a.name}，{OTHER_STATION}" in html
    else:
        assert OTHER_STATION not in html and 'id="other-station"' not in html


def test_a_retired_instruments_label_still_opens_its_page(app, client, session, world):
    world.instrument_a.status = InstrumentStatus.SCRAPPED
    token = token_of(session, world.instrument_a)
    login(client, "insp_a")
    resp = client.get(f"/public/i/{token}", follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "A-001" in html and 'id="field-actions"' in html
    assert 'id="report-problem"' not in html  # no finding against an instrument out of use
    other = app.test_client()
    login(other, "insp_b")
    html = other.get(f"/public/i/{token}").get_data(as_text=True)
    assert OTHER_STATION in html and 'id="not-in-use"' in html


def test_the_instrument_page_offers_the_field_actions_to_its_writers(app, client, world):
    login(client, "insp_a")
    html = client.get(f"/instruments/{world.instrument_a.id}").get_data(as_text=True)
    m, i = world.merchant_a.id, world.instrument_a.id
    assert f'href="/instruments/{i}/verifications/new" id="record-verification">记录检定<' in html
    assert f'href="/field/inspect?merchant_id={m}&amp;instrument_id={i}" id="start-inspection">开始检查<' in html
    assert f'href="/field/inspect?merchant_id={m}&amp;instrument_id={i}&amp;problem=1" id="report-problem">' in html
    supervisor = app.test_client()
    login(supervisor, "super1")  # reads every station, writes none
    html = supervisor.get(f"/instruments/{world.instrument_a.id}").get_data(as_text=True)
    assert "A-001" in html and 'id="field-actions"' not in html


def resolve(client, code: str) -> dict:
    resp = client.get("/field/scan/resolve", query_string={"code": code})
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    return resp.get_json()


def test_resolve_says_whose_instrument_a_code_names(app, client, session, world):
    own, other = token_of(session, world.instrument_a), token_of(session, world.instrument_b)
    login(client, "insp_a")
    answer = resolve(client, f"http://localhost/public/i/{own}")
    assert answer == {"state": "own", "url": f"/instruments/{world.instrument_a.id}",
                      "instrument": f"{world.instrument_a.type.name_zh} A-001（甲市场摊位1）"}
    assert resolve(client, f"  /public/i/{own} ")["state"] == "own"
    assert resolve(client, own)["state"] == "own"  # the code typed by hand
    # Printed with PUBLIC_BASE_URL, or from another address of this server: the token decides.
    assert resolve(client, f"https://jl.example.gov.cn/public/i/{own}")["state"] == "own"

    answer = resolve(client, f"http://localhost/public/i/{other}")
    assert answer["state"] == "other_station" and answer["url"] == f"/public/i/{other}"
    assert answer["message"] == f"该器具属于{world.station_b.name}，{OTHER_STATION}。"

    unknown = "x" * 32
    assert resolve(client, f"http://localhost/public/i/{unknown}")["state"] == "unknown"
    for code in (f"https://example.com/public/i/{unknown}", "https://example.com/", "A-001", "", "扫码内容",
                 f"javascript:alert(1)//public/i/{own}"):
        answer = resolve(client, code)
        assert answer["state"] == "foreign" and answer["message"] == "这不是本系统的器具标签。", code
        assert answer["text"] == code[:200]

    supervisor = app.test_client()
    login(supervisor, "super1")
    assert resolve(supervisor, f"http://localhost/public/i/{other}")["state"] == "own"


def test_the_scan_page_may_compile_webassembly_and_no_other_page_may(client, world):
    login(client, "insp_a")
    scan = client.get("/field/scan")
    assert scan.status_code == 200
    assert "script-src 'self' 'wasm-unsafe-eval';" in scan.headers["Content-Security-Policy"]
    html = scan.get_data(as_text=True)
    assert "/static/vendor/barcode-detector-3.2.2.ponyfill.js" in html and "/static/field/scan.js" in html
    assert 'accept="image/*"' in html and 'action="/search"' in html
    assert "'wasm-unsafe-eval'" not in client.get("/").headers["Content-Security-Policy"]
    assert 'id="nav-scan"' in client.get("/").get_data(as_text=True)
    wasm = client.get("/static/vendor/zxing-wasm-3.1.3.reader.wasm")
    assert wasm.status_code == 200 and wasm.mimetype == "application/wasm"  # compiled while it downloads
    wasm.close()


@pytest.mark.parametrize("code,token,ours", [
    ("http://localhost/public/i/" + "a" * 32, "a" * 32, True),
    ("HTTPS://JL.example.gov.cn/public/i/" + "b" * 32 + "/", "b" * 32, True),
    ("https://elsewhere.example/public/i/" + "c" * 32, "c" * 32, False),
    ("/public/i/" + "d" * 32, "d" * 32, True),
    ("  " + "e-_" * 11, "e-_" * 11, True),
    ("http://localhost/public/i/short", None, False),
    ("ftp://localhost/public/i/" + "a" * 32, None, False),
    ("http://localhost/public/i/" + "a" * 32 + "?x=1", "a" * 32, True),
    ("http://localhost/admin/users", None, False),
    ("", None, False),
])
def test_read_label(code, token, ours):
    found = read_label(code, {"http://localhost", "https://jl.example.gov.cn"})
    assert (found.token, found.ours if found.token else False) == (token, ours)
