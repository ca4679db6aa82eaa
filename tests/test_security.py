"""Login, logout, failed-login throttling, cookies, CSRF, redirects, error pages and production settings."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import func, select

from app import create_app
from app.accounts.models import Role
from app.errors import ERROR_TITLES
from app.extensions import limiter
from app.merchants.models import Merchant
from app.secret_key import SecretKeyError, load_or_create_secret_key
from config import DevelopmentConfig, ProductionConfig, TestConfig
from tests import factories
from tests.conftest import login

ROOT = Path(__file__).resolve().parent.parent
WRONG_LOGIN = "用户名或密码错误"
TOO_MANY = "登录失败次数过多"


@pytest.fixture(autouse=True)
def fresh_limits(request):
    """Failed-login counters start empty and the limit is the documented one, whatever ran before.

    The limiter is one module-level instance (app/extensions.py); every create_app() gives it a new
    in-memory storage, and reset() empties the current one, so no test depends on another's failures.
    (Only for tests that use the app fixture: the others need no database.)
    """
    if "app" in request.fixturenames:
        app = request.getfixturevalue("app")
        app.config["LOGIN_FAILURE_LIMIT"] = "5 per minute"
        with app.app_context():
            limiter.reset()


def body(resp) -> str:
    return resp.get_data(as_text=True)


def post_login(client, username: str, password: str, addr: str = "127.0.0.1", **extra):
    return client.post("/login", data={"username": username, "password": password, **extra},
                       environ_base={"REMOTE_ADDR": addr})


def logged_in(client) -> bool:
    """True when the client's session is logged in (the dashboard opens instead of redirecting)."""
    return client.get("/").status_code == 200


def assert_chinese_error(resp, code: int, message: str | None = None) -> None:
    text = body(resp)
    assert resp.status_code == code, (resp.status_code, text[:800])
    assert 'lang="zh-CN"' in text and ERROR_TITLES[code] in text, text[:800]
    if message:
        assert message in text, text[:800]
    assert "Traceback" not in text and "Werkzeug" not in text


def make_users(session, *names: str, role: Role = Role.SUPERVISOR) -> None:
    for name in names:
        factories.user(session, name, role)
    session.commit()


# --- login and logout ----------------------------------------------------------------------------

def test_login_and_logout(client, world):
    assert not logged_in(client)
    resp = login(client, "insp_a")
    assert urlsplit(resp.headers["Location"]).path == "/"
    page = client.get("/")
    assert page.status_code == 200 and "insp_a" in body(page)

    assert client.get("/logout").status_code == 405  # logging out changes state: POST only
    assert logged_in(client)
    resp = client.post("/logout")
    assert resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == "/login"
    assert "您已退出登录" in body(client.get("/login"))
    assert not logged_in(client)


def test_logout_also_forgets_the_remember_me_cookie(client, world):
    resp = post_login(client, "insp_a", factories.PASSWORD, remember="y")
    assert "remember_token=" in " ".join(resp.headers.getlist("Set-Cookie"))
    client.post("/logout")
    assert not logged_in(client)


def test_login_returns_to_the_page_asked_for(client, world):
    resp = client.get(f"/merchants/{world.merchant_a.id}")
    assert resp.status_code == 302
    login_url = resp.headers["Location"]
    assert urlsplit(login_url).path == "/login"
    page = client.get(login_url)
    assert "请先登录" in body(page)
    resp = client.post(login_url, data={"username": "insp_a", "password": factories.PASSWORD})
    assert resp.status_code == 302
    assert urlsplit(resp.headers["Location"]).path == f"/merchants/{world.merchant_a.id}"


def test_wrong_password_shows_a_chinese_message(client, world):
    resp = post_login(client, "insp_a", "wrong-password")
    assert resp.status_code == 200
    assert WRONG_LOGIN in body(resp)
    assert not logged_in(client)


def test_unknown_user_gets_the_same_message(client, world):
    resp = post_login(client, "nobody_here", factories.PASSWORD)
    assert resp.status_code == 200 and WRONG_LOGIN in body(resp)
    assert not logged_in(client)


def test_empty_login_form_says_what_is_missing(client, world):
    resp = client.post("/login", data={})
    assert resp.status_code == 200
    assert "请填写用户名" in body(resp) and "请填写密码" in body(resp)


def test_disabled_user_cannot_log_in(client, session, world):
    world.inspector_b.is_active = False
    session.commit()
    resp = post_login(client, "insp_b", factories.PASSWORD)
    assert resp.status_code == 200 and WRONG_LOGIN in body(resp)
    assert not logged_in(client)


def test_disabling_a_user_ends_their_session(client, session, world):
    login(client, "insp_b")
    assert logged_in(client)
    world.inspector_b.is_active = False
    session.commit()
    assert not logged_in(client)


def test_username_is_not_case_sensitive(client, world):
    resp = post_login(client, "INSP_A", factories.PASSWORD)
    assert resp.status_code == 302
    assert logged_in(client)


# --- failed logins are slowed down ---------------------------------------------------------------

def test_five_failures_for_one_account_block_the_sixth_attempt(client, session, world):
    make_users(session, "rl_account")
    # From five different addresses, so only the per-account counter can be the one that trips.
    for i in range(5):
        resp = post_login(client, "rl_account", "wrong-password", addr=f"10.1.0.{i + 1}")
        assert resp.status_code == 200 and WRONG_LOGIN in body(resp), i
    resp = post_login(client, "rl_account", factories.PASSWORD, addr="10.1.0.99")  # the right password
    assert_chinese_error(resp, 429, TOO_MANY)
    assert not logged_in(client)
    # Also with different letter case or surrounding spaces: it is the same account.
    assert_chinese_error(post_login(client, " RL_Account ", factories.PASSWORD, addr="10.1.0.98"), 429)
    # Another account from a fresh address is not affected, and the login page still opens.
    assert client.get("/login").status_code == 200
    assert post_login(client, "insp_a", factories.PASSWORD, addr="10.1.0.100").status_code == 302


def test_the_account_limit_cannot_be_dodged_by_spelling_the_name_differently(client, session, world):
    """Login folds full-width letters and case (NFKC), so the failure counter must count them as one account."""
    make_users(session, "rl_fold")
    spellings = ["rl_fold", "RL_FOLD", "ｒｌ＿ｆｏｌｄ", "ｒｌ_fold", "rl_ｆｏｌｄ"]
    for i, name in enumerate(spellings):
        resp = post_login(client, name, "wrong-password", addr=f"10.5.0.{i + 1}")
        assert resp.status_code == 200 and WRONG_LOGIN in body(resp), name
    assert post_login(client, "Ｒｌ_fold", "wrong-password", addr="10.5.0.9").status_code == 429
    resp = post_login(client, "ＲＬ＿ＦＯＬＤ", factories.PASSWORD, addr="10.5.0.10")
    assert_chinese_error(resp, 429, TOO_MANY)
    assert not logged_in(client)


def test_five_failures_from_one_address_block_that_address(client, session, world):
    make_users(session, "rl_addr_1", "rl_addr_2", "rl_addr_3", "rl_addr_4", "rl_addr_5", "rl_addr_6")
    for i in range(5):
        resp = post_login(client, f"rl_addr_{i + 1}", "wrong-password", addr="10.2.0.7")
        assert resp.status_code == 200 and WRONG_LOGIN in body(resp), i
    # A sixth account, never failed, with the right password, from the same address: refused.
    resp = post_login(client, "rl_addr_6", factories.PASSWORD, addr="10.2.0.7")
    assert_chinese_error(resp, 429, TOO_MANY)
    assert not logged_in(client)
    # The same account from another address logs in.
    assert post_login(client, "rl_addr_6", factories.PASSWORD, addr="10.2.0.8").status_code == 302


def test_successful_logins_are_not_counted(client, session, world):
    make_users(session, "rl_success")
    for _ in range(8):
        assert post_login(client, "rl_success", factories.PASSWORD, addr="10.3.0.1").status_code == 302
        assert client.post("/logout").status_code == 302
    # Four failures after eight successes: still under the limit, the right password works.
    for _ in range(4):
        assert post_login(client, "rl_success", "wrong-password", addr="10.3.0.1").status_code == 200
    assert post_login(client, "rl_success", factories.PASSWORD, addr="10.3.0.1").status_code == 302


def test_the_limit_applies_to_posts_only(client, session, world):
    make_users(session, "rl_get")
    for _ in range(5):
        post_login(client, "rl_get", "wrong-password", addr="10.4.0.1")
    for _ in range(10):
        assert client.get("/login", environ_base={"REMOTE_ADDR": "10.4.0.1"}).status_code == 200


# --- cookies -------------------------------------------------------------------------------------

def cookie_header(resp, name: str) -> str:
    headers = [h for h in resp.headers.getlist("Set-Cookie") if h.startswith(name + "=")]
    assert headers, resp.headers.getlist("Set-Cookie")
    return headers[-1]


def test_session_cookie_is_httponly_and_samesite_lax(client, world):
    resp = post_login(client, "insp_a", factories.PASSWORD)
    assert resp.status_code == 302
    header = cookie_header(resp, "session")
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header


def test_remember_cookie_is_httponly_and_samesite_lax(client, world):
    resp = post_login(client, "insp_a", factories.PASSWORD, remember="y")
    assert resp.status_code == 302
    header = cookie_header(resp, "remember_token")
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header


# --- CSRF ----------------------------------------------------------------------------------------

TOKEN_RE = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"|<input[^>]*value="([^"]+)"[^>]*name="csrf_token"')


def token_of(resp) -> str:
    match = TOKEN_RE.search(body(resp))
    assert match, body(resp)[:1500]
    return match.group(1) or match.group(2)


@pytest.fixture()
def csrf_app(database_url, world):
    application = create_app(TestConfig, DATABASE_URL=database_url, WTF_CSRF_ENABLED=True)
    yield application
    application.extensions["database"].dispose()


def merchant_count(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Merchant))


def test_csrf_is_enforced_when_enabled(csrf_app, session, world):
    client = csrf_app.test_client()
    # Login without the token: refused with a Chinese page, not logged in.
    resp = client.post("/login", data={"username": "insp_a", "password": factories.PASSWORD})
    assert_chinese_error(resp, 400, "页面已过期或表单校验失败")
    assert not logged_in(client)
    # With the token from the login page it works.
    token = token_of(client.get("/login"))
    resp = client.post("/login", data={"username": "insp_a", "password": factories.PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    assert logged_in(client)

    # A ledger write without the token is refused and saves nothing.
    form = {"name": "跨站请求伪造的摊位", "industry": "market_vendor", "station_id": str(world.station_a.id),
            "parent_id": ""}
    before = merchant_count(session)
    assert_chinese_error(client.post("/merchants/new", data=form), 400)
    assert_chinese_error(client.post("/merchants/new", data={**form, "csrf_token": "forged"}), 400)
    assert merchant_count(session) == before
    # The same form with the page's token is saved.
    token = token_of(client.get("/merchants/new"))
    resp = client.post("/merchants/new", data={**form, "csrf_token": token})
    assert resp.status_code == 302, body(resp)[:1500]
    assert merchant_count(session) == before + 1

    # Logging out without the token is refused too (a forged page cannot log the user out).
    assert_chinese_error(client.post("/logout"), 400)
    assert logged_in(client)
    token = token_of(client.get("/"))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert not logged_in(client)


def test_csrf_token_of_another_session_is_refused(csrf_app, world):
    stranger = csrf_app.test_client()
    foreign_token = token_of(stranger.get("/login"))
    client = csrf_app.test_client()
    client.get("/login")
    resp = client.post("/login", data={"username": "insp_a", "password": factories.PASSWORD,
                                       "csrf_token": foreign_token})
    assert_chinese_error(resp, 400)
    assert not logged_in(client)


# --- the next parameter --------------------------------------------------------------------------

def browser_destination(location: str, base: str = "http://localhost/login") -> tuple[str, str]:
    """Where a browser goes for a Location header (WHATWG parsing: tabs and newlines are removed and a
    backslash counts as a slash in http(s) URLs). Returns (host, path)."""
    cleaned = re.sub(r"[\t\r\n]", "", location).replace("\\", "/")
    parts = urlsplit(urljoin(base, cleaned))
    return parts.netloc, parts.path


@pytest.mark.parametrize("target", [
    "https://evil.example/phish",
    "http://evil.example",
    "//evil.example/phish",
    "///evil.example/phish",
    "/\\evil.example/phish",
    "\\\\evil.example/phish",
    "/\t/evil.example/phish",
    "/\n/evil.example/phish",
    "javascript:alert(1)",
    "evil.example",
])
def test_next_cannot_leave_the_site(client, world, target):
    resp = client.post("/login", query_string={"next": target},
                       data={"username": "insp_a", "password": factories.PASSWORD})
    assert resp.status_code == 302, body(resp)[:800]
    host, _path = browser_destination(resp.headers["Location"])
    assert host in ("", "localhost"), (target, resp.headers["Location"])
    assert logged_in(client)


@pytest.mark.parametrize("target", ["/merchants/", "/instruments/?status=in_use"])
def test_next_within_the_site_is_followed(client, world, target):
    resp = client.post("/login", query_string={"next": target},
                       data={"username": "insp_a", "password": factories.PASSWORD})
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    assert location.netloc in ("", "localhost")
    assert location.path + (f"?{location.query}" if location.query else "") == target


# --- error pages ---------------------------------------------------------------------------------

def test_404_page_is_chinese(client, world):
    assert_chinese_error(client.get("/no-such-page"), 404, "您要找的页面或记录不存在")
    login(client, "insp_a")
    assert_chinese_error(client.get("/no-such-page"), 404)
    assert_chinese_error(client.get("/merchants/999999"), 404)


def test_403_and_405_pages_are_chinese(client, world):
    login(client, "insp_a")
    assert_chinese_error(client.get("/admin/users"), 403, "您没有执行该操作的权限")
    assert_chinese_error(client.delete("/merchants/"), 405)


@pytest.mark.parametrize("testing", [True, False], ids=["testing", "production-like"])
def test_unexpected_exception_gives_a_chinese_500_without_details(database_url, world, caplog, testing):
    application = create_app(TestConfig, DATABASE_URL=database_url, TESTING=testing)

    def explode():
        raise RuntimeError("internal detail: password_hash=abc")

    application.add_url_rule("/__explode", "explode", explode)  # before the app's first request
    try:
        client = application.test_client()
        resp = client.get("/__explode")
        assert_chinese_error(resp, 500, "系统出现错误，已记录")
        text = body(resp)
        assert "RuntimeError" not in text and "internal detail" not in text and "password_hash" not in text
        assert "unhandled error on /__explode" in caplog.text  # logged for the admin, not shown
        # The app keeps serving after the error.
        assert client.get("/login").status_code == 200
    finally:
        application.extensions["database"].dispose()


def test_unexpected_exception_for_a_logged_in_user(database_url, world):
    application = create_app(TestConfig, DATABASE_URL=database_url)

    def explode():
        raise KeyError("station_id")

    application.add_url_rule("/__explode_staff", "explode_staff", explode)
    try:
        client = application.test_client()
        login(client, "insp_a")
        assert_chinese_error(client.get("/__explode_staff"), 500)
        assert logged_in(client)
    finally:
        application.extensions["database"].dispose()


# --- production settings -------------------------------------------------------------------------

# The key config.py carried until issue 11: published with the code, so anyone could sign cookies with it.
OLD_PUBLISHED_KEY = "dev-insecure-secret-key-change-me"


def test_production_refuses_a_missing_or_short_secret_key():
    # The check is on the settings the app really uses, overrides included.
    for key in ("", "a", "x" * 31, OLD_PUBLISHED_KEY):
        with pytest.raises(SecretKeyError, match="SECRET_KEY"):
            create_app(ProductionConfig, DATABASE_URL="sqlite://", SECRET_KEY=key)
    with pytest.raises(SecretKeyError, match="published"):
        create_app(DevelopmentConfig, DATABASE_URL="sqlite://", SECRET_KEY=OLD_PUBLISHED_KEY)
    application = create_app(ProductionConfig, DATABASE_URL="sqlite://", SECRET_KEY="x" * 32)
    assert application.config["SESSION_COOKIE_SECURE"] is True
    application.extensions["database"].dispose()


def test_a_short_explicit_key_refuses_to_start_in_development_too(tmp_path):
    for key in ("a", "短密钥" * 3):  # 27 bytes in UTF-8
        with pytest.raises(SecretKeyError, match="at least 32"):
            create_app(DevelopmentConfig, DATABASE_URL="sqlite://", SECRET_KEY=key,
                       SECRET_KEY_FILE=str(tmp_path / "secret_key"))
    assert not (tmp_path / "secret_key").exists()


def test_without_a_key_the_first_start_writes_a_private_random_key_and_later_starts_reuse_it(tmp_path):
    path = tmp_path / "instance" / "secret_key"
    keys = []
    for _ in range(2):
        application = create_app(DevelopmentConfig, DATABASE_URL="sqlite://", SECRET_KEY="",
                                 SECRET_KEY_FILE=str(path))
        keys.append(application.config["SECRET_KEY"])
        application.extensions["database"].dispose()
    assert keys[0] == keys[1] == path.read_text().strip()
    assert len(keys[0]) >= 64 and keys[0] != OLD_PUBLISHED_KEY
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temporary file left behind
    # Another instance gets a key of its own.
    assert load_or_create_secret_key(tmp_path / "other" / "secret_key") != keys[0]


def test_a_key_file_readable_by_others_is_made_private(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text("k" * 64)
    path.chmod(0o644)
    assert load_or_create_secret_key(path) == "k" * 64
    assert path.stat().st_mode & 0o777 == 0o600


def test_processes_starting_at_once_agree_on_the_key(tmp_path):
    """Many starts racing for a missing key file all end up with the one key that was written."""
    import threading

    for round_ in range(20):
        path = tmp_path / f"round{round_}" / "secret_key"
        barrier = threading.Barrier(8)
        keys: list[str] = []

        def start():
            barrier.wait()
            keys.append(load_or_create_secret_key(path))

        threads = [threading.Thread(target=start) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(keys) == 8 and set(keys) == {path.read_text().strip()}, round_


def forged_session(app, key: str, user_id: str) -> str:
    """A session cookie saying `user_id` is logged in, signed with `key` the way Flask signs sessions.

    It carries the test client's own session-protection id (a hash of its address and browser, which any
    attacker can compute for themselves), so only the key and the user id decide whether it is accepted."""
    from flask import Flask
    from flask_login.utils import _create_identifier

    with app.test_request_context(environ_base=app.test_client().environ_base):
        ident = _create_identifier()
    forger = Flask("forger")
    forger.secret_key = key
    return forger.session_interface.get_signing_serializer(forger).dumps(
        {"_user_id": user_id, "_fresh": True, "_id": ident})


def test_a_cookie_forged_with_the_old_published_key_is_rejected(database_url, world, tmp_path):
    """`make run` (APP_ENV unset, no SECRET_KEY) no longer signs with a key anyone can read in the code."""
    application = create_app(DevelopmentConfig, DATABASE_URL=database_url, SECRET_KEY="",
                             SECRET_KEY_FILE=str(tmp_path / "secret_key"))
    try:
        client = application.test_client()
        client.set_cookie("session", forged_session(application, OLD_PUBLISHED_KEY, world.admin.get_id()))
        resp = client.get("/admin/users")
        assert resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == "/login"
        # Control: the same cookie signed with the instance's own key opens the page.
        client.set_cookie("session", forged_session(application, application.secret_key, world.admin.get_id()))
        assert client.get("/admin/users").status_code == 200
    finally:
        application.extensions["database"].dispose()


def _start(app_env: str | None, secret: str | None, key_file: Path | None = None) -> subprocess.CompletedProcess:
    """Start the app in a fresh interpreter, the way wsgi.py does (env read at import)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SECRET_KEY", "SECRET_KEY_FILE", "APP_ENV", "SESSION_COOKIE_SECURE")}
    env["DATABASE_URL"] = "sqlite://"
    if app_env is not None:
        env["APP_ENV"] = app_env
    if secret is not None:
        env["SECRET_KEY"] = secret
    if key_file is not None:
        env["SECRET_KEY_FILE"] = str(key_file)
    code = ("from app import create_app\n"
            "app = create_app()\n"
            "print('KEY=' + app.config['SECRET_KEY'])\n"
            "print('SECURE=' + str(app.config.get('SESSION_COOKIE_SECURE')))\n")
    return subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_production_start_without_secret_key_fails():
    result = _start("production", None)
    assert result.returncode != 0
    assert "SecretKeyError" in result.stderr and "SECRET_KEY must be set" in result.stderr, result.stderr[-2000:]


def test_production_start_with_a_short_secret_key_fails():
    result = _start("production", "a")
    assert result.returncode != 0
    assert "SECRET_KEY is too short (1 bytes)" in result.stderr, result.stderr[-2000:]


def test_production_start_with_a_real_secret_key():
    result = _start("production", "a-long-random-production-secret-0123456789")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "KEY=a-long-random-production-secret-0123456789" in result.stdout
    assert "SECURE=True" in result.stdout


def test_a_start_like_make_run_generates_the_key_once(tmp_path):
    """APP_ENV unset and no SECRET_KEY, as `make run` starts: a generated key, the same on the next start."""
    key_file = tmp_path / "secret_key"
    first, second = _start(None, None, key_file), _start(None, None, key_file)
    assert first.returncode == 0 and second.returncode == 0, first.stderr[-2000:] + second.stderr[-2000:]
    key = re.search(r"KEY=(\S+)", first.stdout).group(1)
    assert f"KEY={key}" in second.stdout and key == key_file.read_text().strip() and key != OLD_PUBLISHED_KEY
