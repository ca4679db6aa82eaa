"""The job registry of `make prod-check` (SCHEDULER_JOBS=deploy.prodcheck_jobs:JOBS): the real jobs and a
heartbeat every 5 seconds, so a one-minute run has a dozen fire times to check "once per fire time" against."""
from __future__ import annotations

from app.scheduler import JOBS as APP_JOBS, JobSpec, every

HEARTBEAT_SECONDS = 5


def heartbeat(*, session, now, config) -> dict[str, int]:
    """Does nothing but be recorded in job_runs."""
    return {"beats": 1}


JOBS = [*APP_JOBS,
        JobSpec("prodcheck_heartbeat", "检查：心跳", "deploy.prodcheck_jobs:heartbeat", every(seconds=HEARTBEAT_SECONDS),
                "make prod-check 的心跳任务")]
