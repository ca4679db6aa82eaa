"""Test fixtures: the schema is built by the migrations on SQLite and, when
TEST_DATABASE_URL is set, on PostgreSQL too; every database test runs on both."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, delete, text

from app import create_app
from app import migrate as migrations
from app.models import metadata
from config import TestConfig
from tests import factories

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def reset_pg_schema(url: str) -> None:
    """Drop everything in the test database's public schema."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory) -> str:
    """A migrated database for the whole session, one per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    else:
        url = PG_URL
        reset_pg_schema(url)
    migrations.upgrade(url)
    return url


def wipe(engine) -> None:
    """Empty every table (children first)."""
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))


def fresh_app(database_url: str, **overrides):
    """An app on the migrated database, emptied, with the catalogue seeded."""
    from app.catalog.services import seed_catalogue

    application = create_app(TestConfig, DATABASE_URL=database_url, **overrides)
    database = application.extensions["database"]
    wipe(database.engine)
    with database.session_scope() as session:
        seed_catalogue(session)
    return application


@pytest.fixture()
def app(database_url):
    """An app on the migrated database, with the catalogue seeded; its connections closed afterwards."""
    application = fresh_app(database_url)
    yield application
    application.extensions["database"].dispose()


@pytest.fixture()
def session(app):
    """A session on the app's database (tests commit through it like a view would)."""
    database = app.extensions["database"]
    s = database.session_factory()
    yield s
    s.rollback()
    s.close()


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def world(app, session):
    """Two stations, users of every role, a merchant and an instrument in each station."""
    w = factories.build_world(session)
    session.commit()
    return w


def login(client, username: str, password: str = factories.PASSWORD):
    """Log a test client in; asserts it worked."""
    resp = client.post("/login", data={"username": username, "password": password})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return resp


@pytest.fixture()
def small_disk(tmp_path):
    """A small real file system (tmpfs) the test can make full; skipped only where the kernel refuses the mount."""
    from tests.outages import SmallDisk

    disk = SmallDisk(tmp_path / "disk")
    yield disk
    disk.unmount()
