"""Deep pages of every staff list, by page number and by the pager's cursor links, with the floor beside them.

    .venv/bin/python bench/bench_deep_pages.py --url sqlite:///path/bench.db
    .venv/bin/python bench/bench_deep_pages.py --url postgresql+psycopg://postgres@127.0.0.1:5432/metrology_x
    .venv/bin/python bench/bench_deep_pages.py --code /path/to/older/checkout --requests 5   # the code before

Users: an inspector of the largest station, one of 5 stations, one of 20 (a `station_id IN (...)` scope, as a
county or city supervisor's) and a supervisor of every station. Pages: the instrument list's first page, page
200, page 20,000 (clamped to the last for smaller lists), the middle page and the last page, newest first and by
each offered sort, and the page the "下一页" link of the middle page opens (a cursor); the worklists, merchants,
alerts and inspections first and last pages. Each is timed through the Flask test client (median / p95 over
--requests after --warmup), beside the floor: the list's own rows query alone (the keyset read that page does,
without the count, navigation counts or rendering), and the plain OFFSET query for the same page.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


def load() -> str:
    """The machine's load averages (1, 5, 15 min)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def timed(call, warmup: int, requests: int) -> tuple[float, float]:
    """(median, p95) wall ms of call()."""
    for _ in range(warmup):
        call()
    walls = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        walls.append((time.perf_counter() - started) * 1000)
    return statistics.median(walls), percentile(walls, 95)


PAGES_RE = re.compile(r"共 ([\d,]+) 页|第 \d+/(\d+) 页")
NEXT_RE = re.compile(r'id="page-next" href="\?([^"]*)"')


def main(argv: list[str] | None = None) -> None:
    """Time the pages and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--code", default=str(ROOT), help="the checkout whose app is timed (default: this one)")
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--only", default="", help="comma-separated parts of case labels")
    p.add_argument("--offset", action="store_true", help="also time the plain OFFSET read of each page")
    p.add_argument("--users", default="", help="comma-separated users (inspector1,inspector5,inspector20,all)")
    args = p.parse_args(argv)
    sys.path.insert(0, args.code)
    from sqlalchemy import func, select

    from app import create_app
    from app.accounts.models import Role, Station, User
    from app.accounts.services import create_user
    from config import TestConfig

    try:
        from app import keyset
    except ImportError:  # the code before keyset pages: no floor
        keyset = None

    app = create_app(TestConfig, DATABASE_URL=args.url, WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
    database = app.extensions["database"]
    from app.instruments.models import Instrument

    with database.session_scope() as session:
        by_size = [s for s, _n in session.execute(select(Instrument.station_id, func.count())
                                                  .group_by(Instrument.station_id).order_by(func.count().desc()))]
        every = [s.id for s in session.scalars(select(Station).order_by(Station.id))]
        personas = {"inspector1": (Role.INSPECTOR, by_size[:1]), "inspector5": (Role.INSPECTOR, by_size[:5]),
                    "inspector20": (Role.INSPECTOR, every[:20]), "all": (Role.SUPERVISOR, [])}
        for name, (role, stations) in personas.items():
            username = f"bench_deep_{name}"
            if session.scalars(select(User).where(User.username == username)).first() is None:
                create_user(session, "基准测试", username=username, display_name=username, role=role,
                            password="bench-password-1", station_ids=stations, must_change_password=False)
        total = session.execute(select(func.count()).select_from(Instrument)).scalar_one()
    print(f"database: {database.engine.url.render_as_string(hide_password=True)} ({total:,} instruments); "
          f"code: {args.code}; {args.warmup} warm-up + {args.requests} timed; load average {load()}")

    lists = [("instruments", "/instruments/", ["", "serial", "-serial", "due", "-due"]),
             ("never_verified", "/worklists/never_verified", [""]), ("overdue", "/worklists/overdue", [""]),
             ("due_soon", "/worklists/due_soon", [""]), ("failed", "/worklists/failed", [""]),
             ("past_service_life", "/worklists/past_service_life", [""]),
             ("merchants", "/merchants/", ["", "-name"]), ("alerts", "/alerts/", [""]),
             ("inspections", "/inspections/", [""])]
    only = [o for o in args.only.split(",") if o]
    users = [u for u in args.users.split(",") if u] or list(personas)
    rows = []
    for name in users:
        client = app.test_client()
        resp = client.post("/login", data={"username": f"bench_deep_{name}", "password": "bench-password-1"})
        if resp.status_code != 302:
            sys.exit(f"login as {name} failed ({resp.status_code})")
        for list_name, path, sorts in lists:
            for sort in sorts:
                base = path + (f"?sort={sort}&" if sort else "?")
                first = client.get(base + "page=1").get_data(as_text=True)
                found = PAGES_RE.search(first)
                pages = int((found.group(1) or found.group(2)).replace(",", "")) if found else 1
                deep = list_name == "instruments"
                numbers = [("p1", 1)] + ([("p200", 200), ("p20000", min(20000, pages)), ("middle", max(1, pages // 2))]
                                         if deep else []) + [("last", pages)]
                cases = [(f"{list_name}{' ' + sort if sort else ''} {label}", base + f"page={n}", n)
                         for label, n in numbers]
                if deep and keyset is not None:
                    middle = client.get(base + f"page={max(1, pages // 2)}").get_data(as_text=True)
                    nxt = NEXT_RE.search(middle)
                    if nxt:
                        query = nxt.group(1).replace("&amp;", "&")
                        cases.append((f"{list_name}{' ' + sort if sort else ''} next of middle", path + "?" + query,
                                      None))
                for label, url, number in cases:
                    if only and not any(o in label for o in only):
                        continue

                    def get(url=url):
                        r = client.get(url)
                        if r.status_code != 200:
                            raise RuntimeError(f"{url}: {r.status_code}")
                    page_fig = timed(get, args.warmup, args.requests)
                    floor = offset = None
                    if keyset is not None:
                        floor, offset = floors(app, client, name, url, number, args)
                    rows.append((name, label, pages, page_fig, floor, offset))
                    print(f"  {name:<12} {label:<34} {page_fig[0]:>8.1f} {page_fig[1]:>8.1f}"
                          + (f"  floor {floor[0]:.1f}/{floor[1]:.1f}" if floor else "")
                          + (f"  offset {offset[0]:.1f}/{offset[1]:.1f}" if offset else ""), flush=True)
    print(f"\nload average after the run: {load()}")
    print("| user | page | pages | page median / p95 ms | keyset rows query | OFFSET rows query |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name, label, pages, fig, floor, offset in rows:
        fl = f"{floor[0]:.1f} / {floor[1]:.1f}" if floor else ""
        of = f"{offset[0]:.1f} / {offset[1]:.1f}" if offset else ""
        print(f"| {name} | {label} | {pages:,} | {fig[0]:.0f} / {fig[1]:.0f} | {fl} | {of} |")
    database.dispose()


def floors(app, client, username, url, number, args):
    """(keyset rows query, OFFSET rows query) timings for the page at `url`, as the view builds its list."""
    from flask import request
    from flask_login import login_user
    from sqlalchemy import select

    from app.accounts.models import User
    from app.keyset import Split, order_of, walk
    from app.web import db

    times = {}
    split_url = urlsplit(url)
    with app.test_request_context(split_url.path + "?" + split_url.query):
        user = db().scalars(select(User).where(User.username == f"bench_deep_{username}")).one()
        login_user(user)
        view = app.view_functions[request.endpoint]
        stmt, stations = list_statement(request.endpoint, request.view_args, request.args)
        order = order_of(stmt)
        per_page = app.config["PAGE_SIZE"]
        session = db()
        from app.db import count_of
        total = session.execute(count_of(stmt)).scalar_one()
        page = min(max(1, int(request.args.get("page", 1))), max(1, -(-total // per_page)))
        split = None
        if stations is not None:
            ids = stations[1]
            if ids is None and not order.keys[0].column.primary_key:
                from app.accounts.models import Station
                ids = session.scalars(select(Station.id)).all()
            if ids is not None:
                split = Split(stations[0], tuple(sorted(ids)))
        after = order.decode(request.args.get("after"))
        skipped = (page - 1) * per_page
        after_page = max(0, total - skipped - per_page)

        def keyset_read():
            if after is not None:
                walk(session, stmt, order, boundary=after, forward=True, limit=per_page + 1, split=split)
            elif skipped <= after_page:
                walk(session, stmt, order, boundary=None, forward=True, limit=per_page, offset=skipped, split=split)
            else:
                walk(session, stmt, order, boundary=None, forward=False, limit=min(per_page, total - skipped),
                     offset=after_page, split=split)

        def offset_read():
            list(session.scalars(stmt.limit(per_page).offset(skipped)))
        times["keyset"] = timed(keyset_read, 1, args.requests)
        # The OFFSET read of a deep sorted page takes seconds: three runs are enough to compare.
        times["offset"] = timed(offset_read, 0, min(3, args.requests)) if args.offset else None
        del view
    return times["keyset"], times["offset"]


def list_statement(endpoint, view_args, query_args):
    """The list select and station split the view builds for this request."""
    from app.instruments import views as iv
    from app.instruments.models import Instrument
    from app.web import scope, view_scope

    if endpoint == "instruments.index":
        f = iv._filter()
        from app.instruments import queries
        return queries.instrument_list(view_scope(), f, query_args.get("sort", "new")), iv._stations(f)
    if endpoint == "instruments.worklist":
        stmt, _days = iv._worklist(view_args["name"], page=True)
        return stmt, iv._stations(iv._filter())
    if endpoint == "merchants.index":
        from app.merchants import views as mv
        from app.merchants.models import Merchant
        return mv._list_stmt(), (Merchant.station_id, scope().station_ids)
    del Instrument
    if endpoint == "alerts.index":
        from app.alerts import queries as aq, views as av
        from app.alerts.models import Alert
        return aq.alert_list(view_scope(), av._filter()), (Alert.station_id, view_scope().station_ids)
    if endpoint == "inspections.inspections":
        from app.inspections.views import inspections as insv
        from app.inspections.models import Inspection
        return insv._inspection_list()[0], (Inspection.station_id, scope().station_ids)
    raise KeyError(endpoint)


if __name__ == "__main__":
    main()
