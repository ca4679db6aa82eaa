"""The condition "the folded key occurs in a record's search text", on each database's trigram index (no Flask)."""
from __future__ import annotations

from sqlalchemy import Boolean, bindparam, column, select, table
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class Contains(ColumnElement[bool]):
    """`key` occurs in a table's search text, answered by that database's trigram index.

    PostgreSQL: `search_text LIKE '%' || key || '%'`, served by the pg_trgm GIN index of migration 0015. SQLite: the
    record's id among the rows of the table's FTS5 trigram table that MATCH the key as a phrase. The
    key is folded (app/search/keys.py), which removes every character LIKE or FTS5 would read as syntax
    (% _ \\ and the double quote are punctuation), so neither needs escaping.
    """

    type = Boolean()
    # A condition in itself: SQLite (no native booleans) would otherwise get "... = 1" appended, which
    # hides the IN from its planner and scans the whole table.
    _is_implicitly_boolean = True
    inherit_cache = True
    _traverse_internals = [("id_column", InternalTraversal.dp_clauseelement),
                           ("text_column", InternalTraversal.dp_clauseelement),
                           ("fts_name", InternalTraversal.dp_string),
                           ("key", InternalTraversal.dp_clauseelement),
                           ("phrase", InternalTraversal.dp_clauseelement)]

    def __init__(self, model: type, key: str) -> None:
        self.id_column = model.__table__.c.id
        self.text_column = model.__table__.c.search_text
        self.fts_name = f"{model.__tablename__}_search"
        self.key = bindparam("search_key", key, unique=True)
        self.phrase = bindparam("search_phrase", f'"{key}"', unique=True)


@compiles(Contains)
def _contains_default(element: Contains, compiler, **kw) -> str:
    # LIKE '%' || :key || '%': the key is folded, so it holds no wildcard to escape.
    return compiler.process(element.text_column.contains(element.key), **kw)


@compiles(Contains, "sqlite")
def _contains_sqlite(element: Contains, compiler, **kw) -> str:
    fts = table(element.fts_name, column("rowid"), column("search_text"))
    matching = select(fts.c.rowid).where(fts.c.search_text.op("MATCH")(element.phrase))
    return compiler.process(element.id_column.in_(matching), **kw)
