"""Imports and delivery on a real task queue (Huey): worker threads in this process on a SQLite queue file and on
Redis (db 7), and `flask tasks worker` processes killed with SIGKILL in the middle of an apply.

What must hold: an upload is analysed and applied by whichever worker takes its tasks; the progress is read from
the queue's store by another process; a worker killed mid-apply leaves nothing written, the recovery job marks
the batch failed, and applying again with a new worker writes it exactly once; delivery tasks are queued once.
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.clock import today
from app.db import utcnow
from app.imports import services
from app.imports.models import ImportBatch, ImportedRecord, ImportStatus
from app.instruments.models import Instrument
from app.jobs.models import RunTrigger
from app.mail import services as mail_services
from app.mail import tasks as mail_tasks
from app.scheduler import load_registry, run_job
from app.scope import Scope
from app.tasks import state
from app.webhooks import tasks as webhook_tasks
from tests.processes import stop_processes
from tests.conftest import fresh_app, login
from tests.task_workers import bound_queue, queue_workers, redis_turn
from tests.test_import_views import ROWS, ledger_counts, ledger_xlsx, upload, wait_for_status
from tests.test_scheduler_processes import wait_for

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.commits  # workers (threads with their own connections, or processes) see the commits


@pytest.fixture(params=["sqlite-queue", "redis-queue"])
def queue_url(request, tmp_path):
    """A real queue: a SQLite file of the test's own, or the Redis test database (db 7), taken in turn."""
    if request.param == "sqlite-queue":
        yield f"sqlite:///{tmp_path / 'tasks.db'}"
        return
    with redis_turn() as url:
        yield url


def test_an_upload_is_analysed_and_applied_by_queue_workers(app, session, world, queue_url):
    client = app.test_client()
    login(client, "insp_a")
    before = ledger_counts(session)
    with queue_workers(app, queue_url, workers=2):
        resp = upload(client, world.station_a.id, ledger_xlsx(ROWS[:2]))
        batch_id = int(resp.headers["Location"].rsplit("/", 1)[1])
        assert wait_for_status(app, batch_id, {ImportStatus.PREVIEW, ImportStatus.REJECTED}) == ImportStatus.PREVIEW
        session.expire_all()
        batch = session.get(ImportBatch, batch_id)
        assert client.post(f"/imports/{batch_id}/apply", data={"version": batch.version}).status_code == 302
        # A second submit of the same page is refused by the batch's state: queued once, applied once.
        again = client.post(f"/imports/{batch_id}/apply", data={"version": batch.version})
        assert again.status_code == 200
        assert wait_for_status(app, batch_id, {ImportStatus.APPLIED, ImportStatus.FAILED}) == ImportStatus.APPLIED
    assert ledger_counts(session) == (before[0] + 1, before[1] + 2, before[2] + 2)
    assert state.get(f"import:{batch_id}") is None  # the task's record went with it


# --- a worker process killed mid-apply -------------------------------------------------------------------

BIG_ROWS = 20000


def big_ledger(rows: int = BIG_ROWS) -> bytes:
    """A generated ledger of `rows` scales in 300 markets: long enough to apply that a worker can be killed in it."""
    return ledger_xlsx([[i + 1, f"城东第{i % 300}号市场经营户", "电子计价秤", f"KILL-{i:06d}", dt.date(2024, 3, 1),
                         dt.date(2025, 2, 28), "合格", ""] for i in range(rows)])


def start_worker(app, url: str, storage: str, log: Path) -> subprocess.Popen:
    """`flask tasks worker` in its own process, on the test database, the queue at `url` and the test's uploads."""
    env = {**os.environ, "APP_ENV": "development", "DATABASE_URL": app.config["DATABASE_URL"], "TASK_QUEUE_URL": url,
           "IMPORT_STORAGE": storage, "IMPORT_HEARTBEAT_SECONDS": "0.3", "IMPORT_STALE_SECONDS": "3",
           "SCHEDULER_IN_APP": "0", "TASKS_IN_APP": "0", "PYTHONPATH": str(ROOT),
           "SECRET_KEY_FILE": str(log.parent / "secret_key")}
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "tasks", "worker", "--workers", "1"],
                            cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)


def written_by(session, batch_id: int) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(ImportedRecord).where(ImportedRecord.batch_id == batch_id))


def kill_serials(session) -> int:
    return session.scalar(select(func.count()).select_from(Instrument).where(Instrument.serial_no.like("KILL-%")))


def test_a_worker_killed_mid_apply_is_recovered_and_the_batch_applies_once(database_url, tmp_path):
    storage = str(tmp_path / "uploads")
    app = fresh_app(database_url, IMPORT_STORAGE=storage, IMPORT_HEARTBEAT_SECONDS=0.3, IMPORT_STALE_SECONDS=3)
    database = app.extensions["database"]
    runner = app.extensions["import_runner"]
    recovery = load_registry()["import_recovery"]
    from tests.factories import station

    with redis_turn() as url, bound_queue(app, url):
        with database.session_scope() as session:
            east = station(session, "CD01", "城东所")
            batch = services.create_batch(session, None, Scope.everything(), station_id=east.id,
                                          file_name="大台账.xlsx", data=big_ledger(), storage_dir=storage)
            services.plan_batch(session, batch, today=today())
            assert batch.status == ImportStatus.PREVIEW and batch.counts["rows"] == BIG_ROWS
            services.start_apply(session, None, batch, expected_version=batch.version, only_valid=False)
            batch_id = batch.id
        runner.apply(batch_id, None)
        assert runner.progress(batch_id) == (0, 0)  # queued: no worker yet

        worker = start_worker(app, url, storage, tmp_path / "worker-1.log")
        try:
            # The worker's progress, read here from Redis: the apply has read and planned the rows again (half of
            # its progress) and goes on to write them.
            wait_for(lambda: (runner.progress(batch_id) or (0, 0))[0] > 0, "the apply's first progress")
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=30)
        assert worker.returncode == -signal.SIGKILL
        with database.session_scope() as session:
            assert session.get(ImportBatch, batch_id).status == ImportStatus.APPLYING  # what the killed worker left
            assert written_by(session, batch_id) == 0 and kill_serials(session) == 0  # its transaction rolled back

        # The scheduler's recovery job (every minute) marks it failed once its beats are older than
        # IMPORT_STALE_SECONDS; until then it counts it as running.
        def recovered():
            run = run_job(database, recovery, trigger=RunTrigger.COMMAND, runner="test", config=app.config)
            assert run.error == ""
            return run if run.counts.get("failed") else None

        run = wait_for(recovered, "the recovery job to mark the batch failed")
        assert run.counts == {"requeued": 0, "failed": 1, "waiting": 0, "running": 0}
        assert recovery.summary(run.counts).startswith("重新排队分析 0 个，标记为中断 1 个")
        with database.session_scope() as session:
            failed = session.get(ImportBatch, batch_id)
            assert failed.status == ImportStatus.FAILED and "处理过程中断" in failed.message
            assert "没有写入任何数据" in failed.message
            assert written_by(session, batch_id) == 0 and kill_serials(session) == 0
        assert runner.progress(batch_id) is None

        # A new worker: preview again, apply again; written exactly once.
        worker = start_worker(app, url, storage, tmp_path / "worker-2.log")
        try:
            runner.plan(batch_id)
            assert wait_for_status(app, batch_id, {ImportStatus.PREVIEW, ImportStatus.FAILED}) == ImportStatus.PREVIEW
            with database.session_scope() as session:
                batch = session.get(ImportBatch, batch_id)
                services.start_apply(session, None, batch, expected_version=batch.version, only_valid=False)
            runner.apply(batch_id, None)
            assert wait_for_status(app, batch_id, {ImportStatus.APPLIED, ImportStatus.FAILED}) == ImportStatus.APPLIED
        finally:
            stop_processes([worker], signal.SIGINT)  # Huey stops gracefully on SIGINT
        with database.session_scope() as session:
            assert kill_serials(session) == BIG_ROWS
            instruments = session.scalar(select(func.count()).select_from(ImportedRecord).where(
                ImportedRecord.batch_id == batch_id, ImportedRecord.entity_type == "instruments"))
            assert instruments == BIG_ROWS
        app.extensions["database"].dispose()


# --- a dry run whose worker stopped is queued once more ------------------------------------------------

def test_a_dry_run_whose_worker_stopped_is_queued_again_once_then_failed(app, session, world, tmp_path):
    runner = app.extensions["import_runner"]
    batch = services.create_batch(session, None, Scope.everything(), station_id=world.station_a.id,
                                  file_name="台账.xlsx", data=ledger_xlsx(ROWS[:2]), storage_dir=str(tmp_path))
    session.commit()
    with bound_queue(app, f"sqlite:///{tmp_path / 'tasks.db'}") as huey:
        runner.plan(batch.id)
        # A worker took the task and died before its first beat: out of the queue, its record still "queued".
        assert huey.dequeue() is not None
        now = utcnow()
        assert runner.recover(session, batch, now) == "running"  # just taken: give it time to beat
        assert runner.recover(session, batch, now + dt.timedelta(seconds=5)) == "running"
        later = now + dt.timedelta(minutes=2)
        batch.updated_at = now - dt.timedelta(minutes=5)
        assert runner.recover(session, batch, later) == "requeued"
        assert huey.pending_count() == 1 and state.get(f"import:{batch.id}")["attempt"] == 2
        assert runner.recover(session, batch, later) == "waiting"  # back in the queue: waiting, not dead
        # The second worker dies too: then the batch is failed, with the reason.
        task = huey.dequeue()
        assert task is not None
        state.put(f"import:{batch.id}", {**state.get(f"import:{batch.id}"), "state": "running",
                                         "beat": (later - dt.timedelta(minutes=1)).timestamp()})
        assert runner.recover(session, batch, later) == "failed"
        session.commit()
    session.expire_all()
    failed = session.get(ImportBatch, batch.id)
    assert failed.status == ImportStatus.FAILED and "再次中断" in failed.message


# --- delivery tasks ------------------------------------------------------------------------------------

@pytest.mark.parametrize("tasks", [mail_tasks, webhook_tasks], ids=["mail", "webhooks"])
def test_a_delivery_task_is_queued_once_while_one_is_pending(app, tmp_path, tasks):
    with bound_queue(app, f"sqlite:///{tmp_path / 'tasks.db'}") as huey:
        job = load_registry()["outbox_delivery" if tasks is mail_tasks else "webhook_delivery"]
        first = run_job(app.extensions["database"], job, trigger=RunTrigger.COMMAND, runner="test", config=app.config)
        second = run_job(app.extensions["database"], job, trigger=RunTrigger.COMMAND, runner="test", config=app.config)
        assert first.counts == {"queued": 1, "already_queued": 0}
        assert second.counts == {"queued": 0, "already_queued": 1} and "已有" in job.summary(second.counts)
        assert huey.pending_count() == 1
        # A worker runs it: the next minute's job queues a new one.
        task = huey.dequeue()
        huey.execute(task)
        assert tasks.queue_delivery() is True and huey.pending_count() == 1


def test_a_committed_mail_is_sent_by_a_worker_at_once(app, tmp_path):
    from tests.test_mail import Controller, Inbox, free_port

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port, MAIL_FROM="计量监管台账 <noreply@example.com>",
                      SMTP_TIMEOUT=5)
    try:
        with queue_workers(app, f"sqlite:///{tmp_path / 'tasks.db'}", workers=1):
            with app.extensions["database"].session_scope() as session:
                mail_services.enqueue(session, "insp_a@example.com", "到期提醒", "您有器具即将到期。")
            # No scheduler here: the commit queued the delivery, a worker sent it.
            wait_for(lambda: inbox.received, "the worker to send the committed mail")
    finally:
        controller.stop()
        app.config["SMTP_HOST"] = ""
    (rcpt, email), = inbox.received
    assert rcpt == ["insp_a@example.com"] and email["Subject"] == "到期提醒"


def test_a_committed_change_is_posted_to_its_webhook_by_a_worker_at_once(app, tmp_path):
    from tests import factories as f
    from tests.test_webhooks import CONFIG
    from tests.webhook_receiver import Receiver, api_token
    from app.webhooks import services as webhook_services

    receiver = Receiver()
    saved = {k: app.config.get(k) for k in CONFIG}
    app.config.update(CONFIG)
    try:
        with queue_workers(app, f"sqlite:///{tmp_path / 'tasks.db'}", workers=1):
            with app.extensions["database"].session_scope() as session:
                station = f.station(session, "A")
                merchant = f.merchant(session, station, "甲市场摊位1")
                token = api_token(session, "甲所数据平台", stations=[station])
                webhook_services.subscribe(session, None, token, url=receiver.url,
                                           event_types=["instrument.created"], config=CONFIG)
            with app.extensions["database"].session_scope() as session:
                f.instrument(session, merchant, serial="AT-ONCE-1")
            # No scheduler here: the commit that captured the event queued the delivery, a worker posted it.
            wait_for(lambda: receiver.events(), "the worker to post the committed change")
    finally:
        receiver.stop()
        app.config.update(saved)
    [posted] = receiver.events()
    assert posted["type"] == "instrument.created" and posted["data"]["serial_no"] == "AT-ONCE-1"


# --- one apply at a time, across workers -----------------------------------------------------------------

FLOCK_PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    sys.exit(3)
"""


def test_an_apply_holds_the_writer_lock_of_every_worker(app, tmp_path):
    """While an apply holds its lock, no other worker (another process, another connection) can take it; after its
    transaction, one can."""
    from app.imports.tasks import APPLY_LOCK_KEY, apply_lock, lock_file

    database = app.extensions["database"]

    def another_worker_may_write() -> bool:
        if database.engine.dialect.name == "postgresql":
            with database.engine.connect() as other:
                return bool(other.scalar(select(func.pg_try_advisory_xact_lock(APPLY_LOCK_KEY))))
        probe = subprocess.run([sys.executable, "-c", FLOCK_PROBE, str(lock_file(database))])
        return probe.returncode == 0

    with database.session_scope() as session, apply_lock(session, database):
        assert not another_worker_may_write()
    assert another_worker_may_write()
