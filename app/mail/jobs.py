"""Scheduled mail job (the contract with the scheduler): deliver the outbox."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from app.db import Database, utcnow
from app.mail.delivery import deliver


def deliver_outbox(*, session: Session, now: dt.datetime, config: Mapping[str, Any]) -> dict[str, int]:
    """Send the due pending outbox messages over SMTP; returns {"sent", "retry", "released", "lost_claim"}.

    Unlike the other jobs this one COMMITS the given session: once after claiming the batch and once
    after each message's outcome, so a message is marked sent as soon as the server has accepted it and
    no later rollback can undo that mark (see app/mail/delivery.py for the reasoning). Whatever the
    caller had pending in the session is committed with the claim. With no SMTP_HOST configured it
    changes nothing and messages stay queued.
    """
    return deliver(session, now=now, config=config, commit=session.commit)


def deliver_now(database: Database, *, now: dt.datetime | None = None,
                config: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Run deliver_outbox once on a fresh session of the database (tests, scripts)."""
    with database.session_scope() as session:
        return deliver_outbox(session=session, now=now or utcnow(), config=config or {})
