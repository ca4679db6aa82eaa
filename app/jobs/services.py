"""Lease, job states and run records: each function takes a session, changes rows and flushes."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import case, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.jobs.models import JobRun, JobState, RunOutcome, RunTrigger, SchedulerLease

LEASE_NAME = "scheduler"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
ERROR_LIMIT = 8000


def _insert_if_missing(session: Session, row) -> None:
    # A savepoint, so a row another process created first does not spoil the caller's transaction.
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        pass


def acquire_lease(session: Session, *, holder: str, now: dt.datetime, ttl: dt.timedelta) -> bool:
    """Take or renew the leader lease for `holder`; True when it holds the lease until now + ttl."""
    if session.get(SchedulerLease, LEASE_NAME) is None:
        _insert_if_missing(session, SchedulerLease(name=LEASE_NAME, holder="", expires_at=EPOCH))
    lease = SchedulerLease.__table__.c
    # One conditional UPDATE is the compare-and-set: it succeeds only for the holder or once the lease expired.
    result = session.execute(
        update(SchedulerLease.__table__)
        .where(lease.name == LEASE_NAME, or_(lease.holder == holder, lease.expires_at < now))
        .values(holder=holder, renewed_at=now, expires_at=now + ttl,
                acquired_at=case((lease.holder == holder, lease.acquired_at), else_=now))
    )
    session.expire_all()
    return result.rowcount == 1


def release_lease(session: Session, *, holder: str, now: dt.datetime) -> None:
    """Give the lease up at once (clean shutdown), so another process takes over without waiting."""
    lease = SchedulerLease.__table__.c
    session.execute(update(SchedulerLease.__table__)
                    .where(lease.name == LEASE_NAME, lease.holder == holder).values(expires_at=now))
    session.expire_all()


def current_lease(session: Session) -> SchedulerLease | None:
    """The lease row, whoever holds it."""
    return session.get(SchedulerLease, LEASE_NAME)


def ensure_job_state(session: Session, *, name: str, trigger: str, next_run_at: dt.datetime) -> JobState:
    """The job's state row, created (or re-timed when its trigger changed) on start-up."""
    state = session.get(JobState, name)
    if state is None:
        _insert_if_missing(session, JobState(name=name, trigger=trigger, next_run_at=next_run_at))
        state = session.get(JobState, name)
    elif state.trigger != trigger:
        state.trigger, state.next_run_at = trigger, next_run_at
        session.flush()
    return state


def claim_run(session: Session, *, name: str, scheduled_for: dt.datetime, next_run_at: dt.datetime) -> bool:
    """Move a due job's next run forward if nobody did first; True when this caller owns the run.

    Missed runs coalesce here: however many fire times passed, one claim covers them all.
    """
    state = JobState.__table__.c
    result = session.execute(update(JobState.__table__)
                             .where(state.name == name, state.next_run_at == scheduled_for)
                             .values(next_run_at=next_run_at))
    session.expire_all()
    return result.rowcount == 1


def start_run(session: Session, *, job_name: str, trigger: RunTrigger, now: dt.datetime, runner: str,
              scheduled_for: dt.datetime | None = None, started_by_id: int | None = None) -> JobRun:
    """Record that a run began."""
    run = JobRun(job_name=job_name, trigger=trigger, scheduled_for=scheduled_for, started_at=now,
                 outcome=RunOutcome.RUNNING, counts={}, error="", runner=runner, started_by_id=started_by_id)
    session.add(run)
    session.flush()
    return run


def finish_run(session: Session, run_id: int, *, now: dt.datetime, counts: dict | None = None,
               error: str = "") -> JobRun:
    """Record how a run ended: its counts, or its error text."""
    run = session.get(JobRun, run_id)
    run.finished_at = now
    run.outcome = RunOutcome.FAILED if error else RunOutcome.SUCCEEDED
    run.counts = {str(k): int(v) for k, v in (counts or {}).items()}
    run.error = error[-ERROR_LIMIT:]
    session.flush()
    return run


def mark_interrupted(session: Session, *, holder: str, now: dt.datetime) -> int:
    """Close the runs another scheduler process left running when it died; how many."""
    stale = session.scalars(select(JobRun).where(JobRun.outcome == RunOutcome.RUNNING,
                                                 JobRun.trigger == RunTrigger.SCHEDULE,
                                                 JobRun.runner != holder)).all()
    for run in stale:
        run.outcome, run.finished_at = RunOutcome.INTERRUPTED, now
        run.error = "运行该任务的进程已停止，本次运行未完成；任务将在下一次计划时间再次运行。"
    session.flush()
    return len(stale)
