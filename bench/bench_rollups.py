"""Time the county roll-ups and inherited settings over a generated database (bench/generate.py).

    .venv/bin/python bench/bench_rollups.py --url sqlite:///bench/data/bench.db [--counties 4] [--runs 5]

Migrates to head, puts the stations into one city of `--counties` counties (stations dealt round), gives the
first two counties lead times of their own (the city one more), then prints, each the median and the slowest of
`--runs` runs: resolving the settings (the sweep's station groups, the credit rules, the divided targets), the
county roll-up of the dashboard for the whole city, the due-date sweep run again with county lead times
(nothing to create) and without them, and the monthly report of the city (its county sheet) beside the
all-station report it equals in scope. Changes the database's regions, settings and alerts: use a copy.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(fn, runs: int) -> tuple[float, float]:
    """(median, slowest) seconds of `runs` calls."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), max(times)


def main(argv: list[str] | None = None) -> None:
    """Set up the tree and the settings, then time each figure."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--counties", type=int, default=4)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)

    from sqlalchemy import delete, func, select

    from app import migrate
    from app.accounts.models import Station
    from app.alerts.jobs import due_date_sweep
    from app.catalog.models import InstrumentType
    from app.db import Database, utcnow
    from app.instruments.models import Instrument
    from app.integrity.models import IntegrityTarget, TargetKind
    from app.monthly.services import region_edition
    from app.regions.models import Region, RegionLevel
    from app.rollups import settings
    from app.rollups.models import RegionLeadDays
    from app.rollups.services import county_rows
    from app.rollups.tree import load_tree
    from app.scope import Scope
    from reports.monthly import Month, build_monthly_report

    migrate.upgrade(args.url)
    database = Database(args.url)
    with database.session_scope() as session:
        session.execute(delete(RegionLeadDays))
        session.execute(delete(IntegrityTarget).where(IntegrityTarget.region_id.is_not(None)))
        session.execute(Station.__table__.update().values(county_id=None))
        session.execute(delete(Region).where(Region.code.like("99%")))
        city = Region(code="990100", name="基准市", level=RegionLevel.CITY)
        session.add(city)
        session.flush()
        counties = [Region(code=f"9901{k + 1:02d}", name=f"基准{k + 1}区", level=RegionLevel.COUNTY, parent=city)
                    for k in range(args.counties)]
        session.add_all(counties)
        session.flush()
        stations = session.scalars(select(Station).order_by(Station.code)).all()
        for k, station in enumerate(stations):
            station.county_id = counties[k % len(counties)].id
        kinds = session.scalars(select(InstrumentType.id)).all()
        session.add_all([RegionLeadDays(region_id=city.id, type_id=t, lead_days=45) for t in kinds[:5]])
        for county, days in zip(counties[:2], (10, 90)):
            session.add_all([RegionLeadDays(region_id=county.id, type_id=t, lead_days=days) for t in kinds[:3]])
        session.add(IntegrityTarget(kind=TargetKind.MODEL_UNITS, region_id=city.id, scope_key=f"r{city.id}",
                                    target=1800))
        instruments = session.scalar(select(func.count()).select_from(Instrument))
        city_id = city.id
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{instruments:,} instruments, {len(stations)} stations in {args.counties} counties of one city; "
          f"load average {load}", flush=True)

    def report(label: str, figure: tuple[float, float]) -> None:
        print(f"  {label:<58} median {figure[0] * 1000:9.1f} ms   slowest {figure[1] * 1000:9.1f} ms", flush=True)

    now = utcnow()
    today = now.date()
    with database.session_scope() as session:
        report("resolve lead times into station groups", timed(lambda: settings.lead_groups(session), args.runs))
        report("resolve credit rules into station groups", timed(lambda: settings.rule_groups(session), args.runs))
        report("divide the city's target among counties",
               timed(lambda: settings.divided_targets(session, TargetKind.MODEL_UNITS), args.runs))
        tree = load_tree(session)
        scope = Scope(frozenset(tree.stations_of(city_id)))
        report("dashboard county roll-up (whole city)",
               timed(lambda: county_rows(session, tree, scope, today, 30), args.runs))
        groups = settings.lead_groups(session)[1]
        print(f"  ({len(groups)} station groups with lead times of their own)")
    with database.session_scope() as session:
        started = time.perf_counter()
        first = due_date_sweep(session=session, now=now, config={})
        print(f"  first sweep with county lead times (may create alerts)        {time.perf_counter() - started:9.2f} s"
              f"  {first}", flush=True)
    for label, keep in (("sweep rerun with county lead times", True), ("sweep rerun, catalogue lead times only", False)):
        if not keep:
            with database.session_scope() as session:
                session.execute(delete(RegionLeadDays))
            with database.session_scope() as session:
                due_date_sweep(session=session, now=now, config={})  # settle the alerts to the catalogue's

        def rerun():
            with database.session_scope() as session:
                due_date_sweep(session=session, now=now, config={})

        report(label, timed(rerun, max(1, args.runs // 2)))
    month = Month.of(today).shift(-1)
    sink = Path(os.environ.get("TMPDIR", "/tmp")) / "bench_rollups.xlsx"
    with database.session_scope() as session:
        name, city_stations, by_county = region_edition(session, city_id)
        report("monthly report, city edition (county sheet)",
               timed(lambda: build_monthly_report(session, month, str(sink), city_stations, scope_name=name,
                                                  counties=by_county), max(1, args.runs // 2)))
        report("monthly report, all stations (same scope, no county sheet)",
               timed(lambda: build_monthly_report(session, month, str(sink)), max(1, args.runs // 2)))
    sink.unlink(missing_ok=True)
    database.dispose()
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {dt.datetime.now():%H:%M}")


if __name__ == "__main__":
    main()
