"""The outbox and its delivery against a real SMTP server on loopback (aiosmtpd): accepted messages are
marked sent once, refusals keep them queued with exponential back-off until the server takes them, and
without a server configured they wait in the outbox the admin can read."""
from __future__ import annotations

import datetime as dt
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from app.mail import services
from app.mail.jobs import deliver_now, deliver_outbox
from app.mail.models import MessageStatus, OutboxMessage
from tests.conftest import login

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 6, 1, 0, 30, tzinfo=UTC)
SUBJECT = "【计量监管台账】甲所 2026-06-01 预警日报：新增 1 条，未解除 3 条"
BODY = "甲所：\n\n  [已超期] 电子计价秤 A-001，甲市场摊位1，日期 2025-01-10\n"


class Inbox:
    """An aiosmtpd handler that keeps what it accepts; set `rcpt_reply` / `data_reply` to refuse."""

    def __init__(self) -> None:
        self.received: list = []
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.received.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def smtp():
    """A real SMTP server on 127.0.0.1 and the config pointing at it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.config = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": controller.port, "MAIL_FROM": "计量监管台账 <noreply@example.com>",
                    "SMTP_TIMEOUT": 5, "MAIL_RETRY_BASE_SECONDS": 60, "MAIL_RETRY_MAX_SECONDS": 3600}
    yield inbox
    controller.stop()


def queued(session, to="insp_a@example.com") -> OutboxMessage:
    msg = services.enqueue(session, to, SUBJECT, BODY, category="alert_digest", now=NOW)
    session.commit()
    return msg


def deliver(session, now, config):
    return deliver_outbox(session=session, now=now, config=config)


def reload(session, msg) -> OutboxMessage:
    session.expire_all()
    return session.get(OutboxMessage, msg.id)


def test_delivery_marks_sent_once(app, session, smtp):
    msg = queued(session)
    counts = deliver(session, NOW, smtp.config)
    assert counts["sent"] == 1 and counts["retry"] == 0
    assert len(smtp.received) == 1
    rcpt, email = smtp.received[0]
    assert rcpt == ["insp_a@example.com"]
    assert email["Subject"] == SUBJECT and email.get_content() == BODY
    assert email["Message-ID"] == msg.message_id and "noreply@example.com" in email["From"]
    msg = reload(session, msg)
    assert (msg.status, msg.sent_at, msg.attempts, msg.claim_token) == (MessageStatus.SENT, NOW, 1, None)
    # Nothing is sent twice.
    assert deliver(session, NOW + dt.timedelta(hours=1), smtp.config)["sent"] == 0
    assert len(smtp.received) == 1


@pytest.mark.parametrize("where,reply", [("rcpt", "550 5.1.1 用户不存在 mailbox unavailable"),
                                         ("data", "451 4.3.0 try again later")])
def test_a_refusing_server_leaves_the_message_queued(session, smtp, where, reply):
    setattr(smtp, f"{where}_reply", reply)
    msg = queued(session)
    counts = deliver(session, NOW, smtp.config)
    assert counts["sent"] == 0 and counts["retry"] == 1
    assert smtp.received == []
    msg = reload(session, msg)
    assert msg.status == MessageStatus.PENDING and msg.attempts == 1 and msg.sent_at is None
    assert reply.split()[0] in msg.last_error
    assert msg.next_attempt_at == NOW + dt.timedelta(seconds=60)


def test_retries_back_off_until_the_server_accepts(session, smtp):
    smtp.data_reply = "451 4.3.0 try again later"
    msg = queued(session)
    t = NOW
    deliver(session, t, smtp.config)
    dues = [reload(session, msg).next_attempt_at]
    # Not yet due: nothing is tried.
    assert deliver(session, dues[-1] - dt.timedelta(seconds=1), smtp.config)["retry"] == 0
    assert reload(session, msg).attempts == 1
    for _ in range(2):
        t = dues[-1]
        assert deliver(session, t, smtp.config)["retry"] == 1
        dues.append(reload(session, msg).next_attempt_at)
    # 60 s, then 120 s, then 240 s after each failed attempt.
    assert [(b - a).total_seconds() for a, b in zip([NOW] + dues[:-1], dues)] == [60, 120, 240]
    smtp.data_reply = None
    counts = deliver(session, dues[-1], smtp.config)
    assert counts == {"sent": 1, "retry": 0, "released": 0, "lost_claim": 0}
    msg = reload(session, msg)
    assert (msg.status, msg.attempts, msg.sent_at) == (MessageStatus.SENT, 4, dues[-1])
    assert len(smtp.received) == 1


def test_back_off_is_capped():
    config = {"MAIL_RETRY_BASE_SECONDS": 60, "MAIL_RETRY_MAX_SECONDS": 3600}
    assert [services.retry_delay(n, config).total_seconds() for n in (1, 2, 3, 6, 7, 20)] == [60, 120, 240, 1920,
                                                                                             3600, 3600]


def test_an_unreachable_server_keeps_the_message(session):
    msg = queued(session)
    config = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": free_port(), "SMTP_TIMEOUT": 2}
    assert deliver(session, NOW, config)["retry"] == 1
    msg = reload(session, msg)
    assert msg.status == MessageStatus.PENDING and msg.last_error


def test_two_senders_never_hold_the_same_message(app, session):
    queued(session)
    database = app.extensions["database"]
    first, second = database.session_factory(), database.session_factory()
    try:
        mine = services.claim(first, now=NOW, token="a" * 32, limit=10)
        first.commit()
        theirs = services.claim(second, now=NOW, token="b" * 32, limit=10)
        second.commit()
        assert len(mine) == 1 and theirs == []
        # Only the holder of the claim can mark it sent.
        assert services.record_sent(second, mine[0], "b" * 32, NOW) is False
        second.commit()
        assert services.record_sent(first, mine[0], "a" * 32, NOW) is True
        first.commit()
    finally:
        first.close()
        second.close()


def test_a_sender_that_died_mid_send_is_taken_over(session, smtp):
    msg = queued(session)
    services.claim(session, now=NOW, token="c" * 32, limit=10)
    session.commit()  # ... and the process stops before sending.
    assert deliver(session, NOW + dt.timedelta(minutes=5), smtp.config)["sent"] == 0  # still held
    counts = deliver(session, NOW + dt.timedelta(minutes=11), smtp.config)
    assert counts["released"] == 1 and counts["sent"] == 1
    assert reload(session, msg).status == MessageStatus.SENT and len(smtp.received) == 1


def test_without_smtp_the_message_waits_in_the_outbox(app, client, session, world):
    msg = queued(session)
    assert deliver_now(app.extensions["database"], now=NOW, config={}) == {"sent": 0, "retry": 0, "released": 0,
                                                                          "lost_claim": 0}
    msg = reload(session, msg)
    assert msg.status == MessageStatus.PENDING and msg.attempts == 0
    login(client, "admin1")
    page = client.get("/admin/outbox").get_data(as_text=True)
    assert "尚未配置发送服务器" in page and SUBJECT in page and "insp_a@example.com" in page
    page = client.get(f"/admin/outbox/{msg.id}").get_data(as_text=True)
    assert "[已超期] 电子计价秤 A-001" in page and "待发送" in page


def test_enqueue_refuses_a_bad_address(session):
    from app.errors import Invalid

    with pytest.raises(Invalid):
        services.enqueue(session, "not an address", SUBJECT, BODY)
    assert session.scalars(select(OutboxMessage)).all() == []
