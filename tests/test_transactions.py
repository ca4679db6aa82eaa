"""The test fixtures' transaction: Database.bind() runs the app's sessions inside one connection's transaction,
commits become savepoints, and rolling that transaction back leaves the database as it was."""
from __future__ import annotations

from sqlalchemy import func, select

from app.accounts.models import Station
from app.db import Database
from tests import factories
from tests.conftest import JoinedSession, _savepoints_on_pysqlite, reset


def _joined(database_url: str):
    """A Database on an emptied database whose sessions join one connection's open transaction."""
    reset(database_url)  # another test's real commits may be there
    database = Database(database_url)
    if database.engine.dialect.name == "sqlite":
        _savepoints_on_pysqlite(database.engine)
    connection = database.engine.connect()
    transaction = connection.begin()
    database.bind(connection)
    database.session_factory.class_ = JoinedSession
    return database, connection, transaction


def _stations(connection) -> int:
    return connection.scalar(select(func.count()).select_from(Station))


def test_bound_commits_are_savepoints_rolled_back_with_the_transaction(database_url):
    database, connection, transaction = _joined(database_url)
    try:
        with database.session_scope() as session:  # committed: a savepoint released into the transaction
            factories.station(session, "T")
        failed = database.session_factory()
        factories.station(failed, "U")
        failed.flush()
        failed.rollback()  # a session that wrote rolls back its own savepoint only
        failed.close()
        assert _stations(connection) == 1
        database.bind(None)
        transaction.rollback()
        connection.close()
        with database.engine.connect() as fresh:
            assert _stations(fresh) == 0
        with database.session_scope() as session:  # unbound: a real commit again
            factories.station(session, "V")
        with database.engine.connect() as fresh:
            assert _stations(fresh) == 1
    finally:
        database.dispose()


def test_a_session_that_only_read_keeps_what_a_later_session_committed(database_url):
    """A request's session reads (the user), a job's session commits, the request's session ends: the job's rows
    stay, as they do in production."""
    database, connection, transaction = _joined(database_url)
    try:
        request = database.session()
        request.scalars(select(Station)).all()
        with database.session_scope() as job:
            factories.station(job, "J")
        database.remove()
        assert _stations(connection) == 1
        database.bind(None)
        transaction.rollback()
        connection.close()
    finally:
        database.dispose()
