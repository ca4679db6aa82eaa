"""Build the benchmark dataset: by default 1,000,000 instruments with verification histories
across 20 stations, into bench/data/bench.db or a PostgreSQL URL (no Flask).

    .venv/bin/python bench/generate.py                      # SQLite, bench/data/bench.db
    .venv/bin/python bench/generate.py --url postgresql+psycopg://postgres@127.0.0.1:5432/metrology_bench
    .venv/bin/python bench/generate.py --province --jobs 2 \
        --url postgresql+psycopg://postgres@127.0.0.1:5432/metrology_bench10m    # 10,000,000 in 500 stations

`--today` fixes the reference date the histories are built back from, so the same seed gives the same rows on
any day; `--province` always uses one (2026-12-01 unless given).
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app import migrate as migrations  # noqa: E402
from app.catalog.services import seed_catalogue  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.demo.generator import DEFAULT_SEED, TABLE_ORDER, core_sink  # noqa: E402
from app.merchants.models import Merchant  # noqa: E402

DEFAULT_DB = ROOT / "bench" / "data" / "bench.db"
# The reference date every dataset is built back from unless --today says otherwise: the same seed gives the same
# rows on any day (issue 21). The pages are timed against the real clock, so the data age (more overdue) as the
# months pass; pass --today with the current date for a dataset as of now.
REFERENCE_DAY = PROVINCE_DAY = dt.date(2026, 12, 1)
DEFAULT_URL = f"sqlite:///{DEFAULT_DB}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=DEFAULT_URL, help=f"database URL (default {DEFAULT_URL})")
    p.add_argument("--instruments", type=int, default=1_000_000)
    p.add_argument("--merchants", type=int, default=None, help="default: instruments / 10")
    p.add_argument("--stations", type=int, default=20)
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--batch", type=int, default=10_000, help="rows per insert statement")
    p.add_argument("--commit-every", type=int, default=100_000, help="instruments per transaction")
    p.add_argument("--insert", choices=("auto", "core", "copy"), default="auto",
                   help="PostgreSQL: COPY through the driver (auto) or Core executemany")
    p.add_argument("--force", action="store_true", help="replace an existing database")
    p.add_argument("--activity-only", action="store_true",
                   help="only add the inspections, campaign and alerts (add_activity) to an existing dataset")
    p.add_argument("--today", type=dt.date.fromisoformat, default=REFERENCE_DAY,
                   help=f"reference date YYYY-MM-DD the histories are built back from (default {REFERENCE_DAY}: the "
                        "same seed gives the same data on any day)")
    p.add_argument("--province", action="store_true",
                   help="PostgreSQL: a province (--cities x --counties x --stations-per-county), "
                        "--instruments default 10,000,000, loaded city by city")
    p.add_argument("--cities", type=int, default=10)
    p.add_argument("--counties", type=int, default=10, help="--province: counties per city")
    p.add_argument("--stations-per-county", type=int, default=5)
    p.add_argument("--jobs", type=int, default=1, help="--province: cities generated at once (processes)")
    p.add_argument("--regions-only", action="store_true",
                   help="--province: only (re)write the region tree of an existing province dataset")
    args = p.parse_args(argv)
    if args.province and args.instruments == 1_000_000 and "--instruments" not in (argv or sys.argv):
        args.instruments = 10_000_000
    return args


def prepare_sqlite(url: str, force: bool) -> None:
    """Make sure the SQLite file's folder exists and the file is new."""
    path = Path(make_url(url).database or "")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        if not force:
            sys.exit(f"{path} exists; use --force to rebuild it")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def prepare_postgres(url: str, force: bool) -> None:
    """Create the database when missing (or drop and recreate it with --force)."""
    target = make_url(url)
    name = target.database
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    quoted = admin.dialect.identifier_preparer.quote(name)
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if exists and force:
            conn.execute(text(f"DROP DATABASE {quoted} WITH (FORCE)"))
            exists = None
        if not exists:
            conn.execute(text(f"CREATE DATABASE {quoted}"))
    admin.dispose()


def _fast_sqlite_load(dbapi_conn, _record) -> None:
    # A throwaway bulk load: a large page cache keeps the nine instrument indexes in memory,
    # and nothing needs to survive a power cut before the final commit.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA cache_size=-1048576")
    cur.execute("PRAGMA synchronous=OFF")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


def copy_sink(session: Session, table, rows: list[dict]) -> None:
    """PostgreSQL: stream rows with COPY through psycopg (several times faster than executemany)."""
    from psycopg import sql

    from app.bulk import column_defaults

    # COPY applies no Python-side defaults: columns added to a model since the generator was written (e.g.
    # instruments.install_address, NOT NULL with default "") get them here, as bulk_insert gives them.
    defaults = column_defaults(table, rows[0])
    columns = list(rows[0]) + list(defaults)
    rows = [{**defaults, **row} for row in rows] if defaults else rows
    raw = session.connection().connection.driver_connection
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table.name),
                                                     sql.SQL(", ").join(map(sql.Identifier, columns)))
    with raw.cursor() as cur, cur.copy(stmt) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def analyze(engine) -> float:
    """Give the planner statistics (and PostgreSQL its visibility map); returns seconds."""
    started = time.perf_counter()
    if engine.dialect.name == "postgresql":
        # VACUUM cannot run in a transaction; it also sets the visibility map that
        # index-only scans need, as autovacuum would after a while in production.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def checked_instrument_rows(r, codes: list[int], *, iid: int, cid: int, fid: int, instrument: tuple, day,
                            stamp: dict, case_prefix: str, closed_by=None) -> tuple[dict, dict | None, dict | None]:
    """One instrument checked at inspection `iid` (row id `cid`), and on about 40 % of them a finding (id `fid`)
    with, for the measures that order it, a rectification order (open, late or closed; closed no later than
    `closed_by` when given): (check, finding or None, order or None). `instrument` is (id, merchant_id,
    station_id, serial_no, next_due_on)."""
    import datetime as dt

    inst_id, merchant_id, station_id, serial, due = instrument
    check = {"id": cid, "inspection_id": iid, "instrument_id": inst_id, "outcome": "ok", "registered_on_spot": False,
             "kind_name": "电子计价秤", "serial_no": serial, "status": "in_use", "next_due_on": due,
             "replace_by": None, "last_verified_on": None, **stamp}
    if r.random() >= 0.4:
        return check, None, None
    measure = r.choices(("rectify", "stop_use", "on_the_spot", "case"), (60, 15, 20, 5))[0]
    finding = {"id": fid, "inspection_id": iid, "check_id": cid, "code_id": r.choice(codes), "description": "",
               "measure": measure, "case_no": f"{case_prefix}{fid}" if measure == "case" else None,
               "created_by_id": None, **stamp}
    if measure not in ("rectify", "stop_use"):
        return check, finding, None
    deadline = day + dt.timedelta(days=15)
    closed = deadline + dt.timedelta(days=r.randint(-10, 5)) if r.random() < 0.6 else None
    if closed is not None and closed_by is not None:
        closed = min(closed, closed_by)
    order = {"finding_id": fid, "station_id": station_id, "merchant_id": merchant_id, "issued_on": day,
             "deadline": deadline, "closed_on": closed, "version": 1, **stamp}
    return check, finding, order


def insert_rows(session: Session, batches) -> None:
    """Insert each (table, rows) in statements of 5,000 rows; on PostgreSQL move the id sequences of the
    tables whose ids the rows gave past the largest id."""
    from sqlalchemy import insert

    for table, rows in batches:
        for i in range(0, len(rows), 5000):
            session.execute(insert(table), rows[i:i + 5000])
    if session.bind.dialect.name == "postgresql":
        for table, rows in batches:
            if rows and "id" in rows[0]:
                session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                     f"(SELECT max(id) FROM {table.name}))"))


def add_activity(url: str, per_month: int = 2000, campaign_visits: int = 2000, seed: int = 20261203,
                 on: dt.date | None = None, sweep: bool = True) -> dict:
    """Give the daily pages something to show (a few seconds): `per_month` inspections in each of the last
    twelve months (findings on about 40 %, rectification orders open, late and closed), one running campaign
    planning 3,000 merchants of which `campaign_visits` were inspected in it, then one alert sweep (unless
    `sweep` is false). `on` is the reference date (default today). Does nothing when the dataset already has
    inspections."""
    import random

    from app.alerts.jobs import sweep_now
    from app.catalog.models import FindingCode
    from app.clock import today
    from app.db import Database, utcnow
    from app.inspections.models import (Campaign, CampaignTarget, Finding, Inspection, InspectionInstrument,
                                        Rectification)
    from app.inspections.services import campaign_key
    from app.instruments.models import Instrument

    database = Database(url)
    r = random.Random(seed)
    now = _noon_utc(on) if on else utcnow()
    on = on or today()
    stamp = {"created_at": now, "updated_at": now}
    with database.session_scope() as session:
        if session.scalar(select(func.count()).select_from(Inspection)):
            return {}
        codes = session.scalars(select(FindingCode.id).order_by(FindingCode.id)).all()
        # Instrument ids may have gaps (--province gives each city its own id range): sample positions among
        # the ids that exist, city range by city range, so the picks are the same on every run.
        ranges = id_ranges(session, Instrument.__table__)
        top = sum(len(x) for x in ranges)
        station_ids = sorted(set(session.scalars(select(Merchant.station_id).distinct())))
        starts_on = on - dt.timedelta(days=120)
        campaign = Campaign(name="基准专项检查", name_key=campaign_key("基准专项检查", starts_on), starts_on=starts_on,
                            ends_on=on + dt.timedelta(days=30), type_ids=[], industries=[], station_ids=station_ids,
                            notes="", version=1, created_at=now, updated_at=now)
        session.add(campaign)
        session.flush()
        picks = sorted(_at_positions(ranges, r.sample(range(top), min(top, per_month * 12))))
        rows_i, rows_c, rows_f, rows_r, rows_t, planned = [], [], [], [], [], set()
        for start in range(0, len(picks), 5000):
            for inst_id, merchant_id, station_id, serial, due in session.execute(
                    select(Instrument.id, Instrument.merchant_id, Instrument.station_id, Instrument.serial_no,
                           Instrument.next_due_on).where(Instrument.id.in_(picks[start:start + 5000]))
                    .order_by(Instrument.id)):
                iid, cid = len(rows_i) + 1, len(rows_c) + 1
                in_campaign = len(planned) < campaign_visits and merchant_id not in planned
                day = on - dt.timedelta(days=r.randrange(1, 115 if in_campaign else 365))
                if in_campaign:
                    planned.add(merchant_id)
                    rows_t.append({"campaign_id": campaign.id, "merchant_id": merchant_id, "station_id": station_id,
                                   "draw_id": None, "inspector_ids": [], **stamp})
                rows_i.append({"id": iid, "merchant_id": merchant_id, "station_id": station_id,
                               "campaign_id": campaign.id if in_campaign else None, "inspected_on": day,
                               "visit_outcome": "conducted", "notes": "", "created_by_id": None, **stamp})
                check, finding, order = checked_instrument_rows(
                    r, codes, iid=iid, cid=cid, fid=len(rows_f) + 1, day=day, stamp=stamp, case_prefix="BENCH-A",
                    instrument=(inst_id, merchant_id, station_id, serial, due), closed_by=on)
                rows_c.append(check)
                rows_f += [finding] if finding else []
                rows_r += [order] if order else []
        # Planned but not (yet) inspected merchants: the rest of the campaign's 3,000.
        for merchant_id, station_id in session.execute(
                select(Merchant.id, Merchant.station_id).where(Merchant.id.not_in(planned))
                .order_by(Merchant.id).limit(max(0, 3000 - len(planned)))):
            rows_t.append({"campaign_id": campaign.id, "merchant_id": merchant_id, "station_id": station_id,
                           "draw_id": None, "inspector_ids": [], **stamp})
        insert_rows(session, ((Inspection.__table__, rows_i), (InspectionInstrument.__table__, rows_c),
                              (Finding.__table__, rows_f), (Rectification.__table__, rows_r),
                              (CampaignTarget.__table__, rows_t)))
    swept = sweep_now(database, now=now) if sweep else {}
    stamp_reference(database.engine, now)
    analyze(database.engine)
    database.dispose()
    return {"inspections": len(rows_i), "findings": len(rows_f), "rectifications": len(rows_r),
            "campaign_targets": len(rows_t), **{f"alerts_{k}": v for k, v in swept.items()}}


# Rows the generator does not write itself but the app stamps with the clock: the seeded catalogue, the audit log.
CLOCK_STAMPED = {"instrument_types": ("created_at", "updated_at"), "finding_codes": ("created_at", "updated_at"),
                 "instrument_type_aliases": ("created_at", "updated_at"), "audit_log": ("at",)}


def stamp_reference(engine, now: dt.datetime) -> None:
    """Stamp the rows the app wrote with the clock of the run (the catalogue's seed, the sweep's audit entry) with
    the reference date's noon instead, so the same seed gives the same rows on any day."""
    from app.db import Base

    with engine.begin() as conn:
        for name, columns in CLOCK_STAMPED.items():
            conn.execute(Base.metadata.tables[name].update().values({c: now for c in columns}))


def _noon_utc(on: dt.date) -> dt.datetime:
    """The stamp of rows generated for reference date `on` (04:00 UTC is noon in Asia/Shanghai)."""
    return dt.datetime.combine(on, dt.time(4, 0), dt.timezone.utc)


def id_ranges(session: Session, table) -> list[range]:
    """The table's ids as runs of consecutive ids (one per --province city, one for other datasets)."""
    rows = session.execute(text(
        f"SELECT min(id), max(id) FROM (SELECT id, id - row_number() OVER (ORDER BY id) AS run "
        f"FROM {table.name}) AS t GROUP BY run ORDER BY 1")).all()
    return [range(lo, hi + 1) for lo, hi in rows]


def _at_positions(ranges: list[range], positions: list[int]) -> list[int]:
    """The ids at the given positions of the ranges laid end to end."""
    starts, total = [], 0
    for x in ranges:
        starts.append(total)
        total += len(x)
    import bisect
    return [ranges[i][p - starts[i]] for p in positions for i in [bisect.bisect_right(starts, p) - 1]]


def main(argv: list[str] | None = None) -> None:
    """Generate the dataset and print the time it took and the row counts."""
    args = parse_args(argv)
    url = args.url
    if args.province:
        from province import generate_province, write_regions  # bench/province.py

        if args.regions_only:
            print(write_regions(url, args.cities, args.counties, args.stations_per_county))
            return
        generate_province(args)
        return
    if args.activity_only:
        started = time.perf_counter()
        added = add_activity(url, on=args.today)
        print(f"activity added in {time.perf_counter() - started:.1f} s: {added or 'none (inspections exist)'}")
        return
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        prepare_sqlite(url, args.force)
    elif backend == "postgresql":
        prepare_postgres(url, args.force)
    else:
        sys.exit(f"unsupported database: {backend}")

    started = time.perf_counter()
    migrations.upgrade(url)
    engine = make_engine(url)
    if backend == "sqlite":
        event.listen(engine, "connect", _fast_sqlite_load)
    sink = copy_sink if backend == "postgresql" and args.insert != "core" else core_sink
    merchants = args.merchants or max(1, args.instruments // 10)
    print(f"generating {args.instruments:,} instruments, {merchants:,} merchants, {args.stations} stations "
          f"into {make_url(url).render_as_string(hide_password=True)} ({sink.__name__})", flush=True)

    with Session(engine) as session:
        if session.execute(select(func.count()).select_from(Merchant)).scalar_one():
            sys.exit("the database already has merchants; use --force to rebuild it")
        seed_catalogue(session)
        last = [started, 0]

        def after_batch(done: int) -> None:
            # Commit now and then so the SQLite WAL and PostgreSQL's transaction stay small.
            if done - last[1] >= args.commit_every:
                session.commit()
                now = time.perf_counter()
                rate = (done - last[1]) / (now - last[0])
                print(f"  {done:>9,} instruments  {now - started:6.1f} s  ({rate:,.0f}/s)", flush=True)
                last[:] = [now, done]

        from province import ReproducibleGenerator  # bench/province.py

        gen = ReproducibleGenerator(session, seed=args.seed, today=args.today, batch_size=args.batch,
                                    sink=sink, after_batch=after_batch)
        stations = gen.add_stations(args.stations)
        merchant_infos = gen.add_merchants(merchants, stations)
        session.commit()
        gen.add_instruments(args.instruments, merchant_infos)
        counts = gen.finish()
        session.commit()
    loaded = time.perf_counter() - started
    analyzed = analyze(engine)
    total = time.perf_counter() - started

    with engine.connect() as conn:
        print("row counts:")
        for table in TABLE_ORDER:
            n = conn.execute(select(func.count()).select_from(table)).scalar_one()
            print(f"  {table.name:<15} {n:>10,}")
    engine.dispose()
    size = ""
    if backend == "sqlite":
        size = f", file {Path(make_url(url).database).stat().st_size / 2 ** 20:,.0f} MiB"
    print(f"generated {counts['instruments']:,} instruments and {counts['verifications']:,} verifications: "
          f"load {loaded:.1f} s, analyze {analyzed:.1f} s, total {total:.1f} s{size}")
    started = time.perf_counter()
    added = add_activity(url, on=args.today)
    print(f"activity for the daily pages in {time.perf_counter() - started:.1f} s: {added}")


if __name__ == "__main__":
    main()
