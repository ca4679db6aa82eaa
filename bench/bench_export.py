"""Time the instrument export (issue 7) against xlsxwriter in constant-memory mode, in the same run.

    .venv/bin/python bench/bench_export.py                 # builds bench/data/export.db (100,000 instruments) once
    .venv/bin/python bench/bench_export.py --url postgresql+psycopg://postgres@127.0.0.1:5432/metrology_bench_export

Each measurement runs in a fresh Python process, so its ru_maxrss is its own peak:
- baseline: the rows the export writes, read into a list first, then written with xlsxwriter
  (constant_memory) with the same column formats; only the writing is timed;
- export: what the export view does (count, streamed query, openpyxl write-only to a temporary file),
  timed as a whole, query included.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = f"sqlite:///{ROOT / 'bench' / 'data' / 'export.db'}"
ROWS = 100_000


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    # CPU seconds of this process: steadier than wall time on a machine shared with other work.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _session(url: str):
    from app.db import Database

    return Database(url).session_factory()


def _list_stmt():
    from app.instruments.queries import InstrumentFilter, instrument_list
    from app.scope import Scope

    return instrument_list(Scope.everything(), InstrumentFilter(), "new")


def phase_export(url: str) -> dict:
    """The export as the view runs it."""
    from app.db import count_of
    from reports.lists import INSTRUMENT_COLUMNS, instrument_rows
    from reports.xlsx import write_table

    session = _session(url)
    start, cpu = time.perf_counter(), _cpu()
    total = session.execute(count_of(_list_stmt())).scalar_one()
    with tempfile.TemporaryFile() as out:
        rows = write_table(out, INSTRUMENT_COLUMNS, instrument_rows(session, _list_stmt()), sheet_title="计量器具")
        size = out.tell()
    return {"seconds": time.perf_counter() - start, "cpu": _cpu() - cpu, "rows": rows, "total": total, "bytes": size,
            "peak_mb": _peak_mb()}


def phase_baseline(url: str) -> dict:
    """xlsxwriter (constant_memory) writing the same rows, read beforehand."""
    import datetime as dt
    import enum

    import xlsxwriter

    from reports.lists import INSTRUMENT_COLUMNS, instrument_rows

    session = _session(url)
    start = time.perf_counter()
    rows = list(instrument_rows(session, _list_stmt()))
    query_seconds = time.perf_counter() - start
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as out:
        start, cpu = time.perf_counter(), _cpu()
        wb = xlsxwriter.Workbook(out.name, {"constant_memory": True})
        ws = wb.add_worksheet("计量器具")
        bold, date_format = wb.add_format({"bold": True}), wb.add_format({"num_format": "yyyy-mm-dd"})
        for c, column in enumerate(INSTRUMENT_COLUMNS):
            ws.set_column(c, c, column.width)
            ws.write_string(0, c, column.header, bold)
        ws.freeze_panes(1, 0)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, dt.date):
                    ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_format)
                elif isinstance(value, enum.Enum):
                    ws.write_string(r, c, value.label)
                else:
                    ws.write_string(r, c, str(value))
        ws.autofilter(0, 0, len(rows), len(INSTRUMENT_COLUMNS) - 1)
        wb.close()
        seconds, cpu = time.perf_counter() - start, _cpu() - cpu
    return {"seconds": seconds, "cpu": cpu, "query_seconds": query_seconds, "rows": len(rows), "peak_mb": _peak_mb()}


def _run_phase(name: str, url: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--phase", name, "--url", url], check=True,
                         capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_dataset(url: str) -> None:
    """Generate 100,000 instruments when the database has none."""
    from sqlalchemy import func, inspect, select

    from app.db import make_engine
    from app.instruments.models import Instrument

    engine = make_engine(url)
    try:
        have = "instruments" in inspect(engine).get_table_names()
        if have:
            with engine.connect() as conn:
                have = conn.execute(select(func.count()).select_from(Instrument)).scalar_one() >= ROWS
    finally:
        engine.dispose()
    if not have:
        print(f"generating {ROWS:,} instruments into {url} ...", flush=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), "--url", url, "--instruments",
                        str(ROWS), "--stations", "5", "--force"], check=True, cwd=ROOT)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=DEFAULT_URL)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--phase", choices=("export", "baseline"))
    args = p.parse_args()
    if args.phase:
        print(json.dumps((phase_export if args.phase == "export" else phase_baseline)(args.url)))
        return
    ensure_dataset(args.url)
    ratios = []
    for run in range(1, args.runs + 1):
        base, export = _run_phase("baseline", args.url), _run_phase("export", args.url)
        ratio, cpu_ratio = export["seconds"] / base["seconds"], export["cpu"] / base["cpu"]
        ratios.append((ratio, cpu_ratio))
        print(f"run {run}: rows {export['rows']:,} | xlsxwriter constant_memory {base['seconds']:.2f} s wall, "
              f"{base['cpu']:.2f} s CPU (query before it {base['query_seconds']:.2f} s), peak {base['peak_mb']:.0f} MB | "
              f"export incl. query {export['seconds']:.2f} s wall, {export['cpu']:.2f} s CPU, "
              f"{export['bytes'] / 1e6:.1f} MB file, peak {export['peak_mb']:.0f} MB | "
              f"{ratio:.2f}x wall, {cpu_ratio:.2f}x CPU (target <= 1.6x, < 200 MB)", flush=True)
    print(f"median ratio {statistics.median(r for r, _ in ratios):.2f}x wall, "
          f"{statistics.median(c for _, c in ratios):.2f}x CPU over {len(ratios)} runs")


if __name__ == "__main__":
    main()
