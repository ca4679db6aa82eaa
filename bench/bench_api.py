"""Time the REST API's change feed: GET /api/v1/instruments?updated_since=...&limit=1000, page after page, over
the 1,000,000-instrument dataset (bench/generate.py), side by side with the bare keyset query it runs.

    .venv/bin/python bench/bench_api.py                       # bench/data/bench.db
    .venv/bin/python bench/bench_api.py --url postgresql+psycopg://postgres@127.0.0.1:5432/metrology_bench

The database is upgraded to the newest migration first (0029 adds the (updated_at, id) indexes; on a million
instruments that takes a minute once). Each scenario walks --pages pages of 1,000 after --warmup pages, with a
token of every station and with a token of the largest station; "recent" first marks --touch instruments as
changed now (as an import would) and walks only those. The API's time includes authentication, the audit entry
of the call and the JSON; the raw query is the same keyset SELECT alone (rows fetched, no JSON). Target: 150 ms a page.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, update  # noqa: E402

from app import create_app  # noqa: E402
from app import migrate as migrations  # noqa: E402
from app.accounts.models import Station  # noqa: E402
from app.api import queries  # noqa: E402
from app.api.models import ApiToken, TokenScope  # noqa: E402
from app.api.services import issue_token  # noqa: E402
from app.db import utcnow  # noqa: E402
from app.instruments.models import Instrument  # noqa: E402
from app.scope import Scope  # noqa: E402
from config import TestConfig  # noqa: E402

DEFAULT_URL = f"sqlite:///{ROOT / 'bench' / 'data' / 'bench.db'}"
TARGET_MS = 150


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered)) - 1))]


def token(session, name: str, stations: list[int]) -> str:
    """A fresh read token over these stations (the bench's earlier tokens are revoked)."""
    now = utcnow()
    session.execute(update(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
                    .values(revoked_at=now))
    _t, secret = issue_token(session, None, name=name, scope=TokenScope.READ, station_ids=stations, body_id=None,
                             merchant_id=None, expires_at=now + dt.timedelta(days=1), rate_per_minute=10_000, now=now)
    session.commit()
    return secret


def walk_api(client, secret: str, since: dt.datetime, pages: int, warmup: int, limit: int) -> list[float]:
    """ms per page over `pages` consecutive pages (after `warmup` pages)."""
    cursor, times = None, []
    stamp = since.isoformat().replace("+00:00", "Z")
    for n in range(warmup + pages):
        url = f"/api/v1/instruments?limit={limit}&updated_since={stamp}" + (f"&cursor={cursor}" if cursor else "")
        start = time.perf_counter()
        resp = client.get(url, headers={"Authorization": f"Bearer {secret}"})
        elapsed = (time.perf_counter() - start) * 1000
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        body = resp.get_json()
        assert len(body["items"]) == limit or body["next_cursor"] is None
        if n >= warmup:
            times.append(elapsed)
        cursor = body["next_cursor"]
        if cursor is None:
            break
    return times


def walk_raw(database, scope: Scope, since: dt.datetime, pages: int, warmup: int, limit: int) -> list[float]:
    """The same walk as the bare keyset SELECTs (a fresh session per page, like a request)."""
    cursor, times = None, []
    for n in range(warmup + pages):
        session = database.session_factory()
        start = time.perf_counter()
        rows = session.execute(queries.keyset(queries.instruments(scope), Instrument, cursor, limit, since)).all()
        elapsed = (time.perf_counter() - start) * 1000
        session.close()
        if n >= warmup:
            times.append(elapsed)
        if len(rows) <= limit:
            break
        last = rows[limit - 1]
        cursor = queries.Cursor(last.updated_at, last.id)
    return times


def fig(times: list[float]) -> str:
    return f"{statistics.median(times):7.1f} / {percentile(times, 95):7.1f}" if times else "      -"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=DEFAULT_URL)
    p.add_argument("--pages", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--touch", type=int, default=100_000, help="instruments marked as changed for 'recent'")
    args = p.parse_args(argv)

    started = time.perf_counter()
    migrations.upgrade(args.url)
    print(f"migrations at head ({time.perf_counter() - started:.1f} s)")
    app = create_app(TestConfig, DATABASE_URL=args.url, RATELIMIT_ENABLED=False)
    database = app.extensions["database"]
    session = database.session_factory()
    total = session.scalar(select(func.count()).select_from(Instrument))
    largest = session.execute(select(Instrument.station_id, func.count()).group_by(Instrument.station_id)
                              .order_by(func.count().desc()).limit(1)).first()
    every = list(session.scalars(select(Station.id)))
    oldest = session.scalar(select(func.min(Instrument.updated_at)))
    # "recent": the instruments of every 10th id changed now, in one statement (as an import or a sweep would).
    touched_at = utcnow()
    step = max(1, total // args.touch)
    session.execute(update(Instrument).where(Instrument.id % step == 0).values(updated_at=touched_at))
    session.commit()
    secrets = {"all": token(session, "bench-api-all", every), "one": token(session, "bench-api-one", [largest[0]])}
    session.close()
    client = app.test_client()
    print(f"{total:,} instruments; largest station {largest[0]} with {largest[1]:,}; {args.pages} pages of "
          f"{args.limit} after {args.warmup} warm-up pages; median / p95 ms (target {TARGET_MS} ms a page)")
    print(f"{'scenario':<44} {'API':>17} {'raw keyset query':>19}")
    for label, since in (("updated_since = oldest (walks everything)", oldest),
                         ("updated_since = now (the recent changes only)", touched_at)):
        for who, scope in (("all", Scope(frozenset(every))), ("one", Scope(frozenset([largest[0]])))):
            api = walk_api(client, secrets[who], since, args.pages, args.warmup, args.limit)
            raw = walk_raw(database, scope, since, args.pages, args.warmup, args.limit)
            name = f"{label[:30]}, {'20 stations' if who == 'all' else 'one station'}"
            print(f"{name:<44} {fig(api):>17} {fig(raw):>19}   ({len(api)} pages)")
    database.dispose()


if __name__ == "__main__":
    main()
