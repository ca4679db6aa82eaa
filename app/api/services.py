"""Issuing, revoking and checking API tokens (flush, never commit; no Flask).

A secret is "mt_" plus 32 random bytes in URL-safe base64: shown once when issued; only its SHA-256 is kept.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Station
from app.api.models import ApiToken, TokenScope
from app.audit import services as audit
from app.bodies.models import VerificationBody
from app.errors import Invalid, NotFound
from app.merchants.models import Merchant
from app.scope import Scope
from app.text import as_typed

SECRET_PREFIX = "mt_"
# last_used_at is written at most this often per token: a read is not a write on every call.
LAST_USED_EVERY = dt.timedelta(minutes=1)
MAX_RATE = 10_000


def hash_secret(secret: str) -> str:
    """The hex SHA-256 a token is stored and looked up by."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    """A fresh secret (43 random URL-safe characters after the prefix)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def token_actor(token: ApiToken) -> str:
    """Who the audit log names for a token's actions: the token's name."""
    return f"API 令牌“{token.name}”"[:80]


def get_token(session: Session, token_id: int) -> ApiToken:
    """A token by id, else NotFound."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("API 令牌不存在")
    return token


def issue_token(session: Session, actor, *, name: str, scope: TokenScope, station_ids: list[int],
                body_id: int | None, merchant_id: int | None, expires_at: dt.datetime, rate_per_minute: int,
                now: dt.datetime) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret (the only time the secret exists outside the caller)."""
    name = as_typed(name)
    if not name:
        raise Invalid("请填写令牌名称", field="name")
    if expires_at <= now:
        raise Invalid("有效期应晚于现在", field="expires_at")
    if not 1 <= rate_per_minute <= MAX_RATE:
        raise Invalid(f"每分钟请求上限应为 1 到 {MAX_RATE} 之间的整数", field="rate_per_minute")
    stations = list(session.scalars(select(Station).where(Station.id.in_(station_ids or [0]))))
    body = merchant = None
    if scope == TokenScope.INSTITUTION:
        body = session.get(VerificationBody, body_id or 0)
        if body is None:
            raise Invalid("检定机构报送令牌须选择检定机构", field="body_id")
        stations, merchant_id = [], None
    else:
        if not stations:
            raise Invalid("请至少选择一个站点", field="station_ids")
        if merchant_id:
            if scope != TokenScope.WRITE:
                raise Invalid("只有读写令牌可以限定单位（供水、燃气等公司登记自己的户用表）", field="merchant_id")
            merchant = session.get(Merchant, merchant_id)
            if merchant is None or merchant.station_id not in {s.id for s in stations}:
                raise Invalid("限定单位须属于所选站点", field="merchant_id")
    secret = new_secret()
    token = ApiToken(name=name, prefix=secret[:10], token_hash=hash_secret(secret), scope=scope,
                     stations=stations, body=body, merchant=merchant, expires_at=expires_at,
                     rate_per_minute=rate_per_minute, created_by_id=getattr(actor, "id", None))
    session.add(token)
    session.flush()
    audit.record(session, actor, "create", token, audit.snapshot(token, [
        "name", "scope", "stations", "body_id", "merchant_id", "expires_at", "rate_per_minute"]))
    return token, secret


def revoke_token(session: Session, actor, token: ApiToken, now: dt.datetime) -> None:
    """Revoke a token at once (a revoked token is never usable again)."""
    if token.revoked_at is not None:
        raise Invalid("该令牌已吊销")
    changes = audit.apply_changes(token, {"revoked_at": now})
    token.revoked_by_id = getattr(actor, "id", None)
    audit.record(session, actor, "revoke_token", token, changes)


def token_for_secret(session: Session, secret: str, now: dt.datetime) -> ApiToken | None:
    """The usable token whose secret this is, or None (unknown, revoked or expired alike)."""
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 100:
        return None
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == hash_secret(secret))).first()
    if token is None or not token.is_usable(now):
        return None
    return token


def note_use(session: Session, token: ApiToken, now: dt.datetime, what: str) -> None:
    """Record one use in the audit log under the token's name; move last_used_at when older than a minute."""
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
        # A Core UPDATE: not the ORM's versioned update, so a use never collides with an admin's edit.
        session.execute(ApiToken.__table__.update().where(ApiToken.id == token.id).values(last_used_at=now))
    audit.record(session, token_actor(token), "api_call", token, note=what[:1000])


def token_scope(token: ApiToken) -> Scope:
    """The stations a station token reads (and writes); an institution token has none."""
    return Scope(frozenset(s.id for s in token.stations))
