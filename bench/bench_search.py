"""Time the search page (/search) against a generated database with the Flask test client.

    .venv/bin/python bench/bench_search.py --url sqlite:///bench/data/bench.db
    .venv/bin/python bench/bench_search.py --url postgresql+psycopg://postgres@127.0.0.1:5432/metrology_bench
    .venv/bin/python bench/bench_search.py --explain        # plus each search statement's plan

Each query is searched as a supervisor (every station) and as an inspector of one station: a few
warm-up requests, then --requests timed ones. Two figures per query: the whole page as the user gets
it (login session, navigation counts, both groups rendered), and the search statements alone (the
matching ids, capped, and the first rows of merchants and of instruments). The queries are taken from the data, so each
finds something in the inspector's station: three characters of a merchant name, the last three
digits of a serial number, eight characters from inside a serial number and eight digits of a
household account. Target: median under 150 ms (issue 13).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from app import create_app  # noqa: E402
from app.accounts.models import User  # noqa: E402
from app.clock import today  # noqa: E402
from app.dashboard.services import worklist_counts  # noqa: E402
from app.instruments.models import Instrument  # noqa: E402
from app.merchants.models import Merchant  # noqa: E402
from app.scope import Scope  # noqa: E402
from app.search import queries  # noqa: E402
from app.search.keys import search_key  # noqa: E402
from app.search.views import GROUP_SIZE  # noqa: E402
from bench.bench_pages import (INSPECTOR, PASSWORD, SUPERVISOR, SqlStats, ensure_users, explain,  # noqa: E402
                               instrument_sql, time_calls)
from config import TestConfig  # noqa: E402

TARGET_MS = 150


def pick_queries(database, station_id: int) -> list[tuple[str, str]]:
    """(label, query) pairs taken from the inspector's station, so both users find something."""
    with database.session_scope() as session:
        name = session.scalars(select(Merchant.name).where(Merchant.station_id == station_id)
                               .order_by(Merchant.id).limit(1)).one()
        serial = session.scalars(select(Instrument.serial_no).where(Instrument.station_id == station_id)
                                 .order_by(Instrument.id.desc()).limit(1)).one()
        households = select(Instrument.location).where(Instrument.station_id == station_id,
                                                       Instrument.location.startswith("户号"))
        accounts = [session.scalars(households.order_by(order).limit(1)).first()
                    for order in (Instrument.id.desc(), Instrument.id)]
    picked = [("3 chars, merchant name", search_key(name)[2:5]), ("3 chars, serial digits", serial[-3:]),
              ("8 chars, inside serial", search_key(serial)[1:9])]
    if accounts[0]:
        # The last eight digits of an account (户号 + ten digits); the first account of the generated
        # data, 00000001, is the worst case: its trigram 000 is in most household meters' text.
        picked.append(("8 chars, household acct", search_key(accounts[0].split()[0])[-8:]))
        picked.append(("8 chars, worst case", search_key(accounts[1].split()[0])[-8:]))
    return picked


def main(argv: list[str] | None = None) -> None:
    """Run the measurements and print the table of figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--query", action="append", default=[], help="search this too (repeatable)")
    p.add_argument("--explain", action="store_true", help="print the search statements' plans")
    args = p.parse_args(argv)

    app = create_app(TestConfig, DATABASE_URL=args.url, WTF_CSRF_ENABLED=False)
    database = app.extensions["database"]
    stats = SqlStats()
    instrument_sql(database.engine, stats)
    station_id, station_name = ensure_users(database)
    searches = pick_queries(database, station_id) + [("given", q) for q in args.query]
    with database.session_scope() as session:
        total = session.execute(select(func.count()).select_from(Instrument)).scalar_one()
        merchants = session.execute(select(func.count()).select_from(Merchant)).scalar_one()
    print(f"database: {database.engine.url.render_as_string(hide_password=True)} "
          f"({total:,} instruments, {merchants:,} merchants)")
    print(f"inspector station: {station_name} (id {station_id}); {args.warmup} warm-up + {args.requests} "
          f"timed requests each")

    rows = []
    for username in (SUPERVISOR, INSPECTOR):
        client = app.test_client()
        resp = client.post("/login", data={"username": username, "password": PASSWORD})
        if resp.status_code != 302:
            sys.exit(f"login as {username} failed ({resp.status_code})")
        with app.app_context():
            scope = Scope.for_user(database.session.scalars(select(User).where(User.username == username)).one())
            database.remove()
        # Every page computes the navigation counts (not the search's doing): timed alone, for comparison.
        with app.app_context():
            def nav(scope=scope):
                worklist_counts(database.session, scope, today(), app.config["DUE_SOON_DAYS"])

            nav_counts = time_calls(nav, stats, args.warmup, args.requests)
            database.remove()
        print(f"navigation counts alone, {username}: median {nav_counts['median']:.1f} ms, "
              f"p95 {nav_counts['p95']:.1f} ms (in every page's time below)")
        for label, q in searches:
            def page(q=q, client=client):
                response = client.get("/search", query_string={"q": q})
                if response.status_code != 200:
                    raise RuntimeError(f"/search?q={q}: HTTP {response.status_code}")

            def alone(q=q, scope=scope):
                key = search_key(q)
                with database.session_scope() as session:
                    found = []
                    for model in (Merchant, Instrument):
                        ids = sorted(session.scalars(queries.matching_ids(
                            model, scope, key, dialect=session.get_bind().dialect.name)), reverse=True)
                        found.append(len(ids))
                        if ids:
                            session.scalars(queries.records_by_ids(model, ids[:GROUP_SIZE])).all()
                return found

            counts = alone()
            rows.append((label, q, username, counts, time_calls(page, stats, args.warmup, args.requests),
                         time_calls(alone, stats, args.warmup, args.requests)))
            if args.explain:
                stats.reset(capture=True)
                alone()
                print(f"\n{label} {q!r} as {username}: {stats.count} statements")
                explain(database.engine, stats.statements, 4)

    print()
    print(f"{'query':<25} {'q':<10} {'user':<17} {'found m/i':>11} {'page med':>9} {'p95':>7} "
          f"{'search med':>11} {'p95':>7} {'target':>7}  ok (page/search)")
    for label, q, username, counts, page_f, alone_f in rows:
        found = "/".join(f"{c}+" if c > queries.COUNT_CAP else str(c) for c in counts)
        ok = "/".join("yes" if f["median"] < TARGET_MS else "NO" for f in (page_f, alone_f))
        print(f"{label:<25} {q:<10} {username:<17} {found:>11} {page_f['median']:>9.1f} {page_f['p95']:>7.1f} "
              f"{alone_f['median']:>11.1f} {alone_f['p95']:>7.1f} {'<' + str(TARGET_MS):>7}  {ok}")
    database.dispose()


if __name__ == "__main__":
    main()
