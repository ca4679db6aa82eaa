"""Test fixtures: the schema is built by the migrations on SQLite and, when
TEST_DATABASE_URL is set, on PostgreSQL too; every database test runs on both.

Which fixture a test uses:
- `app`, `session`, `client`, `world`: the app built once per backend, every session of it inside one
  transaction rolled back after the test (a commit is a savepoint). Requests, `session` and jobs run in the
  test's thread all see each other's commits. Read what the app committed through `session` or
  `connection_of(app)`, not a new engine connection (it would not see the test's transaction).
- `@pytest.mark.commits`: the test's commits must be real, because another thread, a child process, a second
  connection or a live server must see them; `app` is then a new app (`fresh_app`).
- `database_url` (directly or through a fixture): the test makes its own app, engine or process and commits
  for real, like `commits`; `fresh_app(database_url, **config)` builds an app with other settings.
After a test that committed for real, the next transactional test starts from an emptied, reseeded database.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, delete, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session

# Under pytest-xdist each worker process has its own temporary folder (TestConfig keeps uploads there, named by
# batch id) and its own PostgreSQL database (see `worker_database`); this runs before `config` is imported.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if WORKER:
    _worker_tmp = Path(tempfile.gettempdir()) / f"pytest-{WORKER}"
    _worker_tmp.mkdir(exist_ok=True)
    tempfile.tempdir = str(_worker_tmp)

from app import create_app
from app import migrate as migrations
from app.counts import snapshots
from app.db import Database
from app.extensions import limiter
from app.models import metadata
from config import TestConfig
from tests import factories

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def worker_database(url: str) -> str:
    """The PostgreSQL URL for this test process: the given database, or under pytest-xdist one per worker
    (`<name>_gw0`, ...), created through the `postgres` maintenance database when missing."""
    if not WORKER:
        return url
    base = make_url(url)
    name = f"{base.database}_{WORKER}"
    engine = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}) is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def reset_pg_schema(url: str) -> None:
    """Drop everything in the test database's public schema."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_url(request, tmp_path_factory) -> str:
    """A migrated database for the whole session, one per backend, emptied but for the seeded catalogue."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    else:
        url = worker_database(PG_URL)
        reset_pg_schema(url)
    migrations.upgrade(url)
    reset(url)
    return url


@pytest.fixture(scope="session")
def database_url(migrated_url) -> str:
    """The migrated database's URL, for a test that commits for real (its own app, engine or process): see
    `_real_commits`."""
    return migrated_url


# URLs of databases that a test committed to since they were last emptied and reseeded.
_DIRTY: set[str] = set()


def before_real_commits(url: str) -> None:
    """Make way for commits to the database at `url` that do not go through the shared app: end its open
    transaction (the commits would wait on its locks), and have the next test on it start from a reset."""
    if url in _SHARED:
        _SHARED[url].end()
    _DIRTY.add(url)


@pytest.fixture(autouse=True)
def _real_commits(request) -> None:
    """A test that uses `database_url` (directly or through a fixture) commits for real."""
    if "database_url" in request.fixturenames:
        before_real_commits(request.getfixturevalue("database_url"))


def wipe(engine) -> None:
    """Empty every table (children first)."""
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))


def reset(url: str) -> None:
    """Empty the database and seed the catalogue, committed: the state every test starts from."""
    from app.catalog.services import seed_catalogue

    database = Database(url)
    try:
        wipe(database.engine)
        with database.session_scope() as session:
            seed_catalogue(session)
    finally:
        database.dispose()


def fresh_app(database_url: str, **overrides):
    """A new app on the migrated database, emptied, with the catalogue seeded: for tests that commit for real."""
    before_real_commits(database_url)
    application = create_app(TestConfig, DATABASE_URL=database_url, **overrides)
    reset(database_url)
    return application


def _savepoints_on_pysqlite(engine) -> None:
    """SQLAlchemy's recipe for SAVEPOINT on pysqlite: the driver must not manage transactions itself, or its
    implicit COMMIT would end the test's transaction (and a RELEASE would commit)."""

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN")


_TEST_CONNECTION: dict = {}


class JoinedSession(Session):
    """A session inside the test's transaction, its transaction a savepoint.

    Savepoints nest: a job's session committed while a request's session is open (a manual job run, an
    inline import) lies inside the request session's savepoint, and rolling that one back at the end of the
    request would undo the job's commit, which stays in production. So a session that wrote nothing ends by
    releasing its savepoint (for its own rows, the same as rolling back); one that wrote rolls back as it would.
    """

    def close(self) -> None:
        self._release_if_clean()
        super().close()

    def rollback(self) -> None:
        self._release_if_clean()
        super().rollback()

    def _release_if_clean(self) -> None:
        transaction = self.get_transaction()
        if (transaction is not None and transaction.is_active and not self.info.get("wrote")
                and not (self.new or self.dirty or self.deleted)):
            self.commit()


@event.listens_for(JoinedSession, "after_flush")
def _flushed(session, _context) -> None:
    session.info["wrote"] = True


@event.listens_for(JoinedSession, "do_orm_execute")
def _executed(state) -> None:
    if not state.is_select:
        state.session.info["wrote"] = True


@event.listens_for(JoinedSession, "after_transaction_end")
def _ended(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop("wrote", None)


@contextmanager
def connection_of(app) -> Iterator[Connection]:
    """A connection that sees what the app's sessions have committed: the test's own inside its transaction,
    or a new one for an app that commits for real."""
    if app in _TEST_CONNECTION:
        yield _TEST_CONNECTION[app]
    else:
        with app.extensions["database"].engine.connect() as connection:
            yield connection


def commits(request) -> bool:
    """Whether a test needs real commits: it is marked `commits`, or it uses the database URL itself (its own
    app, engine or process would not see the test's transaction)."""
    return request.node.get_closest_marker("commits") is not None or "database_url" in request.fixturenames


class Shared:
    """The app built once per backend, its one connection, and the transaction that tests run in.

    The outer transaction holds the world (`factories.build_world`) while consecutive tests ask for it, so it
    is built once for them instead of once per test; each test runs in a savepoint of it, rolled back after
    the test. A test without the world, or one that commits for real, ends the outer transaction first."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.app = create_app(TestConfig, DATABASE_URL=url)
        self.database = self.app.extensions["database"]
        if self.database.engine.dialect.name == "sqlite":
            _savepoints_on_pysqlite(self.database.engine)
        self.config, self.extensions = dict(self.app.config), dict(self.app.extensions)
        self.connection: Connection | None = None
        self.outer = None
        self.world: list[tuple[str, type, int]] | None = None

    def begin_test(self, with_world: bool):
        """The savepoint one test runs in, on an outer transaction with (or without) the world."""
        if self.outer is not None and (self.world is not None) != with_world:
            self.end()
        if self.connection is None:
            self.connection = self.database.engine.connect()
        if self.outer is None:
            if self.url in _DIRTY:  # a test committed for real since: back to the state every test starts from
                reset(self.url)
                _DIRTY.discard(self.url)
            self.outer = self.connection.begin()
            if with_world:
                with JoinedSession(bind=self.connection, join_transaction_mode="create_savepoint",
                                   expire_on_commit=False) as s:
                    built = factories.build_world(s)
                    s.commit()
                    self.world = [(f, type(getattr(built, f)), getattr(built, f).id)
                                  for f in factories.World.__dataclass_fields__]
        return self.connection.begin_nested()

    def end_test(self, savepoint) -> None:
        """Undo what the test did; the outer transaction too when a savepoint of the test was left open."""
        if self.connection.get_nested_transaction() is savepoint and savepoint.is_active:
            savepoint.rollback()
        else:
            self.end()

    def world_in(self, session) -> factories.World:
        """The world, loaded into a test's session."""
        return factories.World(**{field: session.get(cls, id_) for field, cls, id_ in self.world})

    def end(self) -> None:
        """Roll the outer transaction back (before a test that commits for real, which must not wait on it)."""
        if self.outer is not None:
            if self.outer.is_active:
                self.outer.rollback()
            self.outer, self.world = None, None

    def close(self) -> None:
        self.end()
        if self.connection is not None:
            self.connection.close()
        self.database.dispose()


_SHARED: dict[str, Shared] = {}


@pytest.fixture(scope="session")
def shared(migrated_url) -> Iterator[Shared]:
    """The shared app of one backend (see `Shared`)."""
    _SHARED[migrated_url] = Shared(migrated_url)
    yield _SHARED[migrated_url]
    _SHARED.pop(migrated_url).close()


@pytest.fixture()
def app(request, migrated_url):
    """The app on the migrated database with the catalogue seeded.

    By default the session's shared app, every session of it (requests, `session`, jobs run in the test's
    thread) inside a transaction that is rolled back after the test: a commit is a savepoint. A test marked
    `commits` (or using `database_url`) gets a new app whose commits are real, for other threads, processes,
    engines or a live server; the database is emptied and reseeded after it."""
    if commits(request):
        application = fresh_app(migrated_url)
        yield application
        application.extensions["database"].dispose()
        return
    state: Shared = request.getfixturevalue("shared")
    application, database = state.app, state.database
    # The limiter is one module-level instance that every create_app() rebinds: its counts start empty.
    limiter.enabled = application.config["RATELIMIT_ENABLED"]
    with application.app_context():
        limiter.reset()
    savepoint = state.begin_test(with_world="world" in request.fixturenames)
    database.bind(state.connection)
    session_class, database.session_factory.class_ = database.session_factory.class_, JoinedSession
    _TEST_CONNECTION[application] = state.connection
    try:
        yield application
    finally:
        del _TEST_CONNECTION[application]
        database.bind(None)
        database.session_factory.class_ = session_class
        state.end_test(savepoint)
        # The test's rows are rolled back: no page snapshot taken during it may be shown to the next test.
        snapshots.bump()
        application.config.clear()
        application.config.update(state.config)
        application.extensions.clear()
        application.extensions.update(state.extensions)


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
def world(request, app, session):
    """Two stations, users of every role, a merchant and an instrument in each station."""
    state = _SHARED.get(app.config["DATABASE_URL"])
    if state is not None and app is state.app:
        return state.world_in(session)
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


def pytest_collection_modifyitems(config, items):
    """On PostgreSQL, run of a module only what its `runs_on_postgresql(test, params)` keeps (the access
    matrix runs in full on SQLite and as a computed subset on PostgreSQL)."""
    selected, deselected = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        keep = getattr(getattr(item, "module", None), "runs_on_postgresql", None)
        if params.get("migrated_url") == "postgresql" and keep is not None and not keep(item.originalname, params):
            deselected.append(item)
        else:
            selected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected
