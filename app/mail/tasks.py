"""Mail delivery as a queue task: the scheduler's `outbox_delivery` job and a commit that wrote mail queue it.

One delivery task at a time is queued (app/tasks/state.py's `enqueue_once`): while one waits or runs, another
request to deliver is a no-op, as the pending one sends every due message. The delivery itself is unchanged
(app/mail/delivery.py: claim, send, mark, each committed), so several workers never send a message twice but
in the instant the claim's timeout allows.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.mail.jobs import deliver_now
from app.mail.models import OutboxMessage
from app.tasks import state
from app.tasks.queue import huey, task

log = logging.getLogger(__name__)

KEY = "mail:delivery"
# A delivery task still marked queued or running after this long is taken as lost (its worker was killed).
STALE_SECONDS = 600.0


@task()
def deliver() -> dict[str, int]:
    """Send every due outbox message over SMTP; the counts."""
    state.running(KEY)
    try:
        counts = deliver_now(current_app.extensions["database"], config=current_app.config)
        log.info("mail delivery: %s", ", ".join(f"{k}={v}" for k, v in counts.items()))
        return counts
    finally:
        state.release(KEY)


def queue_delivery() -> bool:
    """Queue a delivery task unless one is already waiting or running; True when this call queued it."""
    return state.enqueue_once(KEY, deliver, stale_after=STALE_SECONDS)


def queue_delivery_job(*, session: Session, now: dt.datetime, config: Mapping[str, Any]) -> dict[str, int]:
    """The scheduler's job every minute: queue a delivery task (a worker sends the mail)."""
    queued = queue_delivery()
    return {"queued": int(queued), "already_queued": int(not queued)}


def _after_flush(session: Session, _context) -> None:
    if any(isinstance(obj, OutboxMessage) for obj in session.new):
        session.info["mail_due"] = True


def _after_commit(session: Session) -> None:
    if not session.info.pop("mail_due", False) or huey.immediate:
        return  # immediate mode has no worker: the mail waits for the scheduler's job, not the request
    try:
        queue_delivery()
    except Exception:  # noqa: BLE001 - the mail is committed; the next scheduled job queues its delivery
        log.exception("could not queue mail delivery after a commit")


def _after_rollback(session: Session, _previous) -> None:
    session.info.pop("mail_due", None)


def install() -> None:
    """Queue a delivery as soon as a transaction that wrote mail commits (idempotent)."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback)


install()
