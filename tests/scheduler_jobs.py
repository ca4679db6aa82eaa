"""A job registry for the scheduler tests (SCHEDULER_JOBS=tests.scheduler_jobs:JOBS), not for production."""
from __future__ import annotations

from app.audit.services import record
from app.scheduler import JobSpec, daily, every


def tick(*, session, now, config) -> dict[str, int]:
    """Writes one audit entry, so a test can see that the run's session was committed."""
    record(session, None, "job", entity_type="job_runs", entity_label=f"tick {now.isoformat()}")
    return {"ticks": 1}


def boom(*, session, now, config) -> dict[str, int]:
    """Writes an audit entry, then fails: the entry must be rolled back and the failure recorded."""
    record(session, None, "job", entity_type="job_runs", entity_label="boom")
    raise RuntimeError("测试任务故意失败")


JOBS = [
    JobSpec("tick", "测试：每秒", "tests.scheduler_jobs:tick", every(seconds=1), "每秒写一条日志"),
    JobSpec("boom", "测试：总是失败", "tests.scheduler_jobs:boom", every(seconds=1), "总是抛出异常"),
    JobSpec("morning", "测试：每天早上", "tests.scheduler_jobs:tick", daily(5, 0), "每天 5:00"),
]
