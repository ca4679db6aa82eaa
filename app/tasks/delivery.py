"""Deliveries (mail, webhook events) as queue tasks: one queued at a time, and one queued as soon as a commit
wrote something to deliver.

While a delivery task waits or runs, another request to deliver is a no-op (app/tasks/state.py's
`enqueue_once`): the pending one sends everything due. The delivery itself (claim, send, mark, each committed) is
the caller's, so several workers never send a thing twice but in the instant its claim's timeout allows.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.tasks import state
from app.tasks.queue import huey

log = logging.getLogger(__name__)

# A delivery task still marked queued or running after this long is taken as lost (its worker was killed).
STALE_SECONDS = 600.0


class Delivery:
    """One kind of delivery: its key in the queue's store, the session flag a commit that wrote work sets, and
    its run (`run(database, config=...)` -> counts)."""

    def __init__(self, key: str, flag: str, what: str, run: Callable[..., dict[str, int]]) -> None:
        self.key, self.flag, self.what, self.run = key, flag, what, run
        self.task: Callable | None = None

        def after_commit(session: Session) -> None:
            if not session.info.pop(self.flag, False) or huey.immediate:
                return  # immediate mode has no worker: the work waits for the scheduler's job, not the request
            try:
                self.queue()
            except Exception:  # noqa: BLE001 - the work is committed; the next scheduled job queues its delivery
                log.exception("could not queue %s after a commit", self.what)

        def after_rollback(session: Session, _previous) -> None:
            session.info.pop(self.flag, None)

        self._after_commit, self._after_rollback = after_commit, after_rollback

    def deliver(self) -> dict[str, int]:
        """The task's body: deliver everything due, marked running in the queue's store meanwhile; the counts."""
        state.running(self.key)
        try:
            counts = self.run(current_app.extensions["database"], config=current_app.config)
            log.info("%s: %s", self.what, ", ".join(f"{k}={v}" for k, v in counts.items()))
            return counts
        finally:
            state.release(self.key)

    def queue(self) -> bool:
        """Queue the delivery task unless one is already waiting or running; True when this call queued it."""
        return state.enqueue_once(self.key, self.task, stale_after=STALE_SECONDS)

    def job(self, *, session: Session, now: dt.datetime, config: Mapping[str, Any]) -> dict[str, int]:
        """The scheduler's job: queue a delivery task (a worker delivers)."""
        queued = self.queue()
        return {"queued": int(queued), "already_queued": int(not queued)}

    def install(self, task: Callable) -> None:
        """Use `task` (the module's registered queue task) and queue it after each commit that set the flag
        (idempotent)."""
        self.task = task
        if not event.contains(Session, "after_commit", self._after_commit):
            event.listen(Session, "after_commit", self._after_commit)
            event.listen(Session, "after_soft_rollback", self._after_rollback)
