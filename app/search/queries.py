"""Named search queries: merchants and instruments whose folded search text contains the folded query."""
from __future__ import annotations

from sqlalchemy import Boolean, Select, bindparam, column, func, select, table
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from app.instruments.models import Instrument
from app.merchants.models import Merchant
from app.scope import Scope

# Past this many matches a group says "more than" instead of counting them all: an exact count of
# 300,000 matches of a three-character query costs more than the whole page may.
COUNT_CAP = 1000


class Contains(ColumnElement[bool]):
    """`key` occurs in a table's search text, answered by that database's trigram index.

    PostgreSQL: `search_text LIKE '%key%'`, served by the pg_trgm GIN index of migration 0015. SQLite: the
    record's id among the rows of the table's FTS5 trigram table that MATCH the key as a phrase. The
    key is folded (app/search/keys.py), which removes every character LIKE or FTS5 would read as syntax
    (% _ \\ and the double quote are punctuation), so neither needs escaping.
    """

    type = Boolean()
    inherit_cache = True
    _traverse_internals = [("id_column", InternalTraversal.dp_clauseelement),
                           ("text_column", InternalTraversal.dp_clauseelement),
                           ("fts_name", InternalTraversal.dp_string),
                           ("pattern", InternalTraversal.dp_clauseelement),
                           ("phrase", InternalTraversal.dp_clauseelement)]

    def __init__(self, model: type, key: str) -> None:
        self.id_column = model.__table__.c.id
        self.text_column = model.__table__.c.search_text
        self.fts_name = f"{model.__tablename__}_search"
        self.pattern = bindparam("search_pattern", f"%{key}%", unique=True)
        self.phrase = bindparam("search_phrase", f'"{key}"', unique=True)


@compiles(Contains)
def _contains_default(element: Contains, compiler, **kw) -> str:
    return compiler.process(element.text_column.like(element.pattern), **kw)


@compiles(Contains, "sqlite")
def _contains_sqlite(element: Contains, compiler, **kw) -> str:
    fts = table(element.fts_name, column("rowid"), column("search_text"))
    matching = select(fts.c.rowid).where(fts.c.search_text.op("MATCH")(element.phrase))
    return compiler.process(element.id_column.in_(matching), **kw)


def merchants_matching(scope: Scope, key: str) -> Select:
    """Merchants in scope whose name, address or credit code contains the folded key, newest first."""
    stmt = scope.apply(select(Merchant).where(Contains(Merchant, key)), Merchant.station_id)
    return stmt.order_by(Merchant.id.desc())


def instruments_matching(scope: Scope, key: str) -> Select:
    """Instruments in scope whose serial number or location contains the folded key, newest first."""
    stmt = scope.apply(select(Instrument).where(Contains(Instrument, key)), Instrument.station_id)
    return stmt.order_by(Instrument.id.desc())


def capped_count(stmt: Select, id_column, cap: int = COUNT_CAP) -> Select:
    """How many rows the select returns, counting no further than cap + 1."""
    ids = stmt.with_only_columns(id_column).order_by(None).limit(cap + 1)
    return select(func.count()).select_from(ids.subquery())
