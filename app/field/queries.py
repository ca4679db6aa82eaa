"""Named queries of field work: what a phone keeps for offline work, and an inspection by the phone's id.

Each returns a select(); the offline packet's bounds are applied by app/field/services.py (packet()).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, exists, func, select

from app.catalog.models import InstrumentType
from app.inspections.models import Campaign, CampaignTarget, Inspection
from app.instruments.models import Instrument, InstrumentStatus
from app.instruments.queries import worklist_condition
from app.merchants.models import Merchant
from app.scope import Scope

# Instruments a phone may still check: not scrapped or replaced.
NOT_RETIRED = (InstrumentStatus.IN_USE, InstrumentStatus.STOPPED)


def due_instruments(scope: Scope, today: dt.date, days: int, limit: int) -> Select:
    """(id, merchant_id) of in-use instruments in the scope that are overdue or due within `days`, most urgent
    first: today's worklists (已超期, 即将到期) as the worklist pages count them."""
    due = worklist_condition("overdue", today, days) | worklist_condition("due_soon", today, days)
    stmt = select(Instrument.id, Instrument.merchant_id).where(due)
    return scope.apply(stmt, Instrument.station_id).order_by(Instrument.next_due_on, Instrument.id).limit(limit)


def open_target_merchants(scope: Scope, today: dt.date, limit: int) -> Select:
    """Ids of merchants planned in a campaign running today (in the scope) and not yet inspected in it."""
    inspected = exists().where(Inspection.campaign_id == CampaignTarget.campaign_id,
                               Inspection.merchant_id == CampaignTarget.merchant_id)
    stmt = (select(CampaignTarget.merchant_id).join(Campaign, Campaign.id == CampaignTarget.campaign_id)
            .where(Campaign.starts_on <= today, Campaign.ends_on >= today, ~inspected))
    stmt = scope.apply(stmt, CampaignTarget.station_id)
    return stmt.group_by(CampaignTarget.merchant_id).order_by(CampaignTarget.merchant_id).limit(limit)


def recent_campaigns(today: dt.date, since: dt.date, limit: int) -> Select:
    """Campaigns whose period reaches into [since, today], newest first: those a visit recorded today, or dated a
    few days back, may belong to."""
    return (select(Campaign).where(Campaign.starts_on <= today, Campaign.ends_on >= since)
            .order_by(Campaign.starts_on.desc(), Campaign.id.desc()).limit(limit))


def open_targets(scope: Scope, today: dt.date, merchant_ids: list[int]) -> Select:
    """(merchant_id, campaign_id) of these merchants planned in a campaign running today and not yet inspected in
    it: the phone chooses that campaign for them."""
    inspected = exists().where(Inspection.campaign_id == CampaignTarget.campaign_id,
                               Inspection.merchant_id == CampaignTarget.merchant_id)
    stmt = (select(CampaignTarget.merchant_id, CampaignTarget.campaign_id)
            .join(Campaign, Campaign.id == CampaignTarget.campaign_id)
            .where(CampaignTarget.merchant_id.in_(merchant_ids), Campaign.starts_on <= today,
                   Campaign.ends_on >= today, ~inspected))
    return scope.apply(stmt, CampaignTarget.station_id).order_by(CampaignTarget.merchant_id, Campaign.starts_on)


def merchant_rows(merchant_ids: list[int]) -> Select:
    """The packet's columns of these merchants."""
    return select(Merchant.id, Merchant.name, Merchant.address, Merchant.station_id, Merchant.version).where(
        Merchant.id.in_(merchant_ids))


def instrument_counts(merchant_ids: list[int]) -> Select:
    """(merchant_id, n): how many instruments that are not retired each of these merchants has."""
    return (select(Instrument.merchant_id, func.count().label("n"))
            .where(Instrument.merchant_id.in_(merchant_ids), Instrument.status.in_(NOT_RETIRED))
            .group_by(Instrument.merchant_id))


def instrument_rows(merchant_ids: list[int], per_merchant: int) -> Select:
    """The packet's columns of these merchants' instruments that are not retired, at most `per_merchant` each
    (the most urgent first, then by kind and serial)."""
    rank = func.row_number().over(partition_by=Instrument.merchant_id,
                                  order_by=(Instrument.next_due_on.is_(None), Instrument.next_due_on,
                                            Instrument.type_id, Instrument.serial_no, Instrument.id)).label("rank")
    inner = (select(Instrument.id, Instrument.merchant_id, InstrumentType.name_zh.label("kind_name"),
                    Instrument.serial_no, Instrument.model, Instrument.status, Instrument.next_due_on,
                    Instrument.replace_by, Instrument.last_verified_on, Instrument.version, Instrument.type_id, rank)
             .join(InstrumentType, InstrumentType.id == Instrument.type_id)
             .where(Instrument.merchant_id.in_(merchant_ids), Instrument.status.in_(NOT_RETIRED))).subquery()
    return (select(inner).where(inner.c.rank <= per_merchant)
            .order_by(inner.c.merchant_id, inner.c.type_id, inner.c.serial_no, inner.c.id))


def inspection_by_client_id(client_id: str) -> Select:
    """The inspection a phone recorded under this id (at most one: the column is unique)."""
    return select(Inspection).where(Inspection.client_id == client_id)
