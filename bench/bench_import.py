"""Time the ledger import of a 100,000-row file on SQLite and PostgreSQL beside a baseline.

    .venv/bin/python bench/import_generate.py       # once: bench/data/import_ledger_100000.xlsx
    .venv/bin/python bench/bench_import.py          # both backends
    .venv/bin/python bench/bench_import.py --backends sqlite --profile   # plus cProfile of each phase

For each backend the script builds a fresh database (SQLite: bench/data/import_bench.db;
PostgreSQL: the database named by --pg-url, dropped and created again), migrates it, seeds the
catalogue and creates one station. Then it runs these phases, each in a fresh Python process so
that each phase's peak memory (ru_maxrss) is its own:

- baseline: read the sheet with python-calamine, turn the cells into text, and insert the rows
  with one Core executemany into a table of 15 text columns in the same database;
- dry run: services.create_batch + services.plan_batch, committed (it stashes its parse);
- apply: services.start_apply + services.apply_batch, committed (it plans the stashed parse);
- the same file again: a second dry run and apply, where every row is unchanged.

Targets (issue 3): dry run within 2 times the baseline, apply within 3 times, peak under 500 MB.
The targets are wall-clock multiples. Beside them the script prints CPU seconds (this process and its
parse children) and their multiple of the baseline's: on a machine others are using, wall time
swings with their load while CPU time hardly moves, so the CPU multiple compares commits fairly
(on PostgreSQL it leaves out the server's CPU). It also times the garbage collector (gc gen0-2).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from import_generate import default_path  # noqa: E402
from sqlalchemy import (  # noqa: E402
    Column,
    Integer,
    MetaData,
    Table,
    Text,
    create_engine,
    insert,
    inspect,
    text,
)
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

DATA_DIR = ROOT / "bench" / "data"
SQLITE_DB = DATA_DIR / "import_bench.db"
SQLITE_URL = f"sqlite:///{SQLITE_DB}"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/metrology_bench_import"
UPLOADS = DATA_DIR / "import_uploads"
ACTOR = "基准测试"
STATION_CODE = "CG"
MB = 1024 * 1024

DRY_RUN_TARGET, APPLY_TARGET, MEMORY_TARGET_MB = 2.0, 3.0, 500

baseline_metadata = MetaData()
BASELINE = Table("bench_baseline_rows", baseline_metadata, Column("id", Integer, primary_key=True),
                 *(Column(f"c{i}", Text) for i in range(1, 16)))


# ----- timers around the pipeline's steps (cheap, unlike a profiler) ---------------------------

class Timers:
    """Inclusive wall time and calls per wrapped function."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, owner, attr: str, label: str) -> None:
        """Replace owner.attr with a timed version."""
        original = getattr(owner, attr)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
                self.calls[label] += 1

        setattr(owner, attr, timed)

    def report(self) -> dict:
        return {k: round(v, 3) for k, v in self.seconds.items()}


def instrument_pipeline(timers: Timers, children: dict) -> None:
    """Time the steps the services call (module globals, so the services pick up the wrappers).

    The file is read and parsed in a child process (importers/sandbox.py): its peak memory is
    kept in `children["peak_mb"]`, and its fork server is started before the phase's clock.
    """
    from app.imports import services
    from importers import apply, sandbox, stash
    from importers.plan import Planner

    sandbox.start()
    original = services.isolated

    def isolated(*args, **kwargs):
        stats: dict = {}
        try:
            return original(*args, stats=stats, **kwargs)
        finally:
            children["peak_mb"] = max(children.get("peak_mb", 0), stats.get("peak_mb", 0))
            children["cpu_seconds"] = children.get("cpu_seconds", 0.0) + stats.get("cpu_seconds", 0.0)

    services.isolated = isolated

    timers.wrap(services, "isolated", "child process (sheets; read + check + parse + pack)")
    timers.wrap(services, "unpack", "parse unpacked")
    timers.wrap(stash, "save", "parse stashed")
    timers.wrap(stash, "load", "stashed parse loaded")
    timers.wrap(stash, "load_parts", "stash read")
    timers.wrap(stash, "loads", "parts unpacked")
    timers.wrap(Planner, "plan", "Planner.plan")
    timers.wrap(Planner, "plan_part", "Planner.plan_part")
    timers.wrap(services, "bulk_insert", "import_rows insert")
    if hasattr(services, "_same_rows"):
        timers.wrap(services, "_same_rows", "_same_rows (preview check)")
    timers.wrap(services, "apply_plan", "apply_plan")
    timers.wrap(apply, "insert_with_ids", "  inserts with new ids")
    timers.wrap(apply, "_grouped_updates", "  grouped updates")
    timers.wrap(apply, "recompute_dates", "  recompute_dates")
    if hasattr(apply, "capture"):  # webhook events (an indexed check per transaction without a subscription)
        timers.wrap(apply, "capture", "  webhook capture")
    time_collections(timers)


def time_collections(timers: Timers) -> None:
    """Add the time this process spends in the cyclic garbage collector (all generations) to the timers."""
    import gc

    started: list[float] = []

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            label = f"gc gen{info['generation']}"
            timers.seconds[label] += time.perf_counter() - started.pop()
            timers.calls[label] += 1

    gc.callbacks.append(callback)


# ----- phases (each runs in its own process) ----------------------------------------------------

def _cell_text(value) -> str | None:
    cls = value.__class__
    if cls is str:
        value = value.strip()
        return value or None
    if cls is float:
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def phase_baseline(url: str, path: Path, **_) -> dict:
    """calamine read + cells to text + one Core executemany into a 15-text-column table."""
    import python_calamine as calamine

    from app.db import make_engine

    engine = make_engine(url)
    with engine.connect():
        pass  # the pool's first connection is not part of the figure
    started, cpu = time.perf_counter(), time.process_time()
    workbook = calamine.CalamineWorkbook.from_path(str(path))
    sheet = workbook.get_sheet_by_name(workbook.sheet_names[0])
    rows = list(sheet.iter_rows())
    read = time.perf_counter()
    records = []
    for row in rows[3:]:  # under the title, the 填报单位 line and the header
        cells = [_cell_text(v) for v in row[:15]]
        if any(cells):
            records.append({f"c{i}": v for i, v in enumerate(cells, start=1)})
    normalised = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(BASELINE), records)
    inserted = time.perf_counter()
    engine.dispose()
    return {"seconds": inserted - started, "cpu_seconds": time.process_time() - cpu, "rows": len(records),
            "steps": {"calamine read": round(read - started, 3), "cells to text": round(normalised - read, 3),
                      "Core executemany insert": round(inserted - normalised, 3)}}


def _session(url: str):
    from app.db import make_engine

    engine = make_engine(url)
    with engine.connect():
        pass
    return engine, sessionmaker(bind=engine, expire_on_commit=False)()


def phase_dry_run(url: str, path: Path, today: dt.date, **_) -> dict:
    """services.create_batch + services.plan_batch, then commit."""
    from sqlalchemy import select

    from app.accounts.models import Station
    from app.imports import services
    from app.scope import Scope

    timers = Timers()
    instrument_pipeline(timers, CHILDREN)
    engine, session = _session(url)
    station_id = session.scalars(select(Station.id).where(Station.code == STATION_CODE)).one()
    data = path.read_bytes()  # the upload, as the view hands it over
    started, cpu = time.perf_counter(), time.process_time()
    batch = services.create_batch(session, ACTOR, Scope.everything(), station_id=station_id, file_name=path.name,
                                  data=data, storage_dir=UPLOADS)
    if batch.message:
        raise SystemExit(f"file rejected: {batch.message}")
    created = time.perf_counter()
    services.plan_batch(session, batch, today=today)
    planned = time.perf_counter()
    session.commit()
    done = time.perf_counter()
    result = {"seconds": done - started, "cpu_seconds": _cpu_since(cpu), "batch_id": batch.id, "version": batch.version, "counts": batch.counts,
              "skipped": batch.skipped,
              "steps": {"create_batch": round(created - started, 3), "plan_batch": round(planned - created, 3),
                        "commit": round(done - planned, 3), **timers.report()}}
    session.close()
    engine.dispose()
    return result


def phase_apply(url: str, path: Path, today: dt.date, batch_id: int, **_) -> dict:
    """services.start_apply + services.apply_batch, then commit."""
    from app.imports import services
    from app.imports.models import ImportBatch

    timers = Timers()
    instrument_pipeline(timers, CHILDREN)
    engine, session = _session(url)
    batch = session.get(ImportBatch, batch_id)
    only_valid = bool(batch.counts.get("errors"))
    started, cpu = time.perf_counter(), time.process_time()
    services.start_apply(session, ACTOR, batch, expected_version=batch.version, only_valid=only_valid)
    written = services.apply_batch(session, ACTOR, batch, today=today)
    applied = time.perf_counter()
    session.commit()
    done = time.perf_counter()
    result = {"seconds": done - started, "cpu_seconds": _cpu_since(cpu), "written": written, "status": batch.status.value,
              "steps": {"start_apply + apply_batch": round(applied - started, 3), "commit": round(done - applied, 3),
                        **timers.report()}}
    session.close()
    engine.dispose()
    return result


CHILDREN: dict = {}  # the peak memory and CPU seconds of the phase's parse children, when it had any


def _cpu_since(started: float) -> float:
    """CPU seconds this process used since `started` (process_time), plus its parse children's.

    Unlike wall time, CPU time hardly moves when other work shares the machine, so the CPU multiple
    of the baseline is the figure to compare commits by on a busy machine. On PostgreSQL it leaves
    out the server's own CPU, in the baseline as in the phases.
    """
    return time.process_time() - started + CHILDREN.get("cpu_seconds", 0.0)

PHASES = {"baseline": phase_baseline, "dry_run": phase_dry_run, "apply": phase_apply}


def run_phase_here(args: argparse.Namespace) -> None:
    """Child process: run one phase, print its result as a JSON line."""
    kwargs = {"url": args.url, "path": args.file, "today": args.today, "batch_id": args.batch_id}
    if args.gc_off:  # to measure what the collector costs; the application never runs like this
        import gc

        gc.disable()
    func = PHASES[args.phase]
    import python_calamine  # noqa: F401  (the modules every phase uses, so "start MB" includes them)

    import app.imports.services  # noqa: F401
    before = _rss_mb()
    if args.profile and args.profiler == "pyinstrument":
        from pyinstrument import Profiler  # a dev tool: .venv/bin/pip install pyinstrument

        profiler = Profiler(interval=0.001)
        profiler.start()
        result = func(**kwargs)
        profiler.stop()
        report = profiler.output_text(unicode=True, color=False)
        Path(args.profile).with_suffix(".txt").write_text(report, encoding="utf-8")
        sys.stderr.write(report)
    elif args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        result = profiler.runcall(func, **kwargs)
        out = Path(args.profile)
        profiler.dump_stats(out)
        stats = pstats.Stats(str(out), stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(35)
        stats.sort_stats("tottime").print_stats(25)
    else:
        result = func(**kwargs)
    result["rss_before_mb"] = before
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    result["child_peak_mb"] = CHILDREN.get("peak_mb", 0)
    result["child_cpu_seconds"] = CHILDREN.get("cpu_seconds", 0.0)
    print("RESULT " + json.dumps(result, ensure_ascii=False, default=str), flush=True)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB


def run_phase(phase: str, url: str, path: Path, today: dt.date, *, batch_id: int | None = None,
              profile: Path | None = None, profiler: str = "cprofile", gc_off: bool = False) -> dict:
    """Run a phase in a fresh interpreter and return its result."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", phase, "--url", url, "--file", str(path),
           "--today", today.isoformat()]
    if batch_id is not None:
        cmd += ["--batch-id", str(batch_id)]
    if profile is not None:
        cmd += ["--profile", str(profile), "--profiler", profiler]
    if gc_off:
        cmd.append("--gc-off")
    proc = subprocess.run(cmd, check=False, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    if proc.returncode:
        sys.stdout.write(proc.stdout)
        raise SystemExit(f"phase {phase} failed ({proc.returncode})")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(lines[-1][len("RESULT "):])


# ----- databases ---------------------------------------------------------------------------------

def prepare(url: str, webhook: bool = False) -> None:
    """A fresh, migrated database with the catalogue, one station and the baseline table (and, with
    `webhook`, an API token of the station with an active webhook subscription to every event type, so
    the apply captures an event per instrument and verification written)."""
    from app import migrate as migrations
    from app.accounts.services import create_station
    from app.catalog.services import seed_catalogue
    from app.db import make_engine

    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        path = Path(make_url(url).database)
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        _recreate_pg(url)
    migrations.upgrade(url)
    engine = make_engine(url)
    with sessionmaker(bind=engine)() as session:
        seed_catalogue(session)
        station = create_station(session, None, name="城关市场监管所", code=STATION_CODE, division_code="331202")
        if webhook:
            _subscribe(session, station)
        session.commit()
    baseline_metadata.create_all(engine)
    engine.dispose()


def _subscribe(session, station) -> None:
    import datetime as dt
    import hashlib

    from app.api.models import ApiToken, TokenScope
    from app.db import utcnow
    from app.webhooks import services as webhooks
    from app.webhooks.models import EVENT_TYPES

    token = ApiToken(name="基准测试平台", prefix="bench", token_hash=hashlib.sha256(b"bench").hexdigest(),
                     scope=TokenScope.READ, expires_at=utcnow() + dt.timedelta(days=30), rate_per_minute=600)
    token.stations = [station]
    session.add(token)
    session.flush()
    webhooks.subscribe(session, None, token, url="http://127.0.0.1:9/bench", event_types=list(EVENT_TYPES),
                       config={"WEBHOOK_ALLOW_PRIVATE": True})


def _recreate_pg(url: str, drop_only: bool = False) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    quoted = admin.dialect.identifier_preparer.quote(target.database)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        if not drop_only:
            conn.execute(text(f"CREATE DATABASE {quoted}"))
    admin.dispose()


def cleanup(url: str) -> None:
    """Remove the benchmark database."""
    if make_url(url).get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{make_url(url).database}{suffix}").unlink(missing_ok=True)
    else:
        _recreate_pg(url, drop_only=True)


def table_counts(url: str) -> dict:
    """Rows in the tables the import writes."""
    engine = create_engine(url)
    with engine.connect() as conn:
        tables = ["merchants", "instruments", "verifications", "import_rows", "imported_records",
                  "bench_baseline_rows"]
        if "webhook_events" in inspect(conn).get_table_names():
            tables.append("webhook_events")
        out = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
    engine.dispose()
    return out


# ----- orchestration -----------------------------------------------------------------------------

def bench_backend(name: str, url: str, path: Path, today: dt.date, profile_dir: Path | None,
                  profiler: str = "cprofile", gc_off: bool = False, webhook: bool = False) -> list[dict]:
    """All phases on one backend; returns the table rows."""
    print(f"\n== {name}: {make_url(url).render_as_string(hide_password=True)}", flush=True)
    started = time.perf_counter()
    prepare(url, webhook)
    print(f"   fresh database, migrated and seeded in {time.perf_counter() - started:.1f} s", flush=True)

    def run(phase: str, label: str, **kw) -> dict:
        prof = profile_dir / f"{name}_{label.replace(' ', '_')}.prof" if profile_dir else None
        load = os.getloadavg()[0]
        result = run_phase(phase, url, path, today, profile=prof, profiler=profiler, gc_off=gc_off, **kw)
        result["label"] = label
        result["load"] = (load, os.getloadavg()[0])
        steps = "  ".join(f"{k.strip()} {v:.2f}" for k, v in result["steps"].items())
        print(f"   {label:<16} {result['seconds']:7.2f} s  cpu {result['cpu_seconds']:6.2f} s  peak {result['peak_mb']:5.0f} MB  "
              f"child peak {result['child_peak_mb']:5.0f} MB  child cpu {result.get('child_cpu_seconds', 0):5.2f} s  "
              f"load {load:.1f}->{result['load'][1]:.1f}   {steps}", flush=True)
        return result

    results = [run("baseline", "baseline")]
    first = run("dry_run", "dry run")
    print(f"   counts {json.dumps(first['counts'], ensure_ascii=False)}  skipped {first['skipped']}")
    results += [first, run("apply", "apply", batch_id=first["batch_id"])]
    print(f"   written {results[-1]['written']}")
    second = run("dry_run", "dry run again")
    print(f"   counts {json.dumps(second['counts'], ensure_ascii=False)}")
    c = second["counts"]
    changes = sum(c[k][a] for k in ("merchants", "instruments", "verifications") for a in ("create", "update"))
    print(f"   the same file again changes nothing: {'yes' if changes == 0 else f'NO ({changes} creates/updates)'}")
    results += [second, run("apply", "apply again", batch_id=second["batch_id"])]
    print(f"   tables {table_counts(url)}")
    for r in results:
        r["backend"] = name
    return results


def print_table(rows: list[dict]) -> None:
    """The figures, with the targets."""
    print()
    print(f"{'backend':<11} {'phase':<16} {'seconds':>8} {'x baseline':>10} {'cpu s':>7} {'cpu x':>6} "
          f"{'peak MB':>8} {'child MB':>8} "
          f"{'start MB':>8}  "
          f"{'target':<22} ok   load (1-min average, before -> after; {os.cpu_count()} CPUs)")
    for backend in dict.fromkeys(r["backend"] for r in rows):
        group = [r for r in rows if r["backend"] == backend]
        base, base_cpu = group[0]["seconds"], group[0]["cpu_seconds"]
        for r in group:
            ratio = r["seconds"] / base
            limit = {"dry run": DRY_RUN_TARGET, "apply": APPLY_TARGET}.get(r["label"])
            memory_ok = max(r["peak_mb"], r["child_peak_mb"]) < MEMORY_TARGET_MB
            if limit is None:
                target, ok = f"< {MEMORY_TARGET_MB} MB", memory_ok
                if r["label"] == "baseline":
                    target, ok = "", None
            else:
                target, ok = f"<= {limit:g}x, < {MEMORY_TARGET_MB} MB", ratio <= limit and memory_ok
            mark = "" if ok is None else ("yes" if ok else "NO")
            print(f"{backend:<11} {r['label']:<16} {r['seconds']:>8.2f} {ratio:>10.2f} {r['cpu_seconds']:>7.2f} "
                  f"{r['cpu_seconds'] / base_cpu:>6.2f} {r['peak_mb']:>8.0f} "
                  f"{r['child_peak_mb']:>8.0f} {r['rss_before_mb']:>8.0f}  {target:<22} {mark:<4} "
                  f"{r['load'][0]:.1f} -> {r['load'][1]:.1f}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--file", type=Path, default=default_path(100_000), help="the ledger (bench/import_generate.py)")
    p.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    p.add_argument("--pg-url", default=PG_URL, help=f"dropped and created again (default {PG_URL})")
    p.add_argument("--sqlite-url", default=SQLITE_URL)
    p.add_argument("--today", type=dt.date.fromisoformat, default=None, help="default: today in Asia/Shanghai")
    p.add_argument("--keep", action="store_true", help="keep the databases and stored uploads afterwards")
    p.add_argument("--profile", nargs="?", const=DATA_DIR / "profiles", type=Path, default=None,
                   help="cProfile each phase into DIR (default bench/data/profiles) and print the top functions")
    p.add_argument("--profiler", choices=("cprofile", "pyinstrument"), default="cprofile",
                   help="with --profile: cProfile (.prof files) or pyinstrument (.txt call trees; pip install it)")
    p.add_argument("--webhook", action="store_true",
                   help="an active webhook subscription covers the station: the apply writes an event per record")
    p.add_argument("--gc-off", action="store_true",
                   help="run every phase with the garbage collector off, to measure what it costs")
    # Internal: run one phase in this process.
    p.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--batch-id", type=int, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.today is None:
        from app.clock import today

        args.today = today()
    if args.phase:
        run_phase_here(args)
        return
    if not args.file.exists():
        raise SystemExit(f"{args.file} is missing: run .venv/bin/python bench/import_generate.py first")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    urls = {"sqlite": args.sqlite_url, "postgresql": args.pg_url}
    print(f"file: {args.file} ({args.file.stat().st_size / MB:.1f} MiB); today {args.today}; "
          f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    rows: list[dict] = []
    for name in args.backends.split(","):
        url = urls[name.strip()]
        try:
            rows += bench_backend(name.strip(), url, args.file, args.today, args.profile, args.profiler, args.gc_off,
                                  args.webhook)
        finally:
            if not args.keep:
                cleanup(url)
    if not args.keep:
        shutil.rmtree(UPLOADS, ignore_errors=True)
    print_table(rows)


if __name__ == "__main__":
    main()
