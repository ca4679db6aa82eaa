"""Named queries for campaigns, draws, inspections, findings and rectifications. Each returns a select()."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, Select, and_, case, distinct, func, literal, select
from sqlalchemy.orm import selectinload

from app.accounts.models import Role, User
from app.catalog.models import FindingCode
from app.db import count_if
from app.inspections.models import (
    Campaign,
    CampaignTarget,
    CheckOutcome,
    EvidenceFile,
    Finding,
    Inspection,
    InspectionInstrument,
    Measure,
    Rectification,
    VisitOutcome,
)
from app.merchants.models import Industry, Merchant
from app.scope import Scope


def campaign_list() -> Select:
    """Campaigns, newest first (campaigns belong to the bureau, not to a station)."""
    return select(Campaign).order_by(Campaign.starts_on.desc(), Campaign.id.desc())


def draw_pool(station_ids: list[int], industries: list[str]) -> Select:
    """(id, station_id, credit_class) of the merchants a draw may pick, in id order."""
    stmt = select(Merchant.id, Merchant.station_id, Merchant.credit_class).where(Merchant.station_id.in_(station_ids))
    if industries:
        stmt = stmt.where(Merchant.industry.in_([Industry(i) for i in industries]))
    return stmt.order_by(Merchant.id)


def inspector_roster() -> Select:
    """Active users who go out on inspections (station inspectors and supervisors), by id."""
    return (select(User).where(User.is_active.is_(True), User.role.in_([Role.INSPECTOR, Role.SUPERVISOR]))
            .order_by(User.id))


def targets_of(campaign_id: int, scope: Scope) -> Select:
    """A campaign's planned merchants in the scope, by station and merchant."""
    stmt = select(CampaignTarget).where(CampaignTarget.campaign_id == campaign_id)
    return scope.apply(stmt, CampaignTarget.station_id).order_by(CampaignTarget.station_id, CampaignTarget.merchant_id)


def inspection_list(scope: Scope, *, campaign_id: int | None = None, merchant_id: int | None = None,
                    station_id: int | None = None) -> Select:
    """Inspections in scope, newest first."""
    stmt = scope.apply(select(Inspection), Inspection.station_id)
    if campaign_id:
        stmt = stmt.where(Inspection.campaign_id == campaign_id)
    if merchant_id:
        stmt = stmt.where(Inspection.merchant_id == merchant_id)
    if station_id:
        stmt = stmt.where(Inspection.station_id == station_id)
    return stmt.order_by(Inspection.inspected_on.desc(), Inspection.id.desc())


def evidence_of(inspection_id: int) -> Select:
    """An inspection's evidence files in upload order."""
    return select(EvidenceFile).where(EvidenceFile.inspection_id == inspection_id).order_by(EvidenceFile.id)


def rectifications_of(inspection_id: int) -> Select:
    """The rectification orders issued in one inspection."""
    return (select(Rectification).join(Finding, Finding.id == Rectification.finding_id)
            .where(Finding.inspection_id == inspection_id).order_by(Rectification.id))


def late_rectifications(today: dt.date) -> Select:
    """Open rectifications whose deadline has passed: (id, station_id, merchant_id, deadline), for the alert sweep."""
    return (select(Rectification.id, Rectification.station_id, Rectification.merchant_id, Rectification.deadline)
            .where(Rectification.closed_on.is_(None), Rectification.deadline < today)
            .order_by(Rectification.deadline, Rectification.id))


RECTIFICATION_STATES = {"open": "整改中", "late": "已逾期", "closed": "已复查关闭", "voided": "随问题作废关闭"}


def rectification_list(scope: Scope, today: dt.date, state: str = "") -> Select:
    """Rectification orders in scope, optionally only open / late / closed (re-checked) / closed with a voided
    finding, earliest deadline first."""
    stmt = scope.apply(select(Rectification), Rectification.station_id)
    if state == "open":
        stmt = stmt.where(Rectification.closed_on.is_(None))
    elif state == "late":
        stmt = stmt.where(Rectification.closed_on.is_(None), Rectification.deadline < today)
    elif state in ("closed", "voided"):
        voided = (select(Finding.id).where(Finding.id == Rectification.finding_id, ~Finding.in_force()).exists())
        stmt = stmt.where(Rectification.closed_on.is_not(None), voided if state == "voided" else ~voided)
    # The page's rows fetch their merchants and extensions in one statement each, not one per row.
    return (stmt.options(selectinload(Rectification.merchant), selectinload(Rectification.extensions))
            .order_by(Rectification.closed_on.is_not(None), Rectification.deadline, Rectification.id))


# --- figures (set-based: one statement per table of figures) -------------------------------------

def _inspections(scope: Scope, campaign_id: int | None, date_from: dt.date | None, date_to: dt.date | None):
    cond = [literal(True)]
    if campaign_id is not None:
        cond.append(Inspection.campaign_id == campaign_id)
    if date_from is not None:
        cond.append(Inspection.inspected_on >= date_from)
    if date_to is not None:
        cond.append(Inspection.inspected_on <= date_to)
    scoped = scope.condition(Inspection.station_id)
    if scoped is not None:
        cond.append(scoped)
    return and_(*cond)


def inspection_figures(scope: Scope, *, campaign_id: int | None = None, date_from: dt.date | None = None,
                       date_to: dt.date | None = None, by_station: bool = False) -> Select:
    """Inspections, inspected merchants, merchants not reachable or inactive (per station when asked)."""
    cols = [func.count(Inspection.id).label("inspections"),
            func.count(distinct(Inspection.merchant_id)).label("merchants"),
            func.count(distinct(case((Inspection.visit_outcome == VisitOutcome.CONDUCTED, Inspection.merchant_id))))
            .label("conducted")]
    stmt = select(*cols).where(_inspections(scope, campaign_id, date_from, date_to))
    if by_station:
        stmt = stmt.add_columns(Inspection.station_id).group_by(Inspection.station_id).order_by(Inspection.station_id)
    return stmt


def instrument_figures(scope: Scope, *, campaign_id: int | None = None, date_from: dt.date | None = None,
                       date_to: dt.date | None = None, by_station: bool = False) -> Select:
    """Instruments checked and how many had a problem."""
    stmt = (select(func.count(InspectionInstrument.id).label("instruments"),
                   count_if(InspectionInstrument.outcome == CheckOutcome.PROBLEM).label("with_problem"))
            .join(Inspection, Inspection.id == InspectionInstrument.inspection_id)
            .where(_inspections(scope, campaign_id, date_from, date_to)))
    if by_station:
        stmt = stmt.add_columns(Inspection.station_id).group_by(Inspection.station_id)
    return stmt


def finding_figures(scope: Scope, today: dt.date, *, campaign_id: int | None = None,
                    date_from: dt.date | None = None, date_to: dt.date | None = None,
                    by_station: bool = False) -> Select:
    """Findings, merchants with findings, cases, and rectification open / late / closed on time / closed late
    (voided findings, and the orders closed with them, are not counted)."""
    open_ = Rectification.id.is_not(None) & Rectification.closed_on.is_(None)
    stmt = (select(func.count(Finding.id).label("findings"),
                   func.count(distinct(Inspection.merchant_id)).label("merchants_with_findings"),
                   count_if(Finding.measure == Measure.CASE).label("cases"),
                   func.count(Rectification.id).label("rectifications"),
                   count_if(open_ & (Rectification.deadline >= today)).label("open"),
                   count_if(open_ & (Rectification.deadline < today)).label("late"),
                   count_if(Rectification.closed_on <= Rectification.deadline).label("closed_on_time"),
                   count_if(Rectification.closed_on > Rectification.deadline).label("closed_late"))
            .select_from(Finding)
            .join(Inspection, Inspection.id == Finding.inspection_id)
            .outerjoin(Rectification, Rectification.finding_id == Finding.id)
            .where(_inspections(scope, campaign_id, date_from, date_to), Finding.in_force()))
    if by_station:
        stmt = stmt.add_columns(Inspection.station_id).group_by(Inspection.station_id)
    return stmt


def findings_by_code(scope: Scope, *, campaign_id: int | None = None, date_from: dt.date | None = None,
                     date_to: dt.date | None = None) -> Select:
    """(code, name, count) of findings in force (not voided), most frequent first."""
    n = func.count(Finding.id)
    return (select(FindingCode.code, FindingCode.name_zh, n.label("n"))
            .select_from(Finding)
            .join(Inspection, Inspection.id == Finding.inspection_id)
            .join(FindingCode, FindingCode.id == Finding.code_id)
            .where(_inspections(scope, campaign_id, date_from, date_to), Finding.in_force())
            .group_by(FindingCode.code, FindingCode.name_zh).order_by(n.desc(), FindingCode.code))


def planned_figures(campaign_id: int, scope: Scope, by_station: bool = False) -> Select:
    """How many merchants the campaign planned (and how many of them were inspected)."""
    inspected = (select(Inspection.id).where(Inspection.campaign_id == campaign_id,
                                             Inspection.merchant_id == CampaignTarget.merchant_id).exists())
    stmt = select(func.count(CampaignTarget.id).label("planned"),
                  count_if(inspected).label("planned_inspected")).where(CampaignTarget.campaign_id == campaign_id)
    stmt = scope.apply(stmt, CampaignTarget.station_id)
    if by_station:
        stmt = stmt.add_columns(CampaignTarget.station_id).group_by(CampaignTarget.station_id)
    return stmt


def target_outcomes(campaign_id: int, draw_id: int | None = None) -> Select:
    """Per planned merchant of a campaign (only the drawn ones when a draw is given): the counts its
    published outcome is derived from."""
    per_inspection = (
        select(Inspection.merchant_id,
               count_if(Inspection.visit_outcome == VisitOutcome.CONDUCTED).label("conducted"),
               count_if(Inspection.visit_outcome == VisitOutcome.NO_ACTIVITY).label("no_activity"),
               count_if(Inspection.visit_outcome == VisitOutcome.UNREACHABLE).label("unreachable"))
        .where(Inspection.campaign_id == campaign_id).group_by(Inspection.merchant_id).subquery())
    per_finding = (
        select(Inspection.merchant_id,
               func.count(Finding.id).label("findings"),
               count_if((Finding.measure == Measure.CASE)
                         | (Rectification.id.is_not(None) & Rectification.closed_on.is_(None))).label("pending"))
        .select_from(Finding).join(Inspection, Inspection.id == Finding.inspection_id)
        .outerjoin(Rectification, Rectification.finding_id == Finding.id)
        .where(Inspection.campaign_id == campaign_id, Finding.in_force()).group_by(Inspection.merchant_id).subquery())
    zero = literal(0, Integer)
    stmt = (select(CampaignTarget.merchant_id, Merchant.name, Merchant.station_id,
                   func.coalesce(per_inspection.c.conducted, zero).label("conducted"),
                   func.coalesce(per_inspection.c.no_activity, zero).label("no_activity"),
                   func.coalesce(per_inspection.c.unreachable, zero).label("unreachable"),
                   func.coalesce(per_finding.c.findings, zero).label("findings"),
                   func.coalesce(per_finding.c.pending, zero).label("pending"))
            .join(Merchant, Merchant.id == CampaignTarget.merchant_id)
            .outerjoin(per_inspection, per_inspection.c.merchant_id == CampaignTarget.merchant_id)
            .outerjoin(per_finding, per_finding.c.merchant_id == CampaignTarget.merchant_id)
            .where(CampaignTarget.campaign_id == campaign_id)
            .order_by(Merchant.station_id, Merchant.name, Merchant.id))
    return stmt if draw_id is None else stmt.where(CampaignTarget.draw_id == draw_id)


# --- where each planned merchant stands ------------------------------------------------------------

# A planned merchant's state, from its inspections in the campaign and their findings in force; the first that
# holds wins: 立案, then an open order, then orders all closed, then findings without an order.
TARGET_STATES = {"not_inspected": "未检查", "no_problem": "已检查未发现问题", "problem": "发现问题",
                 "rectifying": "整改中", "rectified": "已整改", "case": "立案"}


def _target_state_parts(campaign_id: int, scope: Scope):
    """The per-merchant aggregate of a campaign's inspections (one GROUP BY over the campaign's inspections, its
    findings in force and their orders) and the state CASE over it.

    One pass over the campaign rather than correlated EXISTS probes per planned merchant: with 5,500 planned
    merchants the probes made PostgreSQL plan hashed subplans costly enough to JIT-compile (1-2 s per page).
    """
    open_ = Rectification.id.is_not(None) & Rectification.closed_on.is_(None)
    cond = [Inspection.campaign_id == campaign_id]
    scoped = scope.condition(Inspection.station_id)
    if scoped is not None:
        cond.append(scoped)
    per = (select(Inspection.merchant_id.label("merchant_id"), func.max(Inspection.id).label("inspection_id"),
                  func.max(Inspection.inspected_on).label("inspected_on"),
                  func.count(Finding.id).label("findings"),
                  count_if(Finding.measure == Measure.CASE).label("cases"),
                  count_if(open_).label("open_orders"), func.count(Rectification.id).label("orders"))
           .select_from(Inspection)
           .outerjoin(Finding, and_(Finding.inspection_id == Inspection.id, Finding.in_force()))
           .outerjoin(Rectification, Rectification.finding_id == Finding.id)
           .where(*cond).group_by(Inspection.merchant_id).subquery())
    state = case((per.c.inspection_id.is_(None), literal("not_inspected")),
                 (per.c.cases > 0, literal("case")),
                 (per.c.open_orders > 0, literal("rectifying")),
                 (per.c.orders > 0, literal("rectified")),
                 (per.c.findings > 0, literal("problem")),
                 else_=literal("no_problem"))
    return per, state


def target_states(campaign_id: int, scope: Scope, state: str | None = None) -> Select:
    """Every planned merchant of a campaign in the scope with its state (TARGET_STATES), its latest inspection in
    the campaign and its findings in force, by station and merchant; only one state when asked. Set-based."""
    from app.accounts.models import Station

    per, state_col = _target_state_parts(campaign_id, scope)
    stmt = (select(CampaignTarget.id, CampaignTarget.merchant_id, Merchant.name.label("merchant_name"),
                   CampaignTarget.station_id, Station.name.label("station_name"), CampaignTarget.draw_id,
                   CampaignTarget.inspector_ids, per.c.inspection_id, per.c.inspected_on,
                   func.coalesce(per.c.findings, literal(0, Integer)).label("findings"), state_col.label("state"))
            .join(Merchant, Merchant.id == CampaignTarget.merchant_id)
            .join(Station, Station.id == CampaignTarget.station_id)
            .outerjoin(per, per.c.merchant_id == CampaignTarget.merchant_id)
            .where(CampaignTarget.campaign_id == campaign_id))
    stmt = scope.apply(stmt, CampaignTarget.station_id)
    if state:
        stmt = stmt.where(state_col == state)
    # (campaign_id, station_id) is indexed, and SQLite's index carries the id: no sort of the whole campaign.
    return stmt.order_by(CampaignTarget.station_id, CampaignTarget.id)


def target_state_counts(campaign_id: int, scope: Scope) -> Select:
    """(state, planned merchants) of a campaign in the scope."""
    per, state_col = _target_state_parts(campaign_id, scope)
    stmt = (select(state_col.label("state"), func.count(CampaignTarget.id))
            .outerjoin(per, per.c.merchant_id == CampaignTarget.merchant_id)
            .where(CampaignTarget.campaign_id == campaign_id))
    return scope.apply(stmt, CampaignTarget.station_id).group_by(state_col)
