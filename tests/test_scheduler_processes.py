"""Real scheduler processes (`flask scheduler run`) against one database: one leader runs each job once,
and when the leader is killed with SIGKILL another process takes over once its lease has expired."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.jobs.models import JobRun, SchedulerLease
from tests.processes import stop_processes

ROOT = Path(__file__).resolve().parent.parent
LEASE_SECONDS = 2.0
RENEW_SECONDS = LEASE_SECONDS / 3
WAIT_LIMIT = 90  # seconds before a poll gives up: a bound for a stuck test, not a speed requirement


# The scheduler processes read and write the database on their own connections.
pytestmark = pytest.mark.commits

@pytest.fixture()
def spawn(app, tmp_path):
    """Start `flask scheduler run` processes on the test database with the test registry; stop them after."""
    procs: list[subprocess.Popen] = []
    env = {**os.environ, "APP_ENV": "development", "DATABASE_URL": app.config["DATABASE_URL"],
           "SCHEDULER_JOBS": "tests.scheduler_jobs:JOBS", "SCHEDULER_LEASE_SECONDS": str(LEASE_SECONDS),
           "SCHEDULER_TICK_SECONDS": "0.2", "SCHEDULER_IN_APP": "0", "PYTHONPATH": str(ROOT),
           # The generated signing key goes to the test's folder, not the checkout's instance/.
           "SECRET_KEY_FILE": str(tmp_path / "secret_key")}

    def start() -> subprocess.Popen:
        log = open(tmp_path / f"scheduler-{len(procs)}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"], cwd=ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        procs.append(proc)
        return proc

    yield start
    stop_processes(procs)


def wait_for(check, what: str):
    """Poll until check() is truthy; fail after WAIT_LIMIT seconds."""
    deadline = time.monotonic() + WAIT_LIMIT
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}")


def _lease(session) -> SchedulerLease | None:
    session.expire_all()
    return session.get(SchedulerLease, "scheduler")


def _holder_pid(session) -> int | None:
    lease = _lease(session)
    return int(lease.holder.split(":")[1]) if lease is not None and lease.holder else None


def _tick_runs(session) -> list[JobRun]:
    session.expire_all()
    return list(session.scalars(select(JobRun).where(JobRun.job_name == "tick").order_by(JobRun.id)))


def test_two_processes_run_each_job_once(spawn, session):
    first, second = spawn(), spawn()
    wait_for(lambda: len(_tick_runs(session)) >= 4, "four runs of the every-second job")
    # Both processes are alive all along: one leads, the other waits.
    assert first.poll() is None and second.poll() is None
    first.send_signal(signal.SIGTERM)
    second.send_signal(signal.SIGTERM)
    assert first.wait(timeout=30) == 0 and second.wait(timeout=30) == 0

    runs = _tick_runs(session)
    fire_times = [r.scheduled_for for r in runs]
    assert len(fire_times) == len(set(fire_times)), "a fire time ran twice"
    pids = {int(r.runner.split(":")[1]) for r in runs}
    assert pids <= {first.pid, second.pid}
    # The failing job failed every time without stopping the other one.
    session.expire_all()
    failed = session.scalar(select(func.count()).select_from(JobRun).where(JobRun.job_name == "boom",
                                                                           JobRun.outcome == "failed"))
    assert failed >= 1


def test_killed_leader_is_replaced_after_its_lease(spawn, session):
    leader = spawn()
    wait_for(lambda: _holder_pid(session) == leader.pid, "the first process to take the lease")
    follower = spawn()
    wait_for(lambda: _tick_runs(session), "a first run")
    time.sleep(1)  # let the follower start and find the lease taken
    assert _holder_pid(session) == leader.pid

    leader.send_signal(signal.SIGKILL)
    leader.wait(timeout=30)
    dead_lease_expiry = _lease(session).expires_at  # the dead leader never renews it again
    runs_before = len(_tick_runs(session))

    wait_for(lambda: _holder_pid(session) == follower.pid, "the follower to take the lease over")
    lease = _lease(session)
    # Never two leaders: the follower took the lease only after the dead one's had expired. How soon after is
    # not asserted (a timed assertion failed at load 9: 7.3 s where the follower tries every 0.67 s); that it
    # takes over at all is `wait_for`'s, and the figure is the lease's length (docs/运维手册.md §6).
    assert lease.acquired_at >= dead_lease_expiry
    wait_for(lambda: any(int(r.runner.split(":")[1]) == follower.pid for r in _tick_runs(session)),
             "the new leader to run the job")
    runs = _tick_runs(session)
    assert len(runs) > runs_before
    fire_times = [r.scheduled_for for r in runs]
    assert len(fire_times) == len(set(fire_times))
