"""Measure the phone's offline packet (GET /field/api/packet): its size as sent and gzipped, what it holds, and
the server time, for an inspector of the station with the most due instruments and for a supervisor.

    .venv/bin/python bench/field_packet.py --url sqlite:///instance/demo.db     # after `make demo`
    .venv/bin/python bench/field_packet.py --url sqlite:///bench/data/bench.db  # after bench/generate.py

It adds a bench inspector and supervisor to the database when missing (like bench/bench_pages.py).
"""
from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from app import create_app  # noqa: E402
from app.accounts.models import Role, User  # noqa: E402
from app.accounts.services import create_user  # noqa: E402
from app.clock import today  # noqa: E402
from app.instruments.models import Instrument, InstrumentStatus  # noqa: E402
from config import TestConfig  # noqa: E402

PASSWORD = "bench-password-1"
INSPECTOR, SUPERVISOR = "packet_inspector", "packet_supervisor"


def busiest_station(session, days: int) -> int:
    """The station with the most in-use instruments overdue or due within `days`."""
    import datetime as dt

    stmt = (select(Instrument.station_id).where(Instrument.status == InstrumentStatus.IN_USE,
                                                Instrument.next_due_on <= today() + dt.timedelta(days=days))
            .group_by(Instrument.station_id).order_by(func.count().desc()).limit(1))
    return session.execute(stmt).scalar_one()


def ensure_users(database, days: int) -> None:
    """A supervisor, and an inspector of the busiest station."""
    with database.session_scope() as session:
        station_id = busiest_station(session, days)
        for username, role, stations in ((INSPECTOR, Role.INSPECTOR, [station_id]), (SUPERVISOR, Role.SUPERVISOR, [])):
            if session.scalars(select(User).where(User.username == username)).first() is None:
                create_user(session, "基准测试", username=username, display_name=username, role=role,
                            password=PASSWORD, station_ids=stations, must_change_password=False)


def main(argv: list[str] | None = None) -> None:
    """Print the packet's figures per user."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True, help="database URL")
    p.add_argument("--requests", type=int, default=5)
    args = p.parse_args(argv)
    app = create_app(TestConfig, DATABASE_URL=args.url, RATELIMIT_ENABLED=False)
    ensure_users(app.extensions["database"], app.config["DUE_SOON_DAYS"])
    print("| user | merchants | instruments | worklist | JSON bytes | sent gzipped | server ms (median) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for username in (INSPECTOR, SUPERVISOR):
        client = app.test_client()
        resp = client.post("/login", data={"username": username, "password": PASSWORD})
        assert resp.status_code == 302, resp.status_code
        times = []
        for _ in range(args.requests):
            began = time.perf_counter()
            resp = client.get("/field/api/packet", headers={"Accept-Encoding": "gzip"})
            times.append((time.perf_counter() - began) * 1000)
        assert resp.status_code == 200 and resp.headers["Content-Encoding"] == "gzip", resp.status_code
        sent = len(resp.data)
        data = gzip.decompress(resp.data)
        body = json.loads(data)
        print(f"| {username} | {len(body['merchants']):,} | {len(body['instruments']):,} | {len(body['worklist']):,} "
              f"| {len(data):,} | {sent:,} | {statistics.median(times):.0f} |")
    app.extensions["database"].dispose()


if __name__ == "__main__":
    main()
