"""Idempotency-Key for the API's writes (no Flask): the same key from the same token gets the same answer.

Used by every write endpoint (instrument registration now, verification results later)::

    replay = idempotency.replay(session, token, key, operation, body_hash)   # None the first time
    if replay: return replay.body, replay.status
    ... do the work with the session ...
    idempotency.remember(session, token, key, operation, body_hash, status, body)   # same transaction
    session.commit()   # IntegrityError here: the same key was answered meanwhile; roll back and replay

The stored answer is written in the transaction of the write, so a key is kept exactly when its changes are.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.models import ApiToken, IdempotentRequest
from app.errors import Invalid

KEY = re.compile(r"[\x21-\x7e]{1,200}")
BAD_KEY = "Idempotency-Key 应为 1 至 200 个可见 ASCII 字符（建议使用 UUID）。"
KEY_REUSED = ("该 Idempotency-Key 已用于另一个不同的请求（内容或地址不同）：同一个键只能重发完全相同的请求；"
              "新的请求请使用新的键。")


class KeyReused(Invalid):
    """The key was answered for another request: refused (422), never replayed."""

    status_code = 422


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict


def body_hash(raw: bytes) -> str:
    """The SHA-256 a request is compared by (the body as sent, byte for byte)."""
    return hashlib.sha256(raw).hexdigest()


def check_key(key: str) -> str:
    """The key as given, when usable; Invalid otherwise."""
    if not KEY.fullmatch(key):
        raise Invalid(BAD_KEY)
    return key


def replay(session: Session, token: ApiToken, key: str, operation: str, request_hash: str) -> Replay | None:
    """The stored answer of this key, or None the first time; KeyReused for a different request."""
    row = session.scalars(select(IdempotentRequest).where(IdempotentRequest.token_id == token.id,
                                                          IdempotentRequest.key == key)).first()
    if row is None:
        return None
    if row.operation != operation or row.request_hash != request_hash:
        raise KeyReused(KEY_REUSED)
    return Replay(row.status, row.body)


def remember(session: Session, token: ApiToken, key: str, operation: str, request_hash: str, status: int,
             body: dict) -> None:
    """Keep the answer of a key (flushes; the unique key refuses a concurrent second answer at commit)."""
    # A JSON round trip stores exactly what a replay will send (dates already strings).
    session.add(IdempotentRequest(token_id=token.id, key=key, operation=operation, request_hash=request_hash,
                                  status=status, body=json.loads(json.dumps(body))))
    session.flush()
