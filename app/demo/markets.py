"""Demo markets: a fair scale in each market organiser's hall, re-weighs at it (one stall short twice, so the
market page flags it), and the duty checklist of an inspection of the first market (no Flask)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Role, User
from app.catalog.models import InstrumentType
from app.inspections.services import record_inspection
from app.instruments.models import Instrument, InstrumentStatus
from app.instruments.services import create_instrument
from app.markets import queries, services
from app.markets.models import Duty, DutyOutcome
from app.merchants.models import Industry, Merchant
from app.scope import Scope

# (goods, category, claimed g, found g): the first stall is short twice beyond the tolerance, the second once within.
REWEIGHS = (("猪肉", "fresh", 1000, 985, 0), ("排骨", "fresh", 1500, 1490, 0), ("苹果", "staple", 2000, 1990, 1),
            ("大米", "staple", 5000, 5010, 1))


def add_demo_markets(session: Session, today: dt.date) -> dict[str, int]:
    """Fair scales, re-weighs and one organiser-duty checklist."""
    everything = Scope.everything()
    organisers = session.scalars(select(Merchant).where(Merchant.industry == Industry.MARKET_ORGANISER)
                                 .order_by(Merchant.id)).all()
    platform = session.scalars(select(InstrumentType).where(InstrumentType.code == "platform_scale")).first()
    counts = {"fair_scales": 0, "reweighs": 0}
    for n, market in enumerate(organisers):
        scale = next((i for i in session.scalars(select(Instrument).where(
            Instrument.merchant_id == market.id, Instrument.status == InstrumentStatus.IN_USE).order_by(Instrument.id))
            if i.type.category == services.WEIGHING_CATEGORY), None)
        if scale is None and platform is not None:
            scale = create_instrument(session, None, everything, {
                "type_id": platform.id, "merchant_id": market.id, "serial_no": f"GPC-{market.id:05d}",
                "maker": "某衡器有限公司", "model": "TCS-150", "location": "服务台"})
        if scale is None:
            continue
        fair = services.mark_fair_scale(session, None, everything, scale, ("东门入口服务台旁", "市场管理办公室门口")[n % 2])
        counts["fair_scales"] += 1
        stalls = session.scalars(queries.market_stalls(market.id).limit(2)).all()
        for i, (goods, category, claimed, found, stall) in enumerate(REWEIGHS):
            services.record_reweigh(session, None, fair, {
                "weighed_on": today - dt.timedelta(days=3 + 7 * i), "goods": goods, "category": category,
                "claimed_g": claimed, "found_g": found,
                "stall_id": stalls[stall].id if len(stalls) > stall else None}, today)
            counts["reweighs"] += 1
    if organisers:
        inspectors = session.scalars(select(User).where(User.role.in_([Role.INSPECTOR, Role.SUPERVISOR]))
                                     .order_by(User.id).limit(2)).all()
        if len(inspectors) == 2:
            inspection = record_inspection(session, inspectors[0], everything, organisers[0], {
                "inspected_on": today - dt.timedelta(days=2), "visit_outcome": "conducted",
                "inspector_ids": [u.id for u in inspectors], "checks": [],
                "notes": "集贸市场主办者计量义务检查。"}, today)
            services.record_duty_checks(session, inspectors[0], inspection, {
                Duty.RULES: (DutyOutcome.MET, "计量管理制度已上墙", False),
                Duty.AGREEMENTS: (DutyOutcome.NOT_MET, "部分新入场经营户未签订计量协议", True),
                Duty.REGISTERED: (DutyOutcome.MET, "", False),
                Duty.FAIR_SCALES: (DutyOutcome.MET, "公平秤设置在东门入口", False),
                Duty.PLEDGES: (DutyOutcome.MET, "", False)})
    return counts
