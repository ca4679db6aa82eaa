"""Background tasks: the monthly report, a large export and a label sheet through the queue (immediate mode), one
through a real Huey consumer on a SQLite queue file, the recovery of a stale running task, who may see a task,
and a failed task's message with no file left behind."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import time
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.db import utcnow
from app.instruments.models import Instrument
from app.monthly.models import MonthlyReport
from app.public.qr import qr_svg
from app.tasks import queue, services
from app.tasks.background import execute
from app.tasks.jobs import prune_tasks, recover_tasks
from app.tasks.models import BackgroundTask, TaskKind, TaskState
from app.tasks.runtime import start_in_process
from tests import factories as f
from tests.conftest import fresh_app, login


@pytest.fixture(autouse=True)
def _own_storage(request, tmp_path):
    """Each test's results in its own folder (task ids repeat from one rolled-back test to the next)."""
    if "app" in request.fixturenames and "real_queue" not in request.fixturenames:
        request.getfixturevalue("app").config["TASK_STORAGE"] = str(tmp_path / "tasks")


def task_of(resp) -> int:
    """The task id of a redirect to its status page."""
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    match = re.search(r"/tasks/(\d+)$", resp.headers["Location"])
    assert match, resp.headers["Location"]
    return int(match.group(1))


def record(session, task_id: int) -> BackgroundTask:
    session.expire_all()
    return session.get(BackgroundTask, task_id)


def files_of(storage: str, task_id: int) -> list[str]:
    folder = Path(storage)
    return sorted(p.name for p in folder.glob(f"*task-{task_id}-*")) if folder.is_dir() else []


def test_monthly_report_is_queued_and_lands_in_the_archive(client, session, world):
    login(client, "super1")
    task_id = task_of(client.post("/reports/monthly/build", data={"month": "2026-10", "station_id": ""}))
    task = record(session, task_id)
    assert (task.kind, task.state, task.attempts, task.title) == (TaskKind.MONTHLY_REPORT, TaskState.DONE, 1,
                                                                  "2026年10月月报（全部监管所）")
    report = session.scalars(select(MonthlyReport).where(MonthlyReport.month == "2026-10")).one()
    assert task.result_ref == {"monthly_report": report.id}
    assert task.result_sha256 == hashlib.sha256(report.content).hexdigest()
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "已完成" in page and 'http-equiv="refresh"' not in page and f"/tasks/{task_id}/download" in page
    download = client.get(f"/tasks/{task_id}/download")
    assert download.headers["Location"].endswith(f"/reports/monthly/{report.id}/download")
    assert load_workbook(io.BytesIO(client.get(download.headers["Location"]).data)).sheetnames[0] == "汇总"
    assert "2026年10月月报" in client.get("/tasks/").get_data(as_text=True)


def test_large_export_is_a_task_with_the_requesters_filter_and_scope(app, client, session, world):
    app.config["EXPORT_INLINE_ROWS"] = 0
    f.instrument(session, world.merchant_a, serial="A-002")
    session.commit()
    login(client, "insp_a")
    task_id = task_of(client.get("/instruments/export.xlsx?sort=serial&q=A-00"))
    task = record(session, task_id)
    assert task.state == TaskState.DONE, task.error
    assert task.params["query"] == "sort=serial&q=A-00" and (task.progress_done, task.progress_total) == (2, 2)
    data = client.get(f"/tasks/{task_id}/download").data
    assert hashlib.sha256(data).hexdigest() == task.result_sha256 and len(data) == task.result_size
    sheet = load_workbook(io.BytesIO(data)).active
    serials = [c.value for c in sheet["C"][1:]] if sheet["C"][0].value == "出厂编号" else \
        [v for row in sheet.iter_rows(min_row=2, values_only=True) for v in row if v in ("A-001", "A-002", "B-001")]
    assert sorted(serials) == ["A-001", "A-002"]  # station B's instrument is outside insp_a's scope
    assert task.result_name.startswith("计量器具_") and task.result_name.endswith(".xlsx")

    # Another user's task is not there for them; the admin sees every task.
    other = app.test_client()
    login(other, "insp_b")
    assert other.get(f"/tasks/{task_id}").status_code == 404
    assert other.get(f"/tasks/{task_id}/download").status_code == 404
    assert "导出计量器具" not in other.get("/tasks/").get_data(as_text=True)
    admin = app.test_client()
    login(admin, "admin1")
    assert admin.get(f"/tasks/{task_id}/download").status_code == 200
    assert "导出计量器具" in admin.get("/tasks/?all=1").get_data(as_text=True)


def test_small_export_stays_inline(client, session, world):
    login(client, "insp_a")
    resp = client.get("/instruments/export.xlsx")
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    assert session.scalar(select(BackgroundTask.id)) is None


def test_large_label_sheet_is_a_task_opened_under_its_own_nonce(app, client, session, world):
    app.config["LABELS_INLINE"] = 0
    app.config["PUBLIC_BASE_URL"] = "https://jl.example.gov.cn"
    login(client, "insp_a")
    task_id = task_of(client.post("/instruments/labels", data={"size": "52x30"}))
    task = record(session, task_id)
    assert task.state == TaskState.DONE, task.error
    token = session.scalar(select(Instrument.public_token).where(Instrument.id == world.instrument_a.id))
    assert token and session.scalar(select(Instrument.public_token).where(Instrument.id == world.instrument_b.id)) \
        is None  # tokens only for the requester's stations
    resp = client.get(f"/tasks/{task_id}/download")
    html = resp.get_data(as_text=True)
    assert resp.mimetype == "text/html" and qr_svg(f"https://jl.example.gov.cn/public/i/{token}") in html
    assert "52.5 × 29.7 mm" in html
    nonce = re.search(r'<style nonce="([^"]+)"', html).group(1)
    assert f"'nonce-{nonce}'" in resp.headers["Content-Security-Policy"]
    assert "打开标签页打印" in client.get(f"/tasks/{task_id}").get_data(as_text=True)
    # Opened directly, a selection above the threshold is sent back to the form rather than built in the request.
    assert client.get("/instruments/labels/sheet").status_code == 302


def test_a_requester_disabled_meanwhile_fails_the_task_with_a_message(app, session, world):
    task = services.create_task(session, world.inspector_a, TaskKind.MONTHLY_REPORT, "月报",
                                {"month": "2026-10", "station_id": world.station_a.id})
    world.inspector_a.is_active = False
    session.commit()
    execute(app, task.id)
    task = record(session, task.id)
    assert (task.state, task.error) == (TaskState.FAILED, services.REQUESTER_GONE)
    assert session.scalar(select(MonthlyReport.id)) is None


def test_a_failed_write_shows_its_message_and_leaves_no_file(app, client, session, world, small_disk):
    storage = small_disk.path / "tasks"
    storage.mkdir()
    app.config.update(EXPORT_INLINE_ROWS=0, TASK_STORAGE=str(storage))
    small_disk.fill()
    login(client, "insp_a")
    task_id = task_of(client.get("/instruments/export.xlsx"))
    task = record(session, task_id)
    assert task.state == TaskState.FAILED and "结果文件写入失败" in task.error and "未保留任何部分文件" in task.error
    assert list(storage.iterdir()) == []
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "结果文件写入失败" in page and "/download" not in page.split('id="task"')[1]
    assert client.get(f"/tasks/{task_id}/download").status_code == 302  # to the status page: nothing to send


def _running(session, world, attempts_before: int) -> tuple[int, str]:
    """An export task taken by a worker that then died: running, its heartbeat a minute old."""
    task = services.create_task(session, world.inspector_a, TaskKind.EXPORT, "导出计量器具（1 条）",
                                {"endpoint": "instruments.export", "view_args": {},
                                 "path": "/instruments/export.xlsx", "query": ""})
    task.attempts = attempts_before
    session.commit()
    token = services.claim(session, task.id, "dead-worker", utcnow() - dt.timedelta(minutes=1))
    session.commit()
    return task.id, token


def test_a_stale_running_task_is_run_again_once_and_never_gives_two_results(app, session, world):
    config = {**app.config, "TASK_STALE_SECONDS": 30, "TASK_MAX_ATTEMPTS": 2}
    task_id, dead_token = _running(session, world, attempts_before=0)
    fresh_id, _ = _running(session, world, attempts_before=0)
    session.execute(BackgroundTask.__table__.update().where(BackgroundTask.id == fresh_id)
                    .values(heartbeat_at=utcnow()))
    session.commit()
    # In the app's context, as the scheduler runs inside a process's one app (the queue's context runner is the
    # last app built in this process, which under pytest may be another test's).
    with app.app_context():
        counts = recover_tasks(session=session, now=utcnow(), config=config)
    assert counts == {"requeued": 1, "failed": 0}  # the task with a fresh heartbeat is left alone
    task = record(session, task_id)
    assert (task.state, task.attempts) == (TaskState.DONE, 2), task.error  # immediate mode: run again at once
    assert record(session, fresh_id).state == TaskState.RUNNING
    # The dead worker wakes up: its claim is gone, so its result counts for nothing.
    late = services.Result(name="late.xlsx", size=1, sha256="0" * 64, path="late.xlsx")
    assert not services.finish(session, task_id, dead_token, utcnow(), late)
    assert not services.touch(session, task_id, dead_token, utcnow(), 1, 1)
    assert record(session, task_id).result_name != "late.xlsx"
    assert len(files_of(app.config["TASK_STORAGE"], task_id)) == 1


def test_a_task_stale_on_its_last_attempt_fails_with_a_message(app, session, world):
    task_id, _ = _running(session, world, attempts_before=1)
    with app.app_context():
        counts = recover_tasks(session=session, now=utcnow(), config={**app.config, "TASK_MAX_ATTEMPTS": 2})
    assert counts == {"requeued": 0, "failed": 1}
    task = record(session, task_id)
    assert (task.state, task.error) == (TaskState.FAILED, services.STALE_FAILED)
    assert files_of(app.config["TASK_STORAGE"], task_id) == []


def test_old_results_are_pruned_with_their_files(app, client, session, world):
    app.config["EXPORT_INLINE_ROWS"] = 0
    login(client, "insp_a")
    task_id = task_of(client.get("/instruments/export.xlsx"))
    storage = app.config["TASK_STORAGE"]
    assert len(files_of(storage, task_id)) == 1
    assert prune_tasks(session=session, now=utcnow(), config=app.config) == {"tasks": 0, "files": 0}
    later = utcnow() + dt.timedelta(days=app.config["TASK_KEEP_DAYS"] + 1)
    assert prune_tasks(session=session, now=later, config=app.config) == {"tasks": 1, "files": 1}
    session.commit()
    assert files_of(storage, task_id) == [] and record(session, task_id) is None


@pytest.fixture()
def real_queue(database_url, tmp_path):
    """An app whose tasks go through a SQLite queue file to worker threads of a Huey consumer in this process;
    the shared queue is put back into immediate mode afterwards."""
    saved_context = queue._context
    application = fresh_app(database_url, TASKS_IMMEDIATE=False, TASK_QUEUE_URL=f"sqlite:///{tmp_path / 'queue.db'}",
                            TASK_STORAGE=str(tmp_path / "results"), TASK_HEARTBEAT_SECONDS=0.2,
                            EXPORT_INLINE_ROWS=0)
    consumer = start_in_process(application, 2, stop_at_exit=False)
    try:
        yield application
    finally:
        consumer.stop(graceful=True)
        queue.bind("memory://", immediate=True)
        queue.set_context(saved_context)
        application.extensions["database"].dispose()


def test_an_export_through_a_real_consumer_on_a_sqlite_queue(real_queue):
    app = real_queue
    database = app.extensions["database"]
    with database.session_scope() as s:
        world = f.build_world(s)
        f.instrument(s, world.merchant_a, serial="A-002")
    client = app.test_client()
    login(client, "insp_a")
    task_id = task_of(client.get("/instruments/export.xlsx"))
    assert Path(app.config["TASK_QUEUE_URL"].removeprefix("sqlite:///")).is_file()
    deadline = time.monotonic() + 60
    while True:
        with database.session_scope() as s:
            task = s.get(BackgroundTask, task_id)
            if task.state.finished or time.monotonic() > deadline:
                break
        time.sleep(0.05)
    assert task.state == TaskState.DONE, (task.state, task.error)
    assert task.runner and task.runner != "" and task.heartbeat_at is not None and task.attempts == 1
    data = client.get(f"/tasks/{task_id}/download").data
    assert hashlib.sha256(data).hexdigest() == task.result_sha256
    assert load_workbook(io.BytesIO(data)).active.max_row == 3  # header and station A's two instruments
