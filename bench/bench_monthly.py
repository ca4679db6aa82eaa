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
sys.path.insert(0, str(ROOT / "bench"))

DEFAULT_URL = f"sqlite:///{ROOT / 'bench' / 'data' / 'bench.db'}"


def add_inspections(url: str, month_text: str, count: int, seed: int = 20261201) -> int:
    """Insert `count` inspections dated in the month (with checked instruments, findings on about 40 % and
    rectification orders), spread over existing merchants, unless the month has that many already."""
    import datetime as dt
    import random

    from generate import checked_instrument_rows, insert_rows
    from sqlalchemy import func, select

    from app.catalog.models import FindingCode
    from app.db import Database, utcnow
    from app.inspections.models import Finding, Inspection, InspectionInstrument, Rectification, inspection_inspectors
    from app.accounts.models import User
    from app.instruments.models import Instrument
    from reports.monthly import Month

    month = Month.parse(month_text)
    database = Database(url)
    with database.session_scope() as session:
        have = session.scalar(select(func.count()).select_from(Inspection)
                              .where(Inspection.inspected_on.between(month.first, month.last)))
        if have >= count:
            return have
        r = random.Random(seed)
        now = utcnow()
        stamp = {"created_at": now, "updated_at": now}
        users = session.scalars(select(User.id)).all()[:20]
        codes = session.scalars(select(FindingCode.id)).all()
        top = session.scalar(select(func.max(Instrument.id)))
        base = {t: (session.scalar(select(func.max(t.c.id))) or 0) for t in
                (Inspection.__table__, InspectionInstrument.__table__, Finding.__table__)}
        rows_i, rows_u, rows_c, rows_f, rows_r = [], [], [], [], []
        picks = sorted(r.sample(range(1, top + 1), count - have))
        for start in range(0, len(picks), 5000):
            chunk = picks[start:start + 5000]
            for inst_id, merchant_id, station_id, serial, due in session.execute(
                    select(Instrument.id, Instrument.merchant_id, Instrument.station_id, Instrument.serial_no,
                           Instrument.next_due_on).where(Instrument.id.in_(chunk))):
                iid = base[Inspection.__table__] + len(rows_i) + 1
                day = month.first + dt.timedelta(days=r.randrange((month.last - month.first).days + 1))
                rows_i.append({"id": iid, "merchant_id": merchant_id, "station_id": station_id, "campaign_id": None,
                               "inspected_on": day, "visit_outcome": "conducted", "notes": "", "created_by_id": None,
                               **stamp})
                rows_u += [{"inspection_id": iid, "user_id": u} for u in r.sample(users, min(2, len(users)))]
                cid = base[InspectionInstrument.__table__] + len(rows_c) + 1
                check, finding, order = checked_instrument_rows(
                    r, codes, iid=iid, cid=cid, fid=base[Finding.__table__] + len(rows_f) + 1, day=day, stamp=stamp,
                    case_prefix="BENCH-", instrument=(inst_id, merchant_id, station_id, serial, due))
                rows_c.append(check)
                rows_f += [finding] if finding else []
                rows_r += [order] if order else []
        insert_rows(session, ((Inspection.__table__, rows_i), (inspection_inspectors, rows_u),
                              (InspectionInstrument.__table__, rows_c), (Finding.__table__, rows_f),
                              (Rectification.__table__, rows_r)))
        return have + len(rows_i)


def one_run(url: str, month_text: str, station_code: str | None, region_code: str | None = None) -> dict:
    """Build the report once (one station, a region's edition or all stations), timing its two halves."""
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
    if region_code:
        from app.monthly.services import region_edition
        from app.regions.models import Region

        region_id = session.scalar(select(Region.id).where(Region.code == region_code))
        name, station_id, counties = region_edition(session, region_id)  # resolving the tree is part of the time
        figures = compute_figures(session, month, station_id, scope_name=name, counties=counties,
                                  region_id=region_id)
    else:
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
    from app.inspections.models import Inspection

    inspections = session.scalar(select(func.count()).select_from(Inspection))
    return {"inspections": inspections, "seconds": total, "cpu": cpu, "figures": figures_seconds, "workbook": total - figures_seconds, "bytes": size,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "instruments": instruments,
            "verified": figures.total().verified, "overdue": figures.total().overdue}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=DEFAULT_URL)
    p.add_argument("--month", default=None, help="default: last month")
    p.add_argument("--station", default=None)
    p.add_argument("--region", default=None, help="a region's code: its edition (county, city or province)")
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--inspections", type=int, default=50_000, help="inspections in the month (added if fewer)")
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.month is None:
        from app.clock import today
        from reports.monthly import Month

        args.month = str(Month.of(today()).shift(-1))
    if args.one:
        print(json.dumps(one_run(args.url, args.month, args.station, args.region)))
        return
    if args.inspections:
        print(f"{add_inspections(args.url, args.month, args.inspections):,} inspections in {args.month}", flush=True)
    for run in range(1, args.runs + 1):
        cmd = [sys.executable, __file__, "--one", "--url", args.url, "--month", args.month]
        if args.station:
            cmd += ["--station", args.station]
        if args.region:
            cmd += ["--region", args.region]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout.splitlines()[-1])
        print(f"run {run}: {args.month} {'station ' + args.station if args.station else 'region ' + args.region if args.region else 'all stations'} over "
              f"{r['instruments']:,} instruments and {r['inspections']:,} inspections: {r['seconds']:.1f} s wall, {r['cpu']:.1f} s CPU (figures {r['figures']:.1f} s, workbook "
              f"{r['workbook']:.1f} s, {r['bytes'] / 1e6:.1f} MB; verified {r['verified']:,}, overdue {r['overdue']:,}), "
              f"peak {r['peak_mb']:.0f} MB (target < 30 s)", flush=True)


if __name__ == "__main__":
    main()
