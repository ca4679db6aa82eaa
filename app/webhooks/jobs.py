"""Scheduled webhook job (the contract with the scheduler): deliver the webhook outbox."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from app.db import Database, utcnow
from app.webhooks.delivery import deliver


def deliver_webhooks(*, session: Session, now: dt.datetime, config: Mapping[str, Any]) -> dict[str, int]:
    """Post the due webhook events; returns {"delivered", "retry", "failed", "released", "lost_claim"}.

    Like the mail job this one COMMITS the given session: after each claim and after each event's
    outcome (see app/webhooks/delivery.py).
    """
    return deliver(session, now=now, config=config, commit=session.commit)


def deliver_now(database: Database, *, now: dt.datetime | None = None,
                config: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Run deliver_webhooks once on a fresh session of the database (tests, scripts, the CLI)."""
    with database.session_scope() as session:
        return deliver_webhooks(session=session, now=now or utcnow(), config=config or {})
