"""Demo special inspections: one campaign with a random draw, inspections, findings and orders (no Flask)."""
from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Role, Station, User
from app.catalog.models import FindingCode
from app.inspections import services
from app.inspections.models import CREDIT_CLASSES, CampaignTarget
from app.instruments.models import Instrument
from app.merchants.models import Merchant
from app.scope import Scope

FINDINGS = (("OVERDUE", "stop_use"), ("NO_VALID_MARK", "rectify"), ("NOT_MEASURING", "rectify"),
            ("PLEDGE_NOT_DISPLAYED", "on_the_spot"), ("NO_FAIR_SCALE", "rectify"), ("SHORT_MEASURE", "case"))


def add_demo_inspections(session: Session, today: dt.date, seed: int) -> dict[str, int]:
    """Class some merchants, draw a running campaign and record visits for about half of its targets."""
    r = random.Random(seed)
    supervisor = session.scalars(select(User).where(User.role == Role.SUPERVISOR).order_by(User.id)).first()
    roster = session.scalars(select(User).where(User.role.in_([Role.INSPECTOR, Role.SUPERVISOR]))
                             .order_by(User.id)).all()
    station_ids = list(session.scalars(select(Station.id).order_by(Station.id)))
    if supervisor is None or len(roster) < 2 or not station_ids:
        return {"inspections": 0}
    # Until the credit-class capability computes them, a share of merchants gets a class for the demo.
    for merchant in session.scalars(select(Merchant).order_by(Merchant.id)):
        if r.random() < 0.6:
            merchant.credit_class = r.choices(CREDIT_CLASSES, (30, 40, 20, 10))[0]
    campaign = services.create_campaign(session, supervisor, {
        "name": f"{today.year}年计量器具双随机抽查", "starts_on": today - dt.timedelta(days=40),
        "ends_on": today + dt.timedelta(days=20), "station_ids": station_ids, "type_ids": [], "industries": [],
        "notes": "按信用等级分类抽查，重点检查电子计价秤、加油机和眼镜制配计量器具。"})
    services.run_draw(session, supervisor, campaign, station_ids=station_ids, industries=[],
                      rates={"A": 5, "B": 10, "C": 20, "D": 40, "none": 10}, inspectors_per_target=2,
                      exclude_own_station=False, roster_ids=[u.id for u in roster], seed=seed)
    targets = session.scalars(select(CampaignTarget).where(CampaignTarget.campaign_id == campaign.id)
                              .order_by(CampaignTarget.id)).all()
    codes = {c.code: c.id for c in session.scalars(select(FindingCode))}
    made = 0
    for target in targets[: max(1, len(targets) // 2)]:
        merchant = session.get(Merchant, target.merchant_id)
        owned = session.scalars(select(Instrument).where(Instrument.merchant_id == merchant.id)
                                .order_by(Instrument.id).limit(3)).all()
        on = today - dt.timedelta(days=r.randint(1, 35))
        visit = r.choices(("conducted", "no_activity", "unreachable"), (90, 5, 5))[0]
        problem = visit == "conducted" and owned and r.random() < 0.4
        checks = [(i.id, "problem" if problem and n == 0 else "ok") for n, i in enumerate(owned)] \
            if visit == "conducted" else []
        inspection = services.record_inspection(session, supervisor, Scope.everything(), merchant, {
            "inspected_on": on, "visit_outcome": visit, "campaign_id": campaign.id,
            "inspector_ids": target.inspector_ids, "checks": checks, "notes": "现场检查计量器具使用情况。"}, today)
        made += 1
        if problem:
            code, measure = r.choice(FINDINGS)
            services.add_finding(session, supervisor, inspection, {
                "code_id": codes[code], "measure": measure, "check_id": inspection.checks[0].id,
                "case_no": f"{today.year}-计-{inspection.id:04d}" if measure == "case" else None,
                "description": "演示数据"})
    return {"inspections": made}
