"""Named queries over the scheduler's tables."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, func, select

from app.jobs.models import JobRun, JobState


def due_job_states(now: dt.datetime) -> Select:
    """Jobs whose next run time has come."""
    return select(JobState).where(JobState.next_run_at <= now).order_by(JobState.next_run_at)


def job_states() -> Select:
    """Every job's state row."""
    return select(JobState)


def runs_of(job_name: str | None = None) -> Select:
    """Run history, newest first, of one job or of all."""
    stmt = select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc())
    return stmt.where(JobRun.job_name == job_name) if job_name else stmt


def latest_runs() -> Select:
    """Each job's most recent run."""
    newest = (select(JobRun.job_name, func.max(JobRun.id).label("id")).group_by(JobRun.job_name)
              .subquery())
    return select(JobRun).join(newest, JobRun.id == newest.c.id)
