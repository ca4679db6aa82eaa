"""Time the heavy pages against a generated database with the Flask test client.

    .venv/bin/python bench/bench_pages.py                   # bench/data/bench.db
    .venv/bin/python bench/bench_pages.py --url postgresql+psycopg://postgres@127.0.0.1:5432/metrology_bench
    .venv/bin/python bench/bench_pages.py --explain         # plus the slowest statements and their plans

Each page is requested as a supervisor (every station) and as an inspector of one station:
a few warm-up requests, then --requests timed ones. Every page also computes the navigation
counts (app/web.py nav_counts); they are timed on their own as well.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, select  # noqa: E402

from app import create_app  # noqa: E402
from app.accounts.models import Role, Station, User  # noqa: E402
from app.accounts.services import create_user  # noqa: E402
from app.clock import today  # noqa: E402
from app.dashboard.services import worklist_counts  # noqa: E402
from app.instruments.models import Instrument  # noqa: E402
from app.scope import Scope  # noqa: E402
from config import TestConfig  # noqa: E402

DEFAULT_URL = f"sqlite:///{ROOT / 'bench' / 'data' / 'bench.db'}"
PASSWORD = "bench-password-1"
SUPERVISOR, INSPECTOR = "bench_supervisor", "bench_inspector"


@dataclass
class SqlStats:
    """Statements run during the request being measured (and, when capturing, the statements)."""

    count: int = 0
    capture: bool = False
    statements: list = field(default_factory=list)

    def reset(self, capture: bool = False) -> None:
        """Start counting a new request."""
        self.count, self.capture, self.statements = 0, capture, []


def instrument_sql(engine, stats: SqlStats) -> None:
    """Count statements through an engine event.

    Their time is not taken here: SQLite does most of a query's work while rows are
    fetched, after this event, so explain() times each statement on its own instead.
    """

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):
        stats.count += 1
        if stats.capture:
            stats.statements.append((statement, parameters))


def ensure_users(database) -> tuple[int, str]:
    """A supervisor and an inspector of the first station; returns (station id, station name)."""
    with database.session_scope() as session:
        station = session.scalars(select(Station).order_by(Station.code).limit(1)).first()
        if station is None:
            sys.exit("no stations: generate the dataset first (bench/generate.py)")
        for username, role, stations in ((SUPERVISOR, Role.SUPERVISOR, []), (INSPECTOR, Role.INSPECTOR, [station.id])):
            if session.scalars(select(User).where(User.username == username)).first() is None:
                create_user(session, "基准测试", username=username, display_name=username, role=role,
                            password=PASSWORD, station_ids=stations, must_change_password=False)
        return station.id, station.name


def busiest_kind(database, station_id: int) -> int:
    """The kind with the most instruments in the station: the largest filtered list."""
    with database.session_scope() as session:
        stmt = (select(Instrument.type_id).where(Instrument.station_id == station_id).group_by(Instrument.type_id)
                .order_by(func.count().desc()).limit(1))
        return session.execute(stmt).scalar_one()


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def time_calls(call, stats: SqlStats, warmup: int, requests: int) -> dict:
    """Median and p95 wall time of call() in ms, and the statements per call."""
    for _ in range(warmup):
        call()
    walls, counts = [], []
    for _ in range(requests):
        stats.reset()
        started = time.perf_counter()
        call()
        walls.append((time.perf_counter() - started) * 1000)
        counts.append(stats.count)
    return {"median": statistics.median(walls), "p95": percentile(walls, 95), "queries": max(counts)}


def explain(engine, statements, top: int) -> None:
    """Time each captured statement alone (execute and fetch), then print the slowest with their plans."""
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
    raw = engine.raw_connection()
    try:
        timed = []
        for statement, parameters in statements:
            cur = raw.cursor()
            started = time.perf_counter()
            cur.execute(statement, parameters)
            cur.fetchall()
            timed.append((time.perf_counter() - started, statement, parameters))
            cur.close()
        print(f"    statements alone: {sum(t for t, _, _ in timed) * 1000:.1f} ms in all")
        for elapsed, statement, parameters in sorted(timed, key=lambda s: s[0], reverse=True)[:top]:
            print(f"    --- {elapsed * 1000:.1f} ms: {' '.join(statement.split())[:300]}")
            print(f"        params: {parameters}")
            cur = raw.cursor()
            cur.execute(prefix + statement, parameters)
            for row in cur.fetchall():
                print("        " + " | ".join(str(c) for c in row))
            cur.close()
        raw.rollback()
    finally:
        raw.close()


def main(argv: list[str] | None = None) -> None:
    """Run the measurements and print the table of figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=DEFAULT_URL)
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--explain", action="store_true", help="print the slowest statements of each page with plans")
    p.add_argument("--top", type=int, default=4, help="statements to explain per page")
    args = p.parse_args(argv)

    app = create_app(TestConfig, DATABASE_URL=args.url, WTF_CSRF_ENABLED=False)
    database = app.extensions["database"]
    stats = SqlStats()
    instrument_sql(database.engine, stats)
    station_id, station_name = ensure_users(database)
    type_id = busiest_kind(database, station_id)
    with database.session_scope() as session:
        total = session.execute(select(func.count()).select_from(Instrument)).scalar_one()
    print(f"database: {database.engine.url.render_as_string(hide_password=True)} ({total:,} instruments)")
    print(f"inspector station: {station_name} (id {station_id}); list filter type_id={type_id}; "
          f"{args.warmup} warm-up + {args.requests} timed requests each")

    pages = [("instrument list", f"/instruments/?station_id={station_id}&type_id={type_id}", 100),
             ("overdue worklist", "/worklists/overdue", 200),
             ("dashboard", "/", 500)]
    rows = []
    for username in (SUPERVISOR, INSPECTOR):
        client = app.test_client()
        resp = client.post("/login", data={"username": username, "password": PASSWORD})
        if resp.status_code != 302:
            sys.exit(f"login as {username} failed ({resp.status_code})")

        for label, url, target in pages:
            def get(url=url, client=client):
                response = client.get(url)
                if response.status_code != 200:
                    raise RuntimeError(f"{url}: HTTP {response.status_code}")

            figures = time_calls(get, stats, args.warmup, args.requests)
            rows.append((label, username, figures, target))
            if args.explain:
                stats.reset(capture=True)
                get()
                print(f"\n{label} as {username}: {stats.count} statements")
                explain(database.engine, stats.statements, args.top)

        # The navigation counts every page computes, on their own.
        with app.app_context():
            user = database.session.scalars(select(User).where(User.username == username)).one()
            scope = Scope.for_user(user)
            days = app.config["DUE_SOON_DAYS"]

            def counts(scope=scope, days=days):
                worklist_counts(database.session, scope, today(), days)

            rows.append(("  nav counts alone", username, time_calls(counts, stats, args.warmup, args.requests), None))
            database.remove()

    print()
    print(f"{'page':<20} {'user':<17} {'median ms':>10} {'p95 ms':>8} {'queries':>8} {'target':>8}  ok")
    for label, username, f, target in rows:
        ok = "" if target is None else ("yes" if f["p95"] < target else "NO")
        target_text = "" if target is None else f"<{target}"
        print(f"{label:<20} {username:<17} {f['median']:>10.1f} {f['p95']:>8.1f} {f['queries']:>8} "
              f"{target_text:>8}  {ok}")
    database.dispose()


if __name__ == "__main__":
    main()
