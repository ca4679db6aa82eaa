"""Uploads are read in a limited child process: hostile files are refused with a Chinese message
through the web upload while the service keeps answering, a normal ledger imports through the same
child, a file that never finishes reading does not hold up another station's dry run, and an import
whose process is SIGKILLed mid-apply is recognised as failed within two minutes.
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.clock import today
from app.db import utcnow
from app.imports import services
from app.imports.heartbeat import heartbeat_path, last_beat
from app.imports.models import ImportBatch, ImportRow, ImportStatus
from app.scope import Scope
from importers.limits import MB
from importers.sandbox import SandboxLimits
from tests.conftest import login
from tests.importers.builders import far_cell_xlsx, write_xls, zip_bomb_xlsx
from tests.test_import_views import ROWS, batch_of, ledger_counts, ledger_xlsx, text, upload
from tests.test_scheduler_processes import wait_for
from tests.task_workers import queue_workers

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def sandboxed(app):
    """The app's runner reading uploads in the child process, as in production."""
    runner = app.extensions["import_runner"]
    runner.sandbox = SandboxLimits(memory_bytes=1024 * MB, seconds=60)
    return runner


@pytest.fixture()
def insp_a(client, world):
    login(client, "insp_a")
    return client


HOSTILE = {
    "四十亿行.xls": (lambda p: write_xls(p, {"台账": [["使用单位名称", "器具名称", "出厂编号"]]},
                                         dimensions=(0xFFFFFFF0, 3)),
                  "工作表“台账”有4294967280行，超过单次导入上限200000行"),
    "远处单元格.xlsx": (far_cell_xlsx, "工作表“台账”超过单次导入上限200000行"),
    "压缩炸弹.xlsx": (lambda p: zip_bomb_xlsx(p, 24), "文件解开后过大"),
}


def test_hostile_uploads_are_refused_with_the_reason_and_nothing_is_written(app, insp_a, session, world, sandboxed,
                                                                             tmp_path):
    before = ledger_counts(session)
    other = app.test_client()
    login(other, "insp_b")
    for name, (build, reason) in HOSTILE.items():
        data = build(tmp_path / name).read_bytes()
        batch = batch_of(session, upload(insp_a, world.station_a.id, data, name))
        assert batch.status == ImportStatus.REJECTED and reason in batch.message, (name, batch.message)
        assert reason in text(insp_a.get(f"/imports/{batch.id}"))
        # Another user is answered between the uploads.
        assert other.get("/imports/").status_code == 200
    assert ledger_counts(session) == before
    assert session.scalar(select(func.count()).select_from(ImportRow)) == 0


def test_a_ledger_imports_through_the_child_process(insp_a, session, world, sandboxed):
    batch = batch_of(session, upload(insp_a, world.station_a.id, ledger_xlsx()))
    assert batch.status == ImportStatus.PREVIEW and batch.counts["rows"] == 4 and batch.counts["errors"] == 1
    # The child stashes the parse after answering; without it the apply reads the file again, in a child too.
    folder = Path(batch.stored_path).parent
    stashes = wait_for(lambda: list(folder.glob(f"{batch.file_hash}.*.parsed")), "the dry run's stash")
    for stash in stashes:
        stash.unlink()
    resp = insp_a.post(f"/imports/{batch.id}/apply", data={"version": batch.version, "only_valid": "y"})
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(ImportBatch, batch.id).status == ImportStatus.APPLIED
    assert ledger_counts(session)[1] >= 3


# --- an import killed mid-apply --------------------------------------------------------------------

CHILD_SCRIPT = """
import sys
from app import create_app
from config import TestConfig
app = create_app(TestConfig, DATABASE_URL=sys.argv[1], IMPORT_STORAGE=sys.argv[2], IMPORT_HEARTBEAT_SECONDS=0.2)
with app.app_context():
    app.extensions["import_runner"].apply(int(sys.argv[3]), None)  # immediate mode: the apply task runs here
"""


class WriterLock:
    """Holds the database's write lock (SQLite) or the merchants table (PostgreSQL), so an apply cannot finish."""

    def __init__(self, app) -> None:
        url = app.config["DATABASE_URL"]
        if url.startswith("sqlite"):
            self.conn = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
            self.conn.execute("BEGIN IMMEDIATE")
        else:
            self.conn = app.extensions["database"].engine.connect()
            self.conn.exec_driver_sql("LOCK TABLE merchants IN ACCESS EXCLUSIVE MODE")

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


@pytest.mark.commits  # a child process and a second connection see the batch
def test_an_import_killed_mid_apply_is_failed_within_two_minutes(app, session, world, tmp_path):
    storage = str(tmp_path / "uploads")
    batch = services.create_batch(session, None, Scope.everything(), station_id=world.station_a.id,
                                  file_name="台账.xlsx", data=ledger_xlsx(), storage_dir=storage)
    services.plan_batch(session, batch, today=today())
    services.start_apply(session, None, batch, expected_version=batch.version, only_valid=True)
    session.commit()
    beat = heartbeat_path(storage, batch.id)

    lock = WriterLock(app)
    try:
        child = subprocess.Popen([sys.executable, "-c", CHILD_SCRIPT, app.config["DATABASE_URL"], storage,
                                  str(batch.id)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            first = wait_for(lambda: last_beat(beat), "the apply's first heartbeat")
            wait_for(lambda: (last_beat(beat) or first) > first, "a second heartbeat")  # it beats while it works
            # A long apply whose row has not moved for ten minutes is still taken as running while it beats.
            alive = session.get(ImportBatch, batch.id)
            alive.updated_at = utcnow() - dt.timedelta(minutes=10)
            assert not services.recover_interrupted(session, alive, utcnow())
            session.rollback()
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
    finally:
        lock.release()

    assert child.returncode == -signal.SIGKILL
    session.expire_all()
    batch = session.get(ImportBatch, batch.id)
    assert batch.status == ImportStatus.APPLYING  # what the killed process left
    assert beat.exists()  # nobody removed it: nobody beats it either
    # Just killed: its heartbeat is recent, so it is still taken as running.
    assert not services.recover_interrupted(session, batch, utcnow())
    # Two minutes after its last heartbeat it is failed, however recently the row itself moved.
    batch.updated_at = last_beat(beat)
    assert services.recover_interrupted(session, batch, last_beat(beat) + dt.timedelta(minutes=2))
    session.commit()
    assert batch.status == ImportStatus.FAILED and "处理过程中断" in batch.message


# --- dry runs side by side -----------------------------------------------------------------------

@pytest.mark.commits  # imports run in the queue's worker threads, each with its own connection
def test_a_file_that_never_finishes_reading_does_not_hold_up_another_stations_dry_run(app, session, world,
                                                                                     tmp_path, monkeypatch):
    storage = str(tmp_path / "uploads")
    runner = app.extensions["import_runner"]
    monkeypatch.setattr(runner, "sandbox", SandboxLimits(memory_bytes=1024 * MB, seconds=60))
    stuck = services.create_batch(session, None, Scope.everything(), station_id=world.station_a.id,
                                  file_name="卡住.xlsx", data=ledger_xlsx(ROWS[:1]), storage_dir=storage)
    # Its stored file becomes a pipe nobody writes to: the dry run reading it (to check it is the file
    # uploaded, then to parse it) waits until the pipe is closed.
    fifo = tmp_path / "卡住.xlsx"
    os.mkfifo(fifo)
    stuck.stored_path = str(fifo)
    other = services.create_batch(session, None, Scope.everything(), station_id=world.station_b.id,
                                  file_name="乙台账.xlsx", data=ledger_xlsx(), storage_dir=storage)
    session.commit()
    with queue_workers(app, f"sqlite:///{tmp_path / 'tasks.db'}", workers=2):
        try:
            runner.plan(stuck.id)
            wait_for(lambda: runner.progress(stuck.id) == (0, 1), "the stuck dry run to start")
            runner.plan(other.id)
            wait_for(lambda: _status(session, other.id) == ImportStatus.PREVIEW, "the other station's preview")
            assert _status(session, stuck.id) == ImportStatus.PLANNING and runner.is_running(stuck.id)
        finally:
            # Closing the pipe's writing end gives the reader an empty file: not the one uploaded.
            writer = wait_for(lambda: _open_writer(fifo), "the dry run to open the pipe")
            os.close(writer)
        wait_for(lambda: _status(session, stuck.id) == ImportStatus.REJECTED and not runner.is_running(stuck.id),
                 "the stuck dry run to end")
    assert session.get(ImportBatch, stuck.id).message == "保存的台账文件已丢失或损坏，请重新上传"


def _status(session, batch_id: int) -> ImportStatus:
    session.expire_all()
    return session.get(ImportBatch, batch_id).status


def _open_writer(fifo: Path) -> int | None:
    try:
        return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # no reader yet
        return None


def test_the_batch_list_shows_an_interrupted_batch_as_failed(app, insp_a, session, world):
    batch = batch_of(session, upload(insp_a, world.station_a.id, ledger_xlsx(ROWS[:2])))
    with app.extensions["database"].session_scope() as s:
        b = s.get(ImportBatch, batch.id)
        b.status = ImportStatus.APPLYING  # as a process killed while applying leaves it, long ago
        b.updated_at = b.updated_at - dt.timedelta(minutes=5)
    assert insp_a.get("/imports/").status_code == 200
    assert _status(session, batch.id) == ImportStatus.FAILED
