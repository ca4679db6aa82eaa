"""What each list exports: its columns in Chinese and its rows, from the list's own filtered statement.

Each function takes the select() the list page shows (its filter, scope and sort) and swaps the
entity for plain columns joined to the names a reader needs, streamed in chunks (no Flask).
"""
from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Select
from sqlalchemy.orm import Session, aliased

from app.accounts.models import Station
from app.catalog.models import InstrumentType
from app.instruments.models import Instrument
from app.merchants.models import Merchant
from reports.xlsx import Column

CHUNK = 2000

INSTRUMENT_COLUMNS = [
    Column("监管所", 14), Column("使用单位", 30), Column("器具种类", 16), Column("出厂编号", 18),
    Column("规格型号", 14), Column("制造单位", 22), Column("测量范围", 12), Column("准确度等级", 10),
    Column("安装位置", 18), Column("状态", 8), Column("首次检定日期", 12, "date"),
    Column("最近检定日期", 12, "date"), Column("检定结论", 8), Column("下次检定日期", 12, "date"),
    Column("到期轮换日期", 12, "date"),
    # After the dates (issue 14): what household-meter and e-CQS ledgers add, kept out of the columns' old places.
    Column("安装地址", 30), Column("使用地点行政区划", 16), Column("器具用途", 10), Column("器具产地", 10),
    Column("送检方式", 10),
]

MERCHANT_COLUMNS = [
    Column("监管所", 14), Column("使用单位名称", 32), Column("统一社会信用代码", 22), Column("行业", 12),
    Column("地址", 30), Column("联系人", 10), Column("联系电话", 14), Column("所属市场", 24),
    Column("登记时间", 16, "datetime"), Column("重点关注", 8), Column("重点关注原因", 30, "lines"),
]


def _stream(session: Session, stmt: Select) -> Iterator[tuple]:
    for row in session.execute(stmt.execution_options(yield_per=CHUNK)):
        yield tuple(row)


def instrument_rows(session: Session, list_stmt: Select) -> Iterator[tuple]:
    """The rows of an instrument list or worklist, in INSTRUMENT_COLUMNS order."""
    stmt = (list_stmt.with_only_columns(
        Station.name, Merchant.name, InstrumentType.name_zh, Instrument.serial_no, Instrument.model,
        Instrument.maker, Instrument.measuring_range, Instrument.accuracy_class, Instrument.location,
        Instrument.status, Instrument.first_verified_on, Instrument.last_verified_on, Instrument.last_result,
        Instrument.next_due_on, Instrument.replace_by, Instrument.install_address, Instrument.region,
        Instrument.purpose, Instrument.origin, Instrument.submission, maintain_column_froms=False)
        .join_from(Instrument, Merchant, Instrument.merchant_id == Merchant.id)
        .join_from(Instrument, InstrumentType, Instrument.type_id == InstrumentType.id)
        .join_from(Instrument, Station, Instrument.station_id == Station.id))
    return _stream(session, stmt)


def merchant_rows(session: Session, list_stmt: Select) -> Iterator[tuple]:
    """The rows of a merchant list, in MERCHANT_COLUMNS order."""
    from app.attention.queries import reason_flags
    from app.clock import today

    parent = aliased(Merchant)
    reasons = reason_flags(Merchant.id, today())
    stmt = (list_stmt.with_only_columns(
        Station.name, Merchant.name, Merchant.credit_code, Merchant.industry, Merchant.address, Merchant.contact,
        Merchant.phone, parent.name, Merchant.created_at, *reasons, maintain_column_froms=False)
        .join_from(Merchant, Station, Merchant.station_id == Station.id)
        .outerjoin_from(Merchant, parent, Merchant.parent_id == parent.id))
    for row in _stream(session, stmt):
        held = [r for r in row[9:] if r]
        yield (*row[:9], "是" if held else "", "\n".join(held))


INSPECTION_COLUMNS = [
    Column("监管所", 14), Column("使用单位", 30), Column("检查日期", 12, "date"), Column("检查情况", 18),
    Column("专项行动", 24), Column("检查器具（台）", 12, "number"), Column("发现问题（条）", 12, "number"),
    Column("备注", 30, "lines"),
]

FINDING_COLUMNS = [
    Column("监管所", 14), Column("使用单位", 30), Column("检查日期", 12, "date"), Column("问题代码", 16),
    Column("问题", 28), Column("器具种类（检查时）", 16), Column("出厂编号（检查时）", 18), Column("处理措施", 12),
    Column("案件编号", 16), Column("整改期限", 12, "date"), Column("复查关闭日期", 12, "date"), Column("说明", 30, "lines"),
    Column("作废原因（已作废的问题）", 24, "lines"),
]

RECTIFICATION_COLUMNS = [
    Column("监管所", 14), Column("使用单位", 30), Column("问题代码", 16), Column("问题", 28),
    Column("下达日期", 12, "date"), Column("整改期限", 12, "date"), Column("复查关闭日期", 12, "date"),
]


def inspection_rows(session: Session, list_stmt: Select) -> Iterator[tuple]:
    """The rows of an inspection list, in INSPECTION_COLUMNS order."""
    from sqlalchemy import func, select

    from app.inspections.models import Campaign, Finding, Inspection, InspectionInstrument

    checked = (select(func.count(InspectionInstrument.id))
               .where(InspectionInstrument.inspection_id == Inspection.id).scalar_subquery())
    # Voided findings are listed (marked) in the findings export but never counted.
    found = (select(func.count(Finding.id)).where(Finding.inspection_id == Inspection.id, Finding.in_force())
             .scalar_subquery())
    stmt = (list_stmt.with_only_columns(
        Station.name, Merchant.name, Inspection.inspected_on, Inspection.visit_outcome, Campaign.name, checked, found,
        Inspection.notes, maintain_column_froms=False)
        .join_from(Inspection, Station, Inspection.station_id == Station.id)
        .join_from(Inspection, Merchant, Inspection.merchant_id == Merchant.id)
        .outerjoin_from(Inspection, Campaign, Inspection.campaign_id == Campaign.id))
    return _stream(session, stmt)


def finding_rows(session: Session, list_stmt: Select) -> Iterator[tuple]:
    """The findings of the inspections an inspection list shows, in FINDING_COLUMNS order."""
    from app.catalog.models import FindingCode
    from app.inspections.models import Finding, Inspection, InspectionInstrument, Rectification

    stmt = (list_stmt.with_only_columns(
        Station.name, Merchant.name, Inspection.inspected_on, FindingCode.code, FindingCode.name_zh,
        InspectionInstrument.kind_name, InspectionInstrument.serial_no, Finding.measure, Finding.case_no,
        Rectification.deadline, Rectification.closed_on, Finding.description, Finding.void_reason,
        maintain_column_froms=False)
        .join_from(Inspection, Finding, Finding.inspection_id == Inspection.id)
        .join_from(Finding, FindingCode, FindingCode.id == Finding.code_id)
        .outerjoin_from(Finding, InspectionInstrument, InspectionInstrument.id == Finding.check_id)
        .outerjoin_from(Finding, Rectification, Rectification.finding_id == Finding.id)
        .join_from(Inspection, Station, Inspection.station_id == Station.id)
        .join_from(Inspection, Merchant, Inspection.merchant_id == Merchant.id)
        .order_by(Finding.id))
    return _stream(session, stmt)


def rectification_rows(session: Session, list_stmt: Select) -> Iterator[tuple]:
    """The rows of a rectification list, in RECTIFICATION_COLUMNS order."""
    from app.catalog.models import FindingCode
    from app.inspections.models import Finding, Rectification

    stmt = (list_stmt.with_only_columns(
        Station.name, Merchant.name, FindingCode.code, FindingCode.name_zh, Rectification.issued_on,
        Rectification.deadline, Rectification.closed_on, maintain_column_froms=False)
        .join_from(Rectification, Station, Rectification.station_id == Station.id)
        .join_from(Rectification, Merchant, Rectification.merchant_id == Merchant.id)
        .join_from(Rectification, Finding, Finding.id == Rectification.finding_id)
        .join_from(Finding, FindingCode, FindingCode.id == Finding.code_id))
    return _stream(session, stmt)


ALERT_COLUMNS = [
    Column("预警类型", 14), Column("日期", 12, "date"), Column("监管所", 14), Column("使用单位", 30),
    Column("器具种类", 16), Column("出厂编号", 18), Column("安装位置", 16), Column("状态", 8),
    Column("生成时间", 16, "datetime"), Column("解除时间", 16, "datetime"), Column("确认时间", 16, "datetime"),
    Column("确认备注", 30),
]


def alert_rows(session: Session, list_stmt: Select) -> Iterator[tuple]:
    """The rows of an alert list, in ALERT_COLUMNS order (kinds by their Chinese label)."""
    from app.alerts.kinds import label_of
    from app.alerts.models import Alert
    from app.alerts.queries import NO_NOTE, acknowledgement_note

    stmt = (list_stmt.with_only_columns(
        Alert.kind, Alert.due_on, Station.name, Merchant.name, InstrumentType.name_zh, Instrument.serial_no,
        Instrument.location, Alert.status, Alert.created_at, Alert.resolved_at, Alert.acknowledged_at,
        acknowledgement_note(), maintain_column_froms=False)
        .outerjoin_from(Alert, Station, Alert.station_id == Station.id)
        .outerjoin_from(Alert, Merchant, Alert.merchant_id == Merchant.id)
        .outerjoin_from(Alert, Instrument, Alert.instrument_id == Instrument.id)
        .outerjoin_from(Instrument, InstrumentType, Instrument.type_id == InstrumentType.id))
    for row in _stream(session, stmt):
        note = row[11] if row[10] is not None and row[11] != NO_NOTE else ""
        yield (label_of(row[0]), *row[1:11], note or "")
PLEDGE_COLUMNS = [
    Column("监管所", 14), Column("使用单位", 30), Column("行业", 12), Column("签署日期", 12, "date"),
    Column("状态", 8), Column("复核日期", 12, "date"), Column("示范单位", 8), Column("示范单位认定/取消日期", 14, "date"),
    Column("承诺范围", 30, "lines"), Column("撤销日期", 12, "date"), Column("撤销原因", 30, "lines"), Column("承诺书文件", 20),
]

_PLEDGE_LABELS = {"active": "有效", "revoked": "已撤销", "expired": "已过期"}


def pledge_rows(session: Session, list_stmt: Select, today) -> Iterator[tuple]:
    """The rows of the pledge list, in PLEDGE_COLUMNS order (status as shown on the page on `today`)."""
    from app.integrity.models import Pledge
    from app.integrity.queries import effective_status

    stmt = (list_stmt.with_only_columns(
        Station.name, Merchant.name, Merchant.industry, Pledge.signed_on, effective_status(today), Pledge.review_on,
        Pledge.is_model_unit, Pledge.model_unit_on, Pledge.scope_text, Pledge.revoked_on, Pledge.revoke_reason,
        Pledge.document_name, maintain_column_froms=False)
        .join_from(Merchant, Station, Merchant.station_id == Station.id))
    for row in _stream(session, stmt):
        row = list(row)
        row[2] = row[2].label
        row[4] = _PLEDGE_LABELS[row[4]]
        row[6] = "是" if row[6] else "否"
        yield tuple(row)


CAMPAIGN_TARGET_COLUMNS = [
    Column("监管所", 14), Column("使用单位", 32), Column("来源", 10), Column("状态", 16),
    Column("最近检查日期", 12, "date"), Column("发现问题（条）", 12, "number"), Column("检查记录编号", 12, "number"),
]


def campaign_target_rows(session: Session, list_stmt: Select) -> Iterator[tuple]:
    """The rows of a campaign's planned merchants with their state (list_stmt: queries.target_states)."""
    from app.inspections.queries import TARGET_STATES

    for row in session.execute(list_stmt.execution_options(yield_per=CHUNK)):
        yield (row.station_name, row.merchant_name, "随机抽取" if row.draw_id else "人工列入",
               TARGET_STATES.get(row.state, row.state), row.inspected_on, row.findings, row.inspection_id)


CASE_COLUMNS = [
    Column("案件编号", 20), Column("监管所", 14), Column("使用单位", 30), Column("问题", 24), Column("立案日期", 12, "date"),
    Column("当前阶段", 10), Column("阶段日期", 12, "date"), Column("承办单位", 16), Column("下一阶段期限", 12, "date"),
    Column("处理决定", 12), Column("罚款（元）", 14, "number"), Column("没收违法所得（元）", 14, "number"),
    Column("公示日期", 12, "date"), Column("作废原因", 24, "lines"),
]


def case_rows(session: Session, list_stmt: Select) -> Iterator[tuple]:
    """The rows of a case list, in CASE_COLUMNS order (the decision in force: corrections replace)."""
    for c in session.scalars(list_stmt.execution_options(yield_per=CHUNK)):
        d = c.decision
        yield (c.case_no, c.station.name, c.merchant.name, c.finding.code.name_zh if c.finding else "",
               c.opened_on, c.stage.label, c.stage_on, c.unit_label, c.due_on,
               d.decision.label if d is not None and d.decision else "", d.fine if d is not None else None,
               d.confiscation if d is not None else None, c.published_on, c.void_reason if c.is_voided else "")


COMPLAINT_COLUMNS = [
    Column("查询编号", 16), Column("监管所", 14), Column("使用单位", 30), Column("反映问题", 14), Column("来源", 10),
    Column("转办编号", 18), Column("受理日期", 12, "date"), Column("办理期限", 12, "date"), Column("是否逾期", 8),
    Column("承办人", 10), Column("状态", 8), Column("核查结论", 12), Column("办结日期", 12, "date"),
    Column("问题描述", 40, "lines"), Column("答复", 40, "lines"),
]


def complaint_rows(session: Session, list_stmt: Select, today) -> Iterator[tuple]:
    """The rows of the complaints list, in COMPLAINT_COLUMNS order: late as the page shows it on `today`, the
    outcome in force (corrections replace). The complainant's telephone stays on the complaint's page only."""
    for c in session.scalars(list_stmt.execution_options(yield_per=CHUNK)):
        o = c.current_outcome
        yield (c.reference, c.station.name, c.merchant.name, c.category.label, c.channel.label, c.transfer_no,
               c.received_on, c.deadline, "逾期" if c.is_late(today) else "",
               c.assignee.display_name if c.assignee else "", c.state.label, o.outcome.label if o else "",
               c.closed_on, c.description, c.reply)
