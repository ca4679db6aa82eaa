"""Background task records: create, claim, heartbeat, finish, recover and prune (no Flask; flush only: the
worker in app/tasks/background.py commits each step in a transaction of its own).

A worker holds a task by a claim token written when it takes the task. Its heartbeat, progress and finish are
UPDATEs guarded by that token, so once the recovery has taken a stale task back (new token or none), the old
worker's late writes change nothing and its file is removed: a task never has two results.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.accounts.models import Capability, User
from app.errors import NotFound
from app.tasks.models import BackgroundTask, TaskKind, TaskState

# Said when the recovery gives up on a task whose worker stopped answering.
STALE_FAILED = "处理该任务的工作进程已中断（可能被重启或停止），已重试仍未完成，请重新提交。"
REQUESTER_GONE = "申请人账号已停用，任务未执行。"


def create_task(session: Session, user: User, kind: TaskKind, title: str, params: dict) -> BackgroundTask:
    """A queued task for `user` (the caller commits, then hands its id to the queue)."""
    task = BackgroundTask(kind=kind, title=title[:200], params=params, requested_by_id=user.id,
                          state=TaskState.QUEUED, progress_done=0, attempts=0, runner="", error="",
                          result_name="", result_sha256="", result_path="")
    session.add(task)
    session.flush()
    return task


def may_see_all(user: User) -> bool:
    """Whether the user sees every user's tasks (administrators), not only their own."""
    return user.can(Capability.ADMINISTER)


def get_task(session: Session, user: User, task_id: int) -> BackgroundTask:
    """The task when the user asked for it (or may see every task); NotFound otherwise."""
    task = session.get(BackgroundTask, task_id)
    if task is None or (task.requested_by_id != user.id and not may_see_all(user)):
        raise NotFound("该后台任务不存在，或不是您提交的。")
    return task


def claim(session: Session, task_id: int, runner: str, now: dt.datetime) -> str | None:
    """Take a queued task for this worker (flush; the caller commits at once, in a transaction of its own): its
    claim token, or None when it is not queued any more
    (a duplicate message, or a task the recovery failed meanwhile)."""
    token = secrets.token_hex(16)
    taken = session.execute(
        update(BackgroundTask)
        .where(BackgroundTask.id == task_id, BackgroundTask.state == TaskState.QUEUED)
        .values(state=TaskState.RUNNING, claim_token=token, runner=runner[:100], started_at=now, heartbeat_at=now,
                attempts=BackgroundTask.attempts + 1, progress_done=0, error="", updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    return token if taken else None


def touch(session: Session, task_id: int, token: str, now: dt.datetime, done: int, total: int | None) -> bool:
    """The worker's heartbeat with its progress (flush; the heartbeat thread commits it at once in its own short
    transaction); False once the task is no longer this worker's."""
    touched = session.execute(
        update(BackgroundTask)
        .where(BackgroundTask.id == task_id, BackgroundTask.claim_token == token,
               BackgroundTask.state == TaskState.RUNNING)
        .values(heartbeat_at=now, progress_done=done, progress_total=total, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    return bool(touched)


@dataclass(frozen=True)
class Result:
    """What a finished task produced: a file in TASK_STORAGE (path relative to it) or a record elsewhere."""

    name: str
    size: int
    sha256: str
    path: str = ""
    ref: dict | None = None
    total: int | None = None


def finish(session: Session, task_id: int, token: str, now: dt.datetime, result: Result) -> bool:
    """Mark the task done with its result (flush; the caller commits with the work it guards); False when the
    claim was lost, and the caller then rolls back and removes its file."""
    done = session.execute(
        update(BackgroundTask)
        .where(BackgroundTask.id == task_id, BackgroundTask.claim_token == token,
               BackgroundTask.state == TaskState.RUNNING)
        .values(state=TaskState.DONE, finished_at=now, heartbeat_at=now, result_name=result.name[:255],
                result_size=result.size, result_sha256=result.sha256, result_path=result.path,
                result_ref=result.ref, progress_done=result.total if result.total is not None else 0,
                progress_total=result.total, claim_token=None, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    return bool(done)


def fail(session: Session, task_id: int, token: str | None, now: dt.datetime, message: str) -> bool:
    """Mark the task failed with a Chinese message (flush); with a token only while the worker still holds it."""
    stmt = update(BackgroundTask).where(BackgroundTask.id == task_id,
                                        BackgroundTask.state.in_([TaskState.QUEUED, TaskState.RUNNING]))
    if token is not None:
        stmt = stmt.where(BackgroundTask.claim_token == token)
    failed = session.execute(stmt.values(state=TaskState.FAILED, finished_at=now, error=message[:2000],
                                         claim_token=None, updated_at=now)
                             .execution_options(synchronize_session=False)).rowcount
    return bool(failed)


def recover_stale(session: Session, now: dt.datetime, stale_after: dt.timedelta, max_attempts: int) -> dict:
    """Running tasks whose heartbeat is older than `stale_after`: queued again while attempts remain, else
    failed with a message (flush). Returns the counts and the ids to hand to the queue after the commit."""
    cutoff = now - stale_after
    stale = session.execute(select(BackgroundTask.id, BackgroundTask.attempts, BackgroundTask.claim_token).where(
        BackgroundTask.state == TaskState.RUNNING, BackgroundTask.heartbeat_at < cutoff)).all()
    requeued, failed = [], 0
    for task_id, attempts, token in stale:
        guard = (update(BackgroundTask).where(BackgroundTask.id == task_id, BackgroundTask.claim_token == token,
                                              BackgroundTask.state == TaskState.RUNNING)
                 .execution_options(synchronize_session=False))
        if attempts < max_attempts:
            if session.execute(guard.values(state=TaskState.QUEUED, claim_token=None, heartbeat_at=None,
                                            updated_at=now)).rowcount:
                requeued.append(task_id)
        elif session.execute(guard.values(state=TaskState.FAILED, claim_token=None, finished_at=now,
                                          error=STALE_FAILED, updated_at=now)).rowcount:
            failed += 1
    session.flush()
    return {"requeued": len(requeued), "failed": failed, "ids": requeued}


def prune(session: Session, storage: str | Path, now: dt.datetime, keep: dt.timedelta) -> dict:
    """Delete finished tasks older than `keep` and their files (flush)."""
    old = session.scalars(select(BackgroundTask).where(
        BackgroundTask.state.in_([TaskState.DONE, TaskState.FAILED]),
        BackgroundTask.finished_at < now - keep)).all()
    files = 0
    for task in old:
        if task.result_path:
            files += remove_file(storage, task.result_path)
        session.delete(task)
    session.flush()
    return {"tasks": len(old), "files": files}


def result_file(storage: str | Path, task: BackgroundTask) -> Path:
    """The absolute path of a task's result file; NotFound when it is gone (pruned, or the folder moved)."""
    path = Path(storage) / task.result_path
    if not task.result_path or not path.is_file():
        raise NotFound("结果文件已不存在（可能已过保留期限被清理），请重新提交任务。")
    return path


def remove_file(storage: str | Path, relative: str) -> int:
    """Remove one result file if it is there; 1 when removed."""
    try:
        (Path(storage) / relative).unlink()
        return 1
    except FileNotFoundError:
        return 0


class ResultWriter:
    """A result written to a temporary file beside its final name and renamed only when whole, so a failed or
    interrupted write leaves no partial file under the final name (and `discard` removes the temporary one)."""

    def __init__(self, storage: str | Path, task_id: int, token: str, suffix: str) -> None:
        self.storage = Path(storage)
        self.storage.mkdir(parents=True, exist_ok=True)
        # The claim token in the name: a worker that lost its claim can never overwrite the winner's file.
        self.relative = f"task-{task_id}-{token[:12]}{suffix}"
        self.final = self.storage / self.relative
        self.temp = self.storage / f".{self.relative}.part"

    def open(self):
        """The temporary file, opened for binary writing."""
        return open(self.temp, "wb")

    def commit(self, name: str, total: int | None = None) -> Result:
        """fsync, hash and rename the temporary file into place; the Result to record."""
        digest = hashlib.sha256()
        with open(self.temp, "rb+") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
            os.fsync(fh.fileno())
        size = self.temp.stat().st_size
        os.replace(self.temp, self.final)
        return Result(name=name, size=size, sha256=digest.hexdigest(), path=self.relative, total=total)

    def discard(self) -> None:
        """Remove the temporary file and the final one (a failed task or a lost claim leaves nothing)."""
        for path in (self.temp, self.final):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
