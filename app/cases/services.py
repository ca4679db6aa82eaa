"""Cases: opening one from a 立案 finding, appending and correcting stages, the decision, publication, voiding;
brigades and stage limits (flush, never commit)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.audit import services as audit
from app.cases.models import (Case, CaseExtension, CaseStage, DecisionKind, EnforcementTeam, NoPenaltyBasis, Stage, StageLimit,
                              case_confiscations)
from app.cases.queries import CaseAccess, extension_days
from app.db import utcnow
from app.errors import Duplicate, Invalid, NotFound, StaleEdit
from app.instruments.models import Instrument, InstrumentStatus
from app.text import as_typed
from app.voiding.services import void_record
from app.workdays.services import add_working_days


@dataclass(frozen=True)
class Limit:
    """How many days a stage may take, counted from which earlier event, and where the figure comes from."""

    days: int
    # The stage whose date the limit counts from; None: the day the problem was discovered (the inspection).
    counts_from: Stage | None
    source: str
    # Working days over the holiday calendar (app/workdays) where the rule says 工作日; else calendar days.
    working_days: bool = False

    @property
    def unit(self) -> str:
        """What the days count: 工作日 or 天."""
        return "工作日" if self.working_days else "天"

    @property
    def most(self) -> int:
        """The longest limit an admin may set (working days are counted over a year of the calendar at most)."""
        return MAX_WORKING_DAYS if self.working_days else 3650


# Defaults (admins may change the days per stage: StageLimit). Sources: 《市场监督管理行政处罚程序规定》 (the SAMR
# rules of procedure, 2021/2022) and 《中华人民共和国行政处罚法》 (2021); "默认值" marks a figure of ours.
DEFAULT_LIMITS: dict[Stage, Limit] = {
    Stage.FILED: Limit(15, None, "《市场监督管理行政处罚程序规定》第十八条：自发现线索之日起十五个工作日内决定是否立案",
                       working_days=True),
    Stage.INVESTIGATION: Limit(60, Stage.FILED, "默认值：立案后60日内完成调查取证，为告知、陈述申辩和决定留出时间"),
    Stage.NOTICE: Limit(75, Stage.FILED, "默认值：立案后75日内告知拟作出的处罚（当事人有五个工作日陈述、申辩或要求听证）"),
    Stage.DECISION: Limit(90, Stage.FILED, "《市场监督管理行政处罚程序规定》第六十四条：自立案之日起九十日内作出处理决定，"
                                           "经负责人批准可延长三十日（在案件页面登记“延长办案期限”）"),
    Stage.EXECUTION: Limit(15, Stage.DECISION, "《行政处罚法》第六十七条：自收到处罚决定书之日起十五日内缴纳罚款"),
    Stage.CLOSED: Limit(30, Stage.EXECUTION, "默认值：执行完毕（或不予处罚决定）后30日内结案"),
}
MAX_WORKING_DAYS = 200
# 第六十四条: the first extension of the decision's limit is thirty days at most; a later one is "a reasonable
# period" the heads set together (capped here at a year, past which it is a typing slip).
FIRST_EXTENSION_DAYS, MAX_EXTENSION_DAYS = 30, 365
# The most a fine or confiscation may be (Numeric(14, 2)): a typing slip, not a real amount, past it.
MAX_AMOUNT = Decimal("999999999999.99")


def limits(session: Session) -> dict[Stage, Limit]:
    """The limit of each stage: the admin's days where set, else the default."""
    saved = {row.stage: row.days for row in session.scalars(select(StageLimit))}
    return {s: Limit(saved.get(s, d.days), d.counts_from, d.source if s not in saved else f"管理员设置（{d.source}）",
                     d.working_days)
            for s, d in DEFAULT_LIMITS.items()}


def set_limits(session: Session, actor, days: dict[Stage, int]) -> list[dict]:
    """Save the days of each stage (logged); existing cases keep the deadlines they were given."""
    changes = []
    rows = {row.stage: row for row in session.scalars(select(StageLimit))}
    for stage, value in days.items():
        limit = DEFAULT_LIMITS[stage]
        if value is None or not 1 <= int(value) <= limit.most:
            raise Invalid(f"“{stage.label}”的期限应为1到{limit.most}之间的{limit.unit}数", field=f"days_{stage.value}")
        current = rows[stage].days if stage in rows else DEFAULT_LIMITS[stage].days
        if current == value:
            continue
        if stage in rows:
            rows[stage].days = value
        else:
            session.add(StageLimit(stage=stage, days=value))
        changes.append(audit.change_row(stage.value, f"{stage.label}期限（天）", current, value))
    if changes:
        session.flush()
        audit.record(session, actor, "update", None, changes, entity_type="case_stage_limits",
                     entity_label="案件各阶段期限")
    return changes


def next_stages(case: Case) -> list[Stage]:
    """The stages that may be recorded next: the following one; after a decision not to penalise, 结案 directly."""
    if case.stage == Stage.CLOSED or case.is_voided:
        return []
    following = list(Stage)[case.stage.position + 1]
    if case.stage == Stage.DECISION and case.decision is not None and case.decision.decision == DecisionKind.NO_PENALTY:
        return [Stage.CLOSED]
    return [following]


def _due(session: Session, case_dates: dict[Stage, dt.date], discovered_on: dt.date, stage: Stage,
         table: dict[Stage, Limit], case_id: int | None = None) -> dt.date | None:
    limit = table[stage]
    start = discovered_on if limit.counts_from is None else case_dates.get(limit.counts_from)
    if start is None:  # 结案 after 不予处罚: no 执行, it counts from the decision
        start = case_dates.get(Stage.DECISION)
    if start is None:
        return None
    if limit.working_days:
        return add_working_days(session, start, limit.days)
    days = limit.days
    if stage == Stage.DECISION and case_id is not None:  # only the decision's limit is ever extended
        days += session.scalar(extension_days(case_id))
    return start + dt.timedelta(days=days)


def _refresh_header(session: Session, case: Case) -> None:
    """Derive the header (stage, its date, unit, next deadline, closed) from the entries in force."""
    session.flush()
    session.refresh(case, ["entries"])
    entries = case.effective_entries
    last = entries[-1]
    dates = {e.stage: e.stage_on for e in entries}
    case.stage, case.stage_on, case.team_id = last.stage, last.stage_on, last.team_id
    case.opened_on = dates[Stage.FILED]  # a corrected 立案 date moves the case's month
    case.closed_on = last.stage_on if last.stage == Stage.CLOSED else None
    upcoming = next_stages(case)
    case.due_on = _due(session, dates, case.discovered_on, upcoming[0], limits(session), case.id) if upcoming else None


def open_case(session: Session, actor, finding, case_no: str) -> Case:
    """Open the case of a 立案 finding: its 立案 stage on the inspection's date, with the station responsible."""
    inspection = finding.inspection
    on = inspection.inspected_on
    table = limits(session)
    case = Case(case_no=case_no, finding_id=finding.id, merchant_id=inspection.merchant_id,
                station_id=inspection.station_id, discovered_on=on, opened_on=on, stage=Stage.FILED, stage_on=on,
                created_by_id=getattr(actor, "id", None))
    session.add(case)
    session.flush()
    session.add(CaseStage(case_id=case.id, stage=Stage.FILED, stage_on=on, station_id=case.station_id,
                          deadline=_due(session, {}, on, Stage.FILED, table), notes="由立案问题建立",
                          created_by_id=getattr(actor, "id", None)))
    _refresh_header(session, case)
    audit.record(session, actor, "create", case, audit.snapshot(case, ["case_no", "stage", "stage_on", "due_on"]))
    return case


def get_case(session: Session, access: CaseAccess, case_id: int) -> Case:
    """A case the user may see, else NotFound."""
    case = session.get(Case, case_id)
    if case is None or not access.sees(case):
        raise NotFound("案件不存在")
    return case


def parse_amount(text, what: str, field: str) -> Decimal | None:
    """An amount in yuan as typed (blank: none); Chinese messages for text, negatives, too many decimals, too big."""
    raw = as_typed(None if text is None else str(text)).replace(",", "").replace("，", "")
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise Invalid(f"{what}应为数字（元），例如 5000 或 1234.50", field=field) from None
    if not value.is_finite():
        raise Invalid(f"{what}应为数字（元），例如 5000 或 1234.50", field=field)
    if value < 0:
        raise Invalid(f"{what}不能为负数", field=field)
    if value != value.quantize(Decimal("0.01")):
        raise Invalid(f"{what}最多保留两位小数（分）", field=field)
    if value > MAX_AMOUNT:
        raise Invalid(f"{what}过大：不能超过 {MAX_AMOUNT:,} 元，请核对", field=field)
    return value.quantize(Decimal("0.01"))


def _team(session: Session, team_id) -> EnforcementTeam | None:
    if not team_id:
        return None
    team = session.get(EnforcementTeam, int(team_id))
    if team is None or not team.is_active:
        raise Invalid("请选择启用的执法大队", field="team_id")
    return team


def _decision_fields(session: Session, case: Case, values: dict) -> dict:
    kind = values.get("decision")
    if kind not in {k.value for k in DecisionKind}:
        raise Invalid("请选择处理决定", field="decision")
    kind = DecisionKind(kind)
    fine = parse_amount(values.get("fine"), "罚款金额", "fine")
    confiscation = parse_amount(values.get("confiscation"), "没收违法所得金额", "confiscation")
    instrument_ids = sorted({int(i) for i in values.get("instrument_ids") or []})
    notes = as_typed(values.get("notes"))
    if kind == DecisionKind.NO_PENALTY:
        if fine or confiscation or instrument_ids:
            raise Invalid("不予行政处罚的决定不能填写罚没金额或没收器具", field="fine")
        basis = values.get("basis")
        if basis not in {b.value for b in NoPenaltyBasis}:
            raise Invalid("不予行政处罚须选择依据", field="basis")
        basis = NoPenaltyBasis(basis)
        if basis == NoPenaltyBasis.OTHER and not notes:
            raise Invalid("依据为“其他”时须在说明中写明不予处罚的依据", field="notes")
        return {"decision": kind, "basis": basis, "fine": None, "confiscation": None, "instruments": []}
    if not (fine or confiscation or instrument_ids):
        raise Invalid("给予行政处罚须填写罚款、没收违法所得金额或没收的计量器具", field="fine")
    instruments = list(session.scalars(select(Instrument).where(Instrument.id.in_(instrument_ids)))) if instrument_ids \
        else []
    if len(instruments) != len(instrument_ids) or any(i.merchant_id != case.merchant_id for i in instruments):
        raise Invalid("没收的计量器具须是本案当事人的器具", field="instrument_ids")
    return {"decision": kind, "basis": None, "fine": fine, "confiscation": confiscation, "instruments": instruments}


def add_stage(session: Session, actor, case: Case, *, expected_version: int, values: dict, today: dt.date,
              corrects: CaseStage | None = None) -> CaseStage:
    """Append the next stage (or, with `corrects`, a correction of the latest entry); refused out of order.

    values: stage, stage_on, team_id, notes; on 决定: decision, fine, confiscation, instrument_ids, basis.
    """
    if case.version != expected_version:
        raise StaleEdit("该案件")
    if case.is_voided:
        raise Invalid("该案件已作废，不能再登记")
    entries = case.effective_entries
    if corrects is not None:
        if corrects.id != entries[-1].id:
            raise Invalid("只能更正最近一个阶段的登记")
        stage, before = corrects.stage, entries[:-1]
    else:
        raw = values.get("stage")
        allowed = next_stages(case)
        if raw not in {s.value for s in Stage}:
            raise Invalid("请选择阶段", field="stage")
        stage, before = Stage(raw), entries
        if stage not in allowed:
            expected = "、".join(s.label for s in allowed) or "无（案件已结案）"
            raise Invalid(f"案件当前处于“{case.stage.label}”阶段，下一步只能登记：{expected}", field="stage")
    on = values.get("stage_on")
    if not isinstance(on, dt.date):
        raise Invalid("请填写日期", field="stage_on")
    if on > today:
        raise Invalid("日期不能晚于今天", field="stage_on")
    if before and on < before[-1].stage_on:
        raise Invalid(f"日期不能早于上一阶段（{before[-1].stage.label}，{before[-1].stage_on.isoformat()}）",
                      field="stage_on")
    if stage == Stage.FILED and on < case.discovered_on:
        raise Invalid("立案日期不能早于发现问题的检查日期", field="stage_on")
    team = _team(session, values.get("team_id"))
    decision = _decision_fields(session, case, values) if stage == Stage.DECISION else None
    notes = as_typed(values.get("notes"))
    dates = {e.stage: e.stage_on for e in before}
    entry = CaseStage(case_id=case.id, stage=stage, stage_on=on, station_id=case.station_id,
                      team_id=team.id if team else None, notes=notes,
                      deadline=_due(session, dates, case.discovered_on, stage, limits(session), case.id),
                      corrects_id=corrects.id if corrects else None, created_by_id=getattr(actor, "id", None))
    changes = [audit.change_row("stage", "阶段", None, stage), audit.change_row("stage_on", "日期", None, on),
               audit.change_row("unit", "承办单位", None, team.name if team else case.station.name)]
    if decision is not None:
        entry.decision, entry.basis = decision["decision"], decision["basis"]
        entry.fine, entry.confiscation = decision["fine"], decision["confiscation"]
        changes.append(audit.change_row("decision", "处理决定", None, entry.decision))
        for key in ("fine", "confiscation", "basis"):
            if getattr(entry, key) is not None:
                changes.append(audit.change_row(key, CaseStage.__labels__[key], None, getattr(entry, key)))
    session.add(entry)
    session.flush()
    if decision is not None and decision["instruments"]:
        session.execute(insert(case_confiscations),
                        [{"stage_id": entry.id, "instrument_id": i.id} for i in decision["instruments"]])
        changes.append(audit.change_row("instrument_ids", "没收的计量器具", None,
                                        [str(i)
                                         for i in decision["instruments"]]))
        for inst in decision["instruments"]:
            retired = audit.apply_changes(inst, {"status": InstrumentStatus.SCRAPPED})
            if retired:
                session.flush()
                audit.record(session, actor, "update", inst, retired, note=f"行政处罚没收（{case}）")
    _refresh_header(session, case)
    if case.published_on is not None and corrects is not None and stage == Stage.DECISION:
        # A corrected decision must be published again as corrected: the old publication no longer stands.
        case.published_on = None
        changes.append(audit.change_row("published_on", "公示日期", "已公示", "更正后待重新公示"))
    try:
        session.flush()
    except StaleDataError as err:
        raise StaleEdit("该案件") from err
    audit.record(session, actor, "correct_stage" if corrects else "stage", case, changes,
                 note=f"更正{corrects.stage.label}登记" if corrects else "")
    return entry


def extend(session: Session, actor, case: Case, *, expected_version: int, values: dict,
           today: dt.date) -> CaseExtension:
    """Extend the time limit for the decision (《市场监督管理行政处罚程序规定》第六十四条): the first time by up to
    thirty days with the head's approval, after that by the period the heads decide together; never edited.

    values: days, approved_on, approver, reason."""
    if case.version != expected_version:
        raise StaleEdit("该案件")
    if case.is_voided:
        raise Invalid("该案件已作废，不能再登记")
    if case.decision is not None or case.is_closed:
        raise Invalid("案件已作出处理决定，不能再延长办案期限")
    first = not case.extensions
    most = FIRST_EXTENSION_DAYS if first else MAX_EXTENSION_DAYS
    days = values.get("days")
    if not isinstance(days, int) or not 1 <= days <= most:
        raise Invalid("首次延期经负责人批准，最多延长三十日" if first else f"继续延期的天数应为1到{most}日", field="days")
    on = values.get("approved_on")
    if not isinstance(on, dt.date) or on > today or on < case.opened_on:
        raise Invalid("批准日期应在立案日期和今天之间", field="approved_on")
    approver, reason = as_typed(values.get("approver") or ""), as_typed(values.get("reason") or "")
    if not approver:
        raise Invalid("请填写批准人", field="approver")
    if not reason:
        raise Invalid("请填写延期理由", field="reason")
    before = case.due_on
    extension = CaseExtension(case_id=case.id, days=days, approved_on=on, approver=approver, reason=reason,
                              created_by_id=getattr(actor, "id", None))
    session.add(extension)
    # The case changes with it (a stale form is refused), even while its next deadline is not the decision's.
    case.updated_at = utcnow()
    _refresh_header(session, case)
    session.refresh(case, ["extensions"])
    audit.record(session, actor, "update", case, [
        audit.change_row("extension", "延长办案期限", None, f"{days} 日（{approver} {on.isoformat()} 批准）"),
        audit.change_row("due_on", "下一阶段期限", before, case.due_on)])
    return extension


def publish(session: Session, actor, case: Case, *, on: dt.date, today: dt.date) -> Case:
    """Mark a penalty decision as published (行政处罚信息公示) on a date; it then shows on the public pages."""
    decision = case.decision
    if case.is_voided:
        raise Invalid("该案件已作废")
    if decision is None:
        raise Invalid("案件尚未作出处理决定，不能公示")
    if decision.decision != DecisionKind.PENALTY:
        raise Invalid("不予行政处罚的决定不在行政处罚信息中公示")
    if case.published_on is not None:
        raise Invalid(f"该处罚决定已于 {case.published_on.isoformat()} 公示")
    if not isinstance(on, dt.date) or on > today or on < decision.stage_on:
        raise Invalid("公示日期应在决定日期和今天之间", field="published_on")
    case.published_on = on
    session.flush()
    audit.record(session, actor, "publish", case, [audit.change_row("published_on", "公示日期", None, on)])
    return case


def void_case(session: Session, actor, case: Case, reason: str) -> list[dict]:
    """Void a case opened in error (with a reason); it leaves the worklist, alerts, counts and public pages."""
    return void_record(session, actor, case, reason, what="案件", entity_label=str(case))


# --- brigades ------------------------------------------------------------------------------------

def save_team(session: Session, actor, team: EnforcementTeam | None, *, name: str, is_active: bool,
              member_ids: list[int], expected_version: int | None = None) -> EnforcementTeam:
    """Create or change a brigade: its name, whether in use and its members (logged)."""
    from app.accounts.models import User

    name = as_typed(name)
    if not name:
        raise Invalid("请填写名称", field="name")
    clash = session.scalars(select(EnforcementTeam.id).where(EnforcementTeam.name == name)).first()
    if clash is not None and (team is None or clash != team.id):
        raise Duplicate(f"已有名为“{name}”的执法大队", field="name")
    if team is not None and expected_version is not None and team.version != expected_version:
        raise StaleEdit("该执法大队")
    members = list(session.scalars(select(User).where(User.id.in_(sorted({int(i) for i in member_ids})))))
    creating = team is None
    if creating:
        team = EnforcementTeam(name=name, is_active=is_active)
        team.members = members
        session.add(team)
        session.flush()
        changes = [audit.change_row("name", "名称", None, name),
                   audit.change_row("members", "成员", None, [m.display_name for m in members])]
    else:
        changes = audit.apply_changes(team, {"name": name, "is_active": is_active})
        old = [m.display_name for m in team.members]
        if {m.id for m in team.members} != {m.id for m in members}:
            team.members = members
            team.updated_at = team.updated_at  # the member list is part of the record: bump its version
            changes.append(audit.change_row("members", "成员", old, [m.display_name for m in members]))
    try:
        session.flush()
    except StaleDataError as err:
        raise StaleEdit("该执法大队") from err
    if changes:
        audit.record(session, actor, "create" if creating else "update", team, changes)
    return team
