"""When the database cannot be reached, a logged-in user gets a Chinese 503 page (never Werkzeug's English 500),
and the app serves again by itself once the database is back. The outage is real: on PostgreSQL the app talks
through a TCP link the test cuts; on SQLite the database's folder is moved away."""
from __future__ import annotations

import os

import pytest
from sqlalchemy.engine import make_url

from app.errors import DATABASE_UNAVAILABLE
from tests import factories
from tests.conftest import fresh_app, login
from tests.outages import CuttableLink

ENGLISH = ("Internal Server Error", "Werkzeug", "Traceback", "Service Unavailable")


class SqliteOutage:
    """The SQLite file's folder moved away: no connection can open the database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.folder = os.path.dirname(make_url(url).database)

    def cut(self, app) -> None:
        os.rename(self.folder, self.folder + ".away")
        # An open SQLite connection keeps the moved file; the outage shows when the pool opens a new one
        # (as after a restart of the pool or a recycled connection).
        app.extensions["database"].engine.dispose()

    def restore(self) -> None:
        os.rename(self.folder + ".away", self.folder)


class PostgresOutage:
    """The app reaches PostgreSQL through a local link that is cut: open connections die, new ones are refused."""

    def __init__(self, url: str) -> None:
        real = make_url(url)
        self.link = CuttableLink((real.host or "127.0.0.1", real.port or 5432))
        self.url = real.set(host="127.0.0.1", port=self.link.port).render_as_string(hide_password=False)

    def cut(self, _app) -> None:
        self.link.cut()

    def restore(self) -> None:
        self.link.restore()


@pytest.fixture()
def outage(database_url):
    """The way to make this backend's database unreachable, and to bring it back."""
    way = SqliteOutage(database_url) if database_url.startswith("sqlite") else PostgresOutage(database_url)
    yield way
    if isinstance(way, SqliteOutage) and os.path.exists(way.folder + ".away"):
        way.restore()
    elif isinstance(way, PostgresOutage):
        way.link.cut()


def assert_unavailable_page(resp) -> None:
    html = resp.get_data(as_text=True)
    assert resp.status_code == 503, html[:500]
    assert DATABASE_UNAVAILABLE in html and "服务暂时不可用" in html
    assert not any(word in html for word in ENGLISH)


def test_a_logged_in_user_gets_a_chinese_page_and_the_app_recovers_by_itself(outage):
    app = fresh_app(outage.url)
    try:
        with app.extensions["database"].session_scope() as s:
            factories.build_world(s)
        client = app.test_client()
        login(client, "insp_a")
        assert client.get("/").status_code == 200
        outage.cut(app)
        assert_unavailable_page(client.get("/"))
        assert_unavailable_page(client.get("/merchants/"))
        assert_unavailable_page(client.get("/no-such-page"))  # the 404 page's navigation needs the database too
        assert_unavailable_page(client.post("/merchants/new", data={"name": "新单位"}))
        outage.restore()
        page = client.get("/")  # still signed in, same app, no restart
        assert page.status_code == 200 and "退出" in page.get_data(as_text=True)
        assert client.get("/merchants/").status_code == 200
    finally:
        app.extensions["database"].dispose()


def test_an_api_call_gets_problem_json_not_a_page(outage):
    """The REST API answers a database outage with a 503 problem in Chinese, never the HTML page."""
    import datetime as dt

    from app.api.models import TokenScope
    from app.api.services import issue_token
    from app.db import utcnow

    app = fresh_app(outage.url)
    try:
        with app.extensions["database"].session_scope() as s:
            w = factories.build_world(s)
            _t, secret = issue_token(s, None, name="停机测试", scope=TokenScope.READ, station_ids=[w.station_a.id],
                                     body_id=None, merchant_id=None, expires_at=utcnow() + dt.timedelta(days=1),
                                     rate_per_minute=600, now=utcnow())
        client = app.test_client()
        headers = {"Authorization": f"Bearer {secret}"}
        assert client.get("/api/v1/instruments", headers=headers).status_code == 200
        outage.cut(app)
        resp = client.get("/api/v1/instruments", headers=headers)
        assert resp.status_code == 503 and resp.mimetype == "application/problem+json", resp.get_data(as_text=True)
        assert resp.json["detail"] == DATABASE_UNAVAILABLE and resp.json["status"] == 503
        outage.restore()
        assert client.get("/api/v1/instruments", headers=headers).status_code == 200
    finally:
        app.extensions["database"].dispose()


def test_a_database_host_that_never_answers_fails_the_connection_in_seconds():
    """A PostgreSQL host that accepts the TCP connection but never answers (a hung server, a half-open
    firewall) fails a new connection after the connect timeout instead of holding the request for minutes."""
    import socket
    import threading

    from sqlalchemy import exc as sa_exc

    from app.db import make_engine

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the handshake; nobody ever reads or answers
    outcome: list = []

    def connect() -> None:
        engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{silent.getsockname()[1]}/x", connect_timeout=1)
        try:
            engine.connect().close()
            outcome.append("connected")
        except sa_exc.OperationalError:
            outcome.append("refused")
        finally:
            engine.dispose()

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(60)  # a liveness bound, not a speed figure: without a timeout the connection waits forever
    silent.close()
    assert outcome == ["refused"]
