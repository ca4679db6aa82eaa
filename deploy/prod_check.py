"""`make prod-check`: the production set-up on this machine, under load, with two processes killed mid-run.

    .venv/bin/python deploy/prod_check.py [--seconds 60] [--users 32] [--keep]

Starts PostgreSQL and Redis when they are not running, makes its own database (metrology_prodcheck, demo data),
then gunicorn with 3 workers on one address (deploy/gunicorn.conf.py), two scheduler processes and two queue
workers (Redis queue, db 6), and drives them with locust (deploy/locustfile.py). Mid-run it probes the public and
login limits from fresh addresses, and kills one queue worker and one web worker with SIGKILL. Then it checks and
prints: no 5xx; the limits held across workers; every scheduled job ran once per fire time; every import was
applied once (or failed whole); the killed web worker was replaced and the other queue worker went on.
Everything it started (processes, its database, its Redis db, PostgreSQL or Redis themselves) is stopped or
removed at the end, also on failure or Ctrl-C (--keep leaves the log folder). Exit code 0 when every check passed.
Not part of `make test` (it takes a few minutes and needs the servers).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from deploy import gunicorn_settings  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DB_NAME = "metrology_prodcheck"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
OWNER_KEY = "prodcheck:owner"
BIN = Path(sys.executable).parent
WEB_WORKERS = 3
PUBLIC_LIMIT = 60
LOGIN_LIMIT = 5
TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
ACCESS_RE = re.compile(r'^(\S+) \S+ \[[^\]]+\] "(\S+) (\S+) [^"]*" (\d{3}) .* pid=<?(\d+)>?$')


def say(message: str = "") -> None:
    print(message, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=int, default=60, help="how long locust drives the servers (default 60)")
    p.add_argument("--users", type=int, default=32, help="locust users (default 32)")
    p.add_argument("--redis-db", type=int, default=6, help="the Redis database of the queue and the limiter (default 6)")
    p.add_argument("--port", type=int, default=0, help="the web address's port (default: a free one)")
    p.add_argument("--keep", action="store_true", help="keep the folder of logs (printed) after the run")
    return p.parse_args(argv)


class Checks:
    """The verdicts, printed as a table at the end."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []

    def add(self, name: str, ok: bool | None, detail: str) -> None:
        verdict = "SKIPPED" if ok is None else ("PASS" if ok else "FAIL")
        self.rows.append((name, verdict, detail))
        say(f"  [{verdict}] {name}: {detail}")

    @property
    def passed(self) -> bool:
        return all(v != "FAIL" for _, v, _ in self.rows)


class Stack:
    """What this run started, so that cleanup undoes exactly that."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="prodcheck-"))
        self.procs: dict[str, subprocess.Popen] = {}
        self.started_pg: str | None = None
        self.started_redis = False
        self.redis = None
        self.db_created = False
        self.url = make_url(PG_ADMIN).set(database=DB_NAME).render_as_string(hide_password=False)
        self.redis_url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{args.redis_db}"
        self.env = {}

    # ----- servers -----------------------------------------------------------------------------

    def ensure_postgres(self) -> None:
        if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode == 0:
            say("PostgreSQL: already running")
            return
        versions = sorted(os.listdir("/etc/postgresql"), key=lambda v: [int(x) for x in v.split(".")])
        version = versions[-1]
        say(f"PostgreSQL: starting cluster {version}/main")
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=True)
        self.started_pg = version
        for _ in range(30):
            if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode == 0:
                return
            time.sleep(1)
        raise SystemExit("PostgreSQL did not come up within 30 s")

    def ensure_redis(self) -> None:
        import redis

        probe = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=self.args.redis_db)
        try:
            probe.ping()
            say("Redis: already running")
        except redis.exceptions.ConnectionError:
            say("Redis: starting redis-server")
            subprocess.run(["redis-server", "--daemonize", "yes", "--bind", REDIS_HOST, "--port", str(REDIS_PORT),
                            "--save", "", "--appendonly", "no", "--pidfile", str(self.work / "redis.pid"),
                            "--logfile", str(self.work / "redis.log")], check=True)
            self.started_redis = True
            for _ in range(30):
                try:
                    probe.ping()
                    break
                except redis.exceptions.ConnectionError:
                    time.sleep(0.5)
        # Its own database: empty, or left by an earlier prod-check (its marker key). Never someone else's data.
        size = probe.dbsize()
        if size and not probe.exists(OWNER_KEY):
            raise SystemExit(f"Redis db {self.args.redis_db} holds {size} keys of something else: "
                             f"choose another with --redis-db")
        probe.flushdb()
        probe.set(OWNER_KEY, str(os.getpid()))
        self.redis = probe

    def make_database(self) -> None:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {DB_NAME}"))
        admin.dispose()
        self.db_created = True

    # ----- processes ---------------------------------------------------------------------------

    def start(self, name: str, argv: list[str], **env) -> subprocess.Popen:
        log = open(self.work / f"{name}.log", "wb")
        proc = subprocess.Popen(argv, cwd=ROOT, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs[name] = proc
        return proc

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 40
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in self.procs.values():
            # Whatever is left in its group (a sandbox child, a worker of a killed master) goes too.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def cleanup(self) -> None:
        say("\nCleaning up what the check started ...")
        self.stop_all()
        if self.db_created:
            try:
                admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)"))
                admin.dispose()
                say(f"  dropped database {DB_NAME}")
            except Exception as err:  # noqa: BLE001  cleanup goes on with the rest
                say(f"  could not drop {DB_NAME}: {err}")
        if self.redis is not None:
            try:
                self.redis.flushdb()
                say(f"  emptied Redis db {self.args.redis_db}")
            except Exception as err:  # noqa: BLE001
                say(f"  could not empty Redis db {self.args.redis_db}: {err}")
        if self.started_redis:
            subprocess.run(["redis-cli", "-h", REDIS_HOST, "-p", str(REDIS_PORT), "shutdown", "nosave"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            say("  stopped the Redis server it had started")
        if self.started_pg:
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.started_pg, "main", "stop"])
            say("  stopped the PostgreSQL cluster it had started")
        if self.args.keep:
            say(f"  logs kept in {self.work}")
        else:
            subprocess.run(["rm", "-rf", str(self.work)])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def flask(*args: str) -> list[str]:
    return [str(BIN / "flask"), "--app", "wsgi", *args]


def has_tasks_worker(env: dict) -> bool:
    """Whether this checkout has the queue's worker command (`flask tasks worker`)."""
    done = subprocess.run(flask("tasks", "worker", "--help"), cwd=ROOT, env=env, capture_output=True)
    return done.returncode == 0


def load_demo(stack: Stack) -> dict:
    """Demo data, a public token on some instruments and a name to search for."""
    say("Loading demo data (flask demo load) ...")
    subprocess.run(flask("demo", "load", "--reset"), cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   env={**stack.env, "APP_ENV": "development"})
    from sqlalchemy import select

    from app.db import Database
    from app.instruments.models import Instrument
    from app.merchants.models import Merchant
    from app.public.services import assign_public_tokens

    database = Database(stack.url)
    with database.session_scope() as s:
        ids = s.scalars(select(Instrument.id).order_by(Instrument.id).limit(30)).all()
        assign_public_tokens(s, None, select(Instrument).where(Instrument.id.in_(ids)))
        s.flush()
        tokens = s.scalars(select(Instrument.public_token).where(Instrument.id.in_(ids))).all()
        name = s.scalar(select(Merchant.name).order_by(Merchant.id).limit(1)) or "市场"
    database.dispose()
    return {"tokens": [t for t in tokens if t], "name_part": name[:2]}


def wait_web(base: str, master: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if master.poll() is not None:
            raise SystemExit("gunicorn exited at start: see web.log")
        try:
            if requests.get(base + "/login", timeout=10).status_code == 200 and len(web_workers(master)) == WEB_WORKERS:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit("the web server did not answer within 120 s")


def web_workers(master: subprocess.Popen) -> list[int]:
    try:
        return sorted(c.pid for c in psutil.Process(master.pid).children() if c.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return []


# ----- probes during the run ---------------------------------------------------------------------

def csrf_of(body: str) -> str:
    match = TOKEN_RE.search(body)
    return (match.group(1) or match.group(2)) if match else ""


def probe_public(base: str, address: str) -> Counter:
    """PUBLIC_LIMIT + 5 public requests from one address, each on a new connection (so any worker may take it)."""
    statuses = Counter()
    for _ in range(PUBLIC_LIMIT + 5):
        resp = requests.get(base + "/public/", headers={"X-Forwarded-For": address, "Connection": "close"}, timeout=30)
        statuses[resp.status_code] += 1
    return statuses


def failed_login(base: str, address: str, username: str, password: str = "wrong-password") -> int:
    """One login attempt on a new connection: its status (200: refused and shown again, 302: in, 429: throttled)."""
    http = requests.Session()
    http.headers.update({"X-Forwarded-For": address, "Connection": "close"})
    page = http.get(base + "/login", timeout=30)
    resp = http.post(base + "/login", data={"username": username, "password": password,
                                            "csrf_token": csrf_of(page.text)}, allow_redirects=False, timeout=30)
    return resp.status_code


def probe_logins(base: str) -> dict:
    """The per-address and per-account throttles, each from requests spread over the workers."""
    address = f"192.0.2.{secrets.randbelow(200) + 1}"
    by_address = [failed_login(base, address, f"nobody-{i}-{secrets.token_hex(3)}") for i in range(LOGIN_LIMIT + 1)]
    # The account: failures from different addresses, then the right password from yet another.
    # inspector4: a demo login the load does not use (it is locked for a minute).
    account = [failed_login(base, f"198.51.100.{i + 1}", "inspector4") for i in range(LOGIN_LIMIT)]
    account.append(failed_login(base, "198.51.100.200", "inspector4", "inspector-demo-1"))
    return {"address": address, "by_address": by_address, "by_account": account}


def workers_seen(access_log: Path, address: str) -> set[str]:
    pids = set()
    for line in access_log.read_text(errors="replace").splitlines():
        m = ACCESS_RE.match(line)
        if m and m.group(1) == address:
            pids.add(m.group(5))
    return pids


def pick_queue_victim(stack: "Stack", seconds: float = 15) -> tuple[str, str]:
    """The queue worker to kill: the one running a background task if one is caught running within `seconds`
    (its pid is on the task record), else worker1 (with the import batches at work then); and what was caught."""
    pids = {proc.pid: name for name, proc in stack.procs.items() if name.startswith("worker")}
    engine = create_engine(stack.url)
    deadline = time.monotonic() + seconds
    try:
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                row = conn.execute(text("SELECT id, runner FROM background_tasks WHERE state = 'running' "
                                        "ORDER BY id LIMIT 1")).first()
                if row is not None:
                    pid = int(row.runner.split(":")[1]) if row.runner.count(":") >= 2 else 0
                    return pids.get(pid, "worker1"), f"background task {row.id} (run by pid {pid})"
                conn.rollback()
                time.sleep(0.02)
            # No task record caught running: an import batch at work (which worker has it is not on its record).
            busy = conn.execute(text("SELECT id, status FROM import_batches "
                                     "WHERE status IN ('planning', 'applying')")).all()
            if busy:
                return "worker1", f"import batches {[tuple(b) for b in busy]}"
    finally:
        engine.dispose()
    return "worker1", "nothing caught running"


def busy_tasks(url: str) -> list[tuple[int, str]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, state FROM background_tasks WHERE state IN ('queued', 'running') "
                                 "ORDER BY id")).all()
    engine.dispose()
    return [(r[0], r[1]) for r in rows]


def busy_batches(url: str) -> list[tuple[int, str]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status FROM import_batches WHERE status IN ('planning', 'applying') "
                                 "ORDER BY id")).all()
    engine.dispose()
    return [(r[0], r[1]) for r in rows]


# ----- the run -----------------------------------------------------------------------------------

def run(stack: Stack, checks: Checks) -> None:
    args = stack.args
    stack.ensure_postgres()
    stack.ensure_redis()
    stack.make_database()
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    run_id = dt.datetime.now().strftime("%H%M%S")
    stack.env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": secrets.token_hex(32),
                 "SESSION_COOKIE_SECURE": "0", "DATABASE_URL": stack.url, "PYTHONPATH": str(ROOT),
                 "RATELIMIT_STORAGE_URI": stack.redis_url, "RATELIMIT_KEY_PREFIX": "prodcheck",
                 "TASK_QUEUE_URL": stack.redis_url, "TRUSTED_PROXIES": "1",
                 "IMPORT_STORAGE": str(stack.work / "imports"), "EVIDENCE_STORAGE": str(stack.work / "evidence"),
                 "INTEGRITY_STORAGE": str(stack.work / "integrity"), "TASK_STORAGE": str(stack.work / "tasks"),
                 "SCHEDULER_IN_APP": "0", "TASKS_IN_APP": "0",
                 "SCHEDULER_JOBS": "deploy.prodcheck_jobs:JOBS", "SCHEDULER_LEASE_SECONDS": "6",
                 "SCHEDULER_TICK_SECONDS": "1", "PUBLIC_RATE_LIMIT": f"{PUBLIC_LIMIT} per minute",
                 "LOGIN_FAILURE_LIMIT": f"{LOGIN_LIMIT} per minute"}
    demo = load_demo(stack)
    say(f"Database {DB_NAME} ready; Redis {stack.redis_url}; logs in {stack.work}")

    web = stack.start("web", [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "-w", str(WEB_WORKERS),
                              "wsgi:app"], GUNICORN_BIND=f"127.0.0.1:{port}",
                      GUNICORN_ACCESS_LOG=str(stack.work / "access.log"))
    for i in (1, 2):
        stack.start(f"scheduler{i}", flask("scheduler", "run"))
    queue = has_tasks_worker(stack.env)
    if queue:
        for i in (1, 2):
            stack.start(f"worker{i}", flask("tasks", "worker", "--workers", "2"))
    wait_web(base, web)
    say(f"Up: gunicorn {base} (workers {web_workers(web)}), 2 schedulers, "
        + ("2 queue workers" if queue else "queue workers skipped (no `flask tasks worker` in this checkout)"))

    out = stack.work / "imports.jsonl"
    locust = stack.start("locust", [str(BIN / "locust"), "-f", "deploy/locustfile.py", "--headless",
                                    "-u", str(args.users), "-r", "8", "-t", f"{args.seconds}s", "--host", base,
                                    "--csv", str(stack.work / "locust"), "--only-summary", "--stop-timeout", "30"],
                         PRODCHECK_OUT=str(out), PRODCHECK_RUN=run_id, PRODCHECK_TOKENS=",".join(demo["tokens"]),
                         PRODCHECK_NAME_PART=demo["name_part"])
    started = time.monotonic()
    say(f"locust: {args.users} users for {args.seconds} s ...")

    # A quarter in: the limits, probed from fresh addresses while the load runs.
    time.sleep(args.seconds * 0.25)
    public_address = f"203.0.113.{secrets.randbelow(200) + 1}"
    public = probe_public(base, public_address)
    logins = probe_logins(base)

    # Halfway: kill -9 a queue worker (while an import is under way, if one is) and a web worker.
    time.sleep(max(0.0, started + args.seconds * 0.5 - time.monotonic()))
    killed_queue = None
    if queue:
        name, caught = pick_queue_victim(stack)
        in_flight = busy_batches(stack.url)
        tasks_in_flight = [t for t in busy_tasks(stack.url) if t[1] == "running"]
        victim = stack.procs[name]
        os.killpg(victim.pid, signal.SIGKILL)
        killed_queue = (time.time(), in_flight, tasks_in_flight, name)
        say(f"killed queue {name} (pid {victim.pid}) with SIGKILL; caught: {caught}; running tasks "
            f"{tasks_in_flight or 'none'}; import batches in flight {in_flight or 'none'}")
    before = web_workers(web)
    web_victim = before[0]
    os.kill(web_victim, signal.SIGKILL)
    killed_web_at = time.time()
    say(f"killed web worker {web_victim} with SIGKILL (workers were {before})")
    replaced = None
    for _ in range(60):
        now = web_workers(web)
        if len(now) == WEB_WORKERS and web_victim not in now:
            replaced = now
            break
        time.sleep(0.5)

    locust.wait(timeout=args.seconds + 120)
    say(f"locust finished (exit code {locust.returncode})")

    # Let interrupted imports and tasks be found and settled (retried or marked failed by the recovery jobs, which
    # run every minute): poll the batches' pages like a user.
    say("waiting for imports and background tasks to settle (at most 240 s) ...")
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        busy = busy_batches(stack.url)
        if not busy and not busy_tasks(stack.url):
            break
        http = requests.Session()
        http.headers["X-Forwarded-For"] = "192.0.2.250"
        page = http.get(base + "/login", timeout=30)
        http.post(base + "/login", data={"username": "supervisor", "password": "supervisor-demo-1",
                                         "csrf_token": csrf_of(page.text)}, timeout=30)
        for batch_id, _status in busy:
            http.get(f"{base}/imports/{batch_id}/progress", timeout=30)
        time.sleep(5)
    settle_left = busy_batches(stack.url)

    say("\nChecks")
    check_http(stack, checks)
    check_limits(stack, checks, public, public_address, logins)
    check_jobs(stack, checks)
    check_imports(stack, checks, out, queue, killed_queue, settle_left)
    checks.add("web worker killed with SIGKILL is replaced", replaced is not None,
               f"{web_victim} killed at {time.strftime('%H:%M:%S', time.localtime(killed_web_at))}; "
               f"workers now {replaced or web_workers(web)}")


def check_http(stack: Stack, checks: Checks) -> None:
    statuses, five = Counter(), []
    for line in (stack.work / "access.log").read_text(errors="replace").splitlines():
        m = ACCESS_RE.match(line)
        if not m:
            continue
        code = int(m.group(4))
        statuses[code // 100 * 100] += 1
        if code >= 500:
            five.append(line)
    checks.add("no 5xx (server access log)", not five,
               f"{sum(statuses.values())} requests: " + ", ".join(f"{k // 100}xx {v}" for k, v in sorted(statuses.items()))
               + (f"; first 5xx: {five[0]}" if five else ""))
    stats = stack.work / "locust_stats.csv"
    failures = stack.work / "locust_failures.csv"
    total = fails = 0
    if stats.exists():
        for row in csv.DictReader(stats.open()):
            if row["Name"] == "Aggregated":
                total, fails = int(row["Request Count"]), int(row["Failure Count"])
                say(f"  locust: {total} requests, {fails} failures, median {row['Median Response Time']} ms, "
                    f"p95 {row['95%']} ms, p99 {row['99%']} ms, {float(row['Requests/s']):.1f} req/s")
    kinds = []
    if failures.exists():
        kinds = [(r["Method"], r["Name"], r["Error"], r["Occurrences"]) for r in csv.DictReader(failures.open())]
    # A request in flight on the killed web worker is cut (a reset connection; behind nginx a 502): at most one
    # per thread of that worker (one for a sync worker). Anything else a client saw as a failure is a defect.
    def is_cut(error: str) -> bool:
        return any(w in error for w in ("connection cut", "Connection", "RemoteDisconnected"))

    cut = sum(int(n) for _m, _n, err, n in kinds if is_cut(err))
    other = [k for k in kinds if not is_cut(k[2])]
    threads = gunicorn_settings()["threads"]
    checks.add("clients saw no failure but connections cut by the web worker's kill", not other and cut <= threads,
               f"{cut} cut connection(s) (at most {threads} allowed)"
               + (f"; other failures: {other[:5]}" if other else ""))


def check_limits(stack: Stack, checks: Checks, public: Counter, address: str, logins: dict) -> None:
    pids = workers_seen(stack.work / "access.log", address)
    checks.add("public limit holds across workers", public[200] == PUBLIC_LIMIT and public[429] == 5,
               f"{PUBLIC_LIMIT + 5} requests from {address}: {dict(public)} (limit {PUBLIC_LIMIT}/min), "
               f"served by {len(pids)} workers {sorted(pids)}")
    by_address, by_account = logins["by_address"], logins["by_account"]
    pids = workers_seen(stack.work / "access.log", logins["address"])
    checks.add("login throttle per address holds across workers",
               by_address[:LOGIN_LIMIT] == [200] * LOGIN_LIMIT and by_address[LOGIN_LIMIT] == 429,
               f"statuses {by_address} (limit {LOGIN_LIMIT}/min), served by {len(pids)} workers")
    checks.add("login throttle per account holds across workers",
               by_account[:LOGIN_LIMIT] == [200] * LOGIN_LIMIT and by_account[LOGIN_LIMIT] == 429,
               f"statuses {by_account}: failures from {LOGIN_LIMIT} addresses, then the right password is refused")


def check_jobs(stack: Stack, checks: Checks) -> None:
    engine = create_engine(stack.url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT job_name, scheduled_for, runner, outcome FROM job_runs "
                                 "WHERE trigger = 'schedule' ORDER BY job_name, scheduled_for")).all()
    engine.dispose()
    per_fire = Counter((r[0], r[1]) for r in rows)
    doubles = [k for k, n in per_fire.items() if n > 1]
    by_job = defaultdict(list)
    for name, fire, _runner, _outcome in rows:
        by_job[name].append(fire)
    beats = sorted(set(by_job.get("prodcheck_heartbeat", [])))
    gaps = [(a, b) for a, b in zip(beats, beats[1:]) if (b - a).total_seconds() != 5]
    runners = Counter(r[2].rsplit(":", 1)[0] for r in rows)
    detail = ", ".join(f"{name} {len(fires)} run(s)" for name, fires in sorted(by_job.items()))
    checks.add("every scheduled job ran once per fire time (job_runs)", bool(beats) and not doubles,
               f"{detail}; fire times run twice: {len(doubles)}; heartbeat fire times missed: {len(gaps)}; "
               f"runs by process: {dict(runners)}")


def check_imports(stack: Stack, checks: Checks, out: Path, queue: bool, killed_queue, settle_left) -> None:
    everything = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []
    lines = [x for x in everything if "batch" in x]
    reports = Counter(x["status"] for x in everything if "report" in x)
    engine = create_engine(stack.url)
    with engine.connect() as conn:
        status = dict(conn.execute(text("SELECT id, status FROM import_batches")).all())
        serials = Counter()
        for line in lines:
            n = conn.scalar(text("SELECT count(*) FROM instruments WHERE serial_no LIKE :p"),
                            {"p": line["prefix"] + "-%"})
            serials[line["prefix"]] = n
        doubles = conn.execute(text("SELECT serial_no, count(*) FROM instruments WHERE serial_no LIKE 'PC%' "
                                    "GROUP BY serial_no HAVING count(*) > 1")).all()
    engine.dispose()
    outcomes = Counter(status.get(x["batch"], "?") for x in lines)
    wrong = []
    for x in lines:
        final = status.get(x["batch"])
        expect = x["rows"] if final == "applied" else 0
        if serials[x["prefix"]] != expect:
            wrong.append((x["batch"], final, serials[x["prefix"]], expect))
    unreported = sorted(set(status) - {x["batch"] for x in lines})
    checks.add("monthly report builds answered", bool(reports) and set(reports) <= {302, 303},
               f"statuses of the builds: {dict(reports)}")
    checks.add("every import applied once (all rows, no row twice) or not at all",
               bool(lines) and not wrong and not doubles and not settle_left,
               f"{len(lines)} batches seen by the importers: {dict(outcomes)}; "
               f"instruments not matching the outcome: {wrong[:5] or 'none'}; serials twice: {len(doubles)}; "
               f"still busy after settling: {settle_left or 'none'}; batches cut off by the end of the run: "
               f"{[(b, status[b]) for b in unreported] or 'none'}")
    if not queue:
        checks.add("a queue worker killed mid-run loses nothing", None,
                   "skipped: this checkout has no `flask tasks worker` (imports ran in the web workers)")
        return
    at, in_flight, tasks_in_flight, victim = killed_queue
    later = [x for x in lines if x.get("finished", 0) > at and status.get(x["batch"]) == "applied"]
    fates = {f"batch {b}": status.get(b) for b, _s in in_flight}
    engine = create_engine(stack.url)
    with engine.connect() as conn:
        tasks = conn.execute(text("SELECT id, kind, state, attempts, finished_at FROM background_tasks")).all()
    engine.dispose()
    by_id = {t.id: t for t in tasks}
    fates.update({f"task {t}": f"{by_id[t].state} after {by_id[t].attempts} attempt(s)" for t, _s in tasks_in_flight})
    after_kill = sum(1 for t in tasks if t.state == "done" and t.finished_at and t.finished_at.timestamp() > at)
    task_states = Counter(f"{t.kind} {t.state}" for t in tasks)
    stuck = [(t.id, t.state, t.attempts) for t in tasks if t.state not in ("done", "failed")]
    checks.add("every background task done (or failed with a message), none lost or stuck",
               bool(tasks) and not stuck,
               f"{dict(task_states)}; done after the queue worker's kill: {after_kill}; still queued or running "
               f"240 s after the load (id, state, attempts): {stuck or 'none'}")
    # What the queue workers took (Huey logs "Executing <task>" for each): before the queue carries imports,
    # the web workers run them and the queue workers are idle.
    executed = {name: sum("Executing " in line for line in (stack.work / f"{name}.log").read_text(
        errors="replace").splitlines()) for name in ("worker1", "worker2")}
    if not sum(executed.values()) and not tasks:
        checks.add("a queue worker killed mid-run loses nothing", None,
                   "skipped: the queue workers took no task (this checkout runs imports and reports in the web "
                   f"workers), so the kill tested nothing; batches in flight at the kill ended as {fates or 'none'}")
        return
    finished = ("applied", "failed", "preview", "done")
    checks.add("a queue worker killed mid-run loses nothing",
               (bool(later) or after_kill > 0) and all(str(f).split(" ")[0] in finished for f in fates.values()),
               f"killed {victim}; in flight at the kill, now: {fates or 'nothing in flight'}; after the kill "
               f"{len(later)} imports applied and {after_kill} tasks done; Huey tasks executed per worker: {executed}")


def main(argv=None) -> int:
    """Run the check; 0 when every check passed."""
    args = parse_args(argv)
    stack = Stack(args)
    checks = Checks()

    def _stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _stop)
    try:
        run(stack, checks)
    except KeyboardInterrupt:
        say("\ninterrupted")
        checks.add("run", False, "interrupted before the end")
    except SystemExit as err:
        checks.add("run", False, str(err))
    except Exception as err:  # noqa: BLE001  reported, then cleaned up like any other end
        import traceback

        traceback.print_exc()
        checks.add("run", False, f"{type(err).__name__}: {err}")
    finally:
        stack.cleanup()
    say("\nSummary")
    width = max(len(n) for n, _v, _d in checks.rows) if checks.rows else 10
    for name, verdict, _detail in checks.rows:
        say(f"  {verdict:<8} {name:<{width}}")
    say("\nprod-check " + ("PASSED" if checks.passed else "FAILED"))
    return 0 if checks.passed else 1


if __name__ == "__main__":
    sys.exit(main())
