"""The job registry and the scheduler process: APScheduler keeps the clock, a lease row picks the leader.

Every scheduler process (inside the web app or `flask scheduler run`) ticks; only the holder of the lease
in `scheduler_leases` runs jobs. Each job's next run time lives in `job_states`, and a run is claimed with
a compare-and-set on it, so a run happens once even if two processes think they lead for a moment.
Missed runs (the app was down) leave `next_run_at` in the past: one claim runs them once (coalesced).
No Flask here: the scheduler takes the Database and a config mapping.
"""
from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from app.clock import LOCAL_TZ
from app.db import Database, utcnow
from app.jobs import queries, services
from app.jobs.models import JobRun, RunTrigger

log = logging.getLogger(__name__)

# Interval triggers count from a fixed origin, so every process computes the same fire times.
INTERVAL_ORIGIN = dt.datetime(2026, 1, 1, tzinfo=LOCAL_TZ)


@dataclass(frozen=True)
class JobSpec:
    """One registered job: its name, Chinese label, function ("module:function") and trigger."""

    name: str
    label: str
    func: str
    trigger: BaseTrigger = field(compare=False)
    description: str = ""
    # What each count the job returns means, as (key, "label {n} unit"): the run history reads them in Chinese.
    counts: tuple[tuple[str, str], ...] = ()

    def resolve(self) -> Callable[..., dict]:
        """The job function, imported on first use."""
        module, _, attr = self.func.partition(":")
        return getattr(importlib.import_module(module), attr)

    def summary(self, counts: Mapping) -> str:
        """A run's counts in words ("新建 1 条，重新打开 0 条"); a count the registry does not describe keeps its key."""
        described = dict(self.counts)
        return "，".join(described[k].format(n=v) if k in described else f"{k} {v}" for k, v in counts.items())

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first fire time strictly after `moment`, as aware UTC."""
        fire = self.trigger.get_next_fire_time(None, (moment + dt.timedelta(seconds=1)).astimezone(LOCAL_TZ))
        return fire.astimezone(dt.timezone.utc)


def daily(hour: int, minute: int = 0) -> CronTrigger:
    """Every day at hh:mm, Asia/Shanghai."""
    return CronTrigger(hour=hour, minute=minute, timezone=LOCAL_TZ)


def monthly(day: int, hour: int, minute: int = 0) -> CronTrigger:
    """Every month on that day at hh:mm, Asia/Shanghai."""
    return CronTrigger(day=day, hour=hour, minute=minute, timezone=LOCAL_TZ)


def every(**interval) -> IntervalTrigger:
    """Every so many seconds/minutes/hours."""
    return IntervalTrigger(**interval, start_date=INTERVAL_ORIGIN, timezone=LOCAL_TZ)


# The one registry.
JOBS: list[JobSpec] = [
    JobSpec("station_counts", "重新统计各所器具数字", "app.counts.jobs:recount_stations", daily(0, 5),
            "每天零点后：按新的一天重新统计各所各种类器具的在用、超期、即将到期等数字（页面导航和统计页读取）",
            (("stations", "统计监管所 {n} 个"),)),
    JobSpec("due_date_sweep", "到期预警扫描", "app.alerts.jobs:due_date_sweep", daily(5, 0),
            "每天凌晨：按检定有效期和使用年限生成、解除预警",
            (("created", "新建 {n} 条"), ("reopened", "重新打开 {n} 条"), ("resolved", "解除 {n} 条"))),
    JobSpec("alert_digest", "预警每日汇总", "app.alerts.jobs:alert_digest", daily(8, 30),
            "每天上班时：向各所负责人员发送新增和未处理预警的汇总邮件",
            (("stations", "汇总监管所 {n} 个"), ("messages", "邮件 {n} 封"), ("already_sent", "当日已发过 {n} 个所"),
             ("no_recipients", "无收件人 {n} 个所"))),
    JobSpec("outbox_delivery", "发送待发邮件", "app.mail.tasks:queue_delivery_job", every(minutes=1),
            "每分钟：把发送任务交给后台任务队列，由后台进程通过 SMTP 发送发件箱中到期的邮件，失败的按退避时间重试",
            (("queued", "交给后台发送 {n} 次"), ("already_queued", "已有发送任务在排队或进行 {n} 次"))),
    JobSpec("webhook_delivery", "推送变更通知", "app.webhooks.tasks:queue_delivery_job", every(minutes=1),
            "每分钟：把推送任务交给后台任务队列，由后台进程把器具和检定记录的变更推送到接口令牌登记的地址，失败的按退避时间重试",
            (("queued", "交给后台推送 {n} 次"), ("already_queued", "已有推送任务在排队或进行 {n} 次"))),
    JobSpec("import_recovery", "检查中断的导入", "app.imports.tasks:recover_batches", every(seconds=30),
            "每 30 秒：后台处理进程停止后，重新排队其中断的预览分析（一次），或把中断的导入标记为失败（没有写入任何数据）",
            (("requeued", "重新排队分析 {n} 个"), ("failed", "标记为中断 {n} 个"), ("waiting", "等待后台处理 {n} 个"),
             ("running", "正在处理 {n} 个"))),
    JobSpec("task_recovery", "检查中断的后台任务", "app.tasks.jobs:recover_tasks", every(seconds=30),
            "每 30 秒：处理月报、导出、标签的后台进程停止后，把中断的任务重新排队一次，再次中断则标记为失败",
            (("requeued", "重新排队 {n} 个"), ("failed", "标记为失败 {n} 个"))),
    JobSpec("task_prune", "清理过期的后台任务结果", "app.tasks.jobs:prune_tasks", daily(3, 30),
            "每天凌晨：删除完成已超过保留天数的后台任务及其结果文件",
            (("tasks", "删除任务 {n} 个"), ("files", "删除文件 {n} 个"))),
    JobSpec("credit_classes", "重新计算信用分类", "app.credit.jobs:recompute_credit_classes", daily(4, 30),
            "每天凌晨：按近期检查发现的问题、超期和不合格器具、诚信承诺重新计算全部使用单位的信用分类",
            (("merchants", "计算使用单位 {n} 家"), ("changed", "分类有变化 {n} 家"), ("A", "A 类 {n} 家"),
             ("B", "B 类 {n} 家"), ("C", "C 类 {n} 家"), ("D", "D 类 {n} 家"))),
    JobSpec("monthly_report", "生成上月月报", "app.monthly.jobs:monthly_report", monthly(1, 6, 0),
            "每月 1 日早上：生成上月的月报（全部监管所和各所），存入月报档案",
            (("reports", "生成月报 {n} 份"), ("mailed", "发送邮件 {n} 封"))),
]


def load_registry(path: str = "app.scheduler:JOBS") -> dict[str, JobSpec]:
    """The registry named by "module:attribute", by job name."""
    module, _, attr = path.partition(":")
    return {spec.name: spec for spec in getattr(importlib.import_module(module), attr)}


def runner_id() -> str:
    """This process's name in the lease and the run history: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def run_job(database: Database, spec: JobSpec, *, trigger: RunTrigger, runner: str, config: Mapping,
            scheduled_for: dt.datetime | None = None, started_by_id: int | None = None) -> JobRun:
    """Run one job now and record the run; a failure is recorded, never raised. Logs one line before, one after."""
    with database.session_scope() as session:
        run_id = services.start_run(session, job_name=spec.name, trigger=trigger, now=utcnow(), runner=runner,
                                    scheduled_for=scheduled_for, started_by_id=started_by_id).id
    log.info("job %s started (run #%d, %s)", spec.name, run_id, trigger.value)
    started = time.perf_counter()
    counts, error = {}, ""
    try:
        func = spec.resolve()
        with database.session_scope() as session:
            counts = func(session=session, now=utcnow(), config=config) or {}
    except Exception:  # noqa: BLE001 - a failing job must never stop the scheduler or the other jobs
        error = traceback.format_exc()
        log.exception("job %s failed after %.1f s (run #%d)", spec.name, time.perf_counter() - started, run_id)
    else:
        log.info("job %s finished in %.1f s (run #%d): %s", spec.name, time.perf_counter() - started, run_id,
                 ", ".join(f"{k}={v}" for k, v in counts.items()) or "no counts")
    with database.session_scope() as session:
        return services.finish_run(session, run_id, now=utcnow(), counts=counts, error=error)


class Scheduler:
    """APScheduler ticking two internal jobs: renew the lease, and run the registry's due jobs when leading."""

    def __init__(self, database: Database, config: Mapping, registry: dict[str, JobSpec] | None = None,
                 runner: str | None = None) -> None:
        self.database = database
        self.config = config
        self.registry = registry if registry is not None else load_registry(
            config.get("SCHEDULER_JOBS", "app.scheduler:JOBS"))
        self.runner = runner or runner_id()
        self.lease_ttl = dt.timedelta(seconds=float(config.get("SCHEDULER_LEASE_SECONDS", 30)))
        self.tick = float(config.get("SCHEDULER_TICK_SECONDS", 5))
        self.leader_until: dt.datetime | None = None
        self._aps: BackgroundScheduler | None = None
        # Whether the last logged lease state was leading (None: nothing logged yet), so a change logs once.
        self._logged_leading: bool | None = None

    @property
    def is_leader(self) -> bool:
        """True while this process holds an unexpired lease."""
        return self.leader_until is not None and utcnow() < self.leader_until

    def prepare(self) -> None:
        """Create the state row of every registered job (idempotent, safe in several processes)."""
        now = utcnow()
        with self.database.session_scope() as session:
            for spec in self.registry.values():
                services.ensure_job_state(session, name=spec.name, trigger=str(spec.trigger),
                                          next_run_at=spec.next_after(now))

    def heartbeat(self) -> bool:
        """Take or renew the lease; True while leading."""
        was_leader, now = self.is_leader, utcnow()
        try:
            with self.database.session_scope() as session:
                leading = services.acquire_lease(session, holder=self.runner, now=now, ttl=self.lease_ttl)
                if leading and not was_leader:
                    interrupted = services.mark_interrupted(session, holder=self.runner, now=now)
                    log.info("scheduler %s is now the leader (%d interrupted runs closed)", self.runner, interrupted)
        except Exception:  # noqa: BLE001 - a database hiccup costs the lease, not the process
            log.exception("scheduler %s could not renew its lease", self.runner)
            leading = False
        # Count the lease from before the round trip, so this process stops before others may start.
        self.leader_until = now + self.lease_ttl if leading else None
        if not leading and self._logged_leading is not False:
            if was_leader:
                log.warning("scheduler %s lost the lease; it runs no jobs until it leads again", self.runner)
            else:
                log.info("scheduler %s is standing by: another process holds the lease", self.runner)
        self._logged_leading = leading
        return leading

    def dispatch(self) -> int:
        """Run every due job once, if this process leads; how many runs it started."""
        if not self.is_leader:
            return 0
        started = 0
        with self.database.session_scope() as session:
            due = [(s.name, s.next_run_at) for s in session.scalars(queries.due_job_states(utcnow()))]
        for name, scheduled_for in due:
            spec = self.registry.get(name)
            if spec is None or not self.is_leader:
                continue
            with self.database.session_scope() as session:
                claimed = services.claim_run(session, name=name, scheduled_for=scheduled_for,
                                             next_run_at=spec.next_after(utcnow()))
            if claimed:
                run_job(self.database, spec, trigger=RunTrigger.SCHEDULE, runner=self.runner, config=self.config,
                        scheduled_for=scheduled_for)
                started += 1
        return started

    def start(self) -> None:
        """Start ticking in background threads."""
        self.prepare()
        self.heartbeat()
        # APScheduler logs two INFO lines per run of its jobs: for the lease and dispatch ticks, that is two
        # lines every few seconds. Our own lines say what an operator needs (lease changes, each job's run and
        # outcome); its WARNINGs are only "skipped: maximum number of running instances" while a long job runs.
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
        aps = BackgroundScheduler(timezone=LOCAL_TZ,
                                  job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        renew = max(self.lease_ttl.total_seconds() / 3, 0.1)
        aps.add_job(self.heartbeat, "interval", seconds=renew, id="lease")
        aps.add_job(self.dispatch, "interval", seconds=self.tick, id="dispatch", next_run_time=dt.datetime.now(LOCAL_TZ))
        aps.start()
        self._aps = aps
        log.info("scheduler %s started with jobs %s", self.runner, ", ".join(self.registry))

    def stop(self) -> None:
        """Stop ticking, wait for a running job, and hand the lease over."""
        if self._aps is not None:
            self._aps.shutdown(wait=True)
            self._aps = None
        if self.leader_until is not None:
            with self.database.session_scope() as session:
                services.release_lease(session, holder=self.runner, now=utcnow())
            self.leader_until = None

    def run_forever(self) -> None:
        """Start, then block until SIGINT or SIGTERM, then stop cleanly."""
        stopping = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopping.set())
        self.start()
        stopping.wait()
        self.stop()


def start_in_process(database: Database, config: Mapping) -> Scheduler:
    """Run the scheduler in this (web) process's background threads; it stops when the process exits."""
    import atexit

    scheduler = Scheduler(database, config)
    scheduler.start()
    atexit.register(scheduler.stop)
    return scheduler
