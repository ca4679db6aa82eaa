"""Nothing a user sends is answered with a 500: every route of the access matrix gets hostile query strings
and hostile forms (NUL and other control characters, numbers past any column's range, negative and
non-ASCII digits, LIKE wildcards) as anonymous and as each role, on both databases.

The app here propagates exceptions: a view that raises fails the test with its traceback, so the 500
handler cannot hide it. Rate limits are wide, so the walk is not answered 429 before it reaches a view.
One world (with every route's extra records) serves the whole walk, and each route meets NUL plus a
share of the other values, the personas taking turns, so the walk stays a few seconds per database.
"""
from __future__ import annotations

import io
from urllib.parse import parse_qsl, urlencode, urlparse

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.errors import ERROR_TITLES
from tests import factories
from tests.conftest import fresh_app, login
from tests.test_access import ADMIN, ANON, CASES, CJK, INSP_A, SUPER, Case, body, ids_of, path_of

# Anonymous and one user of each role.
WALKERS = (ANON, INSP_A, SUPER, ADMIN)
# Query parameters any list or form page might read, sent to every GET route besides its own.
COMMON_ARGS = ("q", "page", "station_id", "merchant_id", "type_id", "campaign_id", "days", "industry", "status",
               "kind", "sort", "period", "month", "show", "state", "size", "next", "entity_type", "action", "actor",
               "model_unit", "overdue", "unacknowledged", "from", "to")
NUL = "青溪\x00"
REFUSED = (NUL, "\x1b[31m红", "删除\x7f", "换行\x85")
HUGE = ("99999999999999999999", "-99999999999999999999", "2147483648")
ODD = ("-1", "x%_", "²", "２", "0", "2147483647", " ")
# Limits no walk reaches (the limiter stays on, as in production).
NO_LIMITS = {"PUBLIC_RATE_LIMIT": "100000 per minute", "LOGIN_FAILURE_LIMIT": "100000 per minute"}


def assert_answered(resp, what: str, *, refused: bool = False) -> None:
    """Never a 500; a 400 is the Chinese error page (JSON under the phone's API); a refused input is exactly
    that 400."""
    assert resp.status_code != 500, (what, body(resp)[:800])
    if refused:
        assert resp.status_code == 400, (what, resp.status_code, body(resp)[:800])
    if resp.status_code == 400 and resp.mimetype == "application/problem+json":  # the REST API: problem details
        assert resp.json["status"] == 400 and CJK.search(resp.json["detail"]), (what, resp.json)
    elif resp.status_code == 400 and resp.is_json:  # the phone's JSON API refuses in JSON, in Chinese
        assert resp.json["state"] == "refused" and CJK.search(resp.json["errors"][0]), (what, resp.json)
    elif resp.status_code == 400:
        text = body(resp)
        assert ERROR_TITLES[400] in text and 'lang="zh-CN"' in text and CJK.search(text), (what, text[:800])


def client_as(app, persona: str):
    """A test client logged in as the persona (anonymous: not logged in)."""
    client = app.test_client()
    if persona != ANON:
        login(client, persona)
    return client


def turns(index: int) -> list[tuple[str, str]]:
    """(persona, value) for the route at `index`: NUL, and one refused, one huge and two odd values in turn."""
    values = [NUL, REFUSED[1 + index % 3], HUGE[index % 3], ODD[2 * index % 7], ODD[(2 * index + 1) % 7]]
    return [(WALKERS[(index + j) % len(WALKERS)], value) for j, value in enumerate(values)]


@pytest.fixture(scope="module")
def walk(database_url):
    """(app, ids): an app that propagates exceptions, over one world with every route's extra records."""
    application = fresh_app(database_url, PROPAGATE_EXCEPTIONS=True, **NO_LIMITS)
    database = application.extensions["database"]
    session = database.session_factory()
    world = factories.build_world(session)
    session.commit()
    ids = ids_of(session, world, every_extra=True)
    accounts = {u.id: (u.username, u.password_hash, u.role, u.is_active) for u in session.scalars(select(User))}
    yield application, ids, session, accounts
    session.close()
    database.dispose()


def restore_accounts(session, accounts: dict) -> None:
    """Undo what a hostile but valid form did to the walkers' accounts (a new password, a new name)."""
    session.expire_all()
    for user in session.scalars(select(User)):
        if user.id in accounts:
            user.username, user.password_hash, user.role, user.is_active = accounts[user.id]
    session.commit()


def hostile_url(path: str, value: str) -> str:
    """The path with every parameter it has, and every common one, set to the value."""
    url = urlparse(path)
    names = dict.fromkeys([k for k, _ in parse_qsl(url.query)] + list(COMMON_ARGS))
    return url.path + "?" + urlencode({name: value for name in names})


def hostile_form(data: dict, change) -> dict:
    """The form with every text value changed (lists element by element); files are kept."""
    def one(value):
        return change(value) if isinstance(value, str) else value
    return {k: [one(v) for v in value] if isinstance(value, list) else one(value) for k, value in data.items()}


GET_CASES = [c for c in CASES if any(v != 405 for v in c.get.values())]
POST_CASES = [c for c in CASES if c.post is not None]


@pytest.mark.parametrize("index", range(len(GET_CASES)), ids=[c.id for c in GET_CASES])
def test_hostile_query_strings_never_500(index: int, walk):
    """GET on every route with hostile query strings: refused (400) or answered, never a 500."""
    app, ids, _, _ = walk
    path = path_of(GET_CASES[index], ids)
    for persona, value in turns(index):
        url = hostile_url(path, value)
        assert_answered(client_as(app, persona).get(url), f"GET {url!r} as {persona}", refused=value in REFUSED)


@pytest.mark.parametrize("index", range(len(POST_CASES)), ids=[c.id for c in POST_CASES])
def test_hostile_forms_never_500(index: int, walk):
    """POST on every route with hostile form values (and file names): refused (400) or answered, never a 500."""
    app, ids, session, accounts = walk
    case: Case = POST_CASES[index]
    path = path_of(case, ids)
    has_text = any(isinstance(v, (str, list)) and v for v in case.data(ids).values())
    try:
        for persona, value in turns(index):
            if value in REFUSED:  # appended to what a valid form holds, so only the control character is wrong
                data = hostile_form(case.data(ids), lambda v, bad=value: v + bad)
            else:
                data = hostile_form(case.data(ids), lambda v, odd=value: odd)
            resp = client_as(app, persona).post(path, data=data)
            assert_answered(resp, f"POST {path} {value!r} as {persona}", refused=value in REFUSED and has_text)
        files = {k for k, v in case.data(ids).items() if isinstance(v, tuple)}
        if files:
            data = {**case.data(ids), **{k: (io.BytesIO(b"x"), "照片\x00.png") for k in files}}
            assert_answered(client_as(app, ADMIN).post(path, data=data), f"POST {path} file name", refused=True)
    finally:
        restore_accounts(session, accounts)
