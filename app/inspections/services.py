"""Campaigns, random draws, inspections, findings, rectification and evidence (flush, never commit)."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import images, uploads
from app.accounts.queries import stations as all_stations
from app.accounts.models import Station, User
from app.audit import services as audit
from app.catalog.models import FindingCode, Severity
from app.clock import today as clock_today
from app.db import utcnow
from app.errors import Duplicate, Invalid, NotFound, StaleEdit
from app.inspections import draw as drawing
from app.inspections import queries
from app.inspections.models import (DEFAULT_RECTIFY_DAYS, UNCLASSED, Campaign, CampaignTarget, CheckOutcome,
                                    DeadlineExtension, EvidenceFile, Finding, Inspection, InspectionInstrument, Measure,
                                    PublicOutcome, RandomDraw, Recheck, Rectification, Signature, SignerRole,
                                    VisitOutcome)
from app.instruments import services as instruments
from app.instruments.models import Instrument, InstrumentStatus
from app.merchants.models import Industry, Merchant
from app.scope import Scope
from app.text import as_typed, identifier, match_key
from app.voiding.services import void_record
from app.uploads import sniff

CAMPAIGN_FIELDS = ["name", "starts_on", "ends_on", "type_ids", "industries", "station_ids", "notes"]
MIN_INSPECTORS = 2
# Said when a signed record is asked to change (the services refuse, the pages hide the buttons).
LOCKED = "现场检查笔录已签名，不能再修改；如需更正，请另行记录一次检查。"


# --- campaigns ------------------------------------------------------------------------------------

def get_campaign(session: Session, campaign_id: int) -> Campaign:
    """A campaign, else NotFound."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("专项检查行动不存在")
    return campaign


def _campaign_values(session: Session, values: dict) -> dict:
    out = {k: values.get(k) for k in CAMPAIGN_FIELDS}
    out["name"], out["notes"] = as_typed(out["name"]), as_typed(out["notes"])
    if not out["name"]:
        raise Invalid("请填写行动名称", field="name")
    if not isinstance(out["starts_on"], dt.date) or not isinstance(out["ends_on"], dt.date):
        raise Invalid("请填写行动期间", field="starts_on")
    if out["ends_on"] < out["starts_on"]:
        raise Invalid("结束日期不能早于开始日期", field="ends_on")
    out["station_ids"] = sorted({int(i) for i in out["station_ids"] or []})
    if not out["station_ids"]:
        raise Invalid("请至少选择一个参加的监管所", field="station_ids")
    known = set(session.scalars(select(Station.id).where(Station.id.in_(out["station_ids"]))))
    if known != set(out["station_ids"]):
        raise Invalid("参加的监管所无效", field="station_ids")
    out["type_ids"] = sorted({int(i) for i in out["type_ids"] or []})
    out["industries"] = sorted({Industry(i).value for i in out["industries"] or []})
    return out


def campaign_key(name: str, starts_on: dt.date) -> str:
    """The key that makes a campaign name unique within the year it starts (width, blanks and case folded)."""
    return f"{starts_on.year}|{match_key(name)}"[:200]


def _check_unique_name(session: Session, out: dict, campaign: Campaign | None) -> str:
    key = campaign_key(out["name"], out["starts_on"])
    stmt = select(Campaign).where(Campaign.name_key == key)
    if campaign is not None:
        stmt = stmt.where(Campaign.id != campaign.id)
    same = session.scalars(stmt).first()
    if same is not None:
        raise Duplicate(f"{out['starts_on'].year} 年已有名为“{same.name}”的专项检查行动，请换一个名称",
                        field="name", link=f"/campaigns/{same.id}", link_text="查看该行动")
    return key


def create_campaign(session: Session, actor, values: dict) -> Campaign:
    """Start planning a campaign (its name unique within the year it starts)."""
    out = _campaign_values(session, values)
    key = _check_unique_name(session, out, None)
    campaign = Campaign(**out, name_key=key, created_by_id=getattr(actor, "id", None))
    session.add(campaign)
    session.flush()
    audit.record(session, actor, "create", campaign, audit.snapshot(campaign, ["name", "starts_on", "ends_on",
                                                                               "notes"]))
    return campaign


def update_campaign(session: Session, actor, campaign: Campaign, *, expected_version: int, values: dict) -> list:
    """Save an edit of a campaign unless someone else saved first."""
    if campaign.version != expected_version:
        raise StaleEdit("该专项检查行动")
    out = _campaign_values(session, values)
    key = _check_unique_name(session, out, campaign)
    changes = audit.apply_changes(campaign, out)
    if changes:
        campaign.name_key = key
        session.flush()
        audit.record(session, actor, "update", campaign, changes)
    return changes


def add_target(session: Session, actor, campaign: Campaign, merchant: Merchant) -> CampaignTarget:
    """Plan a merchant into a campaign by hand."""
    if merchant.station_id not in campaign.station_ids:
        raise Invalid("该使用单位所属监管所未参加本次行动", field="merchant_id")
    exists = session.scalars(select(CampaignTarget).where(CampaignTarget.campaign_id == campaign.id,
                                                          CampaignTarget.merchant_id == merchant.id)).first()
    if exists is not None:
        raise Duplicate(f"“{merchant.name}”已在本次行动的检查计划中", field="merchant_id")
    target = CampaignTarget(campaign_id=campaign.id, merchant_id=merchant.id, station_id=merchant.station_id,
                            inspector_ids=[])
    session.add(target)
    session.flush()
    audit.record(session, actor, "plan", campaign, [audit.change_row("merchant", "计划检查", None, merchant.name)])
    return target


# --- random draws ---------------------------------------------------------------------------------

def get_draw(session: Session, draw_id: int) -> RandomDraw:
    """A random draw, else NotFound."""
    found = session.get(RandomDraw, draw_id)
    if found is None:
        raise NotFound("随机抽取记录不存在")
    return found


def draw_of(session: Session, campaign_id: int) -> RandomDraw | None:
    """The campaign's draw, if it has one."""
    return session.scalars(select(RandomDraw).where(RandomDraw.campaign_id == campaign_id)).first()


def run_draw(session: Session, actor, campaign: Campaign, *, station_ids: list[int], industries: list[str],
             rates: dict, inspectors_per_target: int, exclude_own_station: bool, roster_ids: list[int],
             seed: int | None = None, today: dt.date | None = None, attention_only: bool = False) -> RandomDraw:
    """Draw merchants and inspectors for a campaign, record seed, inputs and result, and plan the targets;
    refused once the campaign's last day has passed. attention_only: draw from the merchants flagged 重点关注
    (app/attention) on the day of the draw; the pool is recorded, so the draw re-runs the same later."""
    if draw_of(session, campaign.id) is not None:
        raise Invalid("本次行动已进行过随机抽取，抽取结果不能重抽")
    today = today or clock_today()
    if campaign.has_ended(today):
        raise Invalid(f"本次行动已于 {campaign.ends_on.isoformat()} 结束，结束后不能再进行随机抽取。"
                      "如需继续检查，请新建专项检查行动")
    station_ids = sorted({int(i) for i in station_ids})
    if not station_ids or not set(station_ids) <= set(campaign.station_ids):
        raise Invalid("请选择参加本次行动的监管所", field="station_ids")
    if inspectors_per_target < MIN_INSPECTORS:
        raise Invalid("每个检查对象至少需要两名检查人员", field="inspectors_per_target")
    for key, rate in rates.items():
        if rate is None or not 0 <= rate <= 100:
            raise Invalid("抽查比例应在0到100之间", field=f"rate_{key}")
    industries = sorted({Industry(i).value for i in industries})
    pool_stmt = queries.draw_pool(station_ids, industries)
    if attention_only:
        from app.attention.queries import flagged_merchants

        pool_stmt = pool_stmt.where(Merchant.id.in_(flagged_merchants(today)))
    pool = [drawing.PoolMerchant(*row) for row in session.execute(pool_stmt)]
    if attention_only and not pool:
        raise Invalid("抽取范围内没有重点关注单位", field="attention_only")
    eligible = {u.id: u for u in session.scalars(queries.inspector_roster())}
    roster = [drawing.RosterInspector(uid, tuple(s.id for s in eligible[uid].stations))
              for uid in sorted({int(i) for i in roster_ids}) if uid in eligible]
    if len(roster) < inspectors_per_target:
        raise Invalid(f"检查人员名录至少需要{inspectors_per_target}人", field="roster_ids")
    seed = secrets.randbits(62) if seed is None else int(seed)
    inputs = {"station_ids": station_ids, "industries": industries, "rates": {k: float(v) for k, v in rates.items()},
              "inspectors_per_target": inspectors_per_target, "exclude_own_station": bool(exclude_own_station),
              **({"attention_only": True} if attention_only else {}),
              "pool": [[m.id, m.station_id, m.credit_class] for m in pool],
              "roster": [[u.id, list(u.station_ids)] for u in roster]}
    try:
        result = drawing.rerun(seed, inputs)
    except drawing.DrawError as err:
        raise Invalid(str(err), field="roster_ids") from err
    found = RandomDraw(campaign_id=campaign.id, seed=seed, inputs=inputs, result=result,
                       created_by_id=getattr(actor, "id", None))
    session.add(found)
    session.flush()
    planned = {t.merchant_id: t for t in session.scalars(select(CampaignTarget)
                                                         .where(CampaignTarget.campaign_id == campaign.id))}
    for row in result:
        target = planned.get(row["merchant_id"])
        if target is None:
            session.add(CampaignTarget(campaign_id=campaign.id, merchant_id=row["merchant_id"],
                                       station_id=row["station_id"], draw_id=found.id,
                                       inspector_ids=row["inspector_ids"]))
        else:
            # Planned by hand before and now drawn: it is a drawn target, with the drawn inspectors.
            target.draw_id, target.inspector_ids = found.id, row["inspector_ids"]
    session.flush()
    audit.record(session, actor, "draw", found, [
        audit.change_row("seed", "随机种子", None, str(seed)),
        audit.change_row("pool", "抽取范围", None, f"{len(pool)} 家使用单位、{len(roster)} 名检查人员"),
        audit.change_row("result", "抽中", None, f"{len(result)} 家")])
    return found


def draw_reproduces(found: RandomDraw) -> bool:
    """Re-run the draw from its recorded seed and inputs: True when it gives the recorded result."""
    try:
        return drawing.rerun(found.seed, found.inputs) == found.result
    except drawing.DrawError:
        return False


def publish_draw(session: Session, actor, found: RandomDraw, today: dt.date) -> RandomDraw:
    """Publish a draw's results (一公开) once its campaign has ended."""
    if found.published_at is not None:
        raise Invalid("抽查结果已公示")
    if today <= found.campaign.ends_on:
        raise Invalid(f"行动结束（{found.campaign.ends_on.isoformat()}）后才能公示抽查结果")
    found.published_at = utcnow()
    found.locked_at = found.locked_at or found.published_at
    session.flush()
    audit.record(session, actor, "publish", found, [])
    return found


def publication_preview(session: Session, found: RandomDraw) -> dict:
    """What publishing a draw would make public (its rows, as the public page shows them) and how many planned
    merchants are still uninspected (all planned, and those among the published rows)."""
    rows = published_rows(session, found)
    planned = session.execute(queries.planned_figures(found.campaign_id, Scope.everything())).one()
    return {"rows": rows, "planned": planned.planned, "uninspected": planned.planned - planned.planned_inspected,
            "published_uninspected": sum(1 for r in rows if r["outcome"] == PublicOutcome.NOT_YET)}


def get_published_draw(session: Session, draw_id: int) -> RandomDraw:
    """A draw whose results are published (for anyone to see), else NotFound."""
    found = session.get(RandomDraw, draw_id)
    if found is None or found.published_at is None:
        raise NotFound("抽查结果不存在或尚未公示")
    return found


def published_rows(session: Session, found: RandomDraw) -> list[dict]:
    """The public rows of a draw: merchant name, station and outcome category, nothing else."""
    stations = {s.id: s for s in session.scalars(all_stations())}
    return [{"name": row.name, "station": stations[row.station_id].name, "outcome": public_outcome(row)}
            for row in session.execute(queries.target_outcomes(found.campaign_id, found.id))]


def draw_summary(found: RandomDraw, scope: Scope) -> dict:
    """What a draw's page shows: the result rows in the scope, pool sizes and drawn counts by credit class."""
    pool_sizes: dict[str, int] = {}
    for row in found.inputs["pool"]:
        key = row[2] or UNCLASSED
        pool_sizes[key] = pool_sizes.get(key, 0) + 1
    drawn: dict[str, int] = {}
    for r in found.result:
        drawn[r["credit_class"]] = drawn.get(r["credit_class"], 0) + 1
    return {"rows": [r for r in found.result if scope.allows(r["station_id"])], "pool_sizes": pool_sizes,
            "drawn": drawn}


def public_outcome(row) -> PublicOutcome:
    """The published category of one planned merchant, from the counts of target_outcomes()."""
    if row.conducted:
        if row.pending:
            return PublicOutcome.PENDING
        return PublicOutcome.RECTIFIED if row.findings else PublicOutcome.NO_PROBLEM
    if row.no_activity:
        return PublicOutcome.NO_ACTIVITY
    if row.unreachable:
        return PublicOutcome.UNREACHABLE
    return PublicOutcome.NOT_YET


# --- inspections ----------------------------------------------------------------------------------

def get_inspection(session: Session, scope: Scope, inspection_id: int) -> Inspection:
    """An inspection inside the scope, else NotFound."""
    found = session.get(Inspection, inspection_id)
    if found is None or not scope.allows(found.station_id):
        raise NotFound("检查记录不存在")
    return found


def is_signed(session: Session, inspection_id: int) -> bool:
    """Whether the inspection's 现场检查笔录 has been signed (by anyone): from then on it cannot change."""
    return session.scalars(select(Signature.id).where(Signature.inspection_id == inspection_id).limit(1)).first() \
        is not None


def refuse_if_signed(session: Session, inspection_id: int) -> None:
    """Invalid (LOCKED) once the inspection has been signed: a correction is a new inspection."""
    if is_signed(session, inspection_id):
        raise Invalid(LOCKED)


def _snapshot(instrument: Instrument) -> dict:
    return {"kind_name": instrument.type.name_zh, "serial_no": instrument.serial_no, "status": instrument.status,
            "next_due_on": instrument.next_due_on, "replace_by": instrument.replace_by,
            "last_verified_on": instrument.last_verified_on}


def record_inspection(session: Session, actor, scope: Scope, merchant: Merchant, values: dict,
                      today: dt.date) -> Inspection:
    """Record a visit: its inspectors (two or more), the instruments checked with a snapshot, the campaign used.

    values: inspected_on, visit_outcome, campaign_id, inspector_ids, notes, checks [(instrument_id, outcome)],
    new_instrument (a dict for create_instrument plus 'outcome', or None); from a phone also client_id and
    location {latitude, longitude, accuracy} (checked by app/field/services.py).
    """
    if not scope.allows(merchant.station_id):
        raise NotFound("使用单位不存在")
    inspected_on = values.get("inspected_on")
    if not isinstance(inspected_on, dt.date):
        raise Invalid("请填写检查日期", field="inspected_on")
    if inspected_on > today:
        raise Invalid("检查日期不能晚于今天", field="inspected_on")
    visit = VisitOutcome(values.get("visit_outcome") or VisitOutcome.CONDUCTED)
    inspector_ids = sorted({int(i) for i in values.get("inspector_ids") or []})
    inspectors = list(session.scalars(queries.inspector_roster().where(User.id.in_(inspector_ids))))
    if len(inspectors) < MIN_INSPECTORS:
        raise Invalid("监督检查应由两名以上检查人员实施，请至少选择两人", field="inspector_ids")
    campaign = None
    if values.get("campaign_id"):
        campaign = get_campaign(session, int(values["campaign_id"]))
        if merchant.station_id not in campaign.station_ids:
            raise Invalid("该使用单位所属监管所未参加所选专项检查行动", field="campaign_id")
        if not campaign.starts_on <= inspected_on <= campaign.ends_on:
            raise Invalid(f"检查日期不在所选专项行动期间（{campaign.starts_on.isoformat()} 至 "
                          f"{campaign.ends_on.isoformat()}）内", field="inspected_on")
    checks = [(int(i), CheckOutcome(o)) for i, o in values.get("checks") or []]
    new_instrument = values.get("new_instrument")
    if visit != VisitOutcome.CONDUCTED and (checks or new_instrument):
        raise Invalid("未实施检查时不能记录检查的器具", field="visit_outcome")
    inspection = Inspection(merchant_id=merchant.id, station_id=merchant.station_id,
                            campaign_id=campaign.id if campaign else None, inspected_on=inspected_on,
                            visit_outcome=visit, notes=as_typed(values.get("notes")),
                            created_by_id=getattr(actor, "id", None), client_id=values.get("client_id") or None)
    location = values.get("location")
    if location:
        inspection.latitude, inspection.longitude = location["latitude"], location["longitude"]
        inspection.location_accuracy = location.get("accuracy")
    inspection.inspectors = inspectors
    session.add(inspection)
    session.flush()
    owned = {i.id: i for i in session.scalars(select(Instrument).where(Instrument.merchant_id == merchant.id,
                                                                       Instrument.id.in_([c[0] for c in checks])))}
    for instrument_id, outcome in checks:
        if instrument_id not in owned:
            raise Invalid("所选器具不属于该使用单位", field="checks")
        session.add(InspectionInstrument(inspection_id=inspection.id, instrument_id=instrument_id, outcome=outcome,
                                         **_snapshot(owned[instrument_id])))
    if new_instrument:
        outcome = CheckOutcome(new_instrument.pop("outcome", CheckOutcome.PROBLEM))
        created = instruments.create_instrument(session, actor, scope, {**new_instrument, "merchant_id": merchant.id})
        session.add(InspectionInstrument(inspection_id=inspection.id, instrument_id=created.id, outcome=outcome,
                                         registered_on_spot=True, **_snapshot(created)))
    if campaign is not None:
        found = draw_of(session, campaign.id)
        if found is not None and found.locked_at is None:
            # The first inspection that uses a draw locks it for good.
            found.locked_at = utcnow()
    session.flush()
    audit.record(session, actor, "create", inspection, audit.snapshot(inspection, [
        "merchant", "inspected_on", "campaign", "visit_outcome", "inspectors", "notes"]))
    return inspection


# --- findings and rectification -------------------------------------------------------------------

def add_finding(session: Session, actor, inspection: Inspection, values: dict) -> Finding:
    """Record a coded finding and its measure; stop-use stops the instrument, orders get a deadline.

    values: code_id, check_id (optional), description, measure, case_no, deadline (optional).
    """
    if inspection.visit_outcome != VisitOutcome.CONDUCTED:
        raise Invalid("未实施检查的记录不能登记问题")
    refuse_if_signed(session, inspection.id)
    code = session.get(FindingCode, values.get("code_id") or 0)
    if code is None or not code.is_active:
        raise Invalid("请选择问题类型", field="code_id")
    measure = Measure(values.get("measure") or Measure.RECTIFY)
    check = None
    if values.get("check_id"):
        check = session.get(InspectionInstrument, int(values["check_id"]))
        if check is None or check.inspection_id != inspection.id:
            raise Invalid("所选器具不在本次检查中", field="check_id")
        if check.outcome == CheckOutcome.OK:
            raise Invalid(f"本次检查已将“{check.label}”记为“未发现问题”。请先在检查记录的“检查的器具”中点"
                          f"“改为发现问题”并填写原因，再登记该器具的问题", field="check_id",
                          link=f"/inspections/checks/{check.id}/outcome", link_text="改为发现问题")
    if measure == Measure.STOP_USE and check is None:
        raise Invalid("责令停止使用须选择涉及的器具", field="check_id")
    case_no = identifier(values.get("case_no")) or None
    if measure == Measure.CASE and not case_no:
        raise Invalid("立案须填写案件编号", field="case_no")
    if measure != Measure.CASE and case_no:
        raise Invalid("只有处理措施为“立案”时才填写案件编号", field="case_no")
    if case_no and session.scalars(select(Finding.id).where(Finding.case_no == case_no)).first():
        raise Duplicate(f"案件编号 {case_no} 已被使用", field="case_no")
    deadline = values.get("deadline")
    if measure in (Measure.RECTIFY, Measure.STOP_USE):
        deadline = deadline or inspection.inspected_on + dt.timedelta(days=DEFAULT_RECTIFY_DAYS)
        if deadline <= inspection.inspected_on:
            raise Invalid("整改期限应晚于检查日期", field="deadline")
    finding = Finding(inspection_id=inspection.id, check_id=check.id if check else None, code_id=code.id,
                      description=as_typed(values.get("description")), measure=measure, case_no=case_no,
                      created_by_id=getattr(actor, "id", None))
    session.add(finding)
    session.flush()
    changes = [audit.change_row("code", "问题", None, f"{code.code} {code.name_zh}"),
               audit.change_row("measure", "处理措施", None, measure)]
    if check is not None:
        changes.append(audit.change_row("instrument", "涉及器具", None, check.label))
    if case_no:
        changes.append(audit.change_row("case_no", "案件编号", None, case_no))
    if deadline is not None and measure in (Measure.RECTIFY, Measure.STOP_USE):
        session.add(Rectification(finding_id=finding.id, station_id=inspection.station_id,
                                  merchant_id=inspection.merchant_id, issued_on=inspection.inspected_on,
                                  deadline=deadline))
        changes.append(audit.change_row("deadline", "整改期限", None, deadline))
    if measure == Measure.STOP_USE:
        instrument = check.instrument
        stopped = audit.apply_changes(instrument, {"status": InstrumentStatus.STOPPED})
        if stopped:
            session.flush()
            audit.record(session, actor, "update", instrument, stopped, note=f"监督检查责令停止使用（{code.name_zh}）")
    session.flush()
    audit.record(session, actor, "create", finding, changes, entity_label=f"{inspection} 问题 {code.name_zh}")
    if case_no:
        # A 立案 finding opens its case (app/cases): the 立案 stage on the inspection's date, the station responsible.
        from app.cases.services import open_case

        open_case(session, actor, finding, case_no)
    if code.severity in (Severity.MAJOR, Severity.SEVERE):
        # A pledged merchant with a serious finding: supervisors get the pledge-review alert now, not at the sweep.
        from app.alerts.kinds import PLEDGE_REVIEW
        from app.alerts.services import raise_subject_alerts

        raise_subject_alerts(session, PLEDGE_REVIEW.code, now=utcnow())
    return finding


def get_finding(session: Session, scope: Scope, finding_id: int) -> Finding:
    """A finding whose inspection is inside the scope, else NotFound."""
    found = session.get(Finding, finding_id)
    if found is None or not scope.allows(found.inspection.station_id):
        raise NotFound("问题记录不存在")
    return found


def void_finding(session: Session, actor, finding: Finding, reason: str, today: dt.date) -> list[dict]:
    """Void a wrong finding with a reason (app/voiding): it stays visible, leaves every count and printed notice,
    and its open rectification order closes as voided on `today`."""
    def close_order() -> list[dict]:
        rect = session.scalars(select(Rectification).where(Rectification.finding_id == finding.id)).first()
        if rect is None or not rect.is_open:
            return void_case()
        closed = audit.apply_changes(rect, {"closed_on": max(today, rect.issued_on)})
        session.flush()
        audit.record(session, actor, "void", rect, closed, entity_label=f"{rect.merchant.name} 责令改正",
                     note="所涉问题已作废，整改随之关闭")
        return [audit.change_row("rectification", "责令改正", "整改中", "随问题作废而关闭")] + void_case()

    def void_case() -> list[dict]:
        from app.cases.models import Case
        from app.cases.services import void_case as void_the_case

        case = session.scalars(select(Case).where(Case.finding_id == finding.id)).first()
        if case is None or case.is_voided:
            return []
        void_the_case(session, actor, case, f"所涉问题已作废：{reason}")
        return [audit.change_row("case", "案件", case.case_no, "随问题作废")]

    refuse_if_signed(session, finding.inspection_id)
    return void_record(session, actor, finding, reason, what="问题",
                       entity_label=f"{finding.inspection} 问题 {finding.code.name_zh}", consequences=close_order)


def get_check(session: Session, scope: Scope, check_id: int) -> InspectionInstrument:
    """An instrument checked in an inspection inside the scope, else NotFound."""
    found = session.get(InspectionInstrument, check_id)
    if found is None:
        raise NotFound("检查的器具不存在")
    inspection = session.get(Inspection, found.inspection_id)
    if not scope.allows(inspection.station_id):
        raise NotFound("检查的器具不存在")
    return found


def mark_check_problem(session: Session, actor, check: InspectionInstrument, reason: str) -> list[dict]:
    """Correct a check recorded as 未发现问题 to 发现问题, with a reason in the audit log (so a finding can be
    recorded on it); the rest of the snapshot never changes."""
    reason = as_typed(reason)
    if not reason:
        raise Invalid("请填写更正原因", field="reason")
    if check.outcome == CheckOutcome.PROBLEM:
        raise Invalid("该器具的检查结论已是“发现问题”")
    refuse_if_signed(session, check.inspection_id)
    changes = audit.apply_changes(check, {"outcome": CheckOutcome.PROBLEM})
    session.flush()
    inspection = session.get(Inspection, check.inspection_id)
    audit.record(session, actor, "correct", check, changes, entity_label=f"{inspection} 检查的器具 {check.label}",
                 note=f"更正原因：{reason}")
    return changes


def extend_deadline(session: Session, actor, rect: Rectification, *, expected_version: int, new_deadline,
                    reason: str) -> DeadlineExtension:
    """Extend an open order's deadline to a later date, with a reason; each extension is kept and logged."""
    if rect.version != expected_version:
        raise StaleEdit("该整改记录")
    if not rect.is_open:
        raise Invalid("该整改已关闭，不能延长期限")
    if not isinstance(new_deadline, dt.date):
        raise Invalid("请填写新的整改期限", field="new_deadline")
    if new_deadline <= rect.deadline:
        raise Invalid(f"新的整改期限应晚于当前期限（{rect.deadline.isoformat()}）", field="new_deadline")
    reason = as_typed(reason)
    if not reason:
        raise Invalid("请填写延期原因", field="reason")
    extension = DeadlineExtension(rectification_id=rect.id, old_deadline=rect.deadline, new_deadline=new_deadline,
                                  reason=reason, created_by_id=getattr(actor, "id", None))
    session.add(extension)
    changes = audit.apply_changes(rect, {"deadline": new_deadline})
    session.flush()
    audit.record(session, actor, "extend", rect, changes + [audit.change_row("reason", "延期原因", None, reason)],
                 entity_label=f"{rect.merchant.name} 责令改正")
    return extension


def get_rectification(session: Session, scope: Scope, rectification_id: int) -> Rectification:
    """A rectification order inside the scope, else NotFound."""
    found = session.get(Rectification, rectification_id)
    if found is None or not scope.allows(found.station_id):
        raise NotFound("整改记录不存在")
    return found


def record_recheck(session: Session, actor, rect: Rectification, *, expected_version: int, values: dict,
                   today: dt.date) -> Recheck:
    """Record a re-check (复查); when it was put right the order closes on that date."""
    if rect.version != expected_version:
        raise StaleEdit("该整改记录")
    if not rect.is_open:
        raise Invalid("该整改已复查关闭")
    on = values.get("rechecked_on")
    if not isinstance(on, dt.date):
        raise Invalid("请填写复查日期", field="rechecked_on")
    if on > today:
        raise Invalid("复查日期不能晚于今天", field="rechecked_on")
    if on < rect.issued_on:
        raise Invalid("复查日期不能早于检查日期", field="rechecked_on")
    rectified = bool(values.get("rectified"))
    recheck = Recheck(rectification_id=rect.id, rechecked_on=on, rectified=rectified,
                      notes=as_typed(values.get("notes")), created_by_id=getattr(actor, "id", None))
    session.add(recheck)
    changes = [audit.change_row("rechecked_on", "复查日期", None, on),
               audit.change_row("rectified", "是否已改正", None, rectified)]
    if rectified:
        changes += audit.apply_changes(rect, {"closed_on": on})
    else:
        # Versioned even when nothing else moves, so two people re-checking at once cannot both save.
        rect.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "recheck", rect, changes, entity_label=f"{rect.merchant.name} 责令改正")
    return recheck


# --- evidence files -------------------------------------------------------------------------------

EVIDENCE_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}
# Largest signature image: a phone's canvas at three times its CSS size is a few tens of KB.
SIGNATURE_MAX_BYTES = 1024 * 1024


def _file_name(file_name: str) -> str:
    return as_typed(os.path.basename((file_name or "").replace("\\", "/")))[:200] or "未命名"


def store_evidence(session: Session, actor, inspection: Inspection, *, file_name: str, data: bytes,
                   storage_dir: str, max_bytes: int, finding_id: int | None = None,
                   taken_at: dt.datetime | None = None, photo_limits: images.ImageLimits | None = None,
                   ) -> EvidenceFile:
    """Check an uploaded photo or scan and keep it on disk under a generated name; an iPhone's HEIC photo is
    kept as the JPEG it converts to (its own SHA-256 in the audit entry). Refused once the record is signed."""
    name = _file_name(file_name)
    if not data:
        raise Invalid("请选择要上传的文件", field="file")
    if len(data) > max_bytes:
        raise Invalid(f"文件过大：“{name}”超过了 {max_bytes // (1024 * 1024)} MB 的上限", field="file")
    refuse_if_signed(session, inspection.id)
    content_type = sniff(data, heif=True)
    if content_type is None:
        raise Invalid(f"文件“{name}”无法识别：只能上传 JPEG、PNG、HEIC 图片或 PDF 文件（按文件内容识别，不看扩展名）",
                      field="file")
    if finding_id and session.scalars(select(Finding.id).where(Finding.id == finding_id,
                                                               Finding.inspection_id == inspection.id)).first() is None:
        raise Invalid("所选问题不在本次检查中", field="finding_id")
    changes = [audit.change_row("file", "证据文件", None, name)]
    if content_type == uploads.HEIC:
        changes.append(audit.change_row("original", "原始 HEIC 照片 SHA-256", None, hashlib.sha256(data).hexdigest()))
        data, content_type = images.heif_to_jpeg(data, name, photo_limits or images.ImageLimits()), "image/jpeg"
    stored = f"{inspection.inspected_on:%Y/%m}/{uuid.uuid4().hex}{EVIDENCE_TYPES[content_type]}"
    digest = hashlib.sha256(data).hexdigest()
    uploads.keep(storage_dir, stored, data, sha256=digest, session=session)
    ev = EvidenceFile(inspection_id=inspection.id, finding_id=finding_id or None, station_id=inspection.station_id,
                      original_name=name, stored_name=stored, content_type=content_type, size=len(data),
                      sha256=digest, created_by_id=getattr(actor, "id", None), taken_at=taken_at)
    session.add(ev)
    session.flush()
    if taken_at is not None:
        changes.append(audit.change_row("taken_at", "拍摄时间", None, taken_at))
    audit.record(session, actor, "evidence", ev, changes, entity_label=f"{inspection} 证据")
    return ev


def add_signature(session: Session, actor, inspection: Inspection, *, role: str, user_id: int | None, name: str,
                  signed_at: dt.datetime, data: bytes, storage_dir: str, now: dt.datetime | None = None) -> Signature:
    """Keep a signature (PNG) on the inspection's 现场检查笔录 with its time and SHA-256: the merchant's
    representative once, each of its inspectors once. The first signature locks the record."""
    try:
        role = SignerRole(role)
    except ValueError:
        raise Invalid("请选择签名人身份（当事人或检查人员）", field="role") from None
    name = as_typed(name)
    if not name:
        raise Invalid("请填写签名人姓名", field="name")
    if len(name) > 50:
        raise Invalid("签名人姓名不能超过50个字", field="name")
    if not data:
        raise Invalid("请先在签名框内签名", field="signature")
    if len(data) > SIGNATURE_MAX_BYTES or sniff(data) != "image/png":
        raise Invalid("签名图片无效（应为不超过 1 MB 的 PNG 图片）", field="signature")
    now = now or utcnow()
    if not isinstance(signed_at, dt.datetime) or signed_at.tzinfo is None:
        raise Invalid("签名时间无效", field="signed_at")
    if signed_at > now + dt.timedelta(minutes=10):
        raise Invalid("签名时间不能晚于现在", field="signed_at")
    existing = list(session.scalars(select(Signature).where(Signature.inspection_id == inspection.id)))
    if role == SignerRole.INSPECTOR:
        if user_id not in {u.id for u in inspection.inspectors}:
            raise Invalid("签名的检查人员应是本次检查的检查人员之一", field="user_id")
        if any(s.user_id == user_id for s in existing):
            raise Duplicate("该检查人员已在本笔录上签名", field="user_id")
    else:
        user_id = None
        if any(s.role == SignerRole.MERCHANT for s in existing):
            raise Duplicate("当事人已在本笔录上签名", field="role")
    stored = f"signatures/{inspection.inspected_on:%Y/%m}/{uuid.uuid4().hex}.png"
    digest = hashlib.sha256(data).hexdigest()
    uploads.keep(storage_dir, stored, data, sha256=digest, field="signature", session=session)
    signature = Signature(inspection_id=inspection.id, station_id=inspection.station_id, role=role, user_id=user_id,
                          signer_name=name, signed_at=signed_at, stored_name=stored, content_type="image/png",
                          size=len(data), sha256=digest, created_by_id=getattr(actor, "id", None))
    session.add(signature)
    session.flush()
    audit.record(session, actor, "sign", inspection, [
        audit.change_row("signature", "签名", None, f"{role.label} {name}"),
        audit.change_row("signed_at", "签名时间", None, signed_at),
        audit.change_row("sha256", "签名图片 SHA-256", None, digest)])
    return signature


def _kept_in_scope(session: Session, scope: Scope, model, record_id: int, what: str):
    found = session.get(model, record_id)
    if found is None or not scope.allows(found.station_id):
        raise NotFound(f"{what}不存在")
    return found


def _kept_path(storage_dir: str, record, what: str) -> Path:
    return uploads.kept_file(storage_dir, record.stored_name, record.size, record.sha256, what)


def get_signature(session: Session, scope: Scope, signature_id: int) -> Signature:
    """A signature whose inspection is inside the scope, else NotFound."""
    return _kept_in_scope(session, scope, Signature, signature_id, "签名")


def signature_path(storage_dir: str, signature: Signature) -> Path:
    """Where a signature's PNG is kept, while it is still the one signed; else NotFound."""
    return _kept_path(storage_dir, signature, "签名图片")


def get_evidence(session: Session, scope: Scope, evidence_id: int) -> EvidenceFile:
    """An evidence file whose inspection is inside the scope, else NotFound."""
    return _kept_in_scope(session, scope, EvidenceFile, evidence_id, "证据文件")


def evidence_path(storage_dir: str, ev: EvidenceFile) -> Path:
    """Where an evidence file's bytes are kept, while they are still those uploaded; else NotFound."""
    return _kept_path(storage_dir, ev, "证据文件")


# --- figures --------------------------------------------------------------------------------------

def figures(session: Session, scope: Scope, on: dt.date, **filters) -> dict:
    """Totals and per-station rows of the inspection figures, each from one set-based statement, and findings
    by code; `filters` are a campaign_id or a date_from / date_to period."""
    totals: dict = {}
    per_station: dict[int, dict] = {}
    campaign_id = filters.get("campaign_id")
    statements = [queries.inspection_figures(scope, **filters), queries.instrument_figures(scope, **filters),
                  queries.finding_figures(scope, on, **filters)]
    if campaign_id is not None:
        statements.append(queries.planned_figures(campaign_id, scope))
    for stmt in statements:
        totals.update(session.execute(stmt).one()._asdict())
    by_station = [queries.inspection_figures(scope, by_station=True, **filters),
                  queries.instrument_figures(scope, by_station=True, **filters),
                  queries.finding_figures(scope, on, by_station=True, **filters)]
    if campaign_id is not None:
        by_station.append(queries.planned_figures(campaign_id, scope, by_station=True))
    for stmt in by_station:
        for row in session.execute(stmt):
            values = row._asdict()
            per_station.setdefault(values.pop("station_id"), {}).update(values)
    by_code = session.execute(queries.findings_by_code(scope, **filters)).all()
    return {"totals": totals, "per_station": per_station, "by_code": by_code}
