"""Requests per second and latency over real HTTP: `make run` (flask's server, one process) against the production
set-up (gunicorn, deploy/gunicorn.conf.py), on the same database.

    .venv/bin/python bench/bench_http.py --url postgresql+psycopg://postgres@127.0.0.1:5432/metrology_bench1m
        [--seconds 15] [--clients 1,8,32] [--only make-run|production] [--load threads|wrk]
        [--worker-class sync|gthread] [--workers N] [--threads N] [--warm-seconds 2] [--no-floor]

Pages: the instrument list, the overdue worklist and the dashboard as a supervisor (all stations; one signed-in
session shared by the clients), and an instrument's public page (--staff-pages: every staff page instead). After
each set-up's pages comes its floor: a bare Flask route (bench/floor_app.py: no database, session or template)
served by the same command with the same settings, timed the same way. Each (set-up, page, clients) cell runs for
--seconds after a warm-up (--warmup requests one at a time, which must answer 200, then --warm-seconds of the
same load untimed, so that every worker process has served the page and opened its database connection, as in a
server that has been up for a while; a new worker's first request of a page takes 30-170 ms more): every client
sends its next request as soon as the last one answered (a closed loop), so requests/s is what the set-up serves
at that concurrency and p50/p95/p99 what a client waits. Any answer but 200 is counted and printed as an error.
The clients are threads of this process on the same machine (they take some CPU from the servers: the "client"
column says how many cores); with --load wrk they are wrk's connections (Debian's package wrk; C, two threads,
next to no CPU), with the login's cookie and user agent.

Both set-ups get the same settings: the public limit raised out of the way (PUBLIC_RATE_LIMIT, else a client
would see 429 after 60 requests), signing key and files under a temporary folder. `make run` runs the scheduler
and the queue's worker threads in its process, as `make run` does; the production set-up keeps its rate limits in
Redis (TEST_REDIS_URL, default db 5; only this run's keys are deleted after) and has no scheduler or workers
(those are other processes in production and take no CPU while idle).
"""
from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from app.db import Database  # noqa: E402
from app.instruments.models import Instrument  # noqa: E402
from bench.bench_pages import PASSWORD, SUPERVISOR, ensure_users, percentile  # noqa: E402

BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
PAGES = [("instrument list", "/instruments/"), ("overdue worklist", "/worklists/overdue"), ("dashboard", "/"),
         ("public instrument page", None)]


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True, help="database URL (the 1,000,000-instrument data of bench/generate.py)")
    p.add_argument("--seconds", type=float, default=15, help="timed seconds per cell (default 15)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up requests per page and set-up (default 3)")
    p.add_argument("--clients", default="1,8,32", help="concurrent clients (default 1,8,32)")
    p.add_argument("--worker-class", choices=("sync", "gthread"),
                   help="gunicorn worker class (default: deploy/gunicorn.conf.py's)")
    p.add_argument("--workers", type=int, help="gunicorn workers (default: deploy/gunicorn.conf.py's for this machine)")
    p.add_argument("--threads", type=int, help="threads per gthread worker (default: deploy/gunicorn.conf.py's)")
    p.add_argument("--no-floor", dest="floor", action="store_false",
                   help="skip the floor: a bare Flask route (bench/floor_app.py) served the same way")
    p.add_argument("--warm-seconds", type=float, default=2,
                   help="untimed seconds of the same load before each timed cell (default 2)")
    p.add_argument("--only", choices=("make-run", "production"), help="one set-up only")
    p.add_argument("--pages", default="", help="comma-separated parts of page labels to time (default: all)")
    p.add_argument("--load", choices=("threads", "wrk"), default="threads",
                   help="the clients: threads of this process (default), or wrk (Debian's package), which takes next "
                        "to no CPU from the servers")
    p.add_argument("--staff-pages", action="store_true",
                   help="every staff page bench/bench_pages.py times (as the supervisor) instead of the four above")
    return p.parse_args(argv)


def load() -> str:
    """The machine's load averages (1, 5, 15 min)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def public_token(url: str) -> str:
    """An instrument with a public token (given one if none has)."""
    from app.public.services import ensure_public_token

    database = Database(url)
    with database.session_scope() as session:
        inst = session.scalars(select(Instrument).where(Instrument.public_token.is_not(None)).limit(1)).first()
        if inst is None:
            inst = session.scalars(select(Instrument).order_by(Instrument.id).limit(1)).one()
        token = ensure_public_token(session, None, inst)
    database.dispose()
    return token


def staff_pages(database: Database) -> list[tuple[str, str]]:
    """Every staff page of bench/bench_pages.py's table the supervisor may open, on this dataset's records."""
    from bench.bench_pages import SUPERVISOR as WHO, fixtures, page_table
    from app.accounts.models import Station

    with database.session_scope() as session:
        station_id = session.scalar(select(func.min(Station.id)))
    table = page_table(station_id, fixtures(database, station_id))
    return [(label, path) for label, path, who in table if path and WHO in who]


def start_server(kind: str, args, work: Path, port: int, prefix: str, target: str = "wsgi") -> subprocess.Popen:
    """`make run`'s command or gunicorn with the production settings, on this database; `target` names the module
    of the WSGI app (bench.floor_app for the floor)."""
    env = {**os.environ, "DATABASE_URL": args.url, "PYTHONPATH": str(ROOT), "SECRET_KEY": secrets.token_hex(32),
           "PUBLIC_RATE_LIMIT": "1000000 per minute", "TASK_QUEUE_URL": f"sqlite:///{work / 'tasks.db'}",
           "IMPORT_STORAGE": str(work / "imports"), "EVIDENCE_STORAGE": str(work / "evidence"),
           "INTEGRITY_STORAGE": str(work / "integrity"), "TASK_STORAGE": str(work / "tasks")}
    log = open(work / f"{kind}-{target}.log", "wb")
    if kind == "make-run":
        env.update(APP_ENV="development", SCHEDULER_IN_APP="1", TASKS_IN_APP="1")
        argv = [str(BIN / "flask"), "--app", target, "run", "--host", "127.0.0.1", "--port", str(port)]
    else:
        env.update(APP_ENV="production", SESSION_COOKIE_SECURE="0", RATELIMIT_STORAGE_URI=REDIS_URL,
                   RATELIMIT_KEY_PREFIX=prefix, SCHEDULER_IN_APP="0", TASKS_IN_APP="0",
                   GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_ACCESS_LOG=str(work / "access.log"))
        env.update(production_shape(args))
        argv = [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", f"{target}:app"]
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def production_shape(args) -> dict[str, str]:
    """The environment that sets the production set-up's worker class, workers and threads from the options (the
    deploy file's defaults for those not given)."""
    given = {"GUNICORN_WORKER_CLASS": args.worker_class, "WEB_CONCURRENCY": args.workers,
             "GUNICORN_THREADS": args.threads}
    return {name: str(value) for name, value in given.items() if value is not None}


def production_label(args) -> str:
    """How the production set-up runs, as deploy/gunicorn.conf.py reads it with these options."""
    from deploy import gunicorn_settings

    conf = gunicorn_settings(production_shape(args))
    shape = (f"{conf['workers']} workers x {conf['threads']} threads" if conf["worker_class"] == "gthread"
             else f"{conf['workers']} workers")
    return f"production (gunicorn {conf['worker_class']}, {shape}, limits in Redis)"


def booted(log: Path) -> int:
    """How many worker processes gunicorn started, by its log."""
    return log.read_text(errors="replace").count("Booting worker with pid")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


FLOOR = "floor: bare Flask route"


def time_page(kind: str, page: str, url: str, signed_in: dict, concurrencies: list[int], args, work: Path,
              rows: list) -> None:
    """Warm the page up, then time it at each concurrency; print and keep one row per cell."""
    for _ in range(args.warmup):
        warm = requests.get(url, cookies=signed_in, timeout=120, allow_redirects=False)
        if warm.status_code != 200:  # wrk counts only answers >= 400 as errors
            sys.exit(f"{page}: HTTP {warm.status_code} before timing")
    for clients in concurrencies:
        if args.warm_seconds > 0:
            run_cell(url, signed_in, clients, args.warm_seconds)
        if args.load == "wrk":
            r = run_wrk(url, signed_in, clients, args.seconds, work)
        else:
            r = run_cell(url, signed_in, clients, args.seconds)
        rows.append((kind, page, clients, r, load()))
        print(f"  {page:<24} {clients:>7} {r['rps']:>8.1f} {fmt(r['p50']):>8} {fmt(r['p95']):>8} "
              f"{fmt(r['p99']):>8} {r['n']:>6} {r['errors']:>6} {cores(r['client_cpu']):>6}  {load()}", flush=True)


def wait_ready(base: str, proc: subprocess.Popen, log: Path, path: str = "/login") -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            if requests.get(base + path, timeout=30).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    sys.exit("the server did not answer within 180 s")


def login(base: str) -> dict:
    """The cookies of a signed-in supervisor session."""
    import re

    http = requests.Session()
    page = http.get(base + "/login", timeout=30)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"', page.text)
    resp = http.post(base + "/login", data={"username": SUPERVISOR, "password": PASSWORD,
                                            "csrf_token": (match.group(1) or match.group(2)) if match else ""},
                     allow_redirects=False, timeout=30)
    if resp.status_code != 302:
        sys.exit(f"login as {SUPERVISOR} failed: HTTP {resp.status_code}")
    return http.cookies.get_dict()


# wrk's report, one line: requests, microseconds elapsed, p50/p95/p99 latency (us), errors (socket errors and
# any answer but 200, counted by each wrk thread and summed at the end: wrk's setup/init/response/done hooks).
WRK_SCRIPT = """
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function(args) not_ok = 0 end
response = function(status, headers, body) if status ~= 200 then not_ok = not_ok + 1 end end
done = function(summary, latency, requests)
  local e = summary.errors
  local bad = e.connect + e.read + e.write + e.timeout
  for _, t in ipairs(threads) do bad = bad + t:get("not_ok") end
  io.write(string.format("WRK %d %d %d %d %d %d\\n", summary.requests, summary.duration, latency:percentile(50),
                         latency:percentile(95), latency:percentile(99), bad))
end
"""


def run_wrk(url: str, cookies: dict, clients: int, seconds: float, work: Path) -> dict:
    """The same closed loop driven by wrk (C, two threads): the clients take next to no CPU from the servers."""
    script = work / "report.lua"
    script.write_text(WRK_SCRIPT)
    argv = ["wrk", "-t", str(min(2, clients)), "-c", str(clients), "-d", f"{seconds:g}s", "--timeout", "120s",
            "-s", str(script), url]
    # The login's user agent too: the session is bound to it (flask-login's session protection).
    argv[1:1] = ["-H", f"User-Agent: {requests.utils.default_user_agent()}"]
    if cookies:
        argv[1:1] = ["-H", "Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items())]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK "))
    n, elapsed_us, p50, p95, p99, errors = (int(x) for x in line.split()[1:])
    return {"rps": n / (elapsed_us / 1e6), "p50": p50 / 1000, "p95": p95 / 1000, "p99": p99 / 1000, "n": n,
            "errors": errors, "client_cpu": None}


def run_cell(url: str, cookies: dict, clients: int, seconds: float) -> dict:
    """`clients` threads requesting `url` back to back for `seconds`: requests/s, latency percentiles and the CPU
    the client threads took (a share of the two cores the servers did not get)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[int] = [0] * clients
    start_gate = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(i: int) -> None:
        http = requests.Session()
        http.cookies.update(cookies)
        start_gate.wait()
        while True:
            began = time.perf_counter()
            if began >= stop_at[0]:
                return
            try:
                ok = http.get(url, timeout=120, allow_redirects=False).status_code == 200
            except requests.RequestException:
                ok = False
            if ok:
                latencies[i].append((time.perf_counter() - began) * 1000)
            else:
                errors[i] += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    cpu = time.process_time()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    start_gate.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    client_cpu = (time.process_time() - cpu) / elapsed  # in cores
    every = [x for lat in latencies for x in lat]
    if not every:
        return {"rps": 0.0, "p50": None, "p95": None, "p99": None, "n": 0, "errors": sum(errors),
                "client_cpu": client_cpu}
    return {"rps": len(every) / elapsed, "p50": statistics.median(every), "p95": percentile(every, 95),
            "p99": percentile(every, 99), "n": len(every), "errors": sum(errors), "client_cpu": client_cpu}


def fmt(ms) -> str:
    return "-" if ms is None else f"{ms:,.0f}"


def cores(used) -> str:
    return "wrk" if used is None else f"{used:.2f}"


def main(argv=None) -> None:
    """Both set-ups, every page, every concurrency: one table."""
    args = parse_args(argv)
    concurrencies = [int(c) for c in args.clients.split(",")]
    database = Database(args.url)
    ensure_users(database)
    with database.session_scope() as session:
        total = session.execute(select(func.count()).select_from(Instrument)).scalar_one()
    database.dispose()
    token = public_token(args.url)
    pages = staff_pages(database) if args.staff_pages else PAGES
    print(f"database: {args.url.rsplit('@', 1)[-1]} ({total:,} instruments); {args.seconds:g} s a cell after "
          f"{args.warmup} warm-up requests a page and {args.warm_seconds:g} s of the same load untimed; "
          f"clients {concurrencies}; {os.cpu_count()} CPUs; "
          f"load average {load()}", flush=True)
    kinds = [args.only] if args.only else ["make-run", "production"]
    prefix = f"bench-http-{os.getpid()}"
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        work = Path(tmp)
        for kind in kinds:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            proc = start_server(kind, args, work, port, prefix)
            try:
                wait_ready(base, proc, work / f"{kind}-wsgi.log")
                cookies = login(base)
                label = ("make run (flask run, 1 process, threaded; scheduler and queue threads inside)"
                         if kind == "make-run" else production_label(args))
                print(f"\n{label}; load average at start {load()}", flush=True)
                print(f"  {'page':<24} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
                      f"{'n':>6} {'errors':>6} {'client':>6}  load", flush=True)
                for page, path in pages:
                    if args.pages and not any(part in page for part in args.pages.split(",")):
                        continue
                    signed_in = cookies if path else {}  # the public page is asked for without the session
                    time_page(kind, page, base + (path or f"/public/i/{token}"), signed_in, concurrencies, args,
                              work, rows)
                if kind == "production":
                    print(f"  gunicorn workers started: {booted(work / 'production-wsgi.log')} "
                          "(more than the set-up's count means workers were replaced during the run)", flush=True)
            finally:
                stop_server(proc)
            if args.floor:
                port = free_port()
                proc = start_server(kind, args, work, port, prefix, target="bench.floor_app")
                try:
                    wait_ready(f"http://127.0.0.1:{port}", proc, work / f"{kind}-bench.floor_app.log", path="/")
                    time_page(kind, FLOOR, f"http://127.0.0.1:{port}/", {}, concurrencies, args, work, rows)
                finally:
                    stop_server(proc)
    if "production" in kinds:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"*{prefix}*"))
        if keys:
            client.delete(*keys)
    print("\nMarkdown:\n")
    print("| set-up | page | clients | req/s | p50 ms | p95 ms | p99 ms | errors | client cores | load (1/5/15 min) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for kind, page, clients, r, ld in rows:
        print(f"| {kind} | {page} | {clients} | {r['rps']:.1f} | {fmt(r['p50'])} | {fmt(r['p95'])} | "
              f"{fmt(r['p99'])} | {r['errors']} | {cores(r['client_cpu'])} | {ld} |")


if __name__ == "__main__":
    main()
