"""The normalised search text of merchants and instruments, and keeping it in step (no Flask).

What users type and what the list shows may differ in width (全角/半角), bracket style, letter case and
spaces, so both the stored text and the query are folded the same way: NFKC, casefold, and every space,
punctuation mark and control character removed. The folding runs in Python (neither database has NFKC
and Unicode categories in a form both share), so the text is stored in a column, `search_text`, that every
write path fills: ORM flushes (mapper events below), Core inserts (the column's context default), the bulk
path (`app.bulk.bulk_insert` derives it from the column's `info`) and Core updates (`refresh_search_text`).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

from sqlalchemy import Table, bindparam, event, select, update
from sqlalchemy.orm import Session

from app.bulk import STAGED_ON_SQLITE
from app.text import identifier

# Spaces (Z*), punctuation (P*: every bracket, dash, comma, full stop) and control/format characters (C*)
# carry no meaning for a search: "华联超市（城关店）", "华联超市(城关店)" and "华联超市 城关店" are one text.
# Built over the Basic Multilingual Plane: the planes above hold no spaces or brackets (their few
# punctuation marks are ancient scripts'), and building it over all of Unicode costs ~0.5 s at start.
def _dropped_pattern() -> re.Pattern:
    codes = [cp for cp in range(0x10000) if unicodedata.category(chr(cp))[0] in "ZPC"]
    ranges, start, last = [], codes[0], codes[0]
    for cp in codes[1:]:
        if cp != last + 1:
            ranges.append((start, last))
            start = cp
        last = cp
    ranges.append((start, last))
    # One character class of ~430 ranges: re.sub with it is 2.5 times faster than str.translate.
    return re.compile("[" + "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "")
                                    for a, b in ranges) + "]+")


_DROP = _dropped_pattern()
# The stored text joins its fields with this separator; a query never contains it (it is a space, which
# the folding removes), so no match spans two fields. pg_trgm also treats it as a word boundary.
SEPARATOR = " "
# Substring search needs at least one trigram.
MIN_QUERY_CHARS = 3


def search_key(value: object) -> str:
    """Fold a text for searching: NFKC, casefold, no spaces, punctuation or control characters."""
    if value is None:
        return ""
    return _DROP.sub("", identifier(value).casefold())  # identifier: the one NFKC fold (app/text.py)


def search_text(*fields: object) -> str:
    """The stored search text of a record: its searched fields folded, joined by SEPARATOR."""
    return SEPARATOR.join(k for k in map(search_key, fields) if k)


# Which columns each table's search text is made of, in order.
SOURCES: dict[str, tuple[str, ...]] = {
    "merchants": ("name", "address", "credit_code"),
    "instruments": ("serial_no", "location", "install_address"),
}


def derive(table_name: str) -> Callable[[dict], str]:
    """The function computing a table's search text from a row (a mapping of its source columns)."""
    sources = SOURCES[table_name]

    def of_row(row) -> str:
        return search_text(*(row.get(c) for c in sources))

    return of_row


def column_info(table_name: str) -> dict:
    """The `info` of a search-text column: read by the bulk path to derive it from each row."""
    return {"derive": (SOURCES[table_name], derive(table_name))}


def context_default(table_name: str) -> Callable:
    """A Core insert default computing the search text from the statement's other values."""
    of_row = derive(table_name)

    def default(context) -> str:
        return of_row(context.get_current_parameters())

    return default


def keep_in_step(model: type) -> None:
    """Recompute the model's search text whenever the ORM inserts or updates one of its records."""
    sources = SOURCES[model.__tablename__]
    model.__table__.info[STAGED_ON_SQLITE] = True  # its SQLite insert trigger feeds the FTS5 index

    def refresh(mapper, connection, target) -> None:
        target.search_text = search_text(*(getattr(target, c) for c in sources))

    event.listen(model, "before_insert", refresh)
    event.listen(model, "before_update", refresh)


def refresh_search_text(session: Session, table: Table, ids: Iterable[int], chunk: int = 5000) -> None:
    """Recompute the search text of these rows after a Core UPDATE of their source columns."""
    sources = SOURCES[table.name]
    ids = sorted(set(ids))
    stmt = update(table).where(table.c.id == bindparam("b_id")).values(search_text=bindparam("v_text"))
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        rows = session.execute(select(table.c.id, *(table.c[c] for c in sources)).where(table.c.id.in_(part)))
        params = [{"b_id": row[0], "v_text": search_text(*row[1:])} for row in rows]
        if params:
            session.execute(stmt, params)
