"""Markets (services flush, never commit): fair scales marked on an organiser's instruments, the re-weigh log
(evidence: voided with a reason, never edited), the organiser-duty checklist of an inspection."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.errors import Invalid, NotFound
from app.inspections.models import Inspection, VisitOutcome
from app.instruments.models import Instrument, InstrumentStatus
from app.markets.models import Duty, DutyCheck, DutyOutcome, FairScale, Reweigh
from app.markets.tolerance import GoodsCategory, table_limit_g, tolerance_g
from app.merchants.models import Industry, Merchant
from app.scope import Scope
from app.text import as_typed
from app.voiding.services import void_record

WEIGHING_CATEGORY = "非自动衡器"  # 项别 of the scales a fair scale can be (the catalogue's, see app/catalog)
MAX_GRAMS = 1_000_000
# The finding each unmet duty raises (codes of app/catalog/seed/finding_codes.csv).
DUTY_FINDINGS = {Duty.RULES: "NO_MGMT_SYSTEM", Duty.AGREEMENTS: "MARKET_NO_AGREEMENT", Duty.REGISTERED: "NOT_FILED",
                 Duty.FAIR_SCALES: "NO_FAIR_SCALE", Duty.PLEDGES: "MARKET_NO_PLEDGE_DRIVE"}


def mark_fair_scale(session: Session, actor, scope: Scope, instrument: Instrument, location: str) -> FairScale:
    """Mark a market organiser's scale as a 公平秤 at a place in the market (again, after an unmarking)."""
    if not scope.allows(instrument.station_id):
        raise NotFound("计量器具不存在")
    if instrument.merchant.industry != Industry.MARKET_ORGANISER:
        raise Invalid("公平秤应为集贸市场主办者的计量器具", field="location")
    if instrument.type.category != WEIGHING_CATEGORY:
        raise Invalid(f"“{instrument.type.name_zh}”不是衡器，不能作为公平秤", field="location")
    if instrument.status != InstrumentStatus.IN_USE:
        raise Invalid("该器具不在使用中，不能作为公平秤", field="location")
    location = as_typed(location)
    if not location:
        raise Invalid("请填写公平秤在市场内的位置", field="location")
    if len(location) > 120:
        raise Invalid("位置不能超过120个字", field="location")
    row = session.scalars(select(FairScale).where(FairScale.instrument_id == instrument.id)).first()
    if row is None:
        row = FairScale(instrument_id=instrument.id, market_id=instrument.merchant_id,
                        station_id=instrument.station_id, location=location, is_active=True)
        session.add(row)
        session.flush()
        audit.record(session, actor, "create", row, audit.snapshot(row, ["location"]),
                     entity_label=f"{instrument.merchant.name} {instrument}", note="设为公平秤")
        return row
    changes = audit.apply_changes(row, {"location": location, "is_active": True,
                                        "market_id": instrument.merchant_id, "station_id": instrument.station_id})
    if changes:
        session.flush()
        audit.record(session, actor, "update", row, changes, entity_label=f"{instrument.merchant.name} {instrument}")
    return row


def unmark_fair_scale(session: Session, actor, row: FairScale) -> None:
    """Stop using an instrument as a fair scale (its re-weigh log stays)."""
    changes = audit.apply_changes(row, {"is_active": False})
    if changes:
        session.flush()
        audit.record(session, actor, "update", row, changes, note="不再作为公平秤")


def get_fair_scale(session: Session, scope: Scope, fair_scale_id: int) -> FairScale:
    """A fair scale of a station in the scope, else NotFound."""
    row = session.get(FairScale, fair_scale_id)
    if row is None or not scope.allows(row.station_id):
        raise NotFound("公平秤不存在")
    return row


def get_market(session: Session, scope: Scope, merchant_id: int) -> Merchant:
    """A market organiser in the scope, else NotFound."""
    market = session.get(Merchant, merchant_id)
    if market is None or not scope.allows(market.station_id) or market.industry != Industry.MARKET_ORGANISER:
        raise NotFound("集贸市场不存在")
    return market


def _grams(values: dict, name: str, label: str, minimum: int) -> int:
    value = values.get(name)
    if value is None or value == "":
        raise Invalid(f"请填写{label}（克）", field=name)
    if not isinstance(value, int) or not minimum <= value <= MAX_GRAMS:
        raise Invalid(f"{label}应为 {minimum} 到 {MAX_GRAMS} 之间的整数（克）", field=name)
    return value


def record_reweigh(session: Session, actor, scale: FairScale, values: dict, today: dt.date) -> Reweigh:
    """Log a re-weigh at a fair scale: the shortfall and the tolerance that applies to the claimed weight
    (app/markets/tolerance.py) are kept as they were."""
    if not scale.is_active:
        raise Invalid("该器具已不再作为公平秤")
    weighed_on = values.get("weighed_on")
    if not isinstance(weighed_on, dt.date):
        raise Invalid("请填写复秤日期", field="weighed_on")
    if weighed_on > today:
        raise Invalid("复秤日期不能晚于今天", field="weighed_on")
    goods = as_typed(values.get("goods"))
    if not goods:
        raise Invalid("请填写商品名称", field="goods")
    if len(goods) > 60:
        raise Invalid("商品名称不能超过60个字", field="goods")
    try:
        category = GoodsCategory(values.get("category"))
    except ValueError:
        raise Invalid("请选择商品类别", field="category") from None
    claimed = _grams(values, "claimed_g", "标称重量", 1)
    found = _grams(values, "found_g", "复秤重量", 0)
    tolerance = tolerance_g(category, claimed)
    if tolerance is None:
        raise Invalid(f"标称重量超出《零售商品称重计量监督管理办法》附表1中该类商品的称重范围（不超过 "
                      f"{table_limit_g(category) / 1000:g} 千克），无法按该办法判定", field="claimed_g")
    stall_id = values.get("stall_id") or None
    if stall_id is not None:
        stall = session.get(Merchant, stall_id)
        if stall is None or stall.parent_id != scale.market_id:
            raise Invalid("所选摊位不是本市场的经营户", field="stall_id")
    row = Reweigh(fair_scale_id=scale.id, market_id=scale.market_id, station_id=scale.station_id, stall_id=stall_id,
                  weighed_on=weighed_on, goods=goods, category=category, claimed_g=claimed, found_g=found,
                  shortfall_g=claimed - found, tolerance_g=tolerance, notes=as_typed(values.get("notes"))[:2000],
                  created_by_id=getattr(actor, "id", None))
    session.add(row)
    session.flush()
    audit.record(session, actor, "create", row, audit.snapshot(row, [
        "weighed_on", "goods", "category", "claimed_g", "found_g", "shortfall_g", "tolerance_g", "stall", "notes"]),
        entity_label=f"{scale.market.name} 复秤 {goods}")
    return row


def get_reweigh(session: Session, scope: Scope, reweigh_id: int) -> Reweigh:
    """A re-weigh of a station in the scope, else NotFound."""
    row = session.get(Reweigh, reweigh_id)
    if row is None or not scope.allows(row.station_id):
        raise NotFound("复秤记录不存在")
    return row


def void_reweigh(session: Session, actor, row: Reweigh, reason: str) -> list[dict]:
    """Void a wrong re-weigh with a reason; it stays visible and counts nowhere."""
    return void_record(session, actor, row, reason, what="复秤记录", entity_label=f"复秤 {row.goods} {row.weighed_on}")


def record_duty_checks(session: Session, actor, inspection: Inspection,
                       outcomes: dict[Duty, tuple[DutyOutcome, str, bool]]) -> list[DutyCheck]:
    """Record the organiser-duty checklist of an inspection of a 集贸市场主办者; an unmet duty marked so raises
    its finding (app/inspections add_finding: an order to rectify with the usual deadline). A duty already
    checked in this inspection is not checked again."""
    from app.catalog.models import FindingCode
    from app.inspections.services import add_finding, refuse_if_signed

    if inspection.merchant.industry != Industry.MARKET_ORGANISER:
        raise Invalid("主办者义务检查只适用于集贸市场主办者")
    if inspection.visit_outcome != VisitOutcome.CONDUCTED:
        raise Invalid("未实施检查的记录不能登记主办者义务检查")
    refuse_if_signed(session, inspection.id)
    done = {c.duty for c in session.scalars(select(DutyCheck).where(DutyCheck.inspection_id == inspection.id))}
    codes = {c.code: c.id for c in session.scalars(select(FindingCode))}
    made = []
    for duty, (outcome, note, raise_finding) in outcomes.items():
        if duty in done:
            raise Invalid(f"本次检查已登记“{duty.label}”的检查结论", field=f"duty_{duty.value}")
        note = as_typed(note)[:500]
        if raise_finding and outcome != DutyOutcome.NOT_MET:
            raise Invalid(f"“{duty.label}”符合或不适用，不能登记为问题", field=f"duty_{duty.value}")
        finding = None
        if raise_finding:
            finding = add_finding(session, actor, inspection, {
                "code_id": codes.get(DUTY_FINDINGS[duty]), "measure": "rectify",
                "description": f"主办者义务：{duty.label}——不符合" + (f"。{note}" if note else "")})
        row = DutyCheck(inspection_id=inspection.id, duty=duty, outcome=outcome, note=note,
                        finding_id=finding.id if finding else None, created_by_id=getattr(actor, "id", None))
        session.add(row)
        made.append(row)
    session.flush()
    if made:
        audit.record(session, actor, "create", None, [
            audit.change_row(f"duty_{c.duty.value}", c.duty.label, None,
                             c.outcome.label + ("（已登记问题）" if c.finding_id else "") + (f"：{c.note}" if c.note else ""))
            for c in made], entity_type="market_duty_checks", entity_label=f"{inspection} 主办者义务检查")
    return made
