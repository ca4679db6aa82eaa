"""Time posting verification results (app.results.services.submit_results) against a generated ledger.

    .venv/bin/python bench/bench_results.py                 # bench/data/bench.db
    .venv/bin/python bench/bench_results.py --url postgresql+psycopg://postgres@127.0.0.1:5432/metrology_bench

Builds --total results in batches of --batch (default 10,000 in batches of 1,000, the issue's target: under
30 s in all): nine in ten for registered instruments (new verifications with certificate numbers), one in ten
for serials the ledger does not hold (leads). Each batch is one transaction, as an API request is; the whole
run is rolled back at the end (--keep commits it), so the figure can be taken again on the same data.
Prints each batch's time, the total against the target and the process's peak memory (ru_maxrss).
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = f"sqlite:///{ROOT / 'bench' / 'data' / 'bench.db'}"
TARGET_S = 30.0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 when over the target."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=DEFAULT_URL)
    p.add_argument("--total", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=1_000)
    p.add_argument("--keep", action="store_true", help="commit each batch instead of rolling back")
    args = p.parse_args(argv)

    from sqlalchemy import func, select

    from app.catalog.models import InstrumentType
    from app.db import Database
    from app.instruments.models import Instrument
    from app.results.services import ResultRow, submit_results, tally

    database = Database(args.url)
    session = database.session_factory()
    count = session.scalar(select(func.count()).select_from(Instrument))
    rng = random.Random(16)
    # Instruments spread over the id range (by id, not ORDER BY random(): that sorts a million rows).
    top = session.scalar(select(func.max(Instrument.id)))
    ids = sorted(rng.sample(range(1, top + 1), min(args.total * 2, top)))
    codes = dict(session.execute(select(InstrumentType.id, InstrumentType.code)).all())
    picked = []
    for i in range(0, len(ids), 900):
        picked += session.execute(select(Instrument.type_id, Instrument.serial_no, Instrument.maker)
                                  .where(Instrument.id.in_(ids[i:i + 900]))).all()
    rng.shuffle(picked)
    today = dt.date.today()
    rows = []
    for n in range(args.total):
        if n % 10 == 9 or n // 10 >= len(picked):
            rows.append(ResultRow(kind="elec_price_scale", serial_no=f"BENCH-NEW-{n}", verified_on=today,
                                  certificate_no=f"BENCH-L-{n}", submitter="无此单位", row=n))
        else:
            type_id, serial, maker = picked[n]
            rows.append(ResultRow(kind=codes[type_id], serial_no=serial, maker=maker, verified_on=today,
                                  valid_until=today + dt.timedelta(days=364), certificate_no=f"BENCH-{n}", row=n))
    print(f"{database.engine.dialect.name}: {count:,} instruments; {args.total:,} results in batches of {args.batch:,}")
    totals = {"recorded": 0, "unchanged": 0, "queued": 0, "refused": 0}
    started = time.perf_counter()
    worst = 0.0
    try:
        for i in range(0, len(rows), args.batch):
            t0 = time.perf_counter()
            out = submit_results(session, rows[i:i + args.batch], body=None, station_id=None, actor=None,
                                 actor_label="bench", today=today)
            if args.keep:
                session.commit()
            else:
                session.flush()
            took = time.perf_counter() - t0
            worst = max(worst, took)
            for k, v in tally(out).items():
                totals[k] += v
            print(f"  batch {i // args.batch + 1}: {took:.2f} s {tally(out)}")
    finally:
        if not args.keep:
            session.rollback()
        session.close()
    total = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ok = total < TARGET_S
    print(f"total {total:.2f} s (target < {TARGET_S:.0f} s: {'OK' if ok else 'OVER'}); slowest batch {worst:.2f} s; "
          f"{totals}; peak memory {peak:.0f} MB")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
