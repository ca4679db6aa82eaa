"""The scheduler in one process: lease, claims, coalesced missed runs, failures, CLI and admin pages."""
from __future__ import annotations

import datetime as dt
import logging
import re
import time

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.clock import LOCAL_TZ
from app.jobs import services
from app.jobs.models import JobRun, JobState, RunOutcome, RunTrigger, SchedulerLease
from app.scheduler import JOBS, Scheduler, load_registry, run_job
from tests.conftest import login

T0 = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
TTL = dt.timedelta(seconds=30)
TEST_JOBS = "tests.scheduler_jobs:JOBS"


def _scheduler(app, runner: str, names=("tick", "boom", "morning")) -> Scheduler:
    registry = {n: s for n, s in load_registry(TEST_JOBS).items() if n in names}
    return Scheduler(app.extensions["database"], app.config, registry, runner=runner)


def _runs(session, name: str | None = None) -> list[JobRun]:
    stmt = select(JobRun).order_by(JobRun.id)
    return list(session.scalars(stmt.where(JobRun.job_name == name) if name else stmt))


def _audit_count(session, label: str) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity_label.like(label)))


class TestLease:
    def test_one_holder_until_it_expires(self, session, app):
        assert services.acquire_lease(session, holder="A", now=T0, ttl=TTL)
        assert not services.acquire_lease(session, holder="B", now=T0 + dt.timedelta(seconds=10), ttl=TTL)
        # Renewing keeps the time it was first taken.
        assert services.acquire_lease(session, holder="A", now=T0 + dt.timedelta(seconds=20), ttl=TTL)
        lease = session.get(SchedulerLease, "scheduler")
        assert (lease.holder, lease.acquired_at, lease.expires_at) == ("A", T0, T0 + dt.timedelta(seconds=50))
        assert not services.acquire_lease(session, holder="B", now=T0 + dt.timedelta(seconds=49), ttl=TTL)
        # Expired: B takes over, and A cannot renew any more.
        assert services.acquire_lease(session, holder="B", now=T0 + dt.timedelta(seconds=51), ttl=TTL)
        assert not services.acquire_lease(session, holder="A", now=T0 + dt.timedelta(seconds=52), ttl=TTL)
        assert session.get(SchedulerLease, "scheduler").acquired_at == T0 + dt.timedelta(seconds=51)

    def test_release_hands_over_at_once(self, session, app):
        assert services.acquire_lease(session, holder="A", now=T0, ttl=TTL)
        services.release_lease(session, holder="B", now=T0)  # not the holder: no effect
        assert not services.acquire_lease(session, holder="B", now=T0 + dt.timedelta(seconds=1), ttl=TTL)
        services.release_lease(session, holder="A", now=T0 + dt.timedelta(seconds=1))
        assert services.acquire_lease(session, holder="B", now=T0 + dt.timedelta(seconds=2), ttl=TTL)

    def test_only_the_leader_dispatches(self, app, session):
        leader, follower = _scheduler(app, "leader", ["tick"]), _scheduler(app, "follower", ["tick"])
        leader.prepare()
        assert leader.heartbeat() is True
        assert follower.heartbeat() is False
        session.execute(JobState.__table__.update().values(next_run_at=T0))
        session.commit()
        assert follower.dispatch() == 0
        assert leader.dispatch() == 1
        assert [r.runner for r in _runs(session)] == ["leader"]

    def test_new_leader_closes_runs_a_dead_leader_left_running(self, app, session):
        services.start_run(session, job_name="tick", trigger=RunTrigger.SCHEDULE, now=T0, runner="dead")
        services.start_run(session, job_name="tick", trigger=RunTrigger.MANUAL, now=T0, runner="web")
        session.commit()
        assert _scheduler(app, "heir").heartbeat()
        session.expire_all()
        outcomes = {r.runner: r.outcome for r in _runs(session)}
        assert outcomes == {"dead": RunOutcome.INTERRUPTED, "web": RunOutcome.RUNNING}


class TestClaimsAndRuns:
    def test_a_run_is_claimed_once(self, session, app):
        services.ensure_job_state(session, name="tick", trigger="t", next_run_at=T0)
        later = T0 + dt.timedelta(minutes=1)
        assert services.claim_run(session, name="tick", scheduled_for=T0, next_run_at=later)
        assert not services.claim_run(session, name="tick", scheduled_for=T0, next_run_at=later)
        assert session.get(JobState, "tick").next_run_at == later

    def test_missed_runs_coalesce_into_one(self, app, session):
        scheduler = _scheduler(app, "me", ["morning"])
        scheduler.prepare()
        three_days_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3)
        session.execute(JobState.__table__.update().values(next_run_at=three_days_ago))
        session.commit()
        scheduler.heartbeat()
        assert scheduler.dispatch() == 1
        assert scheduler.dispatch() == 0
        runs = _runs(session, "morning")
        assert len(runs) == 1 and runs[0].scheduled_for == three_days_ago
        assert runs[0].outcome is RunOutcome.SUCCEEDED and runs[0].counts == {"ticks": 1}
        session.expire_all()
        next_run = session.get(JobState, "morning").next_run_at.astimezone(LOCAL_TZ)
        assert next_run > dt.datetime.now(LOCAL_TZ) and (next_run.hour, next_run.minute) == (5, 0)

    def test_a_failing_job_is_recorded_and_the_others_still_run(self, app, session):
        scheduler = _scheduler(app, "me", ["tick", "boom"])
        scheduler.prepare()
        session.execute(JobState.__table__.update().values(next_run_at=T0))
        session.commit()
        scheduler.heartbeat()
        assert scheduler.dispatch() == 2
        boom, tick = _runs(session, "boom")[0], _runs(session, "tick")[0]
        assert boom.outcome is RunOutcome.FAILED and "测试任务故意失败" in boom.error and boom.finished_at
        assert tick.outcome is RunOutcome.SUCCEEDED
        # The failed run's writes were rolled back; the good one's were committed.
        assert _audit_count(session, "boom") == 0 and _audit_count(session, "tick %") == 1
        # It is retried on its next schedule, not in a loop.
        session.expire_all()
        assert session.get(JobState, "boom").next_run_at > T0

    def test_changed_trigger_retimes_the_job(self, session, app):
        services.ensure_job_state(session, name="tick", trigger="old", next_run_at=T0)
        later = T0 + dt.timedelta(days=1)
        assert services.ensure_job_state(session, name="tick", trigger="old", next_run_at=later).next_run_at == T0
        assert services.ensure_job_state(session, name="tick", trigger="new", next_run_at=later).next_run_at == later


class TestRegistry:
    def test_daily_fire_times_are_shanghai_time(self):
        morning = load_registry(TEST_JOBS)["morning"]
        # 05:00 in Shanghai is 21:00 UTC the day before; "after" is strict.
        assert morning.next_after(dt.datetime(2026, 11, 30, 20, 59, tzinfo=dt.timezone.utc)) == \
            dt.datetime(2026, 11, 30, 21, 0, tzinfo=dt.timezone.utc)
        assert morning.next_after(dt.datetime(2026, 11, 30, 21, 0, tzinfo=dt.timezone.utc)) == \
            dt.datetime(2026, 12, 1, 21, 0, tzinfo=dt.timezone.utc)

    def test_every_production_job_resolves(self):
        names = [spec.name for spec in JOBS]
        assert len(names) == len(set(names))
        assert {"due_date_sweep", "alert_digest"} <= set(names)
        for spec in JOBS:
            assert callable(spec.resolve()), spec.name
            assert spec.next_after(T0) > T0


@pytest.fixture()
def test_jobs_app(database_url):
    from tests.conftest import fresh_app

    application = fresh_app(database_url, SCHEDULER_JOBS=TEST_JOBS)
    yield application
    application.extensions["database"].dispose()


class TestCommandLine:
    def test_jobs_run_records_a_command_run(self, test_jobs_app):
        result = test_jobs_app.test_cli_runner().invoke(args=["jobs", "run", "tick"])
        assert result.exit_code == 0, result.output
        assert "成功" in result.output and "ticks=1" in result.output
        with test_jobs_app.extensions["database"].session_scope() as session:
            (run,) = _runs(session)
            assert (run.job_name, run.trigger, run.outcome) == ("tick", RunTrigger.COMMAND, RunOutcome.SUCCEEDED)

    def test_a_failing_job_exits_non_zero(self, test_jobs_app):
        result = test_jobs_app.test_cli_runner().invoke(args=["jobs", "run", "boom"])
        assert result.exit_code == 1
        assert "失败" in result.output

    def test_unknown_job_is_refused_in_chinese(self, test_jobs_app):
        result = test_jobs_app.test_cli_runner().invoke(args=["jobs", "run", "nope"])
        assert result.exit_code != 0 and "没有名为 nope 的任务" in result.output
        listing = test_jobs_app.test_cli_runner().invoke(args=["jobs", "list"])
        assert "tick" in listing.output and "morning" in listing.output


class TestAdminPages:
    def test_run_now_and_history(self, test_jobs_app, session):
        from tests import factories

        with test_jobs_app.extensions["database"].session_scope() as s:
            admin = factories.user(s, "boss", factories.Role.ADMIN)
            admin_id = admin.id
        client = test_jobs_app.test_client()
        login(client, "boss")
        page = client.get("/admin/jobs/").get_data(as_text=True)
        assert "测试：每秒" in page and "当前没有运行中的调度进程" in page
        resp = client.post("/admin/jobs/boom/run")
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/jobs/boom")
        history = client.get("/admin/jobs/boom").get_data(as_text=True)
        assert "测试任务故意失败" in history and "手动（页面）" in history
        with test_jobs_app.extensions["database"].session_scope() as s:
            (run,) = _runs(s)
            assert (run.trigger, run.outcome, run.started_by_id) == (RunTrigger.MANUAL, RunOutcome.FAILED, admin_id)
        assert client.get("/admin/jobs/nope").status_code == 404
        assert client.post("/admin/jobs/nope/run").status_code == 404

    def test_page_names_the_live_leader(self, test_jobs_app):
        from tests import factories

        with test_jobs_app.extensions["database"].session_scope() as s:
            factories.user(s, "boss", factories.Role.ADMIN)
        scheduler = Scheduler(test_jobs_app.extensions["database"], test_jobs_app.config, runner="host:1:abc")
        scheduler.heartbeat()
        client = test_jobs_app.test_client()
        login(client, "boss")
        assert "host:1:abc" in client.get("/admin/jobs/").get_data(as_text=True)


def test_run_job_records_counts(app, session):
    spec = load_registry(TEST_JOBS)["tick"]
    run = run_job(app.extensions["database"], spec, trigger=RunTrigger.COMMAND, runner="r", config=app.config)
    assert run.outcome is RunOutcome.SUCCEEDED and run.counts == {"ticks": 1} and run.seconds >= 0


# A real background scheduler renews its lease from its own thread and connection.
@pytest.mark.commits
class TestLogging:
    """`flask scheduler run` logs lease changes and job runs, not the ticks that renew the lease."""

    WAIT_LIMIT = 60  # seconds before the poll gives up: a bound for a stuck test, not a speed requirement

    @staticmethod
    def _lines(caplog) -> list[tuple[str, int, str]]:
        return [(r.name, r.levelno, r.getMessage()) for r in caplog.records]

    def test_lease_renewal_ticks_log_nothing(self, app, session, caplog):
        caplog.set_level(logging.DEBUG)
        config = {**app.config, "SCHEDULER_LEASE_SECONDS": 0.3, "SCHEDULER_TICK_SECONDS": 0.1}
        scheduler = Scheduler(app.extensions["database"], config, {}, runner="quiet")
        scheduler.start()
        try:
            renewals, last, deadline = 0, None, time.monotonic() + self.WAIT_LIMIT
            while renewals < 3:  # the lease row moved three times: at least three renewal ticks ran
                assert time.monotonic() < deadline, "the lease was never renewed"
                session.rollback()
                expires = session.get(SchedulerLease, "scheduler").expires_at
                renewals += last is not None and expires != last
                last = expires
                time.sleep(0.05)
        finally:
            scheduler.stop()
        lines = [line for line in self._lines(caplog) if line[0].startswith(("app.", "apscheduler"))]
        assert lines == [
            ("app.scheduler", logging.INFO, "scheduler quiet is now the leader (0 interrupted runs closed)"),
            ("app.scheduler", logging.INFO, "scheduler quiet started with jobs "),
        ]

    def test_standing_by_and_losing_the_lease_log_once(self, app, session, caplog):
        caplog.set_level(logging.INFO, logger="app.scheduler")
        follower = _scheduler(app, "follower", [])
        assert services.acquire_lease(session, holder="other", now=dt.datetime.now(dt.timezone.utc), ttl=TTL)
        session.commit()
        assert follower.heartbeat() is False and follower.heartbeat() is False
        assert self._lines(caplog) == [
            ("app.scheduler", logging.INFO, "scheduler follower is standing by: another process holds the lease")]

    def test_a_job_run_logs_one_start_and_one_outcome(self, app, session, caplog):
        caplog.set_level(logging.INFO, logger="app.scheduler")
        registry = load_registry(TEST_JOBS)
        ok = run_job(app.extensions["database"], registry["tick"], trigger=RunTrigger.COMMAND, runner="r",
                     config=app.config)
        failed = run_job(app.extensions["database"], registry["boom"], trigger=RunTrigger.SCHEDULE, runner="r",
                         config=app.config)
        lines = [(level, re.sub(r"\d+\.\d s", "N s", message)) for _, level, message in self._lines(caplog)]
        assert lines == [
            (logging.INFO, f"job tick started (run #{ok.id}, command)"),
            (logging.INFO, f"job tick finished in N s (run #{ok.id}): ticks=1"),
            (logging.INFO, f"job boom started (run #{failed.id}, schedule)"),
            (logging.ERROR, f"job boom failed after N s (run #{failed.id})"),
        ]
        assert "测试任务故意失败" in caplog.records[-1].exc_text
