"""Import jobs off the request thread: the dry run (plan) and the write (apply) of a batch.

One small thread pool per process, created on first use (so a forking server never inherits its
threads), kept in `app.extensions["import_runner"]`. Each job opens its own session through
`Database.session_scope()` and commits once. Progress lives in memory, `{batch_id: (done, total)}`,
fed by the pipeline's progress callbacks: while an apply runs on SQLite its transaction holds the
writer lock, so progress could not be written to the database from another connection anyway.
The batch's status in the database stays the truth the pages go by; the registry only adds the
percentage, and says which batches this process is still working on.

Dry runs of different batches run side by side (`plan_workers`): each reads its file in a limited
child process (importers/sandbox.py), so one bad file costs its own job a refusal, not the others
a wait. Writing is one job at a time (a lock: an apply throughout, a dry run once its file is
read), as SQLite has one writer and would fail a second after its busy timeout.
While a job is queued or running, the batch's heartbeat file is touched (app/imports/heartbeat.py),
so a batch whose process was killed is recognised as failed within a minute and a half.

With `inline=True` (config IMPORT_RUN_INLINE, used by the tests) a job runs at once in the caller's
thread, with the same sessions and error handling, so tests are deterministic.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from app.accounts.models import User
from app.clock import today
from app.db import Database
from app.errors import DomainError
from app.imports import services, workbooks
from app.imports.heartbeat import Heartbeats, heartbeat_path
from app.imports.models import ImportBatch, ImportStatus
from importers.sandbox import SandboxLimits

log = logging.getLogger(__name__)

PLAN_FAILED = "分析文件时出现系统错误，文件未能预览。请重新上传；如仍失败，请联系管理员。"
APPLY_FAILED = "导入时出现系统错误，本次导入已整体撤回，没有写入任何数据。请联系管理员。"


class ImportRunner:
    """Runs plan jobs side by side and apply jobs one at a time, and tracks their progress."""

    def __init__(self, database: Database, *, inline: bool = False, max_workers: int = 1, plan_workers: int = 3,
                 storage_dir: str = ".", sandbox: SandboxLimits = SandboxLimits(),
                 heartbeat_every: float = 20.0) -> None:
        self.database = database
        self.inline = inline
        self.workers = {"apply": max(1, max_workers), "plan": max(1, plan_workers)}
        self.storage_dir = storage_dir
        self.sandbox = sandbox
        self.heartbeats = Heartbeats(heartbeat_every)
        self._executors: dict[str, ThreadPoolExecutor] = {}
        # Held while a job writes (an apply throughout, a dry run once its file is read): on SQLite a
        # second writer would wait on the database's lock only for its busy timeout, then fail.
        self._writes = threading.Lock()
        self._lock = threading.Lock()
        self._progress: dict[int, tuple[int, int]] = {}

    # ----- what the pages ask ---------------------------------------------------------------------
    def progress(self, batch_id: int) -> tuple[int, int] | None:
        """(done, total) of the batch's job in this process: (0, 0) while queued, None when there is none."""
        with self._lock:
            return self._progress.get(batch_id)

    def is_running(self, batch_id: int) -> bool:
        """True while this process has a job queued or running for the batch."""
        return self.progress(batch_id) is not None

    # ----- starting jobs --------------------------------------------------------------------------
    def plan(self, batch_id: int, *, sheet: str | None = None, overrides: dict | None = None) -> Future | None:
        """Start the dry run of a batch (first analysis, another sheet or a changed mapping)."""
        return self._submit("plan", batch_id, self._plan_job, batch_id, sheet, overrides)

    def survey(self, batch_id: int) -> Future | None:
        """Start sorting a workbook batch's sheets into stations; each sheet's dry run follows as its own job."""
        return self._submit("plan", batch_id, self._survey_job, batch_id)

    def apply(self, batch_id: int, actor_id: int | None) -> Future | None:
        """Start writing a batch that `services.start_apply` has claimed."""
        return self._submit("apply", batch_id, self._apply_job, batch_id, actor_id)

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking jobs; with `wait`, let the queued ones finish."""
        with self._lock:
            executors, self._executors = self._executors, {}
        for executor in executors.values():
            executor.shutdown(wait=wait)

    def _submit(self, pool: str, batch_id: int, job: Callable, *args) -> Future | None:
        self.heartbeats.hold(heartbeat_path(self.storage_dir, batch_id))
        with self._lock:
            self._progress[batch_id] = (0, 0)
            executor = None
            if not self.inline:
                executor = self._executors.get(pool)
                if executor is None:
                    executor = self._executors[pool] = ThreadPoolExecutor(max_workers=self.workers[pool],
                                                                          thread_name_prefix=f"import-{pool}")
        if executor is None:
            self._run(batch_id, job, *args)
            return None
        return executor.submit(self._run, batch_id, job, *args)

    def _run(self, batch_id: int, job: Callable, *args) -> None:
        with self._lock:
            self._progress[batch_id] = (0, 1)  # started: no longer (0, 0), which means queued
        try:
            job(*args)
        except Exception:  # a job must never take the worker thread down
            log.exception("import job for batch %s failed", batch_id)
        finally:
            with self._lock:
                self._progress.pop(batch_id, None)
            self.heartbeats.release(heartbeat_path(self.storage_dir, batch_id))

    def _reporter(self, batch_id: int) -> Callable[[int, int], None]:
        def report(done: int, total: int) -> None:
            with self._lock:
                if batch_id in self._progress:
                    self._progress[batch_id] = (min(done, total), total)

        return report

    # ----- the jobs -------------------------------------------------------------------------------
    def _plan_job(self, batch_id: int, sheet: str | None, overrides: dict | None) -> None:
        try:
            with self.database.session_scope() as session:
                batch = session.get(ImportBatch, batch_id)
                if batch is None:
                    return
                try:
                    services.plan_batch(session, batch, today=today(), sheet=sheet, overrides=overrides,
                                        progress=self._reporter(batch_id), sandbox=self.sandbox,
                                        writing=self._writes)
                except DomainError as err:
                    # The service recorded why (a rejected file, or a re-plan that keeps the previous
                    # preview); that is committed like any other outcome.
                    log.info("import batch %s not planned: %s", batch_id, err.message)
        except Exception:
            log.exception("planning import batch %s failed", batch_id)
            self._reject_if_planning(batch_id)

    def _reject_if_planning(self, batch_id: int) -> None:
        """After a job's failure that is not the file's: a batch still being analysed is refused with PLAN_FAILED."""
        with self.database.session_scope() as session:
            batch = session.get(ImportBatch, batch_id)
            if batch is not None and batch.status == ImportStatus.PLANNING:
                services.reject(batch, PLAN_FAILED)

    def _survey_job(self, batch_id: int) -> None:
        children: list[int] = []
        try:
            with self.database.session_scope() as session:
                batch = session.get(ImportBatch, batch_id)
                if batch is None:
                    return
                creator = session.get(User, batch.created_by_id) if batch.created_by_id is not None else None
                try:
                    children = workbooks.survey_workbook(session, batch, workbooks.assignable_stations(session, creator),
                                                         sandbox=self.sandbox, writing=self._writes)
                except DomainError as err:
                    log.info("workbook batch %s not surveyed: %s", batch_id, err.message)
        except Exception:
            log.exception("surveying workbook batch %s failed", batch_id)
            self._reject_if_planning(batch_id)
            return
        for child_id in children:
            self.plan(child_id)

    def _apply_job(self, batch_id: int, actor_id: int | None) -> None:
        with self._writes:
            self._apply(batch_id, actor_id)

    def _apply(self, batch_id: int, actor_id: int | None) -> None:
        try:
            with self.database.session_scope() as session:
                batch = session.get(ImportBatch, batch_id)
                if batch is None:
                    return
                actor = session.get(User, actor_id) if actor_id is not None else None
                # A workbook batch applies all its sheets in this one transaction.
                apply = workbooks.apply_workbook if batch.is_workbook else services.apply_batch
                apply(session, actor, batch, today=today(), progress=self._reporter(batch_id), sandbox=self.sandbox)
        except Exception as err:  # the whole apply rolled back: nothing of it is written
            message = err.message if isinstance(err, DomainError) else APPLY_FAILED
            if not isinstance(err, DomainError):
                log.exception("applying import batch %s failed", batch_id)
            with self.database.session_scope() as session:
                batch = session.get(ImportBatch, batch_id)
                if batch is not None and batch.status == ImportStatus.APPLYING:
                    services.fail_batch(session, batch, message)

