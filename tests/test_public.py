"""Public lookup and QR labels: search counts against the database, what the public pages must never show,
tokens that are unguessable and required, the rate limit in Chinese, and label sheets with local QR codes for
the filtered instruments, their tokens given in bulk."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import event, select

from app.clock import today
from app.instruments.models import Instrument, InstrumentStatus
from app.instruments.services import record_verification
from app.integrity import services as integrity
from app.public import services as public
from app.public.qr import qr_svg
from tests import factories as f
from tests.conftest import fresh_app, login

ALL = f.ALL
PHONE, CREDIT_CODE, CONTACT = "13812345678", "914403001922038216", "张联系人"
MERCHANT_NOTE, INSTRUMENT_NOTE, VERIFICATION_NOTE = "内部备注甲乙丙", "器具备注丁戊己", "检定备注庚辛壬"


@pytest.fixture()
def shop(app, session, world):
    """A merchant with instruments in every state, private facts everywhere, and a pledge as a model unit."""
    now = today()
    m = f.merchant(session, world.station_a, "诚信好邻居超市", industry="retail", phone=PHONE,
                   credit_code=CREDIT_CODE, contact=CONTACT, notes=MERCHANT_NOTE, address="幸福路1号")

    def scale(serial, verified=None, valid_until=None, result="pass", **values):
        inst = f.instrument(session, m, serial=serial, notes=INSTRUMENT_NOTE, **values)
        if verified:
            record_verification(session, world.inspector_a, inst, {
                "verified_on": verified, "result": result, "valid_until": valid_until, "notes": VERIFICATION_NOTE,
                "institution": "县计量检定所"})
        return inst

    scale("S-VALID-1", now - dt.timedelta(days=100), now + dt.timedelta(days=200))
    scale("S-VALID-2", now - dt.timedelta(days=10), now + dt.timedelta(days=300))
    scale("S-SOON", now - dt.timedelta(days=300), now + dt.timedelta(days=12))
    scale("S-LATE", now - dt.timedelta(days=400), now - dt.timedelta(days=3))
    scale("S-FAILED", now - dt.timedelta(days=20), result="fail")
    scale("S-NEVER")
    scale("S-STOPPED", now - dt.timedelta(days=400), now - dt.timedelta(days=3), status="stopped")
    f.verify(session, f.instrument(session, m, "water_meter_le25", serial="W-1"), now - dt.timedelta(days=30))
    p = integrity.create_pledge(session, world.inspector_a, ALL, m, {"signed_on": now - dt.timedelta(days=30)},
                                None, storage_dir=app.config["INTEGRITY_STORAGE"], max_bytes=1 << 20, today=now)
    integrity.set_model_unit(session, world.inspector_a, p, expected_version=p.version, mark=True, on=now,
                             decision="市监计〔2025〕8号", today=now)
    session.commit()
    return m


def expected_counts(session, merchant_id: int, days: int = 30) -> dict[str, list[int]]:
    """Per kind [valid, due soon, overdue, never verified], classified in Python from the instruments' rows."""
    now = today()
    out: dict[str, list[int]] = {}
    for inst in session.scalars(select(Instrument).where(Instrument.merchant_id == merchant_id)):
        if inst.status != InstrumentStatus.IN_USE:
            continue
        row = out.setdefault(inst.type.name_zh, [0, 0, 0, 0])
        if (inst.next_due_on and inst.next_due_on < now) or (inst.replace_by and inst.replace_by < now):
            row[2] += 1
        elif inst.next_due_on and inst.next_due_on <= now + dt.timedelta(days=days):
            row[1] += 1
        elif inst.last_verified_on is None:
            row[3] += 1
        else:
            row[0] += 1
    return out


def shown_counts(html: str) -> dict[str, list[int]]:
    cells = r"<tr><td>([^<]+)</td><td>(\d+)</td><td>(\d+)</td><td[^>]*>(\d+)</td><td>(\d+)</td></tr>"
    rows = re.findall(cells, html)
    return {kind: [int(n) for n in nums] for kind, *nums in rows}


def test_search_shows_pledge_model_unit_and_counts_that_match_the_database(client, session, shop):
    resp = client.get("/public/?q=好邻居")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "诚信好邻居超市" in html and "已作诚信计量承诺" in html and "诚信计量示范单位" in html
    expected = expected_counts(session, shop.id)
    # Valid 2; due soon 1; overdue 2 (the late one, and the failed one: due since it failed); never 1; stopped: none.
    assert expected["电子计价秤"] == [2, 1, 2, 1]
    assert shown_counts(html) == expected


def test_search_needs_two_characters_and_says_so(client, shop):
    html = client.get("/public/?q=好").get_data(as_text=True)
    assert "请输入至少 2 个字" in html and "诚信好邻居超市" not in html
    assert "没有找到" in client.get("/public/?q=不存在的店").get_data(as_text=True)


def test_merchant_without_pledge_says_so(client, world):
    html = client.get("/public/?q=甲市场").get_data(as_text=True)
    assert "甲市场摊位1" in html and "无有效诚信计量承诺" in html


PRIVATE = (PHONE, CREDIT_CODE, CONTACT, MERCHANT_NOTE, INSTRUMENT_NOTE, VERIFICATION_NOTE, "幸福路1号",
           "insp_a", "市监计〔2025〕8号", "admin1", "甲所")
INTERNAL_URLS = ("/merchants/", "/instruments/", "/integrity/", "/admin/", "/worklists/", "merchant_id",
                 "instrument_id", "/login")


def assert_private_facts_absent(html: str, ids: list[int], tokens: tuple[str, ...] = ()) -> None:
    for text in PRIVATE + INTERNAL_URLS:
        assert text not in html, f"public page shows {text!r}"
    # The public tokens are random and meant to be shown: one that begins with "8-" is not the id 8.
    for token in tokens:
        html = html.replace(token, "")
    for value in ids:
        assert not re.search(rf"[/=#]{value}\b", html), f"public page shows the internal id {value}"


def test_public_pages_never_show_private_facts_or_internal_ids(client, session, shop):
    ids = [shop.id] + [i.id for i in shop_instruments(session, shop)]
    search = client.get("/public/?q=好邻居").get_data(as_text=True)
    assert_private_facts_absent(search, ids)
    inst = session.scalars(select(Instrument).where(Instrument.serial_no == "S-LATE")).one()
    token = public.ensure_public_token(session, None, inst)
    session.commit()
    page = client.get(f"/public/i/{token}").get_data(as_text=True)
    assert "电子计价秤" in page and "诚信好邻居超市" in page and "已超过有效期" in page
    assert inst.last_verified_on.isoformat() in page and inst.next_due_on.isoformat() in page
    assert_private_facts_absent(page, ids, (token,))


def shop_instruments(session, shop):
    return session.scalars(select(Instrument).where(Instrument.merchant_id == shop.id)).all()


def test_public_pages_fit_a_phone_screen(client, session, shop):
    token = public.ensure_public_token(session, None, shop_instruments(session, shop)[0])
    session.commit()
    for url in ("/public/", f"/public/i/{token}"):
        html = client.get(url).get_data(as_text=True)
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
        assert "https://" not in html.replace("http://localhost", "")  # nothing from a CDN


@pytest.mark.parametrize("state,serial", [("在有效期内", "S-VALID-1"), ("即将到期", "S-SOON"),
                                          ("检定不合格，暂停使用", "S-FAILED"), ("尚无检定记录", "S-NEVER"),
                                          ("停用", "S-STOPPED")])
def test_instrument_page_states(client, session, shop, state, serial):
    inst = session.scalars(select(Instrument).where(Instrument.serial_no == serial)).one()
    token = public.ensure_public_token(session, None, inst)
    session.commit()
    assert state in client.get(f"/public/i/{token}").get_data(as_text=True)


def test_tokens_are_unguessable_and_required(client, session, world):
    tokens = {public.new_token() for _ in range(2000)}
    assert len(tokens) == 2000 and all(len(t) >= public.MIN_TOKEN_LENGTH for t in tokens)
    token = public.ensure_public_token(session, None, world.instrument_a)
    session.commit()
    assert str(world.instrument_a.id) != token and re.fullmatch(r"[A-Za-z0-9_-]{32,}", token)
    assert client.get(f"/public/i/{token}").status_code == 200
    # The database id, a shortened token or a token one character off: 404, the same as nothing.
    for wrong in (str(world.instrument_a.id), token[:-1], token[:-1] + ("A" if token[-1] != "A" else "B")):
        assert client.get(f"/public/i/{wrong}").status_code == 404
    # Asking again keeps the token: printed labels stay valid.
    assert public.ensure_public_token(session, None, world.instrument_a) == token


def test_public_lookup_is_rate_limited_with_a_chinese_page(database_url):
    app = fresh_app(database_url, PUBLIC_RATE_LIMIT="3 per minute")
    try:
        client = app.test_client()
        assert [client.get("/public/?q=甲市场").status_code for _ in range(3)] == [200, 200, 200]
        resp = client.get("/public/i/" + "x" * 40)
        assert resp.status_code == 429
        html = resp.get_data(as_text=True)
        assert "查询过于频繁" in html and 'lang="zh-CN"' in html and "登录失败" not in html
        # Another address has its own budget; the staff pages are not throttled by it.
        other = app.test_client()
        assert other.get("/public/", environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 200
        assert client.get("/login").status_code == 200
    finally:
        app.extensions["database"].dispose()


def test_login_page_links_to_the_public_lookup(client):
    assert 'href="/public/"' in client.get("/login").get_data(as_text=True)


# --- QR labels ----------------------------------------------------------------------------------------------

class UpdateCounter:
    """Counts UPDATE statements on instruments sent to the database."""

    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE INSTRUMENTS"):
            self.count += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self)


def test_labels_for_a_filtered_list_give_tokens_in_bulk_and_draw_their_qr_codes(app, client, session, world,
                                                                                   monkeypatch):
    for i in range(4):
        f.instrument(session, world.merchant_a, serial=f"A-LBL-{i}")
    session.commit()
    monkeypatch.setattr(public, "CHUNK", 2)
    login(client, "insp_a")
    page = client.get(f"/instruments/labels?station_id={world.station_a.id}").get_data(as_text=True)
    assert 'id="label-total">5<' in page
    with UpdateCounter(app.extensions["database"].engine) as updates:
        resp = client.post(f"/instruments/labels?station_id={world.station_a.id}&sort=serial", data={"size": "38x21"})
    assert resp.status_code == 302
    assert updates.count == 3  # 5 instruments in chunks of 2: three UPDATE statements, not five
    session.expire_all()
    a_tokens = dict(session.execute(select(Instrument.serial_no, Instrument.public_token)
                                    .where(Instrument.station_id == world.station_a.id)).all())
    assert all(a_tokens.values()) and len(set(a_tokens.values())) == 5
    assert session.scalar(select(Instrument.public_token).where(Instrument.id == world.instrument_b.id)) is None

    sheet = client.get(resp.headers["Location"])
    html = sheet.get_data(as_text=True)
    assert sheet.status_code == 200 and "@page { size: A4" in html and "grid-template-columns: repeat(5, 38mm)" in html
    assert html.count('<svg viewBox') == 5
    for serial, token in a_tokens.items():
        assert serial in html
        assert qr_svg(f"http://localhost/public/i/{token}") in html  # the code encodes the public address
    assert "甲市场摊位1" in html and "B-001" not in html

    # A second print keeps the tokens: labels already stuck on instruments stay valid.
    client.post(f"/instruments/labels?station_id={world.station_a.id}", data={"size": "70x37"})
    session.expire_all()
    assert dict(session.execute(select(Instrument.serial_no, Instrument.public_token)
                                .where(Instrument.station_id == world.station_a.id)).all()) == a_tokens


def test_labels_use_the_configured_public_address(database_url):
    app = fresh_app(database_url, PUBLIC_BASE_URL="https://jl.example.gov.cn/")
    try:
        with app.extensions["database"].session_scope() as s:
            world = f.build_world(s)
            token = public.ensure_public_token(s, None, world.instrument_a)
        client = app.test_client()
        login(client, "admin1")
        html = client.get("/instruments/labels/sheet?size=70x37").get_data(as_text=True)
        assert qr_svg(f"https://jl.example.gov.cn/public/i/{token}") in html
        assert "另有 1 台器具尚无公开查询码" in html  # instrument B has no token yet
    finally:
        app.extensions["database"].dispose()


def test_labels_are_capped_per_request_with_a_chinese_message(database_url):
    app = fresh_app(database_url, LABELS_MAX=1)
    try:
        with app.extensions["database"].session_scope() as s:
            f.build_world(s)
        client = app.test_client()
        login(client, "admin1")
        resp = client.post("/instruments/labels", data={"size": "70x37"})
        assert resp.status_code == 200 and "超过单次打印上限 1 台" in resp.get_data(as_text=True)
        with app.extensions["database"].session_scope() as s:
            assert s.scalars(select(Instrument.public_token)).all() == [None, None]
        assert client.get("/instruments/labels/sheet").status_code == 302
    finally:
        app.extensions["database"].dispose()


def test_instrument_list_links_to_labels_with_its_filter(client, world):
    login(client, "super1")
    html = client.get(f"/instruments/?type_id=3&station_id={world.station_a.id}").get_data(as_text=True)
    link = re.search(r'id="print-labels" href="([^"]+)"', html).group(1)
    assert link.startswith("/instruments/labels?") and "type_id=3" in link
    assert f"station_id={world.station_a.id}" in link


def test_staff_open_the_public_page_from_the_instrument(client, session, world):
    login(client, "super1")
    resp = client.post(f"/instruments/{world.instrument_a.id}/public")
    assert resp.status_code == 302
    session.expire_all()
    token = session.scalar(select(Instrument.public_token).where(Instrument.id == world.instrument_a.id))
    assert resp.headers["Location"].endswith(f"/public/i/{token}")
    assert "公开查询页" in client.get(f"/instruments/{world.instrument_a.id}").get_data(as_text=True)


@pytest.mark.parametrize("status,words", [("stopped", "已停用"), ("scrapped", "已报废"), ("replaced", "已更换")])
def test_an_instrument_out_of_use_says_so_and_shows_no_validity(client, session, shop, status, words):
    """A stopped, scrapped or replaced instrument's label still scans: the page says so and shows no valid-until."""
    inst = session.scalars(select(Instrument).where(Instrument.serial_no == "S-VALID-1")).one()
    inst.status = InstrumentStatus(status)
    token = public.ensure_public_token(session, None, inst)
    session.commit()
    html = client.get(f"/public/i/{token}").get_data(as_text=True)
    assert words in html and 'id="not-in-use"' in html
    for shown in ("在有效期内", "有效期至", "最近检定日期", inst.next_due_on.isoformat()):
        assert shown not in html, f"a {status} instrument's page shows {shown}"


@pytest.mark.parametrize("q", ["%%", "__", "%", "_", "\\"])
def test_search_wildcards_are_matched_literally(client, session, world, q):
    """'%' and '_' in the public search are characters to find, not wildcards listing every merchant."""
    f.merchant(session, world.station_a, "百分之百100%纯净水店")
    session.commit()
    html = client.get("/public/", query_string={"q": q}).get_data(as_text=True)
    assert "甲市场摊位1" not in html and "乙加油站" not in html
    found = client.get("/public/", query_string={"q": "0%纯"}).get_data(as_text=True)
    assert "百分之百100%纯净水店" in found


@pytest.mark.parametrize("path", ["/merchants/?q=%25%25", "/merchants/?q=__", "/instruments/?q=%25",
                                  "/instruments/?q=_", "/instruments/new?q=%25%25", "/inspections/new?q=__"])
def test_staff_searches_match_wildcards_literally(client, world, path):
    """The staff searches too: '%' and '_' find only names that contain them."""
    login(client, "admin1")
    html = client.get(path).get_data(as_text=True)
    for text in ("甲市场摊位1", "乙加油站", "A-001", "B-001"):
        assert text not in html, f"{path} lists {text}"


def test_no_search_builds_its_own_like_pattern():
    """Searches use contains()/startswith() with autoescape; a hand-made LIKE pattern would let wildcards in."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    offenders = [str(p.relative_to(root)) for folder in ("app", "importers", "reports")
                 for p in (root / folder).rglob("*.py") if re.search(r"\.i?like\(", p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_the_published_draw_shares_the_public_rate_limit(database_url):
    """The published results of a draw count against the same budget as the public search and instrument pages."""
    from tests.test_access import make_inspections

    app = fresh_app(database_url, PUBLIC_RATE_LIMIT="3 per minute")
    try:
        database = app.extensions["database"]
        with database.session_scope() as session:
            world = f.build_world(session)
            session.commit()
            draw_id = make_inspections(session, world)["draw_published"]
        client = app.test_client()
        assert [client.get("/public/").status_code for _ in range(2)] == [200, 200]
        assert client.get(f"/public/draws/{draw_id}").status_code == 200
        for url in (f"/public/draws/{draw_id}", "/public/"):
            resp = client.get(url)
            assert resp.status_code == 429, url
            assert "查询过于频繁" in resp.get_data(as_text=True)
    finally:
        app.extensions["database"].dispose()


# --- the public layout: public pages and their error pages carry no staff branding or login link -------------

STAFF_MARKS = (">计量监管台账<", 'href="/login', "navbar", "退出登录")  # the staff brand, login link, menu


def assert_public_layout(resp, status: int, what: str) -> str:
    """The page is in the public layout (its header links to the lookup) and shows nothing of the staff one."""
    html = resp.get_data(as_text=True)
    assert resp.status_code == status, (what, resp.status_code, html[:300])
    assert "计量器具公开查询" in html and 'lang="zh-CN"' in html, what
    assert [m for m in STAFF_MARKS if m in html] == [], what
    return html


def test_the_published_draw_and_public_errors_use_the_public_layout(client, session, world):
    """The published draw, a 404 under /public/ (an unpublished draw, a wrong token, no such page) and a 404
    seen by a signed-in user under /public/ all use the public layout; a staff URL's 404 keeps the staff one."""
    from tests.test_access import make_inspections

    made = make_inspections(session, world)
    html = assert_public_layout(client.get(f"/public/draws/{made['draw_published']}"), 200, "published draw")
    assert "双随机抽查结果公示" in html
    for url in (f"/public/draws/{made['draw']}", "/public/i/" + "x" * 40, "/public/no-such-page"):
        html = assert_public_layout(client.get(url), 404, url)
        assert "不存在" in html and "您负责的监管所" not in html, url
    login(client, "insp_a")
    assert_public_layout(client.get("/public/no-such-page"), 404, "signed in, public URL")
    staff = client.get("/merchants/999999").get_data(as_text=True)
    assert "navbar-brand" in staff and "计量器具公开查询" not in staff
    anonymous = client.application.test_client().get("/no-such-page")
    assert anonymous.status_code == 404 and "navbar-brand" in anonymous.get_data(as_text=True)


def test_the_public_429_page_uses_the_public_layout(database_url):
    app = fresh_app(database_url, PUBLIC_RATE_LIMIT="2 per minute")
    try:
        client = app.test_client()
        assert [client.get("/public/").status_code for _ in range(2)] == [200, 200]
        html = assert_public_layout(client.get("/public/?q=甲市场"), 429, "public 429")
        assert "查询过于频繁" in html
    finally:
        app.extensions["database"].dispose()
