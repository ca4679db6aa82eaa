"""Background task records: what a user asked for, its state and progress, and where its result is kept."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, JSON
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.db import Base, LabeledEnum, TimestampMixin, UTCDateTime, enum_column, not_negative, one_of


class TaskKind(LabeledEnum):
    """What a background task builds."""

    MONTHLY_REPORT = "monthly_report"
    EXPORT = "export"
    LABELS = "labels"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"monthly_report": "月报", "export": "列表导出", "labels": "二维码标签"}


class TaskState(LabeledEnum):
    """Where a background task stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"queued": "排队中", "running": "进行中", "done": "已完成", "failed": "失败"}

    @property
    def finished(self) -> bool:
        """Done or failed: the status page stops refreshing."""
        return self in (TaskState.DONE, TaskState.FAILED)


class BackgroundTask(TimestampMixin, Base):
    """One piece of work a user asked for and a queue worker does (a report, an export, a label sheet).

    Changed by guarded UPDATEs (state and claim token in the WHERE clause), so two workers can never both
    finish it: a worker that lost its claim (the recovery took the task back) leaves no result.
    """

    __tablename__ = "background_tasks"
    __table_args__ = (
        # 我的后台任务: a user's tasks, newest first.
        Index("ix_background_tasks_requested_by", "requested_by_id", "id"),
        # The recovery's query: running tasks by heartbeat; the pruning's: finished tasks by age.
        Index("ix_background_tasks_state_heartbeat", "state", "heartbeat_at"),
        one_of("kind", TaskKind),
        one_of("state", TaskState),
        not_negative("attempts"),
        not_negative("progress_done"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[TaskKind] = mapped_column(enum_column(TaskKind))
    title: Mapped[str] = mapped_column(String(200))
    # What to build: the month and station, or the list page's endpoint with its filter and sort.
    params: Mapped[dict] = mapped_column(JSON)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[TaskState] = mapped_column(enum_column(TaskState), default=TaskState.QUEUED)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The worker holding the task: its heartbeat and its finish only count while this is still its token.
    claim_token: Mapped[str | None] = mapped_column(String(64))
    runner: Mapped[str] = mapped_column(String(100), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    result_name: Mapped[str] = mapped_column(String(255), default="")
    result_size: Mapped[int | None] = mapped_column(BigInteger)
    result_sha256: Mapped[str] = mapped_column(String(64), default="")
    # Relative to TASK_STORAGE; empty when the result lives elsewhere (a monthly report in its archive).
    result_path: Mapped[str] = mapped_column(String(255), default="")
    # Where else the result is: {"monthly_report": id}.
    result_ref: Mapped[dict | None] = mapped_column(JSON)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    requested_by: Mapped[User] = relationship()

    @property
    def percent(self) -> int:
        """Progress in whole percent (0 while the total is unknown)."""
        if not self.progress_total:
            return 100 if self.state == TaskState.DONE else 0
        return min(100, self.progress_done * 100 // self.progress_total)

    @property
    def has_file(self) -> bool:
        """Done with a file in TASK_STORAGE or a report in its archive."""
        return self.state == TaskState.DONE and bool(self.result_path or self.result_ref)

    def __str__(self) -> str:
        return self.title
