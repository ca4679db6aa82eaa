"""Scheduled jobs of background tasks (the contract with the scheduler): recover stale tasks, prune old results."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from app.tasks import services


def recover_tasks(*, session: Session, now: dt.datetime, config: Mapping[str, Any]) -> dict[str, int]:
    """Running tasks whose heartbeat stopped (a worker killed mid-task): queued again once, else failed with a
    message; {"requeued", "failed"}.

    COMMITS the given session before handing the re-queued ids to the queue: a worker must find them queued.
    A task queued twice (the old message and this one) is claimed once: the second claim finds it running.
    """
    counts = services.recover_stale(session, now, dt.timedelta(seconds=float(config.get("TASK_STALE_SECONDS", 30))),
                                    int(config.get("TASK_MAX_ATTEMPTS", 2)))
    session.commit()
    if counts["ids"]:
        from app.tasks.background import submit

        for task_id in counts["ids"]:
            submit(task_id)
    return {"requeued": counts["requeued"], "failed": counts["failed"]}


def prune_tasks(*, session: Session, now: dt.datetime, config: Mapping[str, Any]) -> dict[str, int]:
    """Finished tasks older than TASK_KEEP_DAYS, with their result files; {"tasks", "files"}."""
    return services.prune(session, config.get("TASK_STORAGE", ""), now,
                          dt.timedelta(days=int(config.get("TASK_KEEP_DAYS", 7))))
