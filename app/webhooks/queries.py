"""Named webhook queries: the deliverer's guarded claims and updates, and the admin's lists."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, Update, and_, case, exists, func, select, update
from sqlalchemy.orm import aliased

from app.api.models import ApiToken
from app.webhooks.models import DeliveryStatus, WebhookEvent, WebhookSubscription

T, S, K = WebhookEvent.__table__, WebhookSubscription.__table__, ApiToken.__table__
PENDING, SENDING, DELIVERED, FAILED = (s.value for s in DeliveryStatus)


def claim_due(now: dt.datetime, token: str, limit: int) -> Update:
    """Mark up to `limit` due pending events 'sending' under a claim token.

    Only events of active subscriptions whose token is neither revoked nor expired, and only the first
    undelivered event of each record for a subscription: a later one waits while an earlier one is pending
    or being sent (order per record). The status stays in the outer WHERE, so of two deliverers racing for
    a row only one gets it (PostgreSQL re-checks the condition after the row lock; SQLite has one writer).
    """
    earlier = aliased(T)
    waiting = exists().where(earlier.c.subscription_id == T.c.subscription_id,
                             earlier.c.record_type == T.c.record_type, earlier.c.record_id == T.c.record_id,
                             earlier.c.id < T.c.id, earlier.c.status.in_((PENDING, SENDING)))
    due = (select(T.c.id).join(S, and_(S.c.id == T.c.subscription_id, S.c.is_active.is_(True)))
           .join(K, and_(K.c.id == S.c.token_id, K.c.revoked_at.is_(None), K.c.expires_at > now))
           .where(T.c.status == PENDING, T.c.next_attempt_at <= now, ~waiting)
           .order_by(T.c.id).limit(limit))
    return (update(T).where(T.c.id.in_(due), T.c.status == PENDING)
            .values(status=SENDING, claim_token=token, claimed_at=now, attempts=T.c.attempts + 1, updated_at=now))


def claimed(token: str) -> Select:
    """The events held under a claim token, oldest first, with their subscriptions."""
    # populate_existing: the UPDATE changed attempts and status behind the identity map's back.
    return (select(WebhookEvent).where(WebhookEvent.claim_token == token,
                                       WebhookEvent.status == DeliveryStatus.SENDING)
            .order_by(WebhookEvent.id).execution_options(populate_existing=True))


def mark_delivered(event_id: int, token: str, now: dt.datetime, status_code: int) -> Update:
    """Record that the receiver accepted an event (only by the deliverer holding the claim)."""
    return (update(T).where(T.c.id == event_id, T.c.claim_token == token, T.c.status == SENDING)
            .values(status=DELIVERED, delivered_at=now, last_attempt_at=now, last_status_code=status_code,
                    claim_token=None, last_error="", updated_at=now))


def mark_attempt_failed(event_id: int, token: str, now: dt.datetime, *, next_attempt_at: dt.datetime | None,
                        status_code: int | None, error: str) -> Update:
    """Put a refused event back in the queue for later, or give it up (next_attempt_at None)."""
    return (update(T).where(T.c.id == event_id, T.c.claim_token == token, T.c.status == SENDING)
            .values(status=PENDING if next_attempt_at else FAILED, next_attempt_at=next_attempt_at or now,
                    last_attempt_at=now, last_status_code=status_code, last_error=error[:2000], claim_token=None,
                    updated_at=now))


def release_stale(before: dt.datetime, now: dt.datetime) -> Update:
    """Return to the queue the events whose deliverer stopped before finishing (claimed before `before`)."""
    return (update(T).where(T.c.status == SENDING, T.c.claimed_at < before)
            .values(status=PENDING, claim_token=None, next_attempt_at=now, updated_at=now,
                    last_error="上次发送未完成（发送进程中断），已重新排队"))


def retry_now(subscription_id: int, event_id: int | None, now: dt.datetime) -> Update:
    """Make one event (or every pending and failed event of a subscription) due now; a failed one starts over."""
    stmt = update(T).where(T.c.subscription_id == subscription_id, T.c.status.in_((PENDING, FAILED)))
    if event_id is not None:
        stmt = stmt.where(T.c.id == event_id)
    return stmt.values(status=PENDING, next_attempt_at=now, updated_at=now,
                       attempts=case((T.c.status == FAILED, 0), else_=T.c.attempts))


def subscriptions() -> Select:
    """Every subscription with its token, newest first."""
    return select(WebhookSubscription).order_by(WebhookSubscription.id.desc())


def subscriptions_of(token_id: int) -> Select:
    """One token's subscriptions, oldest first (what the API lists for it)."""
    return select(WebhookSubscription).where(WebhookSubscription.token_id == token_id).order_by(WebhookSubscription.id)


def counts_by_subscription() -> Select:
    """(subscription id, status, count) over the outbox."""
    return select(T.c.subscription_id, T.c.status, func.count()).group_by(T.c.subscription_id, T.c.status)


def events_of(subscription_id: int, status: str | None = None) -> Select:
    """A subscription's events, newest first, optionally of one status."""
    stmt = select(WebhookEvent).where(WebhookEvent.subscription_id == subscription_id)
    if status:
        stmt = stmt.where(WebhookEvent.status == DeliveryStatus(status))
    return stmt.order_by(WebhookEvent.id.desc())
