"""Webhook delivery as a queue task: the scheduler's `webhook_delivery` job and a commit that wrote events queue it.

One delivery task at a time is queued (app/tasks/state.py's `enqueue_once`): while one waits or runs, another
request to deliver is a no-op, as the pending one will post every due event. The delivery itself is unchanged
(app/webhooks/delivery.py: claim, post, mark, each committed), so two deliverers side by side, or a worker
killed mid-run, send nothing twice but what the claim's timeout allows.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.tasks import state
from app.tasks.queue import huey, task
from app.webhooks.jobs import deliver_now

log = logging.getLogger(__name__)

KEY = "webhooks:delivery"
# A delivery task still marked queued or running after this long is taken as lost (its worker was killed).
STALE_SECONDS = 600.0


@task()
def deliver() -> dict[str, int]:
    """Post every due webhook event (as `flask webhooks deliver` does); the counts."""
    state.running(KEY)
    try:
        counts = deliver_now(current_app.extensions["database"], config=current_app.config)
        log.info("webhook delivery: %s", ", ".join(f"{k}={v}" for k, v in counts.items()))
        return counts
    finally:
        state.release(KEY)


def queue_delivery() -> bool:
    """Queue a delivery task unless one is already waiting or running; True when this call queued it."""
    return state.enqueue_once(KEY, deliver, stale_after=STALE_SECONDS)


def queue_delivery_job(*, session: Session, now: dt.datetime, config: Mapping[str, Any]) -> dict[str, int]:
    """The scheduler's job every minute: queue a delivery task (a worker posts the events)."""
    queued = queue_delivery()
    return {"queued": int(queued), "already_queued": int(not queued)}


def _after_commit(session: Session) -> None:
    if not session.info.pop("webhook_events", False) or huey.immediate:
        return  # immediate mode has no worker: the events wait for the scheduler's job, not the request
    try:
        queue_delivery()
    except Exception:  # noqa: BLE001 - the events are committed; the next scheduled job queues their delivery
        log.exception("could not queue webhook delivery after a commit")


def _after_rollback(session: Session, _previous) -> None:
    session.info.pop("webhook_events", None)


def install() -> None:
    """Queue a delivery as soon as a transaction that captured events commits (idempotent)."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback)


install()
