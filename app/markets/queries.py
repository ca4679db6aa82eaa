"""Named market queries: fair scales, the re-weigh log, stalls with repeated shortfalls, the duty checklist."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, func, select

from app.markets.models import DutyCheck, FairScale, Reweigh
from app.merchants.models import Industry, Merchant
from app.scope import Scope


def fair_scales_of(market_id: int, active_only: bool = True) -> Select:
    """A market's fair scales (in use only, unless asked), by location."""
    stmt = select(FairScale).where(FairScale.market_id == market_id).order_by(FairScale.location, FairScale.id)
    return stmt.where(FairScale.is_active.is_(True)) if active_only else stmt


def reweighs_of(market_id: int, limit: int = 200) -> Select:
    """A market's re-weighs, newest first (voided ones too: they stay visible)."""
    return (select(Reweigh).where(Reweigh.market_id == market_id)
            .order_by(Reweigh.weighed_on.desc(), Reweigh.id.desc()).limit(limit))


def market_stalls(market_id: int) -> Select:
    """The vendors (集贸市场经营户) registered under a market, by name."""
    return (select(Merchant).where(Merchant.parent_id == market_id, Merchant.industry == Industry.MARKET_VENDOR)
            .order_by(Merchant.name, Merchant.id))


def short_reweighs(since: dt.date) -> Select:
    """Re-weighs in force since a date whose shortfall is beyond the tolerance (短斤缺两), with a stall."""
    return select(Reweigh).where(Reweigh.in_force(), Reweigh.weighed_on >= since, Reweigh.stall_id.is_not(None),
                                 Reweigh.shortfall_g > Reweigh.tolerance_g)


def repeated_shortfall_merchants(since: dt.date, at_least: int = 2) -> Select:
    """merchant_id of the stalls whose re-weighs since the date found a shortfall beyond the tolerance at least
    `at_least` times (voided re-weighs do not count): the 重点关注 candidates."""
    short = short_reweighs(since).subquery()
    return (select(short.c.stall_id.label("merchant_id")).group_by(short.c.stall_id)
            .having(func.count() >= at_least))


def shortfall_counts(scope: Scope, since: dt.date) -> Select:
    """(stall id, shortfalls beyond tolerance since the date) of stalls in the scope."""
    stmt = (select(Reweigh.stall_id, func.count()).where(
        Reweigh.in_force(), Reweigh.weighed_on >= since, Reweigh.stall_id.is_not(None),
        Reweigh.shortfall_g > Reweigh.tolerance_g).group_by(Reweigh.stall_id))
    return scope.apply(stmt, Reweigh.station_id)


def organiser_scales(market_id: int) -> Select:
    """The organiser's instruments in use, for choosing a fair scale (the view keeps the weighing kinds)."""
    from app.instruments.models import Instrument, InstrumentStatus

    return (select(Instrument).where(Instrument.merchant_id == market_id, Instrument.status == InstrumentStatus.IN_USE)
            .order_by(Instrument.id))


def duty_checks_of(inspection_id: int) -> Select:
    """The organiser-duty checks of an inspection."""
    return select(DutyCheck).where(DutyCheck.inspection_id == inspection_id).order_by(DutyCheck.id)


def public_fair_scales(market_ids: list[int]) -> Select:
    """(market id, location, instrument kind name, next due date) of the markets' fair scales in use, for the
    public search page."""
    from app.catalog.models import InstrumentType
    from app.instruments.models import Instrument

    return (select(FairScale.market_id, FairScale.location, InstrumentType.name_zh, Instrument.next_due_on)
            .join(Instrument, Instrument.id == FairScale.instrument_id)
            .join(InstrumentType, InstrumentType.id == Instrument.type_id)
            .where(FairScale.market_id.in_(market_ids), FairScale.is_active.is_(True),
                   Instrument.status == "in_use")
            .order_by(FairScale.market_id, FairScale.location, FairScale.id))
