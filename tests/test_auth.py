"""Sessions end when they should, and passwords users can manage: replayed cookies after logout, password
change, admin reset and disable + re-enable; the 30-day remember-me; the forced change of an admin-set
password; the password policy wherever a password is set."""
from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.accounts.models import Role, User
from app.accounts.services import check_password_strength, generate_password
from app.errors import Invalid
from tests import factories
from tests.conftest import login
from tests.test_security import forged_session, fresh_limits  # noqa: F401 (autouse: empty failure counters)

ROOT = Path(__file__).resolve().parent.parent
NEW_PASSWORD = "my-own-passphrase-42"
CHANGE_PAGE = "/me/password"


def body(resp) -> str:
    return resp.get_data(as_text=True)


def location(resp) -> str:
    assert resp.status_code == 302, (resp.status_code, body(resp)[:800])
    return urlsplit(resp.headers["Location"]).path


def opens_dashboard(client) -> bool:
    return client.get("/").status_code == 200


def fresh_user(session, username: str, role: Role = Role.INSPECTOR, world=None) -> User:
    stations = [world.station_a] if role == Role.INSPECTOR else []
    user = factories.user(session, username, role, stations)
    session.commit()
    return user


def user_named(session, username: str) -> User:
    session.expire_all()
    return session.scalars(select(User).where(User.username == username)).one()


# --- copied cookies stop working ------------------------------------------------------------------

def cookies_of(app, username: str) -> tuple[str, str]:
    """Log in with 记住我 on a client of its own; its (session cookie, remember-me cookie) values."""
    client = app.test_client()
    resp = client.post("/login", data={"username": username, "password": factories.PASSWORD, "remember": "y"})
    assert resp.status_code == 302, body(resp)[:500]
    return client.get_cookie("session").value, client.get_cookie("remember_token").value


def replay(app, name: str, value: str) -> bool:
    """A new browser holding only this one cookie: is it logged in? (The password change page opens for
    every logged-in user, even one who must change their password first; others go to the login page.)"""
    client = app.test_client()
    client.set_cookie(name, value)
    resp = client.get(CHANGE_PAGE)
    assert resp.status_code == 200 or location(resp) == "/login", resp.status_code
    return resp.status_code == 200


def _logout(app, session, world, victim):
    client = app.test_client()
    login(client, victim.username)
    assert client.post("/logout").status_code == 302


def _change_own_password(app, session, world, victim):
    client = app.test_client()
    login(client, victim.username)
    resp = client.post(CHANGE_PAGE, data={"current_password": factories.PASSWORD, "new_password": NEW_PASSWORD,
                                          "confirm_password": NEW_PASSWORD})
    assert location(resp) == "/me/settings"
    assert opens_dashboard(client)  # the browser that changed the password stays logged in


def _admin_reset(app, session, world, victim):
    admin = app.test_client()
    login(admin, "admin1")
    resp = admin.post(f"/admin/users/{victim.id}/password", data={"password": NEW_PASSWORD})
    assert location(resp) == f"/admin/users/{victim.id}/edit"
    assert user_named(session, victim.username).must_change_password


def _edit_user(admin, session, victim, active: bool):
    user = user_named(session, victim.username)
    data = {"username": user.username, "display_name": user.display_name, "role": user.role.value,
            "station_ids": [str(s.id) for s in user.stations], "version": str(user.version)}
    if active:
        data["is_active"] = "y"
    assert location(admin.post(f"/admin/users/{user.id}/edit", data=data)) == "/admin/users"
    assert user_named(session, victim.username).is_active is active


def _disable_and_enable(app, session, world, victim):
    admin = app.test_client()
    login(admin, "admin1")
    _edit_user(admin, session, victim, active=False)
    _edit_user(admin, session, victim, active=True)


@pytest.mark.parametrize("event", [_logout, _change_own_password, _admin_reset, _disable_and_enable],
                         ids=["logout", "password-change", "admin-reset", "disable-and-re-enable"])
def test_copied_cookies_stop_working(app, session, world, event):
    victim = world.inspector_a
    session_cookie, remember_cookie = cookies_of(app, victim.username)
    # The copies open pages before the event: it is the event that ends them.
    assert replay(app, "session", session_cookie)
    assert replay(app, "remember_token", remember_cookie)
    event(app, session, world, victim)
    assert not replay(app, "session", session_cookie)
    assert not replay(app, "remember_token", remember_cookie)
    # Other users' sessions are untouched.
    other = app.test_client()
    login(other, "insp_b")
    assert opens_dashboard(other)


def test_logout_ends_the_users_sessions_on_every_device(app, world):
    phone, desk = app.test_client(), app.test_client()
    login(phone, "insp_a")
    login(desk, "insp_a")
    desk.post("/logout")
    assert not opens_dashboard(phone)
    login(phone, "insp_a")  # logging in again works
    assert opens_dashboard(phone)


def test_a_cookie_without_the_session_token_is_refused(app, session, world):
    """Cookies made before migration 0012 carry the bare user id: even signed with the app's own key, refused."""
    for user_id in (str(world.admin.id), f"{world.admin.id}:", f"{world.admin.id}:not-the-token"):
        assert not replay(app, "session", forged_session(app, app.secret_key, user_id)), user_id
    assert replay(app, "session", forged_session(app, app.secret_key, world.admin.get_id()))


def test_remember_me_lasts_30_days(app, world):
    client = app.test_client()
    resp = client.post("/login", data={"username": "insp_a", "password": factories.PASSWORD, "remember": "y"})
    header = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("remember_token="))
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", header).group(1))
    days = (expires - dt.datetime.now(dt.timezone.utc)).total_seconds() / 86400
    assert 29 < days <= 30, header


def test_remember_days_is_configurable():
    env = {**os.environ, "REMEMBER_DAYS": "7"}
    result = subprocess.run([sys.executable, "-c", "import config; print(config.Config.REMEMBER_COOKIE_DURATION.days)"],
                            cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "7"


# --- changing one's own password -----------------------------------------------------------------

def test_settings_page_links_to_the_password_change(client, world):
    login(client, "insp_a")
    assert f'href="{CHANGE_PAGE}"' in body(client.get("/me/settings"))


def test_change_own_password(app, client, session, world):
    login(client, "insp_a")
    resp = client.post(CHANGE_PAGE, data={"current_password": factories.PASSWORD, "new_password": NEW_PASSWORD,
                                          "confirm_password": NEW_PASSWORD})
    assert location(resp) == "/me/settings"
    assert "密码已修改" in body(client.get("/me/settings"))
    client.post("/logout")
    assert client.post("/login", data={"username": "insp_a", "password": factories.PASSWORD}).status_code == 200
    login(client, "insp_a", NEW_PASSWORD)


@pytest.mark.parametrize("form,message", [
    ({"current_password": "wrong-password", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
     "当前密码不正确"),
    ({"current_password": factories.PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD + "x"},
     "两次输入的新密码不一致"),
    ({"current_password": factories.PASSWORD, "new_password": factories.PASSWORD,
      "confirm_password": factories.PASSWORD}, "新密码不能与当前密码相同"),
    ({"current_password": factories.PASSWORD, "new_password": "password", "confirm_password": "password"},
     "密码至少需要10位"),
    ({"current_password": factories.PASSWORD, "new_password": "1234567890", "confirm_password": "1234567890"},
     "该密码过于常见"),
    ({}, "请填写当前密码"),
], ids=["wrong-current", "mismatch", "same", "short", "common", "empty"])
def test_a_refused_password_change_says_why_and_changes_nothing(client, session, world, form, message):
    before = user_named(session, "insp_a").password_hash
    login(client, "insp_a")
    resp = client.post(CHANGE_PAGE, data=form)
    assert resp.status_code == 200 and message in body(resp), body(resp)[:2000]
    assert user_named(session, "insp_a").password_hash == before
    assert opens_dashboard(client)


def test_guessing_the_current_password_is_throttled(app, client, world):
    login(client, "insp_a")
    wrong = {"current_password": "wrong-password", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    for _ in range(5):
        assert client.post(CHANGE_PAGE, data=wrong).status_code == 200
    resp = client.post(CHANGE_PAGE, data={**wrong, "current_password": factories.PASSWORD})
    assert resp.status_code == 429 and "当前密码输错次数过多" in body(resp)


# --- a password an admin chose must be changed first -----------------------------------------------

def assert_must_change(client) -> None:
    """Every page sends the user to the change page; logout and static files still work."""
    for path in ("/", "/merchants/", "/me/settings", "/admin/users", "/login"):
        assert location(client.get(path)) == CHANGE_PAGE, path
    assert location(client.post("/merchants/new", data={"name": "x"})) == CHANGE_PAGE
    assert client.get("/static/app.css").status_code == 200
    page = client.get(CHANGE_PAGE)
    assert page.status_code == 200 and "管理员设置的" in body(page)


def test_a_user_created_by_an_admin_changes_the_password_first(app, session, world):
    admin = app.test_client()
    login(admin, "admin1")
    resp = admin.post("/admin/users/new", data={"username": "new_insp", "display_name": "新检查员",
                                                "role": "inspector", "station_ids": [str(world.station_a.id)],
                                                "password": "given-by-admin-1"})
    assert location(resp) == "/admin/users"
    client = app.test_client()
    login(client, "new_insp", "given-by-admin-1")
    assert_must_change(client)
    resp = client.post(CHANGE_PAGE, data={"current_password": "given-by-admin-1", "new_password": NEW_PASSWORD,
                                          "confirm_password": NEW_PASSWORD})
    assert location(resp) == "/me/settings"
    assert opens_dashboard(client)
    assert not user_named(session, "new_insp").must_change_password


def test_after_an_admin_reset_the_user_changes_the_password_first(app, session, world):
    _admin_reset(app, session, world, world.inspector_a)
    client = app.test_client()
    login(client, "insp_a", NEW_PASSWORD)
    assert_must_change(client)
    assert location(client.post("/logout")) == "/login"  # logging out is allowed


def test_an_admin_resetting_their_own_password_stays_logged_in(app, session, world):
    admin = app.test_client()
    login(admin, "admin1")
    admin.post(f"/admin/users/{world.admin.id}/password", data={"password": NEW_PASSWORD})
    assert opens_dashboard(admin)
    assert not user_named(session, "admin1").must_change_password


def test_the_first_admin_from_setup_changes_the_generated_password_first(app, session):
    result = app.test_cli_runner().invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    password = re.search(r"密码：\s*(\S+)", result.output).group(1)
    check_password_strength(password, "admin")  # the generated password satisfies the policy
    assert "首次登录后须先修改此密码" in result.output
    client = app.test_client()
    login(client, "admin", password)
    assert_must_change(client)


def test_create_admin_applies_the_policy_and_forces_a_change(app, session):
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["users", "create-admin", "--username", "boss", "--password", "12345678"])
    assert weak.exit_code != 0 and "密码至少需要10位" in weak.output
    common = runner.invoke(args=["users", "create-admin", "--username", "boss", "--password", "qwertyuiop"])
    assert common.exit_code != 0 and "该密码过于常见" in common.output
    ok = runner.invoke(args=["users", "create-admin", "--username", "boss", "--password", "typed-at-setup-7"])
    assert ok.exit_code == 0, ok.output
    client = app.test_client()
    login(client, "boss", "typed-at-setup-7")
    assert_must_change(client)


# --- the password policy ---------------------------------------------------------------------------

@pytest.mark.parametrize("password,message", [
    ("12345678", "密码至少需要10位"),
    ("aaaaaaaa", "密码至少需要10位"),
    ("password", "密码至少需要10位"),
    ("aaaaaaaaaaaa", "同一个字符"),
    ("1234567890", "该密码过于常见"),
    ("Password123", "该密码过于常见"),
    ("qwertyuiop", "该密码过于常见"),
    ("Inspector_Long", "不能与用户名相同"),
    ("x" * 100 + "y" * 29, "密码不能超过128位"),
])
def test_password_policy(password, message):
    with pytest.raises(Invalid, match=message):
        check_password_strength(password, "inspector_long")


def test_generated_passwords_satisfy_the_policy():
    for _ in range(200):
        check_password_strength(generate_password(), "admin")


@pytest.mark.parametrize("password,message", [("12345678", "密码至少需要10位"), ("password123", "该密码过于常见"),
                                              ("new_insp_1", "不能与用户名相同")])
def test_the_policy_applies_where_admins_set_passwords(app, session, world, password, message):
    admin = app.test_client()
    login(admin, "admin1")
    resp = admin.post("/admin/users/new", data={"username": "new_insp_1", "display_name": "新检查员",
                                                "role": "inspector", "station_ids": [str(world.station_a.id)],
                                                "password": password})
    assert resp.status_code == 200 and message in body(resp)
    assert session.scalars(select(User).where(User.username == "new_insp_1")).first() is None

    # The same password as an admin's reset of insp_a (whose name is too short to be a 10-character password).
    if password == "new_insp_1":
        return
    before = user_named(session, "insp_a").password_hash
    resp = admin.post(f"/admin/users/{world.inspector_a.id}/password", data={"password": password})
    assert location(resp) == f"/admin/users/{world.inspector_a.id}/edit"
    assert message in body(admin.get(f"/admin/users/{world.inspector_a.id}/edit"))
    assert user_named(session, "insp_a").password_hash == before
