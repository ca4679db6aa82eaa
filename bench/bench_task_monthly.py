"""Time the monthly report built through the task queue: a record queued as 生成月报 does, taken by a real
`flask tasks worker` process from a Redis (or SQLite) queue, built into the archive.

    .venv/bin/python bench/bench_task_monthly.py --url postgresql+psycopg://postgres@127.0.0.1/COPY_OF_BENCH1M \
        --queue redis://127.0.0.1:6379/8 [--month 2026-11] [--station CODE]

Prints the wait in the queue (queued -> claimed), the build (claimed -> finished), the whole (queued -> finished
as the status page sees it) and the report's own build seconds. A database without the background_tasks table
(a bench database at an older revision) gets the table for the run and loses it afterwards; the report's
archive row is the only other write.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=f"sqlite:///{ROOT / 'bench' / 'data' / 'bench.db'}")
    parser.add_argument("--queue", default="redis://127.0.0.1:6379/8")
    parser.add_argument("--month", default="")
    parser.add_argument("--station", default="", help="a station code (default: all stations)")
    args = parser.parse_args()

    from sqlalchemy import inspect, select

    from app import create_app
    from app.accounts.models import Role, Station, User
    from app.clock import today
    from app.tasks import services
    from app.tasks.background import submit
    from app.tasks.models import BackgroundTask, TaskKind
    from config import Config
    from reports.monthly import Month

    storage = tempfile.mkdtemp(prefix="bench-tasks-")
    env = {**os.environ, "DATABASE_URL": args.url, "TASK_QUEUE_URL": args.queue, "TASK_STORAGE": storage,
           "SECRET_KEY": os.environ.get("SECRET_KEY", "b" * 64)}
    app = create_app(Config, DATABASE_URL=args.url, TASK_QUEUE_URL=args.queue, TASK_STORAGE=storage,
                     SECRET_KEY=env["SECRET_KEY"])
    database = app.extensions["database"]
    created = not inspect(database.engine).has_table("background_tasks")
    if created:
        BackgroundTask.__table__.create(database.engine)
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "tasks", "worker", "--workers", "1"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        month = Month.parse(args.month) if args.month else Month.of(today()).shift(-1)
        with database.session_scope() as session:
            admin = session.scalars(select(User).where(User.role == Role.ADMIN, User.is_active.is_(True))
                                    .order_by(User.id)).first()
            if admin is None:  # the generated data has no users: run on a copy (createdb -T), it gets one
                from app.accounts.services import create_user

                admin = create_user(session, None, username="bench-admin", display_name="基准测试", role=Role.ADMIN,
                                    password="bench-password-1234")
            station = session.scalars(select(Station).where(Station.code == args.station)).one() \
                if args.station else None
            task = services.create_task(session, admin, TaskKind.MONTHLY_REPORT,
                                        f"{month.label}月报（{station.name if station else '全部监管所'}）",
                                        {"month": str(month), "station_id": station.id if station else None})
            task_id = task.id
        queued = time.perf_counter()
        with app.app_context():
            submit(task_id)
        while True:
            time.sleep(0.2)
            with database.session_scope() as session:
                task = session.get(BackgroundTask, task_id)
                if task.state.finished:
                    break
            if worker.poll() is not None:
                raise SystemExit(f"the worker stopped: {worker.stderr.read()[-2000:]}")
        whole = time.perf_counter() - queued
        with database.session_scope() as session:
            from app.monthly.models import MonthlyReport

            task = session.get(BackgroundTask, task_id)
            report = session.get(MonthlyReport, (task.result_ref or {}).get("monthly_report", 0))
            wait = (task.started_at - task.created_at).total_seconds()
            build = (task.finished_at - task.started_at).total_seconds()
            print(f"{task.title}: {task.state.label} {task.error}")
            print(f"queue {args.queue.split('://')[0]}, database {args.url.split('+')[0].split(':')[0]}")
            print(f"waited in queue {wait:.2f} s, built {build:.2f} s (report's own {report.seconds if report else '-'} s),"
                  f" queued -> done seen by the page {whole:.2f} s; {task.result_size or 0} bytes; load "
                  f"{os.getloadavg()[0]:.1f}")
            session.delete(task)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        if created:
            BackgroundTask.__table__.drop(database.engine)
        database.dispose()


if __name__ == "__main__":
    main()
