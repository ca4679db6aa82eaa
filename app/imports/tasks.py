"""The import's queue tasks: a batch's dry run (plan), the sorting of a workbook's sheets (survey) and its write
(apply), run by whichever worker takes them (app/tasks/queue.py), in the app's context.

Each task opens its own session through `Database.session_scope()` and commits once, as the thread pool's jobs
did; the pipeline's services are unchanged. While it works the task beats (app/imports/heartbeat.py): its
record in the queue's store carries the progress and the time of the last beat, and the batch's heartbeat
file is touched, so every app server can show the percentage and the recovery can tell a stopped worker.

Writing is one task at a time where the database needs it (`writer_lock`): on SQLite (one machine, one writer)
a process lock together with a lock file beside the database serialises the applies and the dry runs' writes of
every worker thread and process; on PostgreSQL an advisory lock taken inside the apply's transaction keeps
applies from running side by side on any number of machines, and is released with the transaction (also when
a killed worker's connection drops). A batch is never applied twice: the apply task writes only a batch that
`services.start_apply` claimed (status 'applying'), and a worker killed mid-apply leaves a rolled-back
transaction and a batch the recovery marks failed.
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Iterator

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.clock import today
from app.db import Database, utcnow
from app.errors import DomainError
from app.imports import services, workbooks
from app.imports.heartbeat import FileBeat, heartbeat_path
from app.imports.models import ImportBatch, ImportStatus
from app.imports.runner import APPLY_FAILED, PLAN_FAILED, ImportRunner, record_key
from app.tasks import state
from app.tasks.queue import task

log = logging.getLogger(__name__)

# Any fixed number: the key of PostgreSQL's advisory lock held by the apply in progress.
APPLY_LOCK_KEY = 0x4D4554524F  # "METRO"
# A task's progress is written to the queue's store at most this often (and at every heartbeat).
PROGRESS_EVERY = 1.0


class Work:
    """A task at work on a batch: its record in the queue's store (progress, last beat) and its heartbeat file."""

    def __init__(self, batch_id: int, token: str, job: str, args: dict, attempt: int, storage_dir: str) -> None:
        self.key = record_key(batch_id)
        self.token = token
        self.record = {"state": "running", "job": job, "args": args, "token": token, "attempt": attempt,
                       "done": 0, "total": 1, "started_at": time.time()}
        self.file = FileBeat(heartbeat_path(storage_dir, batch_id))
        self._written = 0.0
        self._reported = False
        self._lock = threading.Lock()

    def beat(self) -> None:
        """Say this task is alive: its record (with the progress so far) and its heartbeat file."""
        with self._lock:
            self._written = time.time()
            state.put(self.key, {**self.record, "beat": self._written})
        self.file.beat()

    def report(self, done: int, total: int) -> None:
        """The pipeline's progress callback: kept, and written at most every PROGRESS_EVERY seconds."""
        self.record["done"], self.record["total"] = min(done, total), max(total, 1)
        if not self._reported or time.time() - self._written >= PROGRESS_EVERY:
            self._reported = True  # the first figure at once: the page leaves "0%" as soon as there is one
            self.beat()

    def end(self) -> None:
        """The task is over (its outcome is committed): its record and file go."""
        with self._lock:
            state.drop(self.key, token=self.token)
        self.file.end()


@contextmanager
def _working(batch_id: int, token: str, job: str, args: dict, attempt: int) -> Iterator[Work]:
    runner = _runner()
    work = Work(batch_id, token, job, args, attempt, runner.storage_dir)
    runner.heartbeats.hold(work)
    try:
        yield work
    except Exception:  # a task must never take the worker down; the batch records what went wrong
        log.exception("import %s task for batch %s failed", job, batch_id)
    finally:
        runner.heartbeats.release(work)


def _runner() -> ImportRunner:
    return current_app.extensions["import_runner"]


def _database() -> Database:
    return current_app.extensions["database"]


# ----- the writer lock ----------------------------------------------------------------------------------

class FileWriterLock:
    """One writer at a time on one machine: a process lock for this process's worker threads, and an
    exclusive lock on a file beside the SQLite database for the other processes; both go with a killed
    process. Used like threading.Lock (`with`, or acquire(blocking=False))."""

    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: a database only this process opens (in memory): the process lock suffices
        self._thread = threading.Lock()
        self._fd: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock; False (not waiting) when `blocking` is off and another holds it."""
        if not self._thread.acquire(blocking=blocking):
            return False
        if self.path is None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                self._thread.release()
                return False
        except BaseException:
            if self._fd is None and self._thread.locked():
                self._thread.release()
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        """Let the next writer in."""
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self._thread.release()

    def __enter__(self) -> FileWriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


_file_locks: dict[str, FileWriterLock] = {}
_file_locks_guard = threading.Lock()


def lock_file(database: Database) -> Path | None:
    """The file whose lock says who writes to this SQLite database (beside it), or None for one in memory."""
    name = database.engine.url.database
    if not name or name == ":memory:" or name.startswith("file::memory:"):
        return None
    return Path(f"{name}.writer-lock")


def writer_lock(database: Database) -> AbstractContextManager:
    """What a dry run holds while it writes its preview: SQLite's one writer at a time (this machine's workers),
    nothing on PostgreSQL (it takes many writers)."""
    if database.engine.dialect.name != "sqlite":
        return nullcontext()
    path = lock_file(database)
    with _file_locks_guard:
        return _file_locks.setdefault(str(path), FileWriterLock(path))


@contextmanager
def apply_lock(session: Session, database: Database) -> Iterator[None]:
    """Held by an apply throughout: one apply at a time on every worker of every machine."""
    if database.engine.dialect.name == "postgresql":
        # Inside the apply's transaction: released at its commit or rollback, or when a killed worker's
        # connection drops.
        session.execute(select(func.pg_advisory_xact_lock(APPLY_LOCK_KEY)))
        yield
        return
    with writer_lock(database):
        yield


# ----- the tasks --------------------------------------------------------------------------------------

@task()
def plan(batch_id: int, *, token: str, attempt: int = 1, sheet: str | None = None,
         overrides: dict | None = None) -> None:
    """The dry run of a batch (first analysis, another sheet or a changed mapping)."""
    with _working(batch_id, token, "plan", {"sheet": sheet, "overrides": overrides}, attempt) as work:
        run_plan(_database(), _runner(), batch_id, sheet=sheet, overrides=overrides, progress=work.report)


@task()
def survey(batch_id: int, *, token: str, attempt: int = 1) -> None:
    """Sort a workbook batch's sheets into stations; each sheet's dry run is queued as its own task."""
    children: list[int] = []
    with _working(batch_id, token, "survey", {}, attempt):
        children = run_survey(_database(), _runner(), batch_id)
    for child_id in children:
        _runner().plan(child_id)


@task()
def apply(batch_id: int, *, token: str, attempt: int = 1, actor_id: int | None = None) -> None:
    """Write a batch that `services.start_apply` claimed, in one transaction."""
    with _working(batch_id, token, "apply", {"actor_id": actor_id}, attempt) as work:
        run_apply(_database(), _runner(), batch_id, actor_id, progress=work.report)


# The runner queues them by name (app/imports/runner.py).
TASKS: dict[str, Callable] = {"plan": plan, "survey": survey, "apply": apply}


def run_plan(database: Database, runner: ImportRunner, batch_id: int, *, sheet: str | None = None,
             overrides: dict | None = None, progress: Callable[[int, int], None] | None = None) -> None:
    """The dry run's work, committed once; a failure that is not the file's refuses a batch still being analysed."""
    try:
        with database.session_scope() as session:
            batch = session.get(ImportBatch, batch_id)
            if batch is None:
                return
            try:
                services.plan_batch(session, batch, today=today(), sheet=sheet, overrides=overrides,
                                    progress=progress, sandbox=runner.sandbox,
                                    writing=writer_lock(database))
            except DomainError as err:
                # The service recorded why (a rejected file, or a re-plan that keeps the previous
                # preview); that is committed like any other outcome.
                log.info("import batch %s not planned: %s", batch_id, err.message)
    except Exception:
        log.exception("planning import batch %s failed", batch_id)
        _reject_if_planning(database, batch_id)


def _reject_if_planning(database: Database, batch_id: int) -> None:
    """After a task's failure that is not the file's: a batch still being analysed is refused with PLAN_FAILED."""
    with database.session_scope() as session:
        batch = session.get(ImportBatch, batch_id)
        if batch is not None and batch.status == ImportStatus.PLANNING:
            services.reject(batch, PLAN_FAILED)


def run_survey(database: Database, runner: ImportRunner, batch_id: int) -> list[int]:
    """Sort the sheets (committed); the ids of the sheets' batches to analyse next."""
    try:
        with database.session_scope() as session:
            batch = session.get(ImportBatch, batch_id)
            if batch is None:
                return []
            creator = session.get(User, batch.created_by_id) if batch.created_by_id is not None else None
            try:
                return workbooks.survey_workbook(session, batch, workbooks.assignable_stations(session, creator),
                                                 sandbox=runner.sandbox,
                                                 writing=writer_lock(database))
            except DomainError as err:
                log.info("workbook batch %s not surveyed: %s", batch_id, err.message)
                return []
    except Exception:
        log.exception("surveying workbook batch %s failed", batch_id)
        _reject_if_planning(database, batch_id)
        return []


def run_apply(database: Database, runner: ImportRunner, batch_id: int, actor_id: int | None, *,
              progress: Callable[[int, int], None] | None = None) -> None:
    """The apply's work in one transaction, one apply at a time; any failure rolls all of it back and fails the batch."""
    try:
        with database.session_scope() as session, apply_lock(session, database):
            batch = session.get(ImportBatch, batch_id)
            if batch is None:
                return
            actor = session.get(User, actor_id) if actor_id is not None else None
            # A workbook batch applies all its sheets in this one transaction.
            write = workbooks.apply_workbook if batch.is_workbook else services.apply_batch
            write(session, actor, batch, today=today(), progress=progress, sandbox=runner.sandbox)
    except Exception as err:  # the whole apply rolled back: nothing of it is written
        message = err.message if isinstance(err, DomainError) else APPLY_FAILED
        if not isinstance(err, DomainError):
            log.exception("applying import batch %s failed", batch_id)
        with database.session_scope() as session:
            batch = session.get(ImportBatch, batch_id)
            if batch is not None and batch.status == ImportStatus.APPLYING:
                services.fail_batch(session, batch, message)


# ----- the scheduler's job ------------------------------------------------------------------------------

def recover_batches(*, session: Session, now, config) -> dict[str, int]:
    """Every minute: queue again a dry run whose worker stopped (once), or mark the batch failed; counts by outcome."""
    return ImportRunner.from_config(config).recover_all(session, now or utcnow())
