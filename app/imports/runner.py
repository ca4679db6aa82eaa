"""Import jobs on the task queue: what the pages start, what they read back, and how a stopped worker is recovered.

The dry run (plan), the sorting of a workbook's sheets (survey) and the write (apply) of a batch are tasks of
the app's task queue (app/imports/tasks.py), so any worker on any machine that shares the queue, the database
and IMPORT_STORAGE may run them. The batch's status in the database is the outcome; the queue's record of the
batch's task (app/tasks/state.py: Redis across hosts, the queue's SQLite file on one machine) says whether it
is queued or running, how far it got, and when its worker last beat. Every app server reads the same record, so
a user may leave the page and find the batch's state from any of them.

A worker killed mid-task leaves a record that stops beating: after IMPORT_STALE_SECONDS the recovery (the
page, or the `import_recovery` job every 30 s) queues a dry run once more, or marks the batch failed. An
apply's transaction rolled back with the worker, so nothing of it was written and the user may apply again;
Huey never gives a task taken by a worker to another, and a failed batch must be previewed and claimed
again (`services.start_apply`), so a batch is never applied twice.
A task that is still waiting in the queue is not dead: it says so ("排队等候中", then "等待后台处理").
No Flask here (the tasks bring the app's context).
"""
from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Mapping

from sqlalchemy.orm import Session

from app.imports import queries, services
from app.imports.heartbeat import Heartbeats
from app.imports.models import ImportBatch, ImportStatus
from app.tasks import state
from app.tasks.queue import huey
from importers.sandbox import SandboxLimits

log = logging.getLogger(__name__)

PLAN_FAILED = "分析文件时出现系统错误，文件未能预览。请重新上传；如仍失败，请联系管理员。"
APPLY_FAILED = "导入时出现系统错误，本次导入已整体撤回，没有写入任何数据。请联系管理员。"
APPLY_INTERRUPTED = ("导入的处理过程中断（如服务重启或后台处理进程被终止），本次导入已整体撤回，没有写入任何数据。"
                     "请重新预览后再确认导入。")
PLAN_INTERRUPTED = ("分析文件的处理过程再次中断（如服务重启或后台处理进程被终止），文件未能预览，没有写入任何数据。"
                    "请重新预览；如仍失败，请联系管理员。")
BUSY = (ImportStatus.PLANNING, ImportStatus.APPLYING)
# A dry run whose worker stopped is queued again this many times in all before the batch is failed.
PLAN_ATTEMPTS = 2


def record_key(batch_id: int) -> str:
    """The key of a batch's task record in the queue's store."""
    return f"import:{batch_id}"


def _moment(stamp: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(stamp, dt.timezone.utc) if stamp else None


class ImportRunner:
    """Queues a batch's jobs and reads back their state; recovers batches whose worker stopped."""

    def __init__(self, *, storage_dir: str = ".", sandbox: SandboxLimits = SandboxLimits(),
                 heartbeat_every: float = 5.0, stale_after: float = 30.0, queue_wait: float = 60.0) -> None:
        self.storage_dir = storage_dir
        self.sandbox = sandbox
        # Beats of this process's work (the tasks' records and heartbeat files; the `flask import` commands' files).
        self.heartbeats = Heartbeats(heartbeat_every)
        self.stale_after = dt.timedelta(seconds=stale_after)
        self.queue_wait = queue_wait

    @classmethod
    def from_config(cls, config: Mapping, sandbox: SandboxLimits = SandboxLimits()) -> ImportRunner:
        """The runner of the app's configuration (IMPORT_STORAGE, IMPORT_HEARTBEAT_SECONDS, IMPORT_STALE_SECONDS)."""
        return cls(storage_dir=config["IMPORT_STORAGE"], sandbox=sandbox,
                   heartbeat_every=float(config.get("IMPORT_HEARTBEAT_SECONDS", 5)),
                   stale_after=float(config.get("IMPORT_STALE_SECONDS", 30)),
                   queue_wait=float(config.get("IMPORT_QUEUE_WAIT_SECONDS", 60)))

    # ----- what the pages ask ---------------------------------------------------------------------
    def job(self, batch_id: int) -> dict | None:
        """The record of the batch's task while it is queued or running (and beating), else None."""
        return self._alive(state.get(record_key(batch_id)))

    def jobs(self, batch_ids: list[int]) -> dict[int, dict]:
        """The live records of these batches' tasks, by batch id (one round trip)."""
        found = state.get_many(record_key(i) for i in batch_ids)
        alive = {int(k.rsplit(":", 1)[1]): self._alive(r) for k, r in found.items()}
        return {i: r for i, r in alive.items() if r is not None}

    def _alive(self, record: dict | None) -> dict | None:
        if record is None or record.get("state") == "queued":
            return record
        if time.time() - float(record.get("beat", 0)) >= self.stale_after.total_seconds():
            return None  # its worker stopped beating: the recovery takes it from here
        return record

    def progress(self, batch_id: int) -> tuple[int, int] | None:
        """(done, total) of the batch's task: (0, 0) while queued, None when there is none."""
        return self.progress_of(self.job(batch_id))

    @staticmethod
    def progress_of(record: dict | None) -> tuple[int, int] | None:
        """(done, total) of a task record: (0, 0) while queued, None for no record."""
        if record is None:
            return None
        if record.get("state") == "queued":
            return 0, 0
        return int(record.get("done", 0)), max(int(record.get("total", 1)), 1)

    def is_running(self, batch_id: int) -> bool:
        """True while a task of the batch is queued or running."""
        return self.job(batch_id) is not None

    def waiting_long(self, record: dict | None) -> float | None:
        """Seconds a queued task has waited, when longer than IMPORT_QUEUE_WAIT_SECONDS (no worker took it)."""
        if record is None or record.get("state") != "queued":
            return None
        waited = time.time() - float(record.get("queued_at", time.time()))
        return waited if waited >= self.queue_wait else None

    # ----- starting jobs --------------------------------------------------------------------------
    def plan(self, batch_id: int, *, sheet: str | None = None, overrides: dict | None = None,
             attempt: int = 1) -> None:
        """Queue the dry run of a batch (first analysis, another sheet or a changed mapping)."""
        self._queue("plan", batch_id, {"sheet": sheet, "overrides": overrides}, attempt)

    def survey(self, batch_id: int, *, attempt: int = 1) -> None:
        """Queue sorting a workbook batch's sheets into stations; each sheet's dry run follows as its own task."""
        self._queue("survey", batch_id, {}, attempt)

    def apply(self, batch_id: int, actor_id: int | None) -> None:
        """Queue writing a batch that `services.start_apply` has claimed."""
        self._queue("apply", batch_id, {"actor_id": actor_id}, 1)

    def _queue(self, job: str, batch_id: int, args: dict, attempt: int) -> None:
        from app.imports import tasks  # the tasks build on this module

        token = uuid.uuid4().hex
        # Kept before the task is queued: in immediate mode it runs (and ends) inside the call below.
        state.put(record_key(batch_id), {"state": "queued", "job": job, "args": args, "token": token,
                                         "attempt": attempt, "queued_at": time.time()})
        try:
            tasks.TASKS[job](batch_id, token=token, attempt=attempt, **args)
        except Exception:
            state.drop(record_key(batch_id), token=token)
            raise

    # ----- recovery -------------------------------------------------------------------------------
    def recover(self, session: Session, batch: ImportBatch, now: dt.datetime, *,
                pending: set[str] | None = None) -> str | None:
        """Look after a batch whose task may have stopped; what was done: "requeued", "failed", "cleared",
        "waiting" (queued, no worker took it yet), "running", or None (nothing to look after).

        `pending` is the tokens of the tasks still in the queue (read once per round by `recover_all`).
        """
        key = record_key(batch.id)
        record = state.get(key)
        beat = None
        if record is not None and record.get("state") == "queued":
            if pending is None:
                pending = pending_tokens()
            if record.get("token") in pending:
                return "waiting"
            # Out of the queue, not yet beating: a worker has just taken it, or took it and died at once.
            missing = record.get("missing_since")
            if missing is None:
                state.put(key, {**record, "missing_since": now.timestamp()})
                return "running"
            beat = _moment(float(missing))
        elif record is not None:
            beat = _moment(float(record.get("beat", 0)))
            if now - beat < self.stale_after:
                return "running"
        if batch.status not in BUSY:
            # A re-plan of a previewed batch whose worker stopped: its transaction rolled back, the preview stands.
            if record is not None:
                state.drop(key, token=record.get("token"))
                return "cleared"
            return None
        if now - services.last_alive(batch, beat) < self.stale_after:
            return "running"
        attempt = int((record or {}).get("attempt", 1))
        if batch.status == ImportStatus.PLANNING and attempt < PLAN_ATTEMPTS:
            args = (record or {}).get("args") or {}
            log.warning("import batch %s: its dry run stopped with its worker; queued again", batch.id)
            if batch.is_workbook:
                self.survey(batch.id, attempt=attempt + 1)
            else:
                self.plan(batch.id, sheet=args.get("sheet"), overrides=args.get("overrides"), attempt=attempt + 1)
            return "requeued"
        message = APPLY_INTERRUPTED if batch.status == ImportStatus.APPLYING else PLAN_INTERRUPTED
        if not services.recover_interrupted(session, batch, now, self.stale_after, beat=beat, message=message):
            return "running"
        log.warning("import batch %s: its worker stopped; marked failed (nothing was written)", batch.id)
        if record is not None:
            state.drop(key, token=record.get("token"))
        return "failed"

    def recover_all(self, session: Session, now: dt.datetime) -> dict[str, int]:
        """Recover every batch being analysed or applied whose worker stopped; counts by outcome."""
        counts = {"requeued": 0, "failed": 0, "waiting": 0, "running": 0}
        pending = None
        for batch in session.scalars(queries.busy_batches()).all():
            if pending is None:
                pending = pending_tokens()
            outcome = self.recover(session, batch, now, pending=pending)
            if outcome in counts:
                counts[outcome] += 1
        return counts


def pending_tokens() -> set[str]:
    """The tokens of the import tasks still waiting in the queue (not yet taken by a worker)."""
    if huey.immediate:
        return set()
    return {t.kwargs.get("token") for t in huey.pending() if t.kwargs and "token" in t.kwargs}
