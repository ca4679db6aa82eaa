"""Bulk inserts for imports: many rows in the caller's transaction, at the speed of the driver (no Flask).

This is the one module outside migrations that hands the driver a statement of its own: PostgreSQL's
COPY, which SQLAlchemy cannot express. Everything else here is built by SQLAlchemy from the table
definitions: which columns an insert names, their defaults and how each value is bound.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import Any

from sqlalchemy import Column, Date, Dialect, MetaData, Table, func, insert, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session


class Stored(str):
    """A value already in the form the database stores (e.g. JSON text), sent as it is by `bulk_insert`."""

    __slots__ = ()


_UNSET = object()

# A table whose SQLite triggers write to an FTS5 index (the search text) sets this in its `info`: its bulk
# rows are staged in a temporary table and moved in by one INSERT ... SELECT. Row by row, each insert's
# trigger made FTS5 write a segment of its own (it flushes at every statement's savepoint): 100,000
# instruments took 11.9 CPU seconds instead of 2.0.
STAGED_ON_SQLITE = "bulk_staged_on_sqlite"


def bind_processor(column: Column, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The function SQLAlchemy applies to a value bound to `column` on `dialect` (None: sent as it is).

    The only place the bulk path reaches into how SQLAlchemy binds values: the column type's
    implementation for the dialect (a TypeDecorator's included) gives its bind processor.
    """
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def column_defaults(table: Table, given: Iterable[str]) -> dict[str, Any]:
    """The values of the table's columns that rows with the keys `given` leave out, for a bulk insert.

    Derived from the table definition, so a column added to a model is written by the bulk path
    too: a column the rows leave out gets its Python-side default (a callable one is called once
    for the whole insert: one statement, one moment), else NULL; an autoincrement primary key or
    a column with a server default is left to the database. A key that is no column, or a
    required column with no value and no default, is an error, not a silently wrong row.
    """
    given = list(given)
    unknown = [k for k in given if k not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(unknown)}")
    defaults: dict[str, Any] = {}
    for column in table.columns:
        if column.name in given:
            continue
        if (column.primary_key and column.autoincrement in (True, "auto")) or column.server_default is not None:
            continue
        default = column.default
        if default is None:
            if not column.nullable:
                raise ValueError(f"{table.name}.{column.name} needs a value: it has no default and is not nullable")
            defaults[column.name] = None
        elif getattr(default, "is_scalar", False):
            defaults[column.name] = default.arg
        elif getattr(default, "is_callable", False):
            defaults[column.name] = default.arg(None)
        else:
            raise ValueError(f"{table.name}.{column.name}: a default of this kind cannot be bulk-inserted")
    return defaults


def derived_columns(table: Table, given: Iterable[str]) -> dict[str, Callable[[dict], Any]]:
    """The columns computed from each row's other values (a column's `info["derive"]`: its source columns
    and the function) that rows with the keys `given` leave out. A source the rows leave out counts with
    its scalar default (None when it has none), as the row will be stored."""
    given = set(given)
    derived = {}
    for column in table.columns:
        if (derive := column.info.get("derive")) and column.name not in given:
            sources, function = derive
            filled = {c: getattr(table.c[c].default, "arg", None) for c in sources if c not in given}
            if any(callable(v) for v in filled.values()):
                raise ValueError(f"{table.name}.{column.name} is derived from columns with computed defaults: "
                                 "rows must give them")
            derived[column.name] = (lambda row, f=function, d=filled: f({**d, **row})) if filled else function
    return derived


def bulk_insert(session: Session, table: Table, rows: Iterable[dict]) -> None:
    """Insert many rows (every row with the same keys) in the session's transaction.

    The rows may come from a generator, so a large file's rows are never all in memory at once.
    PostgreSQL gets them through COPY: psycopg's executemany costs about 30 µs a row in Python
    (13 s for the 420,000 rows of a 100,000-row ledger), COPY a few µs. SQLite gets the driver's
    own executemany on tuples: SQLAlchemy's per-row parameter handling cost as much as SQLite's
    writing. Either way the values go through the columns' own bind processors first (JSON, enums,
    dates, UTC datetimes), so they are exactly what an INSERT through SQLAlchemy would have sent.
    Other databases get SQLAlchemy's executemany.
    """
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    if derived := derived_columns(table, first):
        # E.g. the search text: computed here, so no bulk path can leave it out of step.
        rows = (row | {name: function(row) for name, function in derived.items()} for row in chain([first], rows))
        first = next(rows)
    given = list(first)
    defaults = column_defaults(table, given)
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name not in ("postgresql", "sqlite"):
        stmt = insert(table)
        for chunk in batched(row | defaults for row in chain([first], rows)):
            session.execute(stmt, chunk)
        return
    # Every row names the columns `given`, then the defaulted ones: the column list of the insert.
    names = given + list(defaults)
    raw = connection.connection.driver_connection
    order = None
    staged = None
    if dialect.name == "sqlite":
        staged = _stage(connection, table, names) if table.info.get(STAGED_ON_SQLITE) else None
        compiled = insert(table if staged is None else staged).compile(dialect=dialect, column_keys=names)
        bound = list(compiled.positiontup)
        if sorted(bound) != sorted(names):  # the statement binds exactly these columns
            raise RuntimeError(f"unexpected INSERT for {table.name}: binds {bound}, rows have {names}")
        if bound != names:
            order = [names.index(n) for n in bound]
    # The processors SQLAlchemy itself applies to these columns' bound values on this dialect
    # (pure functions of the value: a value that is the very object of the row before, such as
    # the batch's timestamp, is processed once). A value already in the database's form
    # (`Stored`, e.g. JSON text) is sent as it is. Dates repeat down a ledger: each distinct one
    # is processed once. The defaults are the same for every row: processed once here.
    processors = {n: bind_processor(table.c[n], dialect) for n in names}
    tail = [value if (process := processors[n]) is None or value is None or value.__class__ is Stored
            else process(value) for n, value in defaults.items()]
    processed = [(i, p, [_UNSET, None], {} if isinstance(table.c[c].type, Date) else None)
                 for i, c in enumerate(given) if (p := processors[c]) is not None]

    def values() -> Iterator[list]:
        for row in chain([first], rows):
            values = [row[c] for c in given]
            for i, process, last, seen in processed:
                value = values[i]
                if value is not last[0]:
                    if value.__class__ is Stored:
                        done = value
                    elif seen is None:
                        done = process(value)
                    elif (done := seen.get(value, _UNSET)) is _UNSET:
                        done = seen[value] = process(value)
                    last[0], last[1] = value, done
                values[i] = last[1]
            if tail:
                values += tail
            yield values if order is None else [values[j] for j in order]

    try:
        if dialect.name == "sqlite":
            cursor = raw.cursor()
            try:
                cursor.executemany(str(compiled), values())
            finally:
                cursor.close()
            if staged is not None:
                session.execute(insert(table).from_select(names, select(*(staged.c[n] for n in names))))
                staged.drop(connection)
            return
        from psycopg import sql

        stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table.name),
                                                         sql.SQL(", ").join(map(sql.Identifier, names)))
        with raw.cursor() as cursor, cursor.copy(stmt) as copy:
            for row in values():
                copy.write_row(row)
    except dialect.loaded_dbapi.Error as err:
        # The driver's own error, as SQLAlchemy would have raised it (IntegrityError for a broken
        # constraint, OperationalError for a lost connection), so callers handle one kind of error.
        raise sa_exc.DBAPIError.instance(f"bulk insert into {table.name}", None, err,
                                         dialect.loaded_dbapi.Error) from err


def _stage(connection, table: Table, names: list[str]) -> Table:
    """An empty temporary table (this connection's own) with the columns `names` of `table`, for staging rows."""
    staged = Table(f"bulk_{table.name}", MetaData(), *(Column(n, table.c[n].type) for n in names),
                   prefixes=["TEMPORARY"])
    staged.drop(connection, checkfirst=True)  # left by a call that failed after its rows went in
    staged.create(connection)
    return staged


def batched(rows: Iterable[dict], size: int = 5000) -> Iterator[list[dict]]:
    """The rows in lists of `size` (the last one shorter)."""
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _with_id(row: dict, new_id: int) -> dict:
    row["id"] = new_id
    return row


def insert_with_ids(session: Session, table: Table, count: int, rows: Iterable[dict]) -> list[int]:
    """Insert `count` rows; their new ids, in the rows' order.

    The ids are known before the rows go in, so the rows go in as a plain bulk insert.
    `INSERT ... RETURNING` with `sort_by_parameter_order` is much slower: SQLAlchemy sends it one
    row per statement on SQLite (10 s for 200,000 rows), and on PostgreSQL as statements with
    ~20,000 parameters each, which psycopg re-parses in Python every time (0.25 s per 1,000 rows).
    """
    if not count:
        return []
    rows = iter(rows)
    backend = session.connection().dialect.name
    if backend == "postgresql":
        # A sequence never hands out a value twice, whatever other transactions do.
        sequence = func.pg_get_serial_sequence(table.name, "id")
        ids = sorted(session.scalars(select(func.nextval(sequence)).select_from(func.generate_series(1, count))))
        bulk_insert(session, table, (_with_id(row, i) for row, i in zip(rows, ids, strict=True)))
    elif backend == "sqlite":
        # One writer at a time: the first row's INSERT holds the write lock until the caller's
        # transaction ends, and the rowid it gets is above every rowid the table has (or, with
        # AUTOINCREMENT, ever had), so the ids after it are free.
        first = session.execute(insert(table).returning(table.c.id), next(rows)).scalar_one()
        ids = list(range(first, first + count))
        bulk_insert(session, table, (_with_id(row, i) for row, i in zip(rows, ids[1:], strict=True)))
    else:
        ids = []
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        for chunk in batched(rows):
            ids += session.execute(stmt, chunk).scalars().all()
        if len(ids) != count:
            raise ValueError(f"{len(ids)} rows inserted into {table.name}, {count} expected")
    return ids
