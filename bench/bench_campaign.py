"""Time the campaign page with 5,000 inspections (with findings and rectifications) in one campaign.

    .venv/bin/python bench/bench_campaign.py                 # bench/data/campaign.db (rebuilt each run)
    .venv/bin/python bench/bench_campaign.py --url postgresql+psycopg://postgres@127.0.0.1:5432/metrology_bench_inspect

The data is generated first (Core bulk inserts, a fixed seed): 10 stations, 6,000 merchants with two
instruments each, one campaign planning 5,500 of them with 5,000 inspections, 5,000 more inspections outside
it, findings on about 40 % of the visits and rectification orders open, late and closed. Then the campaign
page is requested as a supervisor (every station) and as an inspector of one station: warm-ups, then
--requests timed ones; the median and p95 server time are printed (target < 500 ms).
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app import migrate  # noqa: E402
from app.accounts.models import Role, Station  # noqa: E402
from app.accounts.services import create_user  # noqa: E402
from app.catalog.models import FindingCode, InstrumentType  # noqa: E402
from app.catalog.services import seed_catalogue  # noqa: E402
from app.clock import today  # noqa: E402
from app.db import utcnow  # noqa: E402
from app.inspections.models import (Campaign, CampaignTarget, Finding, Inspection, InspectionInstrument,  # noqa: E402
                                    Rectification, inspection_inspectors)
from app.inspections.services import campaign_key  # noqa: E402
from app.instruments.models import Instrument  # noqa: E402
from app.merchants.models import Merchant  # noqa: E402
from bench.bench_pages import SqlStats, instrument_sql, time_calls  # noqa: E402
from bench.generate import prepare_postgres, prepare_sqlite  # noqa: E402
from config import TestConfig  # noqa: E402

DEFAULT_URL = f"sqlite:///{ROOT / 'bench' / 'data' / 'campaign.db'}"
PASSWORD = "bench-password-1"
SEED = 20261130
CHUNK = 2000


def chunks(rows: list[dict]):
    for i in range(0, len(rows), CHUNK):
        yield rows[i:i + CHUNK]


def bulk(session, table, rows: list[dict]) -> None:
    """Insert rows with Core executemany, in slices."""
    for part in chunks(rows):
        session.execute(insert(table), part)


def generate(database, inspections: int, outside: int) -> dict:
    """Fill an empty migrated database; returns the campaign id and the users to log in as."""
    r = random.Random(SEED)
    on = today()
    now = utcnow()
    stamp = {"created_at": now, "updated_at": now}
    with database.session_scope() as session:
        seed_catalogue(session)
        stations = []
        for i in range(10):
            st = Station(name=f"第{i + 1}市场监管所", code=f"S{i:02d}", division_code="330100")
            session.add(st)
            stations.append(st)
        session.flush()
        station_ids = [s.id for s in stations]
        users = [create_user(session, "基准测试", username=f"bench_insp_{i}", display_name=f"检查员{i}",
                             role=Role.INSPECTOR, password=PASSWORD, station_ids=[station_ids[i % 10]],
                             must_change_password=False)
                 for i in range(20)]
        create_user(session, "基准测试", username="bench_supervisor", display_name="科长", role=Role.SUPERVISOR,
                    password=PASSWORD, station_ids=[], must_change_password=False)
        kinds = session.scalars(select(InstrumentType.id)).all()
        codes = session.scalars(select(FindingCode.id)).all()
        n_merchants = inspections + outside // 5 + 500
        merchants = [{"id": i + 1, "name": f"商户{i + 1:05d}", "name_key": f"商户{i + 1:05d}",
                      "industry": "market_vendor", "station_id": station_ids[i % 10], "address": "", "contact": "",
                      "phone": "", "notes": "", "version": 1, **stamp} for i in range(n_merchants)]
        bulk(session, Merchant.__table__, merchants)
        instruments = []
        for m in merchants:
            for k in range(2):
                instruments.append({"id": len(instruments) + 1, "type_id": r.choice(kinds), "merchant_id": m["id"],
                                    "station_id": m["station_id"], "serial_no": f"B{m['id']:05d}-{k}",
                                    "serial_key": f"B{m['id']:05d}-{k}", "maker": "",
                                    "maker_key": "", "model": "", "measuring_range": "", "accuracy_class": "",
                                    "location": "", "status": "in_use", "notes": "", "version": 1,
                                    "next_due_on": on + dt.timedelta(days=r.randint(-60, 300)), **stamp})
        bulk(session, Instrument.__table__, instruments)
        starts_on = on - dt.timedelta(days=90)
        campaign = Campaign(name="基准专项检查", name_key=campaign_key("基准专项检查", starts_on), starts_on=starts_on,
                            ends_on=on + dt.timedelta(days=30), type_ids=[], industries=[], station_ids=station_ids,
                            notes="")
        session.add(campaign)
        session.flush()
        planned = merchants[:inspections + 500]
        bulk(session, CampaignTarget.__table__, [
            {"campaign_id": campaign.id, "merchant_id": m["id"], "station_id": m["station_id"], "draw_id": None,
             "inspector_ids": [users[0].id, users[1].id], **stamp} for m in planned])
        rows_i, rows_ii, rows_users, rows_f, rows_r = [], [], [], [], []
        for n in range(inspections + outside):
            in_campaign = n < inspections
            m = merchants[n] if in_campaign else merchants[r.randrange(len(merchants))]
            iid = n + 1
            day = on - dt.timedelta(days=r.randint(1, 80))
            visit = r.choices(("conducted", "no_activity", "unreachable"), (94, 3, 3))[0]
            rows_i.append({"id": iid, "merchant_id": m["id"], "station_id": m["station_id"],
                           "campaign_id": campaign.id if in_campaign else None, "inspected_on": day,
                           "visit_outcome": visit, "notes": "", "created_by_id": users[0].id, **stamp})
            for uid in r.sample([u.id for u in users], 2):
                rows_users.append({"inspection_id": iid, "user_id": uid})
            if visit != "conducted":
                continue
            checks = []
            for k in range(2):
                inst = instruments[(m["id"] - 1) * 2 + k]
                checks.append(len(rows_ii) + 1)
                rows_ii.append({"id": len(rows_ii) + 1, "inspection_id": iid, "instrument_id": inst["id"],
                                "outcome": "ok", "registered_on_spot": False, "kind_name": "电子计价秤",
                                "serial_no": inst["serial_no"], "status": "in_use", "next_due_on": inst["next_due_on"],
                                "replace_by": None, "last_verified_on": None, **stamp})
            if r.random() < 0.4:
                for _ in range(r.choice((1, 1, 2))):
                    fid = len(rows_f) + 1
                    measure = r.choices(("rectify", "stop_use", "on_the_spot", "case"), (60, 15, 20, 5))[0]
                    rows_f.append({"id": fid, "inspection_id": iid, "check_id": r.choice(checks),
                                   "code_id": r.choice(codes), "description": "", "measure": measure,
                                   "case_no": f"CASE-{fid}" if measure == "case" else None, "created_by_id": None,
                                   **stamp})
                    if measure in ("rectify", "stop_use"):
                        deadline = day + dt.timedelta(days=15)
                        closed = deadline + dt.timedelta(days=r.randint(-10, 5)) if r.random() < 0.6 else None
                        rows_r.append({"finding_id": fid, "station_id": m["station_id"], "merchant_id": m["id"],
                                       "issued_on": day, "deadline": deadline,
                                       "closed_on": min(closed, on) if closed else None, "version": 1, **stamp})
        bulk(session, Inspection.__table__, rows_i)
        bulk(session, inspection_inspectors, rows_users)
        bulk(session, InspectionInstrument.__table__, rows_ii)
        bulk(session, Finding.__table__, rows_f)
        bulk(session, Rectification.__table__, rows_r)
        if session.bind.dialect.name == "postgresql":
            for table in ("merchants", "instruments", "inspections", "inspection_instruments", "findings"):
                session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))"))
        counts = {"inspections (campaign)": inspections, "inspections (outside)": outside,
                  "checked instruments": len(rows_ii), "findings": len(rows_f), "rectifications": len(rows_r)}
        return {"campaign_id": campaign.id, "inspector": users[0].username, "counts": counts}


def analyse(database) -> None:
    """Refresh the planner statistics after the bulk load."""
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))


def main(argv: list[str] | None = None) -> None:
    """Generate the data, then time the campaign page."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=DEFAULT_URL)
    p.add_argument("--inspections", type=int, default=5000)
    p.add_argument("--outside", type=int, default=5000, help="inspections outside the campaign")
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args(argv)

    if args.url.startswith("sqlite"):
        prepare_sqlite(args.url, force=True)
    else:
        prepare_postgres(args.url, force=True)
    migrate.upgrade(args.url)
    app = create_app(TestConfig, DATABASE_URL=args.url, WTF_CSRF_ENABLED=False)
    database = app.extensions["database"]
    started = time.perf_counter()
    info = generate(database, args.inspections, args.outside)
    analyse(database)
    print(f"database: {database.engine.url.render_as_string(hide_password=True)}; "
          f"generated in {time.perf_counter() - started:.1f} s")
    print("  " + ", ".join(f"{k}: {v:,}" for k, v in info["counts"].items()))
    stats = SqlStats()
    instrument_sql(database.engine, stats)
    page = f"/campaigns/{info['campaign_id']}"
    # The page (figures and the first page of planned merchants with their state), the page filtered by a state,
    # and the streamed export of every planned merchant with its state (5,500 rows for the supervisor).
    urls = [(page, 500), (f"{page}?state=rectifying", 500), (f"{page}/targets.xlsx", 2000)]
    print(f"{args.warmup} warm-up + {args.requests} timed requests per user and page\n")
    print(f"{'page':<34} {'user':<18} {'median ms':>10} {'p95 ms':>8} {'queries':>8} {'target':>8}  ok")
    for url, budget in urls:
        for username in ("bench_supervisor", info["inspector"]):
            client = app.test_client()
            if client.post("/login", data={"username": username, "password": PASSWORD}).status_code != 302:
                sys.exit(f"login as {username} failed")

            def get(client=client, url=url):
                response = client.get(url)
                if response.status_code != 200:
                    raise RuntimeError(f"{url}: HTTP {response.status_code}")
                response.get_data()

            f = time_calls(get, stats, args.warmup, args.requests)
            print(f"{url:<34} {username:<18} {f['median']:>10.1f} {f['p95']:>8.1f} {f['queries']:>8} "
                  f"{'<' + str(budget):>8}  {'yes' if f['p95'] < budget else 'NO'}")
    with database.session_scope() as session:
        assert session.execute(select(func.count()).select_from(Inspection)
                               .where(Inspection.campaign_id == info["campaign_id"])).scalar_one() == args.inspections
    database.dispose()


if __name__ == "__main__":
    main()
