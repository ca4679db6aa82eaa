"""Time the due-date sweep (app.alerts.jobs.due_date_sweep) over a generated database.

    .venv/bin/python bench/bench_sweep.py                   # bench/data/bench.db
    .venv/bin/python bench/bench_sweep.py --url postgresql+psycopg://postgres@127.0.0.1:5432/metrology_bench_alerts

Migrates the database to head, empties the alerts, then runs in fresh processes, one after the other:
the first sweep (creates every alert), the second sweep (must create nothing) and, with --digest, the
daily digest. Each phase prints its time, its counts and its process's peak memory (ru_maxrss), so
the peak is the sweep's own and not the parent's.
"""
from __future__ import annotations

import argparse
import os
import datetime as dt
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = f"sqlite:///{ROOT / 'bench' / 'data' / 'bench.db'}"
TARGETS = {"sqlite": {"first": 3.0, "second": 1.0}, "postgresql": {"first": 2.0, "second": 1.0}}
PEAK_TARGET_MB = 300


def peak_mb() -> float:
    """This process's peak resident memory in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase(url: str, name: str, now: dt.datetime) -> dict:
    """Run one phase in this process and return its figures."""
    from sqlalchemy import delete, func, select
    from sqlalchemy.orm import configure_mappers

    from app.alerts.jobs import alert_digest, due_date_sweep
    from app.alerts.models import Alert, AlertDigest
    from app.audit.models import AuditEntry
    from app.db import Database
    from app.mail.models import OutboxMessage

    database = Database(url)
    config = {"ALERT_SERVICE_LIFE_DAYS": 90, "ALERT_SECOND_REMINDER_DAYS": 7}
    try:
        if name == "reset":
            with database.session_scope() as session:
                for model in (OutboxMessage, AlertDigest, Alert):
                    session.execute(delete(model))
                session.execute(delete(AuditEntry).where(AuditEntry.action.in_(["alert_sweep", "alert_digest"])))
            if database.engine.dialect.name == "postgresql":
                # A first sweep meets an empty table; without this it would also wade through the dead rows
                # of the alerts just deleted (0.3-0.6 s more, depending on when autovacuum comes by).
                with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.exec_driver_sql("VACUUM ANALYZE alerts")
            return {"phase": name}
        job = alert_digest if name == "digest" else due_date_sweep
        # What a long-lived scheduler process has done once at start-up, not at each sweep: configured the
        # mappers, imported the modules the job uses and opened a connection (0.3-0.4 s in a fresh process).
        warm_started = time.perf_counter()
        configure_mappers()
        import app.rollups.settings  # noqa: F401  (imported by the sweep on its first run)
        with database.session_scope() as session:
            session.scalar(select(func.count()).select_from(AlertDigest))
        warm_up = time.perf_counter() - warm_started
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        with database.session_scope() as session:
            counts = job(session=session, now=now, config=config)
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        # CPU time of this process: on SQLite nearly all of the work, so a fairer figure than the wall
        # time on a machine shared with other jobs; on PostgreSQL only the client's share.
        cpu_s = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
        with database.session_scope() as session:
            by_kind = dict(session.execute(select(Alert.kind, func.count()).where(Alert.status == "open")
                                           .group_by(Alert.kind)).all())
        return {"phase": name, "seconds": round(elapsed, 3), "cpu_seconds": round(cpu_s, 3), "counts": counts,
                "warm_up": round(warm_up, 3),
                "open_by_kind": by_kind, "peak_mb": round(peak_mb(), 1)}
    finally:
        database.dispose()


def main(argv: list[str] | None = None) -> None:
    """Migrate, reset the alerts and time each phase in its own process."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=DEFAULT_URL)
    p.add_argument("--now", default=None, help="aware ISO moment to sweep at (default: now)")
    p.add_argument("--digest", action="store_true", help="also time the daily digest")
    p.add_argument("--phase", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    now = dt.datetime.fromisoformat(args.now) if args.now else dt.datetime.now(dt.timezone.utc)
    if args.phase:
        print(json.dumps(phase(args.url, args.phase, now), ensure_ascii=False))
        return

    from sqlalchemy.engine import make_url

    from app import migrate

    backend = make_url(args.url).get_backend_name()
    started = time.perf_counter()
    migrate.upgrade(args.url)
    print(f"migrated to head in {time.perf_counter() - started:.1f} s; sweeping at {now.isoformat()}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    phases = ["reset", "first", "second"] + (["digest"] if args.digest else [])
    results = {}
    for name in phases:
        out = subprocess.run([sys.executable, __file__, "--url", args.url, "--now", now.isoformat(), "--phase", name],
                             check=True, capture_output=True, text=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        results[name] = result
        if name != "reset":
            print(f"{name:<7} {result['seconds']:7.3f} s  (process CPU {result['cpu_seconds']:.3f} s; "
                  f"process warm-up before it {result['warm_up']:.2f} s)  "
                  f"peak {result['peak_mb']:6.1f} MB  {result['counts']}", flush=True)
    print("open alerts by kind:", results["second"]["open_by_kind"])
    target = TARGETS.get(backend, TARGETS["postgresql"])
    checks = [("first sweep", results["first"]["seconds"] < target["first"], f"< {target['first']} s"),
              ("second sweep", results["second"]["seconds"] < target["second"], f"< {target['second']} s"),
              ("second sweep creates nothing", results["second"]["counts"]["created"] == 0, "0 created"),
              ("peak memory", max(r.get("peak_mb", 0) for r in results.values()) < PEAK_TARGET_MB,
               f"< {PEAK_TARGET_MB} MB")]
    for what, ok, goal in checks:
        print(f"  {'ok ' if ok else 'MISS'} {what} ({goal})")


if __name__ == "__main__":
    main()
