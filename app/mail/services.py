"""Writing to the outbox and the sender's bookkeeping (flush, never commit; no Flask).

Delivery itself, which must commit around each SMTP conversation, is in app/mail/delivery.py.
"""
from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from app.db import utcnow
from app.errors import Invalid, NotFound
from app.mail import queries
from app.mail.models import OutboxMessage

ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
DEFAULTS = {"MAIL_RETRY_BASE_SECONDS": 60, "MAIL_RETRY_MAX_SECONDS": 6 * 3600,
            "MAIL_BATCH_SIZE": 100, "MAIL_CLAIM_TIMEOUT_SECONDS": 600}


def setting(config: Mapping[str, Any], name: str) -> int:
    """A numeric mail setting from the config, else its default."""
    value = config.get(name)
    return int(value) if value not in (None, "") else DEFAULTS[name]


def enqueue(session: Session, to: str, subject: str, body: str, *, category: str = "", user_id: int | None = None,
            station_id: int | None = None, now: dt.datetime | None = None,
            attachment: tuple[str, bytes] | None = None) -> OutboxMessage:
    """Write one message (optionally with one attached file: name, bytes) to the outbox, due now."""
    to = (to or "").strip()
    if not ADDRESS.match(to):
        raise Invalid(f"收件人邮箱“{to}”格式不正确", field="to")
    now = now or utcnow()
    message = OutboxMessage(to_addr=to, subject=subject, body=body, category=category, user_id=user_id,
                            station_id=station_id, next_attempt_at=now, created_at=now, updated_at=now,
                            attachment_name=attachment[0] if attachment else "",
                            attachment=attachment[1] if attachment else None)
    session.add(message)
    session.flush()
    return message


def new_claim_token() -> str:
    """A random token that marks one sender's claim."""
    return secrets.token_hex(16)


def claim(session: Session, *, now: dt.datetime, token: str, limit: int) -> list[OutboxMessage]:
    """Claim up to `limit` due messages for this sender and return them."""
    session.execute(queries.claim_due(now, token, limit))
    return list(session.scalars(queries.claimed(token)))


def retry_delay(attempts: int, config: Mapping[str, Any]) -> dt.timedelta:
    """Exponential back-off: base, 2×base, 4×base ... after the 1st, 2nd, 3rd failed attempt, capped."""
    base, cap = setting(config, "MAIL_RETRY_BASE_SECONDS"), setting(config, "MAIL_RETRY_MAX_SECONDS")
    return dt.timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def record_sent(session: Session, message: OutboxMessage, token: str, now: dt.datetime) -> bool:
    """Mark a claimed message sent; False when the claim was lost meanwhile."""
    return session.execute(queries.mark_sent(message.id, token, now)).rowcount == 1


def record_failure(session: Session, message: OutboxMessage, token: str, now: dt.datetime, error: str,
                   config: Mapping[str, Any]) -> dt.datetime:
    """Queue a refused message again for a later attempt with back-off; returns when it is due.

    It is never given up: a message that cannot be delivered stays queued (at most
    MAIL_RETRY_MAX_SECONDS apart) with its last error on the admin's outbox page.
    """
    due = now + retry_delay(message.attempts, config)
    session.execute(queries.mark_retry(message.id, token, now, due, error))
    return due


def release_stale_claims(session: Session, *, now: dt.datetime, config: Mapping[str, Any]) -> int:
    """Requeue messages a stopped sender left 'sending' for longer than the claim timeout."""
    before = now - dt.timedelta(seconds=setting(config, "MAIL_CLAIM_TIMEOUT_SECONDS"))
    return session.execute(queries.release_stale(before, now)).rowcount


def get_message(session: Session, message_id: int) -> OutboxMessage:
    """An outbox message by id, else NotFound."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound("邮件不存在")
    return message

