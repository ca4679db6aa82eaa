"""Keyset pagination: a page is the rows after (or before) the boundary row's sort key, not an OFFSET (no Flask).

A list's order is read from its select's ORDER BY: plain columns of the one selected entity, ascending or
descending, ending with its primary key (so the key is unique). The first column may hold NULLs: the list is then
two stretches, the non-NULL values and the NULLs (ordered by the rest of the key), in the order the database
puts them (PostgreSQL: NULLs last ascending and first descending; SQLite the opposite), so a keyset page and the
plain query's OFFSET page are the same rows. Each stretch is one range of an index.

Several stations: `station_id IN (...) ORDER BY id DESC LIMIT 50` makes PostgreSQL walk the primary key backwards
and filter (seconds at ten million rows). Given the stations, each one's first rows are read from its own
stretch of an index on (station_id, sort key) and the top of those taken (a UNION ALL of per-station LIMIT
subqueries, on both databases).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import (Date, DateTime, Integer, Select, String, and_, inspect, or_, select, true, tuple_,
                        union_all)
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, BooleanClauseList, ColumnElement, Grouping, UnaryExpression

from app.scope import station_table

# SQLite refuses a compound select of more than 500 parts (SQLITE_MAX_COMPOUND_SELECT).
SQLITE_MAX_SPLIT = 400


@dataclass(frozen=True)
class Key:
    """One column of a list's order."""

    column: ColumnElement
    attr: str
    descending: bool
    nullable: bool


@dataclass(frozen=True)
class Order:
    """A list's order as keyset pagination reads it."""

    keys: tuple[Key, ...]
    entity: type

    def values(self, item) -> list:
        """The sort key of one row (an entity instance)."""
        return [getattr(item, k.attr) for k in self.keys]

    def encode(self, item) -> str:
        """The row's sort key as a cursor for a link."""
        return json.dumps([_jsonable(v) for v in self.values(item)], separators=(",", ":"), ensure_ascii=False)

    def decode(self, text: str | None) -> list | None:
        """A cursor from a link back into values of the key's types; None when absent or not one of ours."""
        if not text:
            return None
        try:
            raw = json.loads(text)
        except ValueError:
            return None
        if not isinstance(raw, list) or len(raw) != len(self.keys):
            return None
        values = []
        for key, value in zip(self.keys, raw):
            if value is None:
                if not key.nullable or key is not self.keys[0]:
                    return None
                values.append(None)
                continue
            try:
                values.append(_typed(key.column.type, value))
            except (TypeError, ValueError):
                return None
        return values


def _jsonable(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "value"):  # an Enum
        return value.value
    return value


def _typed(sql_type, value):
    if isinstance(sql_type, DateTime):
        return dt.datetime.fromisoformat(str(value))
    if isinstance(sql_type, Date):
        return dt.date.fromisoformat(str(value))
    if isinstance(sql_type, Integer):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(value)
        return value
    if isinstance(sql_type, String):
        if not isinstance(value, str):
            raise TypeError(value)
        return value
    raise TypeError(sql_type)


def order_of(stmt: Select) -> Order | None:
    """The keyset order of a select of one entity, or None when its ORDER BY is not one (then OFFSET pages)."""
    descriptions = stmt.column_descriptions
    if len(descriptions) != 1 or descriptions[0].get("entity") is None or descriptions[0]["expr"] is not \
            descriptions[0]["entity"]:
        return None
    entity = descriptions[0]["entity"]
    mapper = inspect(entity)
    keys = []
    for clause in stmt._order_by_clauses:
        descending = False
        if isinstance(clause, UnaryExpression):
            if clause.modifier is operators.desc_op:
                descending = True
            elif clause.modifier is not operators.asc_op:
                return None
            clause = clause.element
        table = getattr(clause, "table", None)
        if table is None or table not in mapper.tables:
            return None
        try:
            prop = mapper.get_property_by_column(clause)
        except Exception:  # not a mapped column of the entity (an expression)
            return None
        keys.append(Key(clause, prop.key, descending, bool(getattr(clause, "nullable", True))
                        and not clause.primary_key))
    if not keys or not keys[-1].column.primary_key or any(k.nullable for k in keys[1:]):
        return None
    return Order(tuple(keys), entity)


def _compares(where: ColumnElement | None, column: ColumnElement) -> bool:
    """True when one of the WHERE's AND-ed terms compares `column` with a value (so no row of it is NULL)."""
    if where is None:
        return False
    if isinstance(where, BooleanClauseList) and where.operator is operators.and_:
        return any(_compares(term, column) for term in where.clauses)
    if isinstance(where, Grouping):
        return _compares(where.element, column)
    return (isinstance(where, BinaryExpression) and where.operator in COMPARISONS
            and isinstance(where.left, ColumnElement) and where.left.compare(column))


COMPARISONS = {operators.lt, operators.le, operators.gt, operators.ge, operators.eq, operators.between_op}


def _stretches(order: Order, nulls_high: bool, where=None) -> list[tuple[ColumnElement | None, tuple[Key, ...]]]:
    """The list's stretches in list order: (condition, keys ordering it)."""
    first = order.keys[0]
    if not first.nullable or _compares(where, first.column):
        # No NULLs (a worklist's date range, say): one stretch, and no query for an empty one, which PostgreSQL
        # may answer by reading every row of the stations.
        return [(None, order.keys)]
    non_null = (first.column.is_not(None), order.keys)
    nulls = (first.column.is_(None), order.keys[1:])
    # Ascending: NULLs after the values when they sort high; descending: before.
    nulls_after = nulls_high != first.descending
    return [non_null, nulls] if nulls_after else [nulls, non_null]


def _beyond(keys: tuple[Key, ...], values: list, forward: bool) -> ColumnElement:
    """Rows strictly past `values` in the walking direction."""
    def later(key: Key) -> bool:  # True: "greater than" is further along
        return key.descending != forward
    if all(later(k) == later(keys[0]) for k in keys):
        cols = [k.column for k in keys]
        left = tuple_(*cols) if len(cols) > 1 else cols[0]
        right = tuple_(*values) if len(values) > 1 else values[0]
        return left > right if later(keys[0]) else left < right
    terms = []
    for i, key in enumerate(keys):
        equal = [keys[j].column == values[j] for j in range(i)]
        step = key.column > values[i] if later(key) else key.column < values[i]
        terms.append(and_(*equal, step))
    return or_(*terms)


def _order_by(keys: tuple[Key, ...], forward: bool) -> list:
    return [k.column.asc() if k.descending != forward else k.column.desc() for k in keys]


@dataclass(frozen=True)
class Split:
    """Read a list station by station and merge: the station column and the stations of the list."""

    column: ColumnElement
    station_ids: tuple[int, ...]


def _read(session: Session, stmt: Select, order: Order, forward: bool, limit: int, offset: int,
          split: Split | None) -> list:
    """One stretch's rows in walking order, `offset` rows skipped."""
    # The NULL stretch is ordered by the whole key too (its first column is NULL throughout): the same order,
    # which PostgreSQL then reads from the (station, column, id) index instead of walking the station's rows.
    keys = order.keys
    ordered = stmt.order_by(None).order_by(*_order_by(keys, forward))
    if split is None:
        return list(session.scalars(ordered.limit(limit).offset(offset or None)))
    pk = order.keys[-1].column
    cols = [k.column for k in order.keys]
    bare = select(*cols)
    if stmt.whereclause is not None:
        bare = bare.where(stmt.whereclause)
    # Each station's first rows from its own stretch of the (station, key) index, then the first of those.
    if session.get_bind().dialect.name == "postgresql":
        # A LATERAL subquery over the stations as one array: planned once, whatever the number of stations.
        sids = station_table(split.station_ids)
        each = bare.where(split.column == sids.c.sid).order_by(*_order_by(keys, forward)).limit(limit + offset)
        each = each.lateral()
        merged = select(*each.c).select_from(sids).join(each, true()).subquery()
    else:
        # A subquery each (SQLite takes no LIMIT on a compound select's parts), as one UNION ALL.
        parts = [select(*sub.c).select_from(sub) for sub in
                 (bare.where(split.column == s).order_by(*_order_by(keys, forward)).limit(limit + offset).subquery()
                  for s in split.station_ids)]
        merged = union_all(*parts).subquery()
    top = (select(merged.c[pk.key])
           .order_by(*[merged.c[k.column.key].asc() if k.descending != forward else merged.c[k.column.key].desc()
                       for k in keys])
           .limit(limit).offset(offset or None))
    # The page's rows by their ids alone: repeating the list's WHERE here let SQLite read the stations' index
    # (every row of the stations) instead of the 50 ids.
    final = select(order.entity).options(*stmt._with_options).where(pk.in_(top))
    return list(session.scalars(final.order_by(*_order_by(keys, forward))))


def can_split(stmt: Select, order: Order) -> bool:
    """True when the select reads its entity's table alone (its WHERE can be repeated per station)."""
    # Joins the entity's eager loads add are not the list's: only explicit joins or FROMs stop the split.
    return not stmt._setup_joins and not stmt._from_obj


def walk(session: Session, stmt: Select, order: Order, *, boundary: list | None, forward: bool, limit: int,
         offset: int = 0, split: Split | None = None) -> list:
    """Up to `limit` rows strictly after (forward) or before the boundary row's key (from the start or the end
    when None), skipping `offset` rows first, in list order."""
    from app.db import count_of

    nulls_high = session.get_bind().dialect.name != "sqlite"
    # One station on PostgreSQL goes through the same LATERAL read: with the station's id as a literal, its
    # planner may trust its statistics and walk the primary key backwards filtering on the station (1.5 s for
    # the first page of the oldest station at a million rows); SQLite reads (station_id, id) either way.
    if split is not None and (len(split.station_ids) < (1 if nulls_high else 2) or not can_split(stmt, order)
                              or (len(split.station_ids) > SQLITE_MAX_SPLIT and not nulls_high)):
        split = None
    stretches = _stretches(order, nulls_high, stmt.whereclause)
    if not forward:
        stretches = stretches[::-1]
    start = 0
    if boundary is not None and len(stretches) > 1:
        in_nulls = boundary[0] is None
        start = next(i for i, (_c, keys) in enumerate(stretches) if (len(keys) < len(order.keys)) == in_nulls)
    rows: list = []
    for i, (cond, keys) in enumerate(stretches[start:]):
        part = stmt if cond is None else stmt.where(cond)
        if i == 0 and boundary is not None:
            part = part.where(_beyond(keys, boundary[len(order.keys) - len(keys):], forward))
        got = _read(session, part, order, forward, limit - len(rows), offset, split)
        if offset:
            # Nothing read: the whole stretch lay inside the offset, whose rest carries into the next one.
            offset = offset - session.execute(count_of(part)).scalar_one() if not got else 0
        rows.extend(got)
        if len(rows) >= limit:
            break
    return rows if forward else rows[::-1]
