"""Named search queries: records whose folded search text contains the folded query."""
from __future__ import annotations

from sqlalchemy import Select, select

from app.scope import Scope
from app.search.match import Contains

# Past this many matches a group says "more than" instead of counting them all: an exact count of
# 300,000 matches of a three-character query costs more than the whole page may.
COUNT_CAP = 1000


def matching_ids(model: type, scope: Scope, key: str, cap: int = COUNT_CAP) -> Select:
    """Ids of the model's records in scope whose search text contains the folded key, at most cap + 1.

    No ORDER BY, on purpose: with "ORDER BY id DESC LIMIT n" PostgreSQL walks the primary key backwards
    hoping to meet matches early, and for an inspector whose station holds the oldest ids it read 900,000
    rows (2.4 s). Without it both databases take the trigram index, and the caller orders the ids it got.
    """
    return scope.apply(select(model.id).where(Contains(model, key)), model.station_id).limit(cap + 1)


def records_by_ids(model: type, ids: list[int]) -> Select:
    """The model's records with these ids, newest first."""
    return select(model).where(model.id.in_(ids)).order_by(model.id.desc())
