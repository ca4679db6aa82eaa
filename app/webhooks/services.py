"""Webhook subscriptions (add, pause, resume, delete), signing, and the deliverer's bookkeeping (flush, never
commit; no Flask). Delivery itself, which commits around each HTTP request, is in app/webhooks/delivery.py.

The API's POST /api/v1/webhooks is meant as a thin wrapper: `subscribe(session, actor=None, token=<the
calling token>, url=..., event_types=[...], config=app.config)` returns (subscription, secret).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.api.models import ApiToken, TokenScope
from app.audit import services as audit
from app.db import utcnow
from app.errors import Invalid, NotFound
from app.webhooks import queries, transport
from app.webhooks.models import EVENT_TYPES, WebhookEvent, WebhookSubscription

DEFAULTS = {"WEBHOOK_RETRY_BASE_SECONDS": 30, "WEBHOOK_RETRY_MAX_SECONDS": 6 * 3600, "WEBHOOK_MAX_ATTEMPTS": 12,
            "WEBHOOK_BATCH_SIZE": 100, "WEBHOOK_CLAIM_TIMEOUT_SECONDS": 300, "WEBHOOK_TIMEOUT_SECONDS": 10,
            "WEBHOOK_MAX_PER_RUN": 2000}
SIGNATURE_HEADER = "X-Metrology-Signature"
VERIFICATION_ONLY = [t for t in EVENT_TYPES if t.startswith("verification.")]


def setting(config: Mapping[str, Any], name: str) -> int:
    """A numeric webhook setting from the config, else its default."""
    value = config.get(name)
    return int(value) if value not in (None, "") else DEFAULTS[name]


def allow_private(config: Mapping[str, Any]) -> bool:
    """Whether receivers on loopback, private or link-local addresses are allowed (WEBHOOK_ALLOW_PRIVATE)."""
    value = config.get("WEBHOOK_ALLOW_PRIVATE")
    return value is True or str(value or "").strip().lower() in ("1", "true", "yes", "on")


def new_secret() -> str:
    """A fresh signing secret (shown once to whoever registers the address)."""
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """A receiver's check of a signature header (the same code as docs/webhooks.md shows)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


def payload(event: WebhookEvent) -> dict:
    """What the receiver gets: the event's id, type and time, the record's type, id and version, its fields."""
    data = dict(event.data or {})
    if "voided" in data:  # SQLite's json_object gives 0/1 for a boolean
        data["voided"] = bool(data["voided"])
    return {"id": event.id, "type": event.event_type, "occurred_at": event.occurred_at.isoformat(),
            "record": {"type": event.record_type, "id": event.record_id, "version": event.record_version},
            "data": data}


def body_of(event: WebhookEvent) -> bytes:
    """The request body: the same bytes at every attempt (keys sorted, UTF-8)."""
    return json.dumps(payload(event), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def headers_of(event: WebhookEvent, secret: str, body: bytes, now: dt.datetime) -> dict[str, str]:
    """The request headers, with the signature over this attempt's timestamp and the body."""
    return {"Content-Type": "application/json; charset=utf-8", "User-Agent": "metrology-webhooks/1",
            "X-Metrology-Event": event.event_type, "X-Metrology-Event-Id": str(event.id),
            SIGNATURE_HEADER: sign(secret, int(now.timestamp()), body)}


def _types(event_types: Iterable[str], token: ApiToken) -> str:
    chosen = [t for t in EVENT_TYPES if t in set(event_types or [])]
    unknown = set(event_types or []) - set(EVENT_TYPES)
    if unknown:
        raise Invalid(f"未知的事件类型：{'、'.join(sorted(unknown))}", field="event_types")
    if not chosen:
        raise Invalid("请至少选择一种事件类型", field="event_types")
    if token.scope == TokenScope.INSTITUTION and any(t not in VERIFICATION_ONLY for t in chosen):
        raise Invalid("检定机构令牌只能订阅检定记录的事件", field="event_types")
    return "," + ",".join(chosen) + ","


def check_url(url: str, config: Mapping[str, Any]) -> str:
    """The address as given when it is http(s) and (unless WEBHOOK_ALLOW_PRIVATE) not on a private network."""
    url = (url or "").strip()
    transport.parse_url(url)
    try:
        transport.resolve(url, allow_private=allow_private(config))
    except transport.Refused as err:
        raise Invalid(str(err), field="url") from None
    return url


def subscribe(session: Session, actor, token: ApiToken, *, url: str, event_types: Iterable[str],
              config: Mapping[str, Any], description: str = "", now: dt.datetime | None = None
              ) -> tuple[WebhookSubscription, str]:
    """Register an address for a token; returns the subscription and its secret (shown this once)."""
    now = now or utcnow()
    if not token.is_usable(now):
        raise Invalid("该令牌已吊销或已过期，不能登记接收地址", field="token_id")
    secret = new_secret()
    subscription = WebhookSubscription(token_id=token.id, url=check_url(url, config), secret=secret,
                                       event_types=_types(event_types, token), is_active=True,
                                       description=(description or "").strip()[:200],
                                       created_by_id=getattr(actor, "id", None))
    session.add(subscription)
    session.flush()
    audit.record(session, actor, "create", subscription, [
        {"field": "url", "label": "接收地址", "old": "", "new": subscription.url},
        {"field": "event_types", "label": "事件类型", "old": "",
         "new": "、".join(EVENT_TYPES[t] for t in subscription.types)}],
        entity_label=f"{token.name} 的推送地址")
    return subscription, secret


def get_subscription(session: Session, subscription_id: int, token: ApiToken | None = None) -> WebhookSubscription:
    """A subscription by id (of this token, when one is given), else NotFound."""
    subscription = session.get(WebhookSubscription, subscription_id)
    if subscription is None or (token is not None and subscription.token_id != token.id):
        raise NotFound("推送地址不存在")
    return subscription


def set_active(session: Session, actor, subscription: WebhookSubscription, active: bool) -> None:
    """Pause (no new events, nothing sent) or resume (pending events go out, new ones are captured)."""
    if subscription.is_active == active:
        return
    subscription.is_active = active
    session.flush()
    audit.record(session, actor, "update", subscription, [
        {"field": "is_active", "label": "状态", "old": "暂停" if active else "启用", "new": "启用" if active else "暂停"}],
        entity_label=f"{subscription.token.name} 的推送地址")


def remove(session: Session, actor, subscription: WebhookSubscription) -> None:
    """Delete a subscription with its outbox and log (nothing more is sent to it)."""
    label = f"{subscription.token.name} 的推送地址 {subscription.url}"
    session.execute(delete(WebhookEvent).where(WebhookEvent.subscription_id == subscription.id))
    audit.record(session, actor, "delete", subscription, [], entity_label=label)
    session.delete(subscription)
    session.flush()


def retry(session: Session, subscription: WebhookSubscription, event_id: int | None = None,
          now: dt.datetime | None = None) -> int:
    """Make a pending or given-up event (or all of the subscription's) due now; how many."""
    count = session.execute(queries.retry_now(subscription.id, event_id, now or utcnow())).rowcount or 0
    if event_id is not None and not count:
        event = session.get(WebhookEvent, event_id)
        if event is None or event.subscription_id != subscription.id:
            raise NotFound("通知不存在")
        raise Invalid("该通知已送达或正在发送，无需重发")
    return count


def usable_tokens(session: Session, now: dt.datetime | None = None) -> list[ApiToken]:
    """Tokens that may register an address: neither revoked nor expired."""
    now = now or utcnow()
    return list(session.scalars(select(ApiToken).where(ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
                                .order_by(ApiToken.name)))


# -- the deliverer's bookkeeping -----------------------------------------------------------------

def new_claim_token() -> str:
    """A random token that marks one deliverer's claim."""
    return secrets.token_hex(16)


def claim(session: Session, *, now: dt.datetime, token: str, limit: int) -> list[WebhookEvent]:
    """Claim up to `limit` due events for this deliverer and return them."""
    session.execute(queries.claim_due(now, token, limit))
    return list(session.scalars(queries.claimed(token)))


def retry_delay(attempts: int, config: Mapping[str, Any]) -> dt.timedelta:
    """Exponential back-off: base, 2×base, 4×base ... after the 1st, 2nd, 3rd failed attempt, capped."""
    base, cap = setting(config, "WEBHOOK_RETRY_BASE_SECONDS"), setting(config, "WEBHOOK_RETRY_MAX_SECONDS")
    return dt.timedelta(seconds=min(cap, base * 2 ** max(0, min(attempts, 30) - 1)))


def record_delivered(session: Session, event: WebhookEvent, token: str, now: dt.datetime, status_code: int) -> bool:
    """Mark a claimed event delivered; False when the claim was lost meanwhile."""
    return session.execute(queries.mark_delivered(event.id, token, now, status_code)).rowcount == 1


def record_failure(session: Session, event: WebhookEvent, token: str, now: dt.datetime, error: str,
                   config: Mapping[str, Any], status_code: int | None = None) -> dt.datetime | None:
    """Queue a failed event again with back-off, or give it up after WEBHOOK_MAX_ATTEMPTS; when it is due next."""
    due = None if event.attempts >= setting(config, "WEBHOOK_MAX_ATTEMPTS") else now + retry_delay(event.attempts,
                                                                                                 config)
    session.execute(queries.mark_attempt_failed(event.id, token, now, next_attempt_at=due, status_code=status_code,
                                                error=error))
    return due


def release_stale_claims(session: Session, *, now: dt.datetime, config: Mapping[str, Any]) -> int:
    """Requeue events a stopped deliverer left 'sending' for longer than the claim timeout."""
    before = now - dt.timedelta(seconds=setting(config, "WEBHOOK_CLAIM_TIMEOUT_SECONDS"))
    return session.execute(queries.release_stale(before, now)).rowcount
