"""Declarative base, engine set-up, sessions and the unit-of-work helper (no Flask)."""
from __future__ import annotations

import datetime as dt
import enum
import re
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import (JSON, CheckConstraint, DateTime, Enum, Integer, MetaData, Select, case, column, create_engine,
                        event, func, select, text)
from sqlalchemy.sql.elements import TextClause
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, ColumnElement, Executable
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    declared_attr,
    mapped_column,
    scoped_session,
    sessionmaker,
)
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """The current time as an aware UTC datetime."""
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite drops the zone; this restores it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(dt.timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value


class LabeledEnum(str, enum.Enum):
    """A string enum stored by its English value and shown by its Chinese label."""

    @property
    def label(self) -> str:
        return self.__class__._labels()[self.value]

    @classmethod
    def _labels(cls) -> dict[str, str]:
        raise NotImplementedError

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        """(value, label) pairs for select fields."""
        return [(m.value, m.label) for m in cls]

    def __str__(self) -> str:
        return self.value


def enum_column(enum_cls: type[enum.Enum], length: int = 20) -> Enum:
    """A portable VARCHAR enum column storing English values."""
    return Enum(
        enum_cls,
        native_enum=False,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


# CHECK constraints: the database itself refuses what no service would write (the importer's bulk
# path writes without the services). Each is named `<what>_<rule>`; the naming convention prefixes
# `ck_<table>_`. NULL passes every one of them: whether a column may be empty is its own nullability.

def one_of(name: str, enum_cls: type[enum.Enum]) -> CheckConstraint:
    """CHECK that column `name` holds one of the enum's stored values."""
    return CheckConstraint(column(name).in_([m.value for m in enum_cls]), name=f"{name}_values")


def positive(name: str) -> CheckConstraint:
    """CHECK that column `name` is above zero."""
    return CheckConstraint(column(name) > 0, name=f"{name}_positive")


def not_negative(name: str) -> CheckConstraint:
    """CHECK that column `name` is zero or more."""
    return CheckConstraint(column(name) >= 0, name=f"{name}_not_negative")


def not_before(later: str, earlier: str) -> CheckConstraint:
    """CHECK that date column `later` is not before date column `earlier` (same day allowed)."""
    return CheckConstraint(column(later) >= column(earlier), name=f"{later}_not_before_{earlier}")


class Base(DeclarativeBase):
    """Declarative base with the constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    # Field labels for forms and the audit log; models override.
    __labels__: dict[str, str] = {}


class TimestampMixin:
    """created_at / updated_at in aware UTC."""

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )


class VersionedMixin(TimestampMixin):
    """Timestamps plus a version counter used for optimistic locking."""

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    @declared_attr.directive
    def __mapper_args__(cls):
        return {"version_id_col": cls.version}


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    # Up to 64 MB of pages per connection instead of SQLite's 2 MB: an import writes 100,000 rows into
    # tables with a dozen indexes, and with the small cache each index's pages were written out and read
    # back over and over (the 100,000-row apply: 18.6 -> 15.1 CPU seconds). Pages are held only once
    # read, so an idle or light connection stays small.
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


# Seconds a new PostgreSQL connection may take before it fails: without a limit, a database host that
# drops packets (a firewall, a dead VM) holds each request that needs a connection until TCP gives up,
# minutes later, and the error pages never show. A `connect_timeout` in the URL wins.
CONNECT_TIMEOUT = 10


def make_engine(url: str, echo: bool = False, connect_timeout: int = CONNECT_TIMEOUT) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout, PostgreSQL a connect timeout."""
    kwargs: dict = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False}
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs["pool_pre_ping"] = True
    if url.startswith("postgresql") and "connect_timeout" not in make_url(url).query:
        kwargs["connect_args"] = {"connect_timeout": connect_timeout}
    return create_engine(url, **kwargs)


def is_unavailable(err: BaseException) -> bool:
    """Whether an error means the database could not be reached (down, cut off, out of connections)."""
    if isinstance(err, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
        return True
    return isinstance(err, sa_exc.DBAPIError) and err.connection_invalidated


class Database:
    """An engine plus a thread-scoped session registry for one application."""

    def __init__(self, url: str, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo)
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.session = scoped_session(self.session_factory)

    def remove(self) -> None:
        """Close the current thread's session (end of request)."""
        self.session.remove()

    def discard(self) -> None:
        """Roll back and close the current thread's session after a failure, even when the database is gone."""
        try:
            self.session.rollback()
        except sa_exc.SQLAlchemyError:  # the connection died: the pool drops it, nothing is left to undo
            pass
        self.session.remove()

    @contextmanager
    def session_scope(self) -> Iterator[Session]:
        """A fresh session committed on success and rolled back on error (CLI, jobs)."""
        session = self.session_factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def bind(self, connection: Connection | None) -> None:
        """Run every new session inside `connection`'s transaction, each commit a savepoint (a test rolls that
        transaction back at its end); None runs them on the engine again."""
        self.session.remove()
        if connection is None:
            self.session_factory.configure(bind=self.engine, join_transaction_mode="conditional_savepoint")
        else:
            self.session_factory.configure(bind=connection, join_transaction_mode="create_savepoint")

    def dispose(self) -> None:
        """Release every pooled connection."""
        self.session.remove()
        self.engine.dispose()



def set_local_work_mem(size: str) -> TextClause:
    """PostgreSQL: `SET LOCAL work_mem` for the rest of this transaction (size like '256MB', digits and a unit)."""
    if not re.fullmatch(r"[0-9]+(kB|MB|GB)", size):
        raise ValueError(f"not a memory size: {size!r}")
    return text(f"SET LOCAL work_mem = '{size}'")


class Analyze(Executable, ClauseElement):
    """ANALYZE one table: refresh the planner's statistics after a bulk change (both backends)."""

    inherit_cache = False

    def __init__(self, table) -> None:
        self.table = table


@compiles(Analyze)
def _compile_analyze(element: Analyze, compiler, **kw) -> str:
    return "ANALYZE " + compiler.preparer.format_table(element.table)


class JsonObject(ColumnElement):
    """A JSON object the database builds from named values (json_build_object / json_object), for an
    INSERT ... SELECT that stores a row's fields as JSON (the webhook outbox). Keys are code constants,
    written into the statement as literals so PostgreSQL never has to guess a parameter's type."""

    inherit_cache = False

    def __init__(self, fields: dict) -> None:
        bad = [k for k in fields if not re.fullmatch(r"[a-z_][a-z0-9_]*", k)]
        if bad:
            raise ValueError(f"not a plain key: {bad}")
        self.fields = fields
        self.type = JSON()


@compiles(JsonObject)
def _compile_json_object(element: JsonObject, compiler, **kw) -> str:
    function = "json_build_object" if compiler.dialect.name == "postgresql" else "json_object"
    args = ", ".join(f"'{key}', {compiler.process(value, **kw)}" for key, value in element.fields.items())
    return f"{function}({args})"


def count_of(stmt: Select) -> Select:
    """COUNT(*) of a select, without its ordering."""
    return select(func.count()).select_from(stmt.order_by(None).subquery())


def count_if(condition):
    """SUM(CASE WHEN condition THEN 1 ELSE 0 END), 0 over no rows: a conditional count for grouped figures."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
