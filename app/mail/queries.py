"""Named outbox queries: the sender's guarded claims and updates, and the admin's lists."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, Update, func, select, update

from app.mail.models import MessageStatus, OutboxMessage

T = OutboxMessage.__table__
PENDING, SENDING, SENT = (s.value for s in (MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.SENT))


def claim_due(now: dt.datetime, token: str, limit: int) -> Update:
    """Mark up to `limit` due pending messages as 'sending' under a claim token.

    The status stays in the outer WHERE: a row another sender claimed first no longer matches when this
    UPDATE reaches it (PostgreSQL re-checks the condition after waiting for the row lock; SQLite has
    one writer), so two senders never hold the same message.
    """
    due = (select(T.c.id).where(T.c.status == PENDING, T.c.next_attempt_at <= now)
           .order_by(T.c.next_attempt_at, T.c.id).limit(limit))
    return (update(T).where(T.c.id.in_(due), T.c.status == PENDING)
            .values(status=SENDING, claim_token=token, claimed_at=now, attempts=T.c.attempts + 1, updated_at=now))


def claimed(token: str) -> Select:
    """The messages held under a claim token, oldest first."""
    # populate_existing: the UPDATE changed attempts and status behind the identity map's back.
    return (select(OutboxMessage).where(OutboxMessage.claim_token == token,
                                        OutboxMessage.status == MessageStatus.SENDING)
            .order_by(OutboxMessage.id).execution_options(populate_existing=True))


def mark_sent(message_id: int, token: str, now: dt.datetime) -> Update:
    """Record that the server accepted a message (only by the sender holding the claim)."""
    return (update(T).where(T.c.id == message_id, T.c.claim_token == token, T.c.status == SENDING)
            .values(status=SENT, sent_at=now, claim_token=None, last_error="", updated_at=now))


def mark_retry(message_id: int, token: str, now: dt.datetime, next_attempt_at: dt.datetime, error: str) -> Update:
    """Put a refused message back in the queue for a later attempt."""
    return (update(T).where(T.c.id == message_id, T.c.claim_token == token, T.c.status == SENDING)
            .values(status=PENDING, next_attempt_at=next_attempt_at, last_error=error[:2000], claim_token=None,
                    updated_at=now))


def release_stale(before: dt.datetime, now: dt.datetime) -> Update:
    """Return to the queue the messages whose sender stopped before finishing (claimed before `before`)."""
    return (update(T).where(T.c.status == SENDING, T.c.claimed_at < before)
            .values(status=PENDING, claim_token=None, next_attempt_at=now, updated_at=now,
                    last_error="上次发送未完成（发送进程中断），已重新排队"))


def outbox_list(status: str | None = None) -> Select:
    """Outbox messages, newest first, optionally of one status."""
    stmt = select(OutboxMessage)
    if status:
        stmt = stmt.where(OutboxMessage.status == MessageStatus(status))
    return stmt.order_by(OutboxMessage.id.desc())


def counts_by_status() -> Select:
    """(status, count) over the outbox."""
    return select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
