"""Running a background task record on the queue: the worker's side (claim, heartbeat, the work, finish).

A request creates the record (state 排队中), commits, then calls `submit(id)`; a queue worker (or, in immediate
mode, the request's own thread) runs `execute(id)`:

1. claims the record (a guarded UPDATE, its own transaction): a duplicate message or a failed task is skipped;
2. loads the requester afresh: a user disabled meanwhile fails the task with a message; the scope is computed
   from the user as they are now, never as they were when they asked;
3. starts a heartbeat thread that writes the heartbeat time and progress every TASK_HEARTBEAT_SECONDS in its own
   short transaction (app/tasks/jobs.py's recovery takes back a task whose heartbeat stops);
4. runs the kind's handler, which writes its result to a temporary file renamed when whole;
5. records the result in a transaction guarded by the claim: a worker that lost its claim leaves nothing.

Exports and label sheets are built by the list page's own view, replayed in a request context made for the
requester (`replay`): the filter, sort, scope checks and columns are the page's, so the task cannot drift from
what the page would have given. The view sees `task_sink()` and writes its workbook or sheet to the task's file.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from flask import Flask, current_app, g, has_app_context
from flask_login import login_user
from werkzeug.exceptions import HTTPException

from app.accounts.models import User
from app.db import Database, utcnow
from app.errors import DomainError, Forbidden
from app.scope import Scope
from app.tasks import services
from app.tasks.models import BackgroundTask, TaskKind
from app.tasks.queue import huey, task

log = logging.getLogger(__name__)

INTERNAL_ERROR = "生成失败：服务器内部错误（已记录日志），请稍后重新提交；仍然失败请联系管理员。"
HTTP_REFUSALS = {403: "申请人已无权执行此操作，任务未完成。", 404: "所选记录已不存在或不在申请人的管辖范围内，任务未完成。"}


@task()
def run_background_task(task_id: int) -> None:
    """The queue's task: build one background task record's result."""
    execute(current_app._get_current_object(), task_id)


def submit(task_id: int) -> None:
    """Hand a committed task record to the queue (in immediate mode it runs here, now)."""
    run_background_task(task_id)


@dataclass
class Progress:
    """Done / total of the running task, read by the heartbeat thread."""

    done: int = 0
    total: int | None = None

    def __call__(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total

    def counting(self, rows: Iterable, total: int | None = None, every: int = 500) -> Iterator:
        """Pass rows through, counting them as progress."""
        if total is not None:
            self.total = total
        done = 0
        for row in rows:
            yield row
            done += 1
            if done % every == 0:
                self.done = done
        self.done = done


@dataclass
class TaskSink:
    """Where a replayed view writes its result, and what it says about it (set by the view)."""

    writer: services.ResultWriter
    progress: Progress
    name: str = ""
    total: int | None = None
    ref: dict | None = None
    written: bool = field(default=False)

    def open(self):
        """The task's temporary result file (binary)."""
        return self.writer.open()

    def done(self, name: str, total: int | None = None, ref: dict | None = None) -> str:
        """The view says its file is written; the runner records it."""
        self.name, self.total, self.ref, self.written = name, total, ref, True
        return ""


def task_sink() -> TaskSink | None:
    """In a view: the running task's sink when the view is being replayed by a background task, else None."""
    return g.get("task_sink") if has_app_context() else None


class Heartbeat(threading.Thread):
    """Touches the task's heartbeat and progress every few seconds, each time in its own short transaction."""

    def __init__(self, database: Database, task_id: int, token: str, progress: Progress, every: float) -> None:
        super().__init__(name=f"task-{task_id}-heartbeat", daemon=True)
        self.database, self.task_id, self.token, self.progress, self.every = database, task_id, token, progress, every
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                with self.database.session_scope() as session:
                    if not services.touch(session, self.task_id, self.token, utcnow(), self.progress.done,
                                          self.progress.total):
                        self.lost = True
                        return
            except Exception:  # noqa: BLE001 - a missed beat is retried; the task itself goes on
                log.exception("heartbeat of task %s failed", self.task_id)

    def stop(self) -> None:
        self.stopped.set()
        if self.is_alive():
            self.join(timeout=self.every + 5)


@dataclass
class Context:
    """What a handler gets: the app, the session of the result's transaction, the requester and the task."""

    app: Flask
    session: object
    user: User
    task: BackgroundTask
    progress: Progress
    writer: services.ResultWriter


HANDLERS: dict[TaskKind, Callable[[Context], services.Result]] = {}


def handler(kind: TaskKind):
    """Register the function that builds a kind's result."""

    def register(fn):
        HANDLERS[kind] = fn
        return fn

    return register


def runner_name() -> str:
    """This worker's name on the record: host, process and thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"[:100]


def execute(app: Flask, task_id: int) -> None:
    """Claim, run and finish one task record (never raises: a failure is recorded on the task)."""
    database: Database = app.extensions["database"]
    config = app.config
    with database.session_scope() as session:
        token = services.claim(session, task_id, runner_name(), utcnow())
    if token is None:
        log.info("task %s is not queued any more; skipped", task_id)
        return
    progress = Progress()
    beat = None
    if not huey.immediate:  # immediate mode runs in a request's (or a test's) one connection: no second thread
        beat = Heartbeat(database, task_id, token, progress, float(config["TASK_HEARTBEAT_SECONDS"]))
        beat.start()
    writer = None
    try:
        with database.session_scope() as session:
            record = session.get(BackgroundTask, task_id)
            user = session.get(User, record.requested_by_id)
            if user is None or not user.is_active:
                raise Forbidden(services.REQUESTER_GONE)
            writer = services.ResultWriter(config["TASK_STORAGE"], task_id, token, suffix_for(record))
            result = HANDLERS[record.kind](Context(app, session, user, record, progress, writer))
            if not services.finish(session, task_id, token, utcnow(), result):
                session.rollback()
                writer.discard()
                log.warning("task %s was taken back while it ran; its result is dropped", task_id)
                return
        log.info("task %s done: %s (%s bytes)", task_id, result.name, result.size)
    except Exception as err:  # noqa: BLE001 - a failed task is recorded with its message, never raised
        message = failure_message(err)
        if writer is not None:
            writer.discard()
        if message == INTERNAL_ERROR:
            log.exception("task %s failed", task_id)
        with database.session_scope() as session:
            services.fail(session, task_id, token, utcnow(), message)
    finally:
        if beat is not None:
            beat.stop()


def failure_message(err: BaseException) -> str:
    """The Chinese message a failed task shows."""
    if isinstance(err, DomainError):
        return err.message
    if isinstance(err, HTTPException) and err.code in HTTP_REFUSALS:
        return HTTP_REFUSALS[err.code]
    if isinstance(err, OSError):
        return f"结果文件写入失败（{err.strerror or err}），未保留任何部分文件；请联系管理员检查存储空间。"
    return INTERNAL_ERROR


def suffix_for(record: BackgroundTask) -> str:
    """The result file's extension by kind."""
    return {TaskKind.LABELS: ".html", TaskKind.EXPORT: ".xlsx"}.get(record.kind, ".bin")


def replay(ctx: Context) -> services.Result:
    """Run the list page's view for the requester in a request made from the task's parameters; the view writes
    its result to the sink (see the module docstring)."""
    params = ctx.task.params
    sink = TaskSink(ctx.writer, ctx.progress)
    # A fresh app context: its own `g`, so the replay never sees the request (or worker) it runs inside.
    with ctx.app.app_context(), ctx.app.test_request_context(params["path"], query_string=params.get("query", ""),
                                                            base_url=params.get("base_url") or None):
        if not login_user(ctx.user):
            raise Forbidden(services.REQUESTER_GONE)
        g.task_sink = sink
        ctx.app.view_functions[params["endpoint"]](**params.get("view_args", {}))
    if not sink.written:
        raise Forbidden("申请人已无权执行此操作，任务未完成。")
    return dataclasses.replace(ctx.writer.commit(sink.name, sink.total), ref=sink.ref)


handler(TaskKind.EXPORT)(replay)
handler(TaskKind.LABELS)(replay)


@handler(TaskKind.MONTHLY_REPORT)
def monthly_report(ctx: Context) -> services.Result:
    """Build the month's report into the archive, as the 生成月报 button did in the request; the task's result
    points at the archived report (one transaction with the task's finish)."""
    import hashlib

    from app.monthly.services import build_report
    from reports.monthly import Month

    from app.monthly.services import edition_regions
    from app.rollups.tree import load_tree

    station_id, region_id = ctx.task.params.get("station_id"), ctx.task.params.get("region_id")
    scope = Scope.for_user(ctx.user, ctx.session)
    if region_id is not None:
        if region_id not in edition_regions(load_tree(ctx.session), ctx.user):
            raise Forbidden("申请人已无权生成该区划的月报（所属区划已变更），任务未完成。")
    elif (station_id is None and not scope.is_all) or not scope.allows(station_id):
        raise Forbidden("申请人已无权生成该范围的月报（所属监管所已变更），任务未完成。")
    report = build_report(ctx.session, ctx.user, Month.parse(ctx.task.params["month"]), station_id, region_id)
    return services.Result(name=report.file_name, size=report.size, sha256=hashlib.sha256(report.content).hexdigest(),
                           ref={"monthly_report": report.id})
