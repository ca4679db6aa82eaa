"""Named search queries: records whose folded search text contains the folded query."""
from __future__ import annotations

from sqlalchemy import Select, select, true

from app.scope import Scope, station_table
from app.search.match import Contains

# Past this many matches a group says "more than" instead of counting them all: an exact count of
# 300,000 matches of a three-character query costs more than the whole page may.
COUNT_CAP = 1000


def matching_ids(model: type, scope: Scope, key: str, cap: int = COUNT_CAP, dialect: str = "sqlite") -> Select:
    """Ids of the model's records in scope whose search text contains the folded key, at most cap + 1.

    No ORDER BY, on purpose: with "ORDER BY id DESC LIMIT n" PostgreSQL walks the primary key backwards
    hoping to meet matches early, and for an inspector whose station holds the oldest ids it read 900,000
    rows (2.4 s). Without it both databases take the trigram index, and the caller orders the ids it got.
    On PostgreSQL several stations are searched station by station (a LATERAL over their ids): the trigram
    index leads with the station (migration 0040), and GIN cannot take "station_id IN (...)" as a key, so one
    query over all of them would read every match in the installation first (a city of a province: 685 ms).
    """
    found = select(model.id).where(Contains(model, key))
    stations = scope.station_ids
    if dialect == "postgresql" and stations is not None and len(stations) > 1:
        sids = station_table(stations)
        each = found.where(model.station_id == sids.c.sid).limit(cap + 1).lateral()
        return select(each.c.id).select_from(sids).join(each, true()).limit(cap + 1)
    return scope.apply(found, model.station_id).limit(cap + 1)


def records_by_ids(model: type, ids: list[int]) -> Select:
    """The model's records with these ids, newest first."""
    return select(model).where(model.id.in_(ids)).order_by(model.id.desc())
