"""The scheduler's state in the database: the leader lease, each job's next run, and the run history."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, LabeledEnum, UTCDateTime, enum_column, one_of


class SchedulerLease(Base):
    """The leader lease: only the process named in `holder` runs jobs, until `expires_at`."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200), default="")
    acquired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    renewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class JobState(Base):
    """One registered job's next scheduled run; claiming a run moves it (compare-and-set)."""

    __tablename__ = "job_states"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    trigger: Mapped[str] = mapped_column(String(200), default="")
    next_run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class RunOutcome(LabeledEnum):
    """How a job run ended."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"running": "运行中", "succeeded": "成功", "failed": "失败", "interrupted": "已中断"}


class RunTrigger(LabeledEnum):
    """What started a job run."""

    SCHEDULE = "schedule"
    MANUAL = "manual"
    COMMAND = "command"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"schedule": "定时", "manual": "手动（页面）", "command": "命令行"}


class JobRun(Base):
    """One run of one job: when, started by what, how it ended, its counts or its error."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_started", "job_name", "started_at"),
                      one_of("trigger", RunTrigger), one_of("outcome", RunOutcome))

    id: Mapped[int] = mapped_column(primary_key=True)
    job_name: Mapped[str] = mapped_column(String(50))
    trigger: Mapped[RunTrigger] = mapped_column(enum_column(RunTrigger))
    scheduled_for: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outcome: Mapped[RunOutcome] = mapped_column(enum_column(RunOutcome), index=True)
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    runner: Mapped[str] = mapped_column(String(200), default="")
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)

    @property
    def seconds(self) -> float | None:
        """How long the run took."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
