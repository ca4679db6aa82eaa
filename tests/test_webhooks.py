"""Change notifications (webhooks) against a real HTTP receiver on 127.0.0.1: signed, delivered once with
retries, in order per record, captured in the change's own transaction (ORM and the import's bulk paths),
scoped to the token's stations or body, and never sent for a revoked token, a paused address, or a change
that was rolled back."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import threading
import time

import pytest
from sqlalchemy import func, select

from app.api.models import TokenScope
from app.db import utcnow
from app.errors import Invalid
from app.instruments import services as instruments
from app.instruments.models import Instrument, InstrumentStatus, Verification
from app.webhooks import services
from app.webhooks.jobs import deliver_now, deliver_webhooks
from app.webhooks.models import EVENT_TYPES, DeliveryStatus, WebhookEvent, WebhookSubscription
from tests import factories as f
from tests.conftest import login
from tests.test_import_pipeline import FIRST, Flow, xlsx
from tests.webhook_receiver import Receiver, api_token, closed_port_url

CONFIG = {"WEBHOOK_ALLOW_PRIVATE": True, "WEBHOOK_TIMEOUT_SECONDS": 0.5, "WEBHOOK_RETRY_BASE_SECONDS": 60,
          "WEBHOOK_MAX_ATTEMPTS": 3}
ALL_TYPES = list(EVENT_TYPES)
S = dt.timedelta(seconds=1)


@pytest.fixture()
def receiver():
    r = Receiver()
    yield r
    r.stop()


def subscribe(session, token, url, types=ALL_TYPES, config=CONFIG):
    subscription, secret = services.subscribe(session, None, token, url=url, event_types=types, config=config)
    session.commit()
    return subscription, secret


def deliver(session, now, config=CONFIG):
    return deliver_webhooks(session=session, now=now, config=config)


def outbox(session, subscription=None) -> list[WebhookEvent]:
    session.expire_all()
    stmt = select(WebhookEvent).order_by(WebhookEvent.id)
    if subscription is not None:
        stmt = stmt.where(WebhookEvent.subscription_id == subscription.id)
    return list(session.scalars(stmt))


def receiver_verifies(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The receiver's check exactly as docs/webhooks.md shows it (written independently of app code)."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


def edit(session, instrument, **values):
    base = {k: getattr(instrument, k) for k in instruments.FIELDS}
    instruments.update_instrument(session, None, f.ALL, instrument, expected_version=instrument.version,
                                  values={**base, **values})
    session.commit()


def test_a_change_is_signed_delivered_once_and_logged(app, session, world, receiver):
    token = api_token(session, "甲所数据平台", stations=[world.station_a])
    subscription, secret = subscribe(session, token, receiver.url)
    assert secret.startswith("whsec_") and subscription.secret == secret
    edit(session, world.instrument_a, location="东门 3 号摊位")
    [event] = outbox(session)
    assert (event.event_type, event.status, event.record_id) == ("instrument.updated", DeliveryStatus.PENDING,
                                                                 world.instrument_a.id)

    counts = deliver(session, utcnow())
    assert counts["delivered"] == 1
    [got] = receiver.received
    assert got["path"] == "/hooks/metrology?k=1"
    assert receiver_verifies(secret, got["headers"]["X-Metrology-Signature"], got["body"])
    assert not receiver_verifies("whsec_wrong", got["headers"]["X-Metrology-Signature"], got["body"])
    assert not receiver_verifies(secret, got["headers"]["X-Metrology-Signature"], got["body"] + b" ")
    payload = got["json"]
    assert payload["id"] == event.id and got["headers"]["X-Metrology-Event-Id"] == str(event.id)
    assert payload["type"] == got["headers"]["X-Metrology-Event"] == "instrument.updated"
    assert payload["record"] == {"type": "instrument", "id": world.instrument_a.id,
                                 "version": world.instrument_a.version}
    data = payload["data"]
    assert (data["serial_no"], data["location"], data["station_id"], data["status"], data["type_code"]) == (
        "A-001", "东门 3 号摊位", world.station_a.id, "in_use", "elec_price_scale")
    assert data["last_verified_on"] == "2024-01-10"
    assert dt.datetime.fromisoformat(payload["occurred_at"]).tzinfo is not None

    # Delivered once: later runs send nothing more.
    assert deliver(session, utcnow() + 3600 * S)["delivered"] == 0
    assert len(receiver.received) == 1
    [event] = outbox(session)
    assert (event.status, event.attempts, event.last_status_code) == (DeliveryStatus.DELIVERED, 1, 200)

    # A verification recorded: its own event, then the instrument's (its dates moved), in that order.
    f.verify(session, world.instrument_a, dt.date(2025, 1, 10), cert="JD-2025-9")
    session.commit()
    app.config.update(CONFIG)  # the command reads the app's config
    result = app.test_cli_runner().invoke(args=["webhooks", "deliver"])
    assert "已送达 2 条" in result.output, result.output
    types = [p["type"] for p in receiver.events()]
    assert types == ["instrument.updated", "verification.recorded", "instrument.updated"]
    recorded = receiver.events()[1]
    assert recorded["data"]["certificate_no"] == "JD-2025-9" and recorded["data"]["voided"] is False
    assert recorded["record"]["version"] is None

    # Voiding is its own event, with the reason.
    ver = session.get(Verification, recorded["record"]["id"])
    instruments.void_verification(session, None, ver, "证书号录错")
    session.commit()
    deliver(session, utcnow())
    voided = [p for p in receiver.events() if p["type"] == "verification.voided"]
    assert [(p["data"]["voided"], p["data"]["void_reason"]) for p in voided] == [(True, "证书号录错")]


def test_retries_after_500_timeout_and_refused_connection_then_gives_up(session, world, receiver):
    config = {**CONFIG, "WEBHOOK_MAX_ATTEMPTS": 4}
    token = api_token(session, "甲所数据平台", stations=[world.station_a])
    subscription, _ = subscribe(session, token, receiver.url, ["instrument.updated"])
    dead, _ = subscribe(session, token, closed_port_url(), ["instrument.updated"])
    receiver.script = ["500", "slow", "redirect"]
    edit(session, world.instrument_a, location="一号")
    t0 = utcnow()

    assert deliver(session, t0, config) == {"delivered": 0, "retry": 2, "failed": 0, "released": 0, "lost_claim": 0}
    [event] = outbox(session, subscription)
    assert (event.status, event.attempts, event.last_status_code) == (DeliveryStatus.PENDING, 1, 500)
    assert "500" in event.last_error and event.next_attempt_at == t0 + 60 * S
    [refused] = outbox(session, dead)
    assert "连接被拒绝" in refused.last_error
    assert deliver(session, t0 + 30 * S, config)["retry"] == 0  # not due yet: nothing is tried

    deliver(session, t0 + 61 * S, config)  # the receiver answers too late
    event = outbox(session, subscription)[0]
    assert (event.status, event.attempts, event.last_status_code) == (DeliveryStatus.PENDING, 2, None)
    assert "未应答" in event.last_error and event.next_attempt_at == t0 + 181 * S  # back-off doubled

    deliver(session, t0 + 200 * S, config)  # a redirect is not followed: it is a failed attempt
    event = outbox(session, subscription)[0]
    assert (event.status, event.attempts, event.last_status_code) == (DeliveryStatus.PENDING, 3, 302)
    assert receiver.received == []

    services.retry(session, subscription, event.id, now=t0 + 201 * S)  # the admin's 立即重发
    session.commit()
    deliver(session, t0 + 202 * S, config)
    assert [p["id"] for p in receiver.events()] == [event.id]
    assert outbox(session, subscription)[0].status == DeliveryStatus.DELIVERED

    # The refused one, after its fourth attempt: given up, shown as such, kept in the log; never sent twice.
    assert deliver(session, t0 + 10_000 * S, config)["failed"] == 1
    refused = outbox(session, dead)[0]
    assert (refused.status, refused.attempts) == (DeliveryStatus.FAILED, 4)
    assert len(receiver.received) == 1
    # A given-up event started over by the admin gets its attempts again.
    assert services.retry(session, dead) == 1
    session.commit()
    assert (outbox(session, dead)[0].status, outbox(session, dead)[0].attempts) == (DeliveryStatus.PENDING, 0)


def test_order_per_record_waits_for_an_earlier_failed_event(session, world, receiver):
    token = api_token(session, "甲所数据平台", stations=[world.station_a])
    subscribe(session, token, receiver.url, ["instrument.updated"])
    edit(session, world.instrument_a, location="一号")
    edit(session, world.instrument_a, location="二号")
    edit(session, session.get(Instrument, world.instrument_a.id), location="三号")
    receiver.script = ["500"]
    t0 = utcnow()
    deliver(session, t0)
    # The first failed; the later two of the same record wait for it.
    assert receiver.received == []
    assert [e.attempts for e in outbox(session)] == [1, 0, 0]
    deliver(session, t0 + 61 * S)
    assert [p["data"]["location"] for p in receiver.events()] == ["一号", "二号", "三号"]
    assert [p["record"]["version"] for p in receiver.events()] == sorted(p["record"]["version"]
                                                                         for p in receiver.events())

    # An event given up for good no longer holds the later ones back.
    receiver.script = ["500", "500", "500"]
    edit(session, session.get(Instrument, world.instrument_a.id), location="四号")
    edit(session, session.get(Instrument, world.instrument_a.id), location="五号")
    t1 = utcnow()
    for minutes in (0, 2, 5, 10):
        deliver(session, t1 + minutes * 60 * S)
    assert [e.status for e in outbox(session)[-2:]] == [DeliveryStatus.FAILED, DeliveryStatus.DELIVERED]
    assert receiver.events()[-1]["data"]["location"] == "五号"


def test_a_rolled_back_change_sends_nothing_and_no_subscription_costs_nothing(session, world, receiver):
    edit(session, world.instrument_a, location="没有订阅")
    assert outbox(session) == []  # no active subscription: nothing written

    token = api_token(session, "甲所数据平台", stations=[world.station_a])
    subscribe(session, token, receiver.url)
    instrument = session.get(Instrument, world.instrument_a.id)
    instrument.location = "回滚前"
    session.flush()
    assert [e.event_type for e in outbox(session)] == ["instrument.updated"]  # written in the same transaction
    session.rollback()
    assert outbox(session) == []
    deliver(session, utcnow())
    assert receiver.received == []


def test_scope_station_tokens_and_institution_tokens(session, world, receiver):
    from app.bodies import services as bodies

    body, _ = bodies.create_body(session, None, {"name": "甲县计量检定测试所"})
    other, _ = bodies.create_body(session, None, {"name": "乙县计量检定测试所"})
    b_receiver = Receiver()
    body_receiver = Receiver()
    try:
        a = api_token(session, "甲所", stations=[world.station_a])
        b = api_token(session, "乙所", stations=[world.station_b])
        inst = api_token(session, "检定所", TokenScope.INSTITUTION, body=body)
        session.commit()
        subscribe(session, a, receiver.url)
        subscribe(session, b, b_receiver.url)
        with pytest.raises(Invalid, match="检定机构令牌只能订阅检定记录"):
            services.subscribe(session, None, inst, url=body_receiver.url, event_types=ALL_TYPES, config=CONFIG)
        session.rollback()
        subscribe(session, inst, body_receiver.url, ["verification.recorded", "verification.voided"])

        edit(session, world.instrument_a, location="甲")
        edit(session, world.instrument_b, location="乙")
        for instrument, institution in ((world.instrument_a, "甲县计量检定测试所"), (world.instrument_b, "乙县计量检定测试所")):
            instruments.record_verification(session, None, session.get(Instrument, instrument.id), {
                "verified_on": dt.date(2025, 2, 1), "result": "pass", "institution": institution})
        session.commit()
        deliver(session, utcnow())

        assert {p["data"]["station_id"] for p in receiver.events()} == {world.station_a.id}
        assert {p["data"]["station_id"] for p in b_receiver.events()} == {world.station_b.id}
        assert len(receiver.events()) == len(b_receiver.events()) == 3
        # The body's token: only verifications it issued, no instrument events.
        [only] = body_receiver.events()
        assert (only["type"], only["data"]["body_id"], only["data"]["station_id"]) == (
            "verification.recorded", body.id, world.station_a.id)
        assert other.id not in {p["data"].get("body_id") for p in body_receiver.events()}
    finally:
        b_receiver.stop()
        body_receiver.stop()


def test_revoked_or_expired_tokens_and_paused_addresses_stop(session, world, receiver):
    token = api_token(session, "甲所数据平台", stations=[world.station_a])
    subscription, _ = subscribe(session, token, receiver.url)
    edit(session, world.instrument_a, location="吊销前")
    token.revoked_at = utcnow()
    session.commit()
    edit(session, session.get(Instrument, world.instrument_a.id), location="吊销后")
    assert len(outbox(session)) == 1  # nothing captured for a revoked token
    deliver(session, utcnow())
    assert receiver.received == []  # and what waited is not sent
    assert outbox(session)[0].status == DeliveryStatus.PENDING

    expiring = api_token(session, "临时", stations=[world.station_a], expires_at=utcnow() + 3600 * S)
    subscribe(session, expiring, receiver.url)
    edit(session, session.get(Instrument, world.instrument_a.id), location="过期前")
    deliver(session, utcnow() + 7200 * S)  # the token has expired by then
    assert receiver.received == []

    expiring.revoked_at = utcnow()
    live = api_token(session, "长期", stations=[world.station_a])
    paused, _ = subscribe(session, live, receiver.url)
    services.set_active(session, None, paused, False)
    session.commit()
    edit(session, session.get(Instrument, world.instrument_a.id), location="暂停中")
    assert outbox(session, paused) == []
    services.set_active(session, None, paused, True)
    session.commit()
    edit(session, session.get(Instrument, world.instrument_a.id), location="恢复后")
    deliver(session, utcnow())
    assert [p["data"]["location"] for p in receiver.events()] == ["恢复后"]


def test_import_apply_and_undo_enqueue_events_set_based(app, session, world, receiver, tmp_path):
    token = api_token(session, "甲所数据平台", stations=[world.station_a])
    subscription, _ = subscribe(session, token, receiver.url)
    flow = Flow(app, world, tmp_path / "uploads")
    batch_id = flow.run(xlsx(tmp_path, FIRST))
    created = {(e.event_type, e.record_id) for e in outbox(session)}
    new_instruments = set(session.scalars(select(Instrument.id).where(Instrument.id.not_in(
        [world.instrument_a.id, world.instrument_b.id]))))
    new_verifications = set(session.scalars(select(Verification.id).where(
        Verification.instrument_id.in_(new_instruments))))
    assert len(new_instruments) == len(new_verifications) == 4
    assert {i for t, i in created if t == "instrument.created"} == new_instruments
    assert {i for t, i in created if t == "verification.recorded"} == new_verifications
    serials = {e.data["serial_no"] for e in outbox(session) if e.event_type == "instrument.created"}
    assert serials == {"S-001", "S-002", "F-001", "T-001"}
    assert {e.data["certificate_no"] for e in outbox(session) if e.event_type == "verification.recorded"} == {
        "JD-001", "", "JD-003", "JD-004"}

    flow.undo(batch_id)
    deleted = [e for e in outbox(session) if e.event_type.endswith(".deleted")]
    assert {(e.event_type, e.record_id) for e in deleted} == (
        {("instrument.deleted", i) for i in new_instruments} | {("verification.deleted", i) for i in new_verifications})
    deliver(session, utcnow())
    sent = receiver.events()
    assert len(sent) == 16
    # Per record, created before deleted.
    for record in new_instruments:
        assert [p["type"] for p in sent if p["record"] == {"type": "instrument", "id": record, "version": 1}] == [
            "instrument.created", "instrument.deleted"]
    assert session.scalar(select(func.count()).select_from(WebhookEvent).where(
        WebhookEvent.status != DeliveryStatus.DELIVERED)) == 0


def test_addresses_are_checked(session, world, receiver, monkeypatch):
    token = api_token(session, "甲所数据平台", stations=[world.station_a])
    session.commit()
    strict = {"WEBHOOK_ALLOW_PRIVATE": False}
    for url, message in (("ftp://example.com/x", "http:// 或 https://"), ("http:///nohost", "缺少主机名"),
                         ("https://user:pw@example.com/", "用户名或密码"), ("", "请填写接收地址"),
                         ("http://127.0.0.1:8080/", "内网或本机地址"), ("http://10.1.2.3/", "内网或本机地址"),
                         ("http://169.254.169.254/latest", "内网或本机地址"), ("http://[::1]/", "内网或本机地址"),
                         ("http://localhost/", "内网或本机地址")):
        with pytest.raises(Invalid, match=message):
            services.subscribe(session, None, token, url=url, event_types=ALL_TYPES, config=strict)
    with pytest.raises(Invalid, match="至少选择一种"):
        services.subscribe(session, None, token, url=receiver.url, event_types=[], config=CONFIG)
    with pytest.raises(Invalid, match="未知的事件类型"):
        services.subscribe(session, None, token, url=receiver.url, event_types=["instrument.exploded"],
                           config=CONFIG)
    session.rollback()

    # Allowed when registered, refused when sent once private addresses are no longer allowed.
    subscribe(session, token, receiver.url)
    edit(session, world.instrument_a, location="内网")
    deliver(session, utcnow(), strict)
    [event] = outbox(session)
    assert "地址被拒绝" in event.last_error and receiver.received == []


@pytest.mark.commits
def test_two_deliverers_at_once_send_each_event_once(app, receiver):
    database = app.extensions["database"]
    with database.session_scope() as session:
        station = f.station(session, "A")
        merchant = f.merchant(session, station, "甲市场摊位1")
        token = api_token(session, "甲所数据平台", stations=[station])
        services.subscribe(session, None, token, url=receiver.url, event_types=["instrument.created"], config=CONFIG)
        for n in range(30):
            f.instrument(session, merchant, serial=f"C-{n:03d}")
    config = {**CONFIG, "WEBHOOK_BATCH_SIZE": 4}
    results, errors = [], []

    def run():
        try:
            results.append(deliver_now(database, config=config))
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ids = [p["id"] for p in receiver.events()]
    assert len(ids) == 30 and len(set(ids)) == 30
    assert sum(r["delivered"] for r in results) == 30


def test_admin_pages(app, client, session, world, receiver):
    app.config.update(CONFIG)
    token = api_token(session, "甲所数据平台", stations=[world.station_a])
    session.commit()
    login(client, "admin1")
    assert "登记接收地址" in client.get("/admin/webhooks/").get_data(as_text=True)
    resp = client.post("/admin/webhooks/new", data={"token_id": token.id, "url": "ftp://x", "event_types": []})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "http:// 或 https://" in page and "请选择事件类型" in page
    resp = client.post("/admin/webhooks/new", data={"token_id": token.id, "url": receiver.url,
                                                   "event_types": ["instrument.updated"], "description": "数据平台"})
    assert resp.status_code == 302
    detail = resp.headers["Location"]
    [subscription] = session.scalars(select(WebhookSubscription)).all()
    first = client.get(detail).get_data(as_text=True)
    assert subscription.secret in first  # shown once ...
    assert subscription.secret not in client.get(detail).get_data(as_text=True)  # ... and never again
    assert subscription.secret not in client.get("/admin/webhooks/").get_data(as_text=True)

    edit(session, world.instrument_a, location="页面")
    receiver.script = ["500"]
    deliver(session, utcnow())
    page = client.get(detail).get_data(as_text=True)
    assert "状态码 500" in page and "立即重发" in page
    [event] = outbox(session)
    assert client.post(f"{detail}/events/{event.id}/retry").status_code == 302
    deliver(session, utcnow() + S)
    assert outbox(session)[0].status == DeliveryStatus.DELIVERED
    again = client.post(f"{detail}/events/{event.id}/retry", follow_redirects=True).get_data(as_text=True)
    assert "该通知已送达或正在发送，无需重发" in again
    missing = client.post(f"{detail}/events/{event.id + 999}/retry", follow_redirects=True).get_data(as_text=True)
    assert "通知不存在" in missing
    assert "已送达" in client.get(f"{detail}?status=delivered").get_data(as_text=True)

    client.post(f"{detail}/pause")
    session.expire_all()
    assert subscription.is_active is False
    client.post(f"{detail}/resume")
    session.expire_all()
    assert subscription.is_active is True
    assert client.post(f"{detail}/delete").headers["Location"].endswith("/admin/webhooks/")
    assert session.scalars(select(WebhookEvent)).all() == []
    assert client.get(detail).status_code == 404


def test_retired_and_moved_instruments_and_linked_verifications_are_captured(session, world, receiver):
    from app.bodies import services as bodies
    from app.merchants import services as merchants

    token = api_token(session, "两所", stations=[world.station_a, world.station_b])
    subscribe(session, token, receiver.url)
    edit(session, world.instrument_a, status=InstrumentStatus.SCRAPPED)
    merchant = world.merchant_a
    values = {k: getattr(merchant, k) for k in merchants.FIELDS}
    merchants.update_merchant(session, None, f.ALL, merchant, expected_version=merchant.version,
                              values={**values, "station_id": world.station_b.id})
    session.commit()
    instruments.record_verification(session, None, session.get(Instrument, world.instrument_b.id), {
        "verified_on": dt.date(2025, 3, 1), "result": "pass", "institution": "丙县计量所"})
    session.commit()
    body, _ = bodies.create_body(session, None, {"name": "丙县计量所"})
    session.commit()
    events = [(e.event_type, e.record_id) for e in outbox(session)]
    assert ("instrument.retired", world.instrument_a.id) in events
    moved = [e for e in outbox(session) if e.event_type == "instrument.updated" and e.record_id == world.instrument_a.id]
    assert moved[-1].data["station_id"] == world.station_b.id
    linked = [e for e in outbox(session) if e.event_type == "verification.updated"]
    assert [e.data["body_id"] for e in linked] == [body.id]


def test_submitted_results_enqueue_the_verification_and_the_instruments_new_dates(session, world, receiver):
    """A body's result (file or API) is a recorded verification and a changed due date for subscribers."""
    from app.results.services import ResultRow, submit_results

    token = api_token(session, "甲所数据平台", stations=[world.station_a])
    subscription, _ = subscribe(session, token, receiver.url)
    session.commit()
    instrument = world.instrument_a
    out = submit_results(session, [ResultRow(kind=instrument.type.code, serial_no=instrument.serial_no,
                                             verified_on=dt.date.today(), certificate_no="WH-RESULT-1", row=1)],
                         body=None, station_id=None, actor=None, actor_label="测试", today=dt.date.today())
    session.commit()
    assert out[0].outcome == "recorded"
    events = {(e.event_type, e.record_id) for e in outbox(session, subscription)}
    assert ("verification.recorded", out[0].verification_id) in events
    assert ("instrument.updated", instrument.id) in events
