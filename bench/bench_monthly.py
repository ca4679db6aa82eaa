"""Time the monthly report (issue 7) over the benchmark dataset (bench/generate.py: 1,000,000 instruments).

    .venv/bin/python bench/bench_monthly.py [--url URL] [--month 2026-10] [--station CODE]

Runs the report in a fresh process per run, so ru_maxrss is its own peak; prints the time spent on the
figures (grouped queries) and on writing the workbook (summary, sections, detail sheets).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = f"sqlite:///{ROOT / 'bench' / 'data' / 'bench.db'}"


def one_run(url: str, month_text: str, station_code: str | None) -> dict:
    """Build the report once, timing its two halves."""
    from sqlalchemy import func, select

    from app.accounts.models import Station
    from app.db import Database
    from app.monthly.services import report_sections
    from reports.monthly import Month, compute_figures, write_monthly_workbook

    session = Database(url).session_factory()
    month = Month.parse(month_text)
    station_id = session.scalar(select(Station.id).where(Station.code == station_code)) if station_code else None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    figures = compute_figures(session, month, station_id)
    figures.sections = report_sections()
    figures_seconds = time.perf_counter() - start
    with tempfile.TemporaryFile() as out:
        write_monthly_workbook(session, figures, out, station_id)
        size = out.tell()
    total = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    from app.instruments.models import Instrument

    instruments = session.scalar(select(func.count()).select_from(Instrument))
    return {"seconds": total, "cpu": cpu, "figures": figures_seconds, "workbook": total - figures_seconds, "bytes": size,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "instruments": instruments,
            "verified": figures.total().verified, "overdue": figures.total().overdue}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=DEFAULT_URL)
    p.add_argument("--month", default=None, help="default: last month")
    p.add_argument("--station", default=None)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.month is None:
        from app.clock import today
        from reports.monthly import Month

        args.month = str(Month.of(today()).shift(-1))
    if args.one:
        print(json.dumps(one_run(args.url, args.month, args.station)))
        return
    for run in range(1, args.runs + 1):
        cmd = [sys.executable, __file__, "--one", "--url", args.url, "--month", args.month]
        if args.station:
            cmd += ["--station", args.station]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout.splitlines()[-1])
        print(f"run {run}: {args.month} {'station ' + args.station if args.station else 'all stations'} over "
              f"{r['instruments']:,} instruments: {r['seconds']:.1f} s wall, {r['cpu']:.1f} s CPU (figures {r['figures']:.1f} s, workbook "
              f"{r['workbook']:.1f} s, {r['bytes'] / 1e6:.1f} MB; verified {r['verified']:,}, overdue {r['overdue']:,}), "
              f"peak {r['peak_mb']:.0f} MB (target < 30 s)", flush=True)


if __name__ == "__main__":
    main()
