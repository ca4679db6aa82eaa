"""Time a user's scope at each level of a province-sized region tree (the one query of Scope.for_user).

    .venv/bin/python bench/bench_regions.py                 # bench/data/regions.db (rebuilt each run)
    .venv/bin/python bench/bench_regions.py --url postgresql+psycopg://postgres@127.0.0.1:5432/metrology_bench_regions

The tree is issue 18's: 1 province, 10 cities, 100 counties and 500 stations (five a county), written with Core
inserts. Then Scope.for_user is timed --calls times for a supervisor of the province, of a city and of a county
(the recursive CTE, then the station ids); the median and p95 are printed in milliseconds.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app import migrate  # noqa: E402
from app.accounts.models import Role, Station, User  # noqa: E402
from app.db import utcnow  # noqa: E402
from app.regions.models import Region  # noqa: E402
from app.scope import Scope  # noqa: E402


def _fresh(url: str) -> None:
    if url.startswith("sqlite"):
        path = Path(make_url(url).database)
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return
    base = make_url(url)
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{base.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{base.database}"'))
    admin.dispose()


def build(session: Session) -> dict[str, int]:
    """The tree and its stations; the ids of one region at each level."""
    stamps = {"created_at": utcnow(), "updated_at": utcnow(), "version": 1}
    regions, stations, next_id = [], [], 1
    province = next_id
    regions.append({"id": province, "code": "320000", "name": "省", "level": "province", "parent_id": None, **stamps})
    for c in range(10):
        next_id += 1
        city = next_id
        regions.append({"id": city, "code": f"32{c + 1:02d}00", "name": f"市{c + 1}", "level": "city",
                        "parent_id": province, **stamps})
        for k in range(10):
            next_id += 1
            regions.append({"id": next_id, "code": f"32{c + 1:02d}{k + 1:02d}", "name": f"县{c + 1}-{k + 1}",
                            "level": "county", "parent_id": city, **stamps})
            for s in range(5):
                n = len(stations) + 1
                stations.append({"id": n, "name": f"所{n}", "code": f"S{n:04d}", "division_code": "",
                                 "county_id": next_id, **stamps})
    session.execute(insert(Region.__table__), regions)
    session.execute(insert(Station.__table__), stations)
    session.commit()
    return {"province": province, "city": 2, "county": 3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=f"sqlite:///{ROOT / 'bench' / 'data' / 'regions.db'}")
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    _fresh(args.url)
    migrate.upgrade(args.url)
    engine = create_engine(args.url)
    with Session(engine) as session:
        ids = build(session)
        print(f"{engine.dialect.name}: 1 province, 10 cities, 100 counties, 500 stations; {args.calls} calls each")
        for level, region_id in ids.items():
            user = User(username=f"u_{level}", display_name=level, role=Role.SUPERVISOR, password_hash="x",
                        region_id=region_id)
            session.add(user)
            session.flush()
            stations = len(Scope.for_user(user).station_ids)
            times = []
            for _ in range(args.calls):
                start = time.perf_counter()
                Scope.for_user(user)
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            print(f"  {level:<8} {stations:>3} stations: median {statistics.median(times):.2f} ms, p95 {p95:.2f} ms")
        session.rollback()
    engine.dispose()


if __name__ == "__main__":
    main()
