"""The REST API (/api/v1): tokens, problem-details errors on every path, scoped reads, the keyset walk under
concurrent changes, instrument registration with Idempotency-Key, the audit trail and the OpenAPI document.
The access matrix (tests/test_access.py, API_MATRIX) covers every endpoint with tokens of each scope."""
from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy import func, select

from app.api import services as tokens
from app.api.models import ApiToken, IdempotentRequest, TokenScope
from app.audit.models import AuditEntry
from app.db import utcnow
from app.instruments.models import Instrument
from tests import factories
from tests.conftest import fresh_app, login

CJK = re.compile(r"[\u4e00-\u9fff]")


def issue(session, scope=TokenScope.READ, stations=(), *, body=None, merchant=None, rate=600,
          expires=dt.timedelta(days=30), name="测试令牌") -> tuple[ApiToken, str]:
    """A token and its secret, committed."""
    token, secret = tokens.issue_token(
        session, None, name=name, scope=scope, station_ids=[s.id for s in stations], body_id=body,
        merchant_id=merchant, expires_at=utcnow() + expires, rate_per_minute=rate, now=utcnow())
    session.commit()
    return token, secret


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def assert_problem(resp, status: int, what: str = "") -> dict:
    """A problem-details answer in Chinese: never a page."""
    assert resp.status_code == status, (what, resp.status_code, resp.get_data(as_text=True)[:500])
    assert resp.mimetype == "application/problem+json", (what, resp.mimetype, resp.get_data(as_text=True)[:300])
    body = resp.get_json()
    assert body["status"] == status and CJK.search(body["title"]) and CJK.search(body["detail"]), (what, body)
    assert "<html" not in resp.get_data(as_text=True)
    return body


def test_tokens_authenticate_by_hash_and_refuse_unknown_revoked_expired(app, client, session, world):
    token, secret = issue(session, TokenScope.READ, [world.station_a])
    stored = session.get(ApiToken, token.id)
    assert secret.startswith("mt_") and stored.token_hash == tokens.hash_secret(secret) and secret not in (
        stored.token_hash, stored.prefix)
    assert client.get("/api/v1/instruments", headers=bearer(secret)).status_code == 200
    for headers, what in (({}, "no header"), (bearer(secret + "x"), "unknown"), ({"Authorization": secret}, "no scheme"),
                          ({"Authorization": "Basic " + secret}, "basic")):
        resp = client.get("/api/v1/instruments", headers=headers)
        assert_problem(resp, 401, what)
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    # An expired token: issued valid, then its expiry passed.
    expired, old = issue(session, TokenScope.READ, [world.station_a], name="将过期")
    session.get(ApiToken, expired.id).expires_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    assert_problem(client.get("/api/v1/merchants", headers=bearer(old)), 401, "expired")
    tokens.revoke_token(session, None, session.get(ApiToken, token.id), utcnow())
    session.commit()
    assert_problem(client.get("/api/v1/merchants", headers=bearer(secret)), 401, "revoked")


def test_reads_stay_inside_the_tokens_stations(app, client, session, world):
    _t, a = issue(session, TokenScope.READ, [world.station_a])
    _t, both = issue(session, TokenScope.READ, [world.station_a, world.station_b], name="两站")
    ids = [i["id"] for i in client.get("/api/v1/instruments", headers=bearer(a)).json["items"]]
    assert ids == [world.instrument_a.id]
    assert {i["id"] for i in client.get("/api/v1/instruments", headers=bearer(both)).json["items"]} == {
        world.instrument_a.id, world.instrument_b.id}
    body = assert_problem(client.get(f"/api/v1/instruments?station_id={world.station_b.id}", headers=bearer(a)), 403)
    assert "站点" in body["detail"]
    merchants = client.get("/api/v1/merchants", headers=bearer(a)).json["items"]
    assert [m["name"] for m in merchants] == ["甲市场摊位1"]
    vers = client.get("/api/v1/verifications", headers=bearer(a)).json["items"]
    assert {v["instrument_id"] for v in vers} == {world.instrument_a.id}
    item = client.get("/api/v1/instruments", headers=bearer(a)).json["items"][0]
    assert item["status"] == "in_use" and item["status_label"] == "在用" and item["serial_no"] == "A-001"
    # Filters: kind, status, due window.
    q = f"/api/v1/instruments?status=scrapped&type_id={world.instrument_a.type_id}"
    assert client.get(q, headers=bearer(both)).json["items"] == []
    due = world.instrument_a.next_due_on
    window = f"due_after={due.isoformat()}&due_before={due.isoformat()}"
    assert [i["id"] for i in client.get(f"/api/v1/instruments?{window}", headers=bearer(both)).json["items"]] == [
        i.id for i in (world.instrument_a, world.instrument_b) if i.next_due_on == due]


def test_institution_token_reads_only_its_bodys_work(app, client, session, world):
    from app.bodies import services as bodies

    body, _ = bodies.create_body(session, None, {"name": "县计量检定所"})
    factories.verify(session, world.instrument_b, dt.date(2025, 3, 1))
    ver = world.instrument_b.verifications[-1]
    ver.body_id = body.id
    session.commit()
    _t, secret = issue(session, TokenScope.INSTITUTION, body=body.id)
    assert [i["id"] for i in client.get("/api/v1/instruments", headers=bearer(secret)).json["items"]] == [
        world.instrument_b.id]
    assert [v["id"] for v in client.get("/api/v1/verifications", headers=bearer(secret)).json["items"]] == [ver.id]
    for path in ("/api/v1/merchants", "/api/v1/inspections", "/api/v1/findings", "/api/v1/rectifications",
                 "/api/v1/alerts"):
        assert_problem(client.get(path, headers=bearer(secret)), 403, path)
    assert_problem(client.post("/api/v1/instruments", json={"instruments": []}, headers=bearer(secret)), 403)


def test_keyset_walk_returns_every_row_once_while_rows_change(app, client, session, world):
    """Walk 25 instruments 4 at a time with updated_since; between pages change rows already returned and rows
    not reached yet. Every unchanged row comes exactly once, no row is skipped, and a changed row's last
    appearance carries its newest values."""
    since = utcnow()
    made = [factories.instrument(session, world.merchant_a, serial=f"K-{n:03d}") for n in range(25)]
    session.commit()
    _t, secret = issue(session, TokenScope.READ, [world.station_a])
    seen: list[dict] = []
    cursor, pages, changed = None, 0, {}
    while True:
        query = f"/api/v1/instruments?limit=4&updated_since={since.isoformat().replace('+00:00', 'Z')}"
        resp = client.get(query + (f"&cursor={cursor}" if cursor else ""), headers=bearer(secret))
        assert resp.status_code == 200, resp.get_data(as_text=True)
        page = resp.json
        seen += page["items"]
        pages += 1
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
        if pages in (2, 3):
            # One row already returned and one far ahead: both change between pages.
            for inst in (made[pages * 4 - 3], made[-pages]):
                row = session.get(Instrument, inst.id)
                row.location = f"第{pages}页后修改"
                changed[row.id] = row.location
            session.commit()
    by_id: dict[int, list[dict]] = {}
    for item in seen:
        by_id.setdefault(item["id"], []).append(item)
    assert set(by_id) == {i.id for i in made}, "a row was skipped"
    for row_id, items in by_id.items():
        if row_id not in changed:
            assert len(items) == 1, f"unchanged row {row_id} returned {len(items)} times"
        else:
            assert items[-1]["location"] == changed[row_id], "a changed row's newest values never came"
    assert [i["updated_at"] for i in seen] == sorted(i["updated_at"] for i in seen)
    assert pages >= 7


def test_every_error_under_api_is_problem_json(app, client, session, world):
    _t, secret = issue(session, TokenScope.READ, [world.station_a])
    auth = bearer(secret)
    assert_problem(client.get("/api/v1/no-such-thing", headers=auth), 404)
    assert_problem(client.get("/api/v2/instruments"), 404)
    assert_problem(client.delete("/api/v1/instruments", headers=auth), 405)
    assert_problem(client.post("/api/v1/merchants", headers=auth), 405)
    body = assert_problem(client.get("/api/v1/instruments?limit=5000", headers=auth), 422)
    assert "limit" in json.dumps(body["errors"])
    assert_problem(client.get("/api/v1/instruments?updated_since=yesterday", headers=auth), 422)
    assert_problem(client.get("/api/v1/instruments?cursor=not-a-cursor", headers=auth), 400)
    assert_problem(client.get("/api/v1/instruments?station_id=%00", headers=auth), 400)  # the input guard
    assert_problem(client.get("/api/v1/instruments?station_id=99999999999", headers=auth), 400)
    # The app's HTML pages are unchanged for everything else.
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html" and "页面或记录不存在" in page.get_data(as_text=True)


def test_too_large_csrf_rate_limit_and_500_are_problem_json(database_url):
    app = fresh_app(database_url, MAX_CONTENT_LENGTH=2000, WTF_CSRF_ENABLED=True, PROPAGATE_EXCEPTIONS=False)

    def boom():
        raise RuntimeError("a bug")

    app.add_url_rule("/api/v1/boom", "api_boom", boom)
    try:
        with app.extensions["database"].session_scope() as s:
            w = factories.build_world(s)
            _t, write = issue(s, TokenScope.WRITE, [w.station_a], name="写")
            _t, slow = issue(s, TokenScope.READ, [w.station_a], rate=2, name="限速")
        client = app.test_client()
        assert_problem(client.post("/api/v1/instruments", data="x" * 5000, headers=bearer(write),
                                   content_type="application/json"), 413)
        # CSRF does not apply to a bearer token: a write without any CSRF token reaches the view (422: empty batch).
        assert_problem(client.post("/api/v1/instruments", json={"instruments": []}, headers=bearer(write)), 422)
        assert client.get("/api/v1/merchants", headers=bearer(slow)).status_code == 200
        assert client.get("/api/v1/merchants", headers=bearer(slow)).status_code == 200
        limited = client.get("/api/v1/merchants", headers=bearer(slow))
        assert_problem(limited, 429)
        assert 1 <= int(limited.headers["Retry-After"]) <= 61
        # Another token keeps its own budget.
        assert client.get("/api/v1/merchants", headers=bearer(write)).status_code == 200
        assert_problem(client.get("/api/v1/boom"), 500)
    finally:
        app.extensions["database"].dispose()


def test_calls_use_no_session_cookie_and_are_audited_under_the_tokens_name(app, client, session, world):
    token, secret = issue(session, TokenScope.READ, [world.station_a], name="县自来水公司只读")
    login(client, "admin1")
    resp = client.get("/api/v1/instruments")  # a logged-in browser's cookie is not an API credential
    assert_problem(resp, 401)
    resp = client.get("/api/v1/instruments?limit=5", headers=bearer(secret))
    assert resp.status_code == 200 and "Set-Cookie" not in resp.headers
    client.get("/api/v1/merchants", headers=bearer(secret))
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "api_call")
                              .order_by(AuditEntry.id)).all()
    assert [e.actor for e in entries] == ["API 令牌“县自来水公司只读”"] * 2
    assert entries[0].note == "GET /api/v1/instruments?limit=5 → 200" and entries[0].entity_id == token.id
    session.expire_all()
    first_use = session.get(ApiToken, token.id).last_used_at
    assert first_use is not None
    # Within a minute the second call did not write last_used_at again.
    assert session.get(ApiToken, token.id).last_used_at == first_use
    assert session.get(ApiToken, token.id).version == 1


def test_write_token_registers_instruments_row_by_row_and_idempotently(app, client, session, world):
    _t, secret = issue(session, TokenScope.WRITE, [world.station_a], name="读写")
    kind = world.instrument_a.type_id
    batch = {"instruments": [
        {"type_id": kind, "merchant_id": world.merchant_a.id, "serial_no": "W-1"},
        {"type_id": kind, "merchant_id": world.merchant_a.id, "serial_no": "A-001"},  # registered already
        {"type_id": kind, "merchant_id": world.merchant_b.id, "serial_no": "W-2"},  # another station's merchant
        {"type_id": kind, "merchant_id": world.merchant_a.id, "serial_no": "ｗ-1"},  # the first row again
    ]}
    headers = {**bearer(secret), "Idempotency-Key": "4b0c1f0e-0000-4000-8000-000000000001"}
    resp = client.post("/api/v1/instruments", json=batch, headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    out = resp.json
    assert [r["outcome"] for r in out["rows"]] == ["created", "refused", "refused", "refused"]
    assert out["created"] == 1 and out["refused"] == 3 and all(CJK.search(r["errors"][0]) for r in out["rows"][1:])
    new = session.get(Instrument, out["rows"][0]["id"])
    assert new.station_id == world.station_a.id and new.status.value == "in_use" and new.serial_no == "W-1"
    count = session.scalar(select(func.count()).select_from(Instrument))
    again = client.post("/api/v1/instruments", json=batch, headers=headers)
    assert again.status_code == 200 and again.json == out
    assert session.scalar(select(func.count()).select_from(Instrument)) == count
    assert session.scalar(select(func.count()).select_from(IdempotentRequest)) == 1
    other = {"instruments": [{"type_id": kind, "merchant_id": world.merchant_a.id, "serial_no": "W-9"}]}
    assert_problem(client.post("/api/v1/instruments", json=other, headers=headers), 422)
    assert_problem(client.post("/api/v1/instruments", json=other, headers={**bearer(secret), "Idempotency-Key": "é"}),
                   400)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "instruments",
                                                     AuditEntry.action == "create")
                            .order_by(AuditEntry.id.desc())).first()
    assert entry.actor == "API 令牌“读写”"


def test_a_utility_companys_token_registers_only_its_own_meters(app, client, session, world):
    water = factories.merchant(session, world.station_a, "县自来水公司")
    session.commit()
    _t, secret = issue(session, TokenScope.WRITE, [world.station_a], merchant=water.id, name="自来水公司")
    meter = factories.kind(session, "elec_price_scale").id
    resp = client.post("/api/v1/instruments", headers=bearer(secret), json={"instruments": [
        {"type_id": meter, "serial_no": "H-0001", "install_address": "幸福路 1 号 101 室"},
        {"type_id": meter, "serial_no": "H-0002", "merchant_id": world.merchant_a.id}]})
    rows = resp.json["rows"]
    assert [r["outcome"] for r in rows] == ["created", "refused"]
    assert session.get(Instrument, rows[0]["id"]).merchant_id == water.id
    _t, reader = issue(session, TokenScope.READ, [world.station_a], name="只读")
    assert_problem(client.post("/api/v1/instruments", headers=bearer(reader), json={"instruments": [
        {"type_id": meter, "serial_no": "H-0003"}]}), 403)


def test_openapi_document_and_docs_page(app, client):
    doc = client.get("/api/v1/openapi.json")
    assert doc.status_code == 200 and "Set-Cookie" not in doc.headers
    spec = doc.json
    assert spec["openapi"].startswith("3.") and spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    paths = spec["paths"]
    for path in ("/api/v1/merchants", "/api/v1/instruments", "/api/v1/verifications", "/api/v1/inspections",
                 "/api/v1/findings", "/api/v1/rectifications", "/api/v1/alerts"):
        op = paths[path]["get"]
        assert CJK.search(op["summary"]) and "default" in op["responses"], path
        assert {p["name"] for p in op["parameters"]} >= {"cursor", "limit", "updated_since"}, path
    assert "post" in paths["/api/v1/instruments"]
    props = spec["components"]["schemas"]["InstrumentOut"]["properties"]
    assert all(CJK.search(p.get("description", "")) for p in props.values())
    assert props["status"]["enum"] == ["in_use", "stopped", "scrapped", "replaced"]
    page = client.get("/api/v1/docs")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "swagger-ui-5.35.0.bundle.js" in html and "<script>" not in html
    assert "script-src 'self';" in page.headers["Content-Security-Policy"]
    for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert asset.startswith("/") and client.get(asset).status_code == 200, asset
    assert client.get("/api/v1/openapi.json").json["info"]["title"] == "计量器具监督管理系统开放接口"


def test_admin_issues_a_token_shown_once_and_revokes_it(app, client, session, world):
    login(client, "admin1")
    resp = client.post("/admin/api-tokens/new", data={
        "name": "县供水公司", "scope": "write", "station_ids": [str(world.station_a.id)], "body_id": "0",
        "merchant_id": str(world.merchant_a.id), "expires_on": (dt.date.today() + dt.timedelta(days=90)).isoformat(),
        "rate_per_minute": "120"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 201 and "只显示这一次" in html and resp.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="api-secret"[^>]*>(mt_[^<]+)<', html).group(1)
    token = session.scalars(select(ApiToken).where(ApiToken.name == "县供水公司")).one()
    assert token.token_hash == tokens.hash_secret(secret) and token.merchant_id == world.merchant_a.id
    listing = client.get("/admin/api-tokens/").get_data(as_text=True)
    assert token.prefix in listing and secret not in listing and "从未使用" in listing
    assert client.get("/api/v1/merchants", headers=bearer(secret)).status_code == 200
    assert "确认吊销" in client.get(f"/admin/api-tokens/{token.id}/revoke").get_data(as_text=True)
    assert client.post(f"/admin/api-tokens/{token.id}/revoke").status_code == 302
    assert_problem(client.get("/api/v1/merchants", headers=bearer(secret)), 401)
    assert "已吊销" in client.get("/admin/api-tokens/").get_data(as_text=True)
    # Refused forms say why, in Chinese: a station token without stations.
    resp = client.post("/admin/api-tokens/new", data={"name": "x", "scope": "read", "body_id": "0",
                                                      "expires_on": "2099-01-01", "rate_per_minute": "60"})
    assert "请至少选择一个站点" in resp.get_data(as_text=True)


def test_a_body_posts_results_matched_queued_refused_and_idempotent(app, client, session, world):
    """A body's token posts results: recorded on the matched instrument (its due date follows), the same
    certificate again changes nothing, an unknown serial becomes a lead, a changed certificate is refused."""
    from app.bodies import services as bodies
    from app.instruments.models import Verification
    from app.results.models import ResultLead

    body, _ = bodies.create_body(session, None, {"name": "县计量检定所"})
    session.commit()
    _t, secret = issue(session, TokenScope.INSTITUTION, body=body.id, name="县所报送")
    instrument = session.get(Instrument, world.instrument_a.id)
    verified_on = dt.date.today() - dt.timedelta(days=3)
    batch = {"results": [
        {"kind": instrument.type.code, "serial_no": instrument.serial_no, "verified_on": verified_on.isoformat(),
         "result": "pass", "certificate_no": "API-JD-1"},
        {"kind": "电子计价秤", "serial_no": "API-NEW-1", "verified_on": verified_on.isoformat(), "result": "fail",
         "certificate_no": "API-JD-2", "submitter": "城东菜场摊位9", "fail_reason": "示值超差"},
    ]}
    headers = {**bearer(secret), "Idempotency-Key": "results-0001"}
    resp = client.post("/api/v1/verifications", json=batch, headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    out = resp.json
    assert [r["outcome"] for r in out["rows"]] == ["recorded", "queued"]
    assert (out["recorded"], out["queued"], out["unchanged"], out["refused"]) == (1, 1, 0, 0)
    assert all(CJK.search(r["outcome_label"]) for r in out["rows"])
    ver = session.get(Verification, out["rows"][0]["verification_id"])
    assert ver.body_id == body.id and ver.certificate_no == "API-JD-1" and ver.instrument_id == instrument.id
    session.refresh(instrument)
    assert instrument.last_verified_on == verified_on and instrument.next_due_on > dt.date.today()
    lead = session.get(ResultLead, out["rows"][1]["lead_id"])
    assert lead is not None and lead.serial_no == "API-NEW-1"

    # The same key replays the answer; the same results under a new key change nothing either.
    assert client.post("/api/v1/verifications", json=batch, headers=headers).json == out
    again = client.post("/api/v1/verifications", json=batch, headers=bearer(secret)).json
    assert [r["outcome"] for r in again["rows"]] == ["unchanged", "queued"]
    assert again["rows"][1]["lead_id"] == out["rows"][1]["lead_id"]
    assert session.scalar(select(func.count()).select_from(Verification).where(
        Verification.certificate_no == "API-JD-1")) == 1

    # A stored certificate with other content is refused, in Chinese; a bad row is refused by the schema.
    changed = {"results": [{**batch["results"][0], "verified_on": (verified_on - dt.timedelta(days=1)).isoformat()}]}
    row = client.post("/api/v1/verifications", json=changed, headers=bearer(secret)).json["rows"][0]
    assert row["outcome"] == "refused" and CJK.search(row["reason"])
    assert_problem(client.post("/api/v1/verifications", json={"results": [{"kind": "x"}]}, headers=bearer(secret)),
                   422)
    too_many = {"results": [batch["results"][0]] * 1001}
    assert_problem(client.post("/api/v1/verifications", json=too_many, headers=bearer(secret)), 422)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "submit_results")
                            .order_by(AuditEntry.id.desc())).first()
    assert entry is not None and "县所报送" in entry.actor


def test_a_token_registers_lists_and_deletes_its_own_webhooks(app, client, session, world):
    """A token registers an address (the secret shown once), lists and deletes only its own; private
    addresses need the operator's allowance; an institution's token subscribes to verification events only."""
    from app.webhooks.models import WebhookSubscription

    token, secret = issue(session, TokenScope.READ, [world.station_a], name="甲所平台")
    _other, other_secret = issue(session, TokenScope.READ, [world.station_b], name="乙所平台")
    hook = {"url": "http://127.0.0.1:8099/hook", "event_types": ["instrument.updated", "verification.recorded"]}
    body = assert_problem(client.post("/api/v1/webhooks", json=hook, headers=bearer(secret)), 400)
    assert "内网" in body["detail"]
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    resp = client.post("/api/v1/webhooks", json=hook, headers=bearer(secret))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    made = resp.json
    assert made["secret"].startswith("whsec_") and made["event_types"] == hook["event_types"] and made["is_active"]
    stored = session.get(WebhookSubscription, made["id"])
    assert stored.token_id == token.id and stored.secret == made["secret"]
    listed = client.get("/api/v1/webhooks", headers=bearer(secret)).json["items"]
    assert [h["id"] for h in listed] == [made["id"]] and "secret" not in listed[0]
    assert client.get("/api/v1/webhooks", headers=bearer(other_secret)).json["items"] == []
    assert_problem(client.delete(f"/api/v1/webhooks/{made['id']}", headers=bearer(other_secret)), 404)
    assert_problem(client.post("/api/v1/webhooks", json={**hook, "event_types": ["instrument.exploded"]},
                               headers=bearer(secret)), 422)
    assert client.delete(f"/api/v1/webhooks/{made['id']}", headers=bearer(secret)).status_code == 204
    assert session.scalar(select(func.count()).select_from(WebhookSubscription)
                          .where(WebhookSubscription.id == made["id"])) == 0
    from app.bodies import services as bodies

    body_row, _ = bodies.create_body(session, None, {"name": "县计量检定所"})
    session.commit()
    _t, institution = issue(session, TokenScope.INSTITUTION, body=body_row.id, name="县所")
    assert_problem(client.post("/api/v1/webhooks", json=hook, headers=bearer(institution)), 400)
    ok = client.post("/api/v1/webhooks", json={**hook, "event_types": ["verification.recorded"]},
                     headers=bearer(institution))
    assert ok.status_code == 201, ok.get_data(as_text=True)
