"""Two app servers (two gunicorn masters with deploy/gunicorn.conf.py, two workers each) on one database and one
Redis: the rate limits count once across them, a session is the same on both, and a write in any process drops
every worker's page snapshots.

Real processes, not two apps in this process: the limiter is one module-level instance, so two apps built here
would share whatever storage the last one bound, and the test could not fail with per-process memory storage.
Each server runs the production configuration (APP_ENV=production: an explicit SECRET_KEY, CSRF on) behind a
pretend proxy (TRUSTED_PROXIES=1): every test sends its own X-Forwarded-For address, so its counts are its own.
Redis: TEST_REDIS_URL (default db 5); only keys under this run's prefix are deleted afterwards.
"""
from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from app.accounts.models import Role
from deploy import gunicorn_settings
from tests.processes import stop_processes
from tests import factories
from tests.conftest import fresh_app

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
LOGIN_LIMIT = 3
PUBLIC_LIMIT = 4
WAIT_LIMIT = 90  # seconds for a server to answer: a bound for a stuck start, not a speed requirement
TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
TOO_MANY_LOGINS = "登录失败次数过多"

# On PostgreSQL only the session test runs: the limits live in Redis and the start-up checks read no table, while
# a session is a user row read on every request. Each pair of servers costs seconds to start (CI's budget).
PREFIX = f"test-two-servers-{uuid.uuid4().hex[:12]}"
ON_POSTGRESQL = {"test_a_session_is_the_same_on_both_servers_and_a_logout_on_one_ends_it_on_the_other"}


def runs_on_postgresql(test: str, params: dict) -> bool:
    """Which of these tests also run on PostgreSQL (tests/conftest.py asks)."""
    return test in ON_POSTGRESQL


def _redis():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as err:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL}: {err}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    return client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(env: dict, port: int, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "wb")
    return subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "wsgi:app"],
                            cwd=ROOT, env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _wait_ready(base: str, proc: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + WAIT_LIMIT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server {base} exited: {log_path.read_text(errors='replace')[-3000:]}")
        try:
            if requests.get(base + "/login", timeout=10).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or its workers still starting
            pass
        time.sleep(0.2)
    pytest.fail(f"server {base} did not answer: {log_path.read_text(errors='replace')[-3000:]}")


def server_env(database_url: str, tmp: Path, **extra) -> dict:
    """A production server's environment, with its files under the test's folder."""
    return {**os.environ, "APP_ENV": "production", "SECRET_KEY": secrets.token_hex(32), "SESSION_COOKIE_SECURE": "0",
            "DATABASE_URL": database_url, "TRUSTED_PROXIES": "1", "PYTHONPATH": str(ROOT),
            "LOGIN_FAILURE_LIMIT": f"{LOGIN_LIMIT} per minute", "PUBLIC_RATE_LIMIT": f"{PUBLIC_LIMIT} per minute",
            "TASK_QUEUE_URL": f"sqlite:///{tmp / 'tasks.db'}", "IMPORT_STORAGE": str(tmp / "imports"),
            "EVIDENCE_STORAGE": str(tmp / "evidence"), "INTEGRITY_STORAGE": str(tmp / "integrity"),
            "TASK_STORAGE": str(tmp / "tasks"),
            "WEB_CONCURRENCY": "2", "GUNICORN_ACCESS_LOG": str(tmp / "access.log"),
            **extra}


@pytest.fixture(scope="module")
def servers(database_url, tmp_path_factory):
    """Two servers (A and B) sharing the database, the signing key and one Redis limiter storage."""
    redis_client = _redis()
    prefix = PREFIX
    app = fresh_app(database_url)
    database = app.extensions["database"]
    with database.session_scope() as s:
        factories.user(s, "super1", Role.SUPERVISOR)
        factories.user(s, "guessed1", Role.SUPERVISOR)  # the per-account throttle's target, locked for a minute
    database.dispose()
    tmp = tmp_path_factory.mktemp("two-servers")
    env = server_env(database_url, tmp, RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=prefix)
    procs, bases = [], []
    try:
        for name in ("a", "b"):
            port = _free_port()
            procs.append(_start(env, port, tmp / f"server-{name}.log"))
            bases.append(f"http://127.0.0.1:{port}")
        for base, proc, name in zip(bases, procs, ("a", "b")):
            _wait_ready(base, proc, tmp / f"server-{name}.log")
        yield bases
    finally:
        stop_processes(procs)
        keys = list(redis_client.scan_iter(match=f"*{prefix}*"))
        if keys:
            redis_client.delete(*keys)


class Browser:
    """One client (one address, one cookie jar) that may send each request to either server."""

    def __init__(self, address: str) -> None:
        self.http = requests.Session()
        self.http.headers.update({"X-Forwarded-For": address, "User-Agent": "two-servers-test"})

    def get(self, base: str, path: str) -> requests.Response:
        return self.http.get(base + path, allow_redirects=False, timeout=30)

    def post_form(self, base: str, path: str, form_page: str, data: dict) -> requests.Response:
        """POST with the CSRF token of the form page (fetched from the same server)."""
        page = self.get(base, form_page)
        match = TOKEN_RE.search(page.text)
        assert match, page.text[:1000]
        return self.http.post(base + path, data={**data, "csrf_token": match.group(1) or match.group(2)},
                              allow_redirects=False, timeout=30)

    def login(self, base: str, username: str, password: str) -> requests.Response:
        return self.post_form(base, "/login", "/login", {"username": username, "password": password})


def _address() -> str:
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


def test_the_login_throttle_per_account_counts_across_servers(servers):
    a, b = servers
    browser = Browser(_address())
    # Failures alternate between the servers; each server alone has seen fewer than the limit.
    for i in range(LOGIN_LIMIT):
        resp = browser.login((a, b)[i % 2], "guessed1", "wrong-password")
        assert resp.status_code == 200, resp.status_code
    # The account is now throttled on both, even with the right password and from another address.
    for base in (a, b):
        other = Browser(_address())
        resp = other.login(base, "guessed1", factories.PASSWORD)
        assert resp.status_code == 429 and TOO_MANY_LOGINS in resp.text


def test_the_login_throttle_per_address_counts_across_servers(servers):
    a, b = servers
    browser = Browser(_address())
    for i in range(LOGIN_LIMIT):
        assert browser.login((a, b)[i % 2], f"nobody{i}-{uuid.uuid4().hex[:6]}", "x").status_code == 200
    for base in (a, b):
        resp = browser.login(base, f"someone-{uuid.uuid4().hex[:6]}", "x")
        assert resp.status_code == 429 and TOO_MANY_LOGINS in resp.text


def test_the_public_limit_counts_across_servers(servers):
    a, b = servers
    browser = Browser(_address())
    for i in range(PUBLIC_LIMIT):
        assert browser.get((a, b)[i % 2], "/public/").status_code == 200
    for base in (a, b):
        resp = browser.get(base, "/public/")
        assert resp.status_code == 429 and "查询过于频繁" in resp.text
    # Another address still has its whole budget.
    assert Browser(_address()).get(b, "/public/").status_code == 200


def test_each_answer_closes_its_connection_so_any_free_process_takes_the_next_request(servers):
    """Sync workers: a kept-alive connection would queue its next request behind the one process that accepted it
    while others sit idle; closed after each answer, the next request waits in the queue every process reads."""
    for base in servers:
        resp = requests.get(base + "/login", timeout=30)
        assert resp.status_code == 200
        assert resp.headers.get("Connection", "").lower() == "close"


def test_threads_are_set_for_gthread_workers_only(monkeypatch):
    """gunicorn silently turns a sync worker given several threads into gthread: the deploy file gives sync one."""
    monkeypatch.delenv("GUNICORN_WORKER_CLASS", raising=False)
    conf = gunicorn_settings({"GUNICORN_THREADS": "8"})
    assert (conf["worker_class"], conf["threads"]) == ("sync", 1)
    conf = gunicorn_settings({"GUNICORN_THREADS": "8", "GUNICORN_WORKER_CLASS": "gthread"})
    assert (conf["worker_class"], conf["threads"]) == ("gthread", 8)


def test_a_session_is_the_same_on_both_servers_and_a_logout_on_one_ends_it_on_the_other(servers):
    a, b = servers
    browser = Browser(_address())
    assert browser.login(a, "super1", factories.PASSWORD).status_code == 302
    on_b = browser.get(b, "/")
    assert on_b.status_code == 200 and "super1" in on_b.text
    cookie = browser.http.cookies.get("session")
    assert cookie
    # Log out on B, then send the cookie held before the logout to A: the session is over there too.
    assert browser.post_form(b, "/logout", "/", {}).status_code == 302
    replay = Browser(browser.http.headers["X-Forwarded-For"])
    replay.http.cookies.set("session", cookie)
    resp = replay.get(a, "/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_production_refuses_per_process_limits_with_several_workers(database_url, tmp_path):
    env = server_env(database_url, tmp_path, RATELIMIT_STORAGE_URI="memory://", WEB_CONCURRENCY="2")
    log = tmp_path / "refused.log"
    proc = _start(env, _free_port(), log)
    try:
        assert proc.wait(timeout=WAIT_LIMIT) != 0
    finally:
        stop_processes([proc])
    text = log.read_text()
    assert "refusing to start" in text and "RATELIMIT_STORAGE_URI" in text


def test_one_worker_with_memory_limits_starts(database_url, tmp_path):
    """One process is one count: memory storage is right there, so production starts."""
    env = server_env(database_url, tmp_path, RATELIMIT_STORAGE_URI="memory://", WEB_CONCURRENCY="1")
    port = _free_port()
    log = tmp_path / "one.log"
    proc = _start(env, port, log)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", proc, log)
    finally:
        stop_processes([proc])
    assert "refusing" not in log.read_text()


def test_an_unreachable_limiter_storage_is_a_chinese_503(database_url, tmp_path):
    """Redis down: the pages it guards answer 503 in Chinese (nothing is let through unthrottled), never a 500."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]  # closed again before the server starts: nothing listens there
    env = server_env(database_url, tmp_path, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{dead}/0", WEB_CONCURRENCY="1")
    port = _free_port()
    log = tmp_path / "dead-redis.log"
    proc = _start(env, port, log)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", proc, log)
        resp = Browser(_address()).get(f"http://127.0.0.1:{port}", "/public/")
        assert resp.status_code == 503 and "服务暂时不可用" in resp.text
        resp = Browser(_address()).login(f"http://127.0.0.1:{port}", "nobody", "x")
        assert resp.status_code == 503 and "服务暂时不可用" in resp.text
    finally:
        stop_processes([proc])


def test_a_write_in_another_process_drops_every_workers_snapshot_at_once(servers, database_url):
    from app import create_app
    from app.counts import snapshots
    from config import TestConfig

    a, _ = servers
    browser = Browser(_address())
    assert browser.login(a, "super1", factories.PASSWORD).status_code == 302

    def totals() -> set[int]:
        # Enough requests to reach both workers of server A: each keeps its own snapshot of the dashboard.
        found = set()
        for _ in range(8):
            page = browser.get(a, "/").text
            assert 'id="counted-at"' in page  # every station: the figures are a snapshot
            found.add(int(re.search(r'<td>合计</td><td class="text-end">(\d+)</td>', page).group(1)))
        return found

    before = totals()
    assert len(before) == 1
    # This test's process is "another process": it writes through the app with the servers' Redis and prefix,
    # and its commit increments the shared counter.
    writer = create_app(TestConfig, DATABASE_URL=database_url, RATELIMIT_STORAGE_URI=REDIS_URL,
                        RATELIMIT_KEY_PREFIX=PREFIX)
    try:
        with writer.extensions["database"].session_scope() as s:
            station = factories.station(s, "SNAP")
            factories.instrument(s, factories.merchant(s, station, "快照测试商户"), serial="SNAP-1")
        assert totals() == {before.pop() + 1}
    finally:
        writer.extensions["database"].dispose()
        snapshots.configure(None)
