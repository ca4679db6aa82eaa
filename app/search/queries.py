"""Named search queries: merchants and instruments whose folded search text contains the folded query."""
from __future__ import annotations

from sqlalchemy import Select, func, select

from app.instruments.models import Instrument
from app.merchants.models import Merchant
from app.scope import Scope
from app.search.match import Contains

# Past this many matches a group says "more than" instead of counting them all: an exact count of
# 300,000 matches of a three-character query costs more than the whole page may.
COUNT_CAP = 1000


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
