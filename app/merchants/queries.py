"""Named merchant queries."""
from __future__ import annotations

from sqlalchemy import Select, or_, select

from app.merchants.models import Industry, Merchant
from app.scope import Scope
from app.search.keys import MIN_QUERY_CHARS, search_key
from app.search.match import Contains
from app.text import as_typed, match_key


def merchant_list(scope: Scope, *, q: str = "", station_id: int | None = None,
                  industry: str | None = None, sort: str = "name") -> Select:
    """Merchants in scope, filtered by text, station and industry."""
    stmt = scope.apply(select(Merchant), Merchant.station_id)
    if station_id:
        stmt = stmt.where(Merchant.station_id == station_id)
    if industry:
        stmt = stmt.where(Merchant.industry == Industry(industry))
    text = as_typed(q)
    if len(key := search_key(q)) >= MIN_QUERY_CHARS:
        # The search page's indexed match: any part, whatever the width, brackets or case.
        stmt = stmt.where(Contains(Merchant, key))
    elif text:
        # Names by their key, so either bracket style, width and case find them; credit codes are stored folded.
        stmt = stmt.where(or_(Merchant.name_key.contains(match_key(text), autoescape=True),
                              Merchant.credit_code.contains(match_key(text), autoescape=True),
                              Merchant.address.contains(text, autoescape=True)))
    order = {"name": Merchant.name, "-name": Merchant.name.desc(), "created": Merchant.id,
             "-created": Merchant.id.desc()}.get(sort, Merchant.name)
    return stmt.order_by(order, Merchant.id)


def market_organisers(scope: Scope) -> Select:
    """Merchants that run a market, for the vendor's parent picker."""
    stmt = select(Merchant).where(Merchant.industry == Industry.MARKET_ORGANISER)
    return scope.apply(stmt, Merchant.station_id).order_by(Merchant.name)


def utility_companies(scope: Scope) -> Select:
    """Water, power and gas suppliers in scope: the owners of household meters."""
    stmt = select(Merchant).where(Merchant.industry == Industry.UTILITY)
    return scope.apply(stmt, Merchant.station_id).order_by(Merchant.name)


def vendors_of(merchant_id: int) -> Select:
    """Market vendors that belong to a market organiser."""
    return select(Merchant).where(Merchant.parent_id == merchant_id).order_by(Merchant.name)


def merchants_by_ids(ids) -> Select:
    """The merchants with these ids."""
    return select(Merchant).where(Merchant.id.in_(sorted(set(ids))))
