"""Named integrity queries: pledge lists, counts by station, industry and status, targets (each a select())."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, and_, case, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from app.inspections.models import Finding, Inspection
from app.integrity.models import IntegrityTarget, Pledge, PledgeStatus
from app.merchants.models import Industry, Merchant
from app.scope import Scope
from app.text import match_key


def merchant_finding(finding_id: int, merchant_id: int, scope: Scope) -> Select:
    """The id of a finding made at an inspection of the merchant inside the scope (no row when it is not one)."""
    stmt = (select(Finding.id).join(Inspection, Finding.inspection_id == Inspection.id)
            .where(Finding.id == finding_id, Inspection.merchant_id == merchant_id, Finding.in_force()))
    return scope.apply(stmt, Inspection.station_id)


def is_active(today: dt.date) -> ColumnElement:
    """The condition of a pledge in force: stored active and its review date (if any) not passed."""
    return and_(Pledge.status == PledgeStatus.ACTIVE, or_(Pledge.review_on.is_(None), Pledge.review_on >= today))


def effective_status(today: dt.date) -> ColumnElement:
    """The status as shown, in SQL: active past its review date reads as expired."""
    return case((is_active(today), literal(PledgeStatus.ACTIVE.value)),
                (Pledge.status == PledgeStatus.REVOKED, literal(PledgeStatus.REVOKED.value)),
                else_=literal(PledgeStatus.EXPIRED.value))


def active_pledge_merchants(today: dt.date) -> Select:
    """Ids of the merchants with a pledge in force on `today` (one row per merchant), for the credit class."""
    return select(Pledge.merchant_id).where(is_active(today)).distinct()


def current_pledge(merchant_id: int, today: dt.date) -> Select:
    """A merchant's pledge in force, if any."""
    return select(Pledge).where(Pledge.merchant_id == merchant_id, is_active(today)).order_by(Pledge.id.desc())


def pledges_of_merchant(merchant_id: int) -> Select:
    """All of a merchant's pledges, newest first: the pledge history."""
    return select(Pledge).where(Pledge.merchant_id == merchant_id).order_by(Pledge.signed_on.desc(), Pledge.id.desc())


def _filtered(stmt: Select, scope: Scope, today: dt.date, *, q: str = "", station_id: int | None = None,
              industry: str | None = None, status: str | None = None, model_unit: bool = False) -> Select:
    stmt = scope.apply(stmt.join(Merchant, Pledge.merchant_id == Merchant.id), Merchant.station_id)
    if station_id:
        stmt = stmt.where(Merchant.station_id == station_id)
    if industry:
        stmt = stmt.where(Merchant.industry == Industry(industry))
    if status == PledgeStatus.ACTIVE.value:
        stmt = stmt.where(is_active(today))
    elif status == PledgeStatus.REVOKED.value:
        stmt = stmt.where(Pledge.status == PledgeStatus.REVOKED)
    elif status == PledgeStatus.EXPIRED.value:
        stmt = stmt.where(Pledge.status != PledgeStatus.REVOKED, ~is_active(today))
    if model_unit:
        stmt = stmt.where(Pledge.is_model_unit.is_(True))
    key = match_key(q)
    if key:
        stmt = stmt.where(Merchant.name_key.contains(key, autoescape=True))
    return stmt


def pledge_list(scope: Scope, today: dt.date, *, q: str = "", station_id: int | None = None,
                industry: str | None = None, status: str | None = None, model_unit: bool = False,
                sort: str = "-signed") -> Select:
    """Pledges of merchants in scope, filtered, in the chosen order."""
    stmt = _filtered(select(Pledge), scope, today, q=q, station_id=station_id, industry=industry, status=status,
                     model_unit=model_unit)
    order = {"signed": (Pledge.signed_on, Pledge.id), "-signed": (Pledge.signed_on.desc(), Pledge.id.desc()),
             "review": (Pledge.review_on, Pledge.id), "name": (Merchant.name, Pledge.id)}
    return stmt.order_by(*order.get(sort, order["-signed"]))


def counts_by(group: str, scope: Scope, today: dt.date, **filters) -> Select:
    """(key, pledges in force, demonstration units in force, revoked, expired) grouped by station or industry."""
    key = {"station": Merchant.station_id, "industry": Merchant.industry}[group]
    active = is_active(today)
    stmt = select(key,
                  func.count().filter(active),
                  func.count().filter(and_(active, Pledge.is_model_unit.is_(True))),
                  func.count().filter(Pledge.status == PledgeStatus.REVOKED),
                  func.count().filter(and_(Pledge.status != PledgeStatus.REVOKED, ~active)))
    return _filtered(stmt.select_from(Pledge), scope, today, **filters).group_by(key)


def counts_by_status(scope: Scope, today: dt.date, **filters) -> Select:
    """(effective status, count) over the filtered pledges."""
    # Grouped over a subquery: PostgreSQL would not match a CASE with bound parameters in GROUP BY.
    rows = _filtered(select(effective_status(today).label("status")).select_from(Pledge), scope, today,
                     **filters).subquery()
    return select(rows.c.status, func.count()).group_by(rows.c.status)


def targets() -> Select:
    """Every target row set overall or for a station (a region's: app/rollups/settings.py), with its station."""
    return select(IntegrityTarget).where(IntegrityTarget.region_id.is_(None)).order_by(IntegrityTarget.kind, IntegrityTarget.station_id)

