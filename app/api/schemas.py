"""The API's JSON shapes (marshmallow): what each endpoint reads and answers, described in Chinese for the
OpenAPI document. Field names are English snake_case; enums are their stored English values, with the Chinese
label alongside (`status` and `status_label`). No Flask.
"""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.alerts.models import AlertStatus
from app.inspections.models import Measure, VisitOutcome
from app.instruments.models import InstrumentStatus, VerificationResult
from app.merchants.models import Industry
from app.webhooks.models import EVENT_TYPES

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_BATCH = 1000


def _d(text: str, **extra) -> dict:
    """Field metadata: its Chinese description for the document."""
    return {"description": text, **extra}


def _enum(enum_cls, text: str, attr: str = "", nullable: bool = False):
    """An enum by its stored English value; the document lists the values and their Chinese labels."""
    labels = "；".join(f"{m.value}={m.label}" for m in enum_cls)
    return fields.String(allow_none=nullable, validate=validate.OneOf([m.value for m in enum_cls]),
                         metadata=_d(f"{text}（{labels}）"))


def _label(attr: str, text: str):
    """The Chinese label of an enum value, alongside it."""
    return fields.String(allow_none=True, metadata=_d(text))


class Problem(ma.Schema):
    """An error answer (RFC 9457 problem details), always with a Chinese message."""

    type = fields.String(metadata=_d("错误类型（about:blank 或说明地址）"))
    title = fields.String(metadata=_d("错误标题（中文）"))
    status = fields.Integer(metadata=_d("HTTP 状态码"))
    detail = fields.String(metadata=_d("错误说明（中文）"))
    errors = fields.Dict(metadata=_d("逐字段的错误说明（参数或请求体校验失败时）"))


class PageArgs(ma.Schema):
    """Cursor pagination: every list endpoint takes these."""

    cursor = fields.String(load_default=None, validate=validate.Length(max=200),
                           metadata=_d("上一页响应中的 next_cursor；不填为第一页"))
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT),
                           metadata=_d(f"每页条数，1 至 {MAX_LIMIT}，默认 {DEFAULT_LIMIT}"))
    updated_since = fields.AwareDateTime(load_default=None, default_timezone=None,
                                         metadata=_d("只返回此时刻及之后有变更的记录（ISO 8601，带时区）"))


class StationArgs(PageArgs):
    station_id = fields.Integer(load_default=None, validate=validate.Range(1, 2 ** 31 - 1),
                                metadata=_d("站点（监管所）编号；须在令牌的站点内"))


class InstrumentArgs(StationArgs):
    type_id = fields.Integer(load_default=None, validate=validate.Range(1, 2 ** 31 - 1),
                             metadata=_d("器具种类编号"))
    merchant_id = fields.Integer(load_default=None, validate=validate.Range(1, 2 ** 31 - 1),
                                 metadata=_d("使用单位编号"))
    status = fields.String(load_default=None, validate=validate.OneOf([m.value for m in InstrumentStatus]),
                           metadata=_d("状态：" + "；".join(f"{m.value}={m.label}" for m in InstrumentStatus)))
    due_after = fields.Date(load_default=None, metadata=_d("下次检定日期不早于此日（含）"))
    due_before = fields.Date(load_default=None, metadata=_d("下次检定日期不晚于此日（含）"))


class VerificationArgs(StationArgs):
    instrument_id = fields.Integer(load_default=None, validate=validate.Range(1, 2 ** 31 - 1),
                                   metadata=_d("计量器具编号"))


class Page(ma.Schema):
    """One page of a list."""

    next_cursor = fields.String(allow_none=True,
                                metadata=_d("下一页的游标；为 null 时已是最后一页（按 updated_at、id 排序）"))
    limit = fields.Integer(metadata=_d("本页请求的条数上限"))


class MerchantOut(ma.Schema):
    id = fields.Integer(metadata=_d("使用单位编号"))
    name = fields.String(metadata=_d("名称"))
    credit_code = fields.String(allow_none=True, metadata=_d("统一社会信用代码"))
    industry = _enum(Industry, "行业", attr="industry")
    industry_label = _label("industry", "行业（中文）")
    address = fields.String(metadata=_d("地址"))
    contact = fields.String(metadata=_d("联系人"))
    phone = fields.String(metadata=_d("联系电话"))
    station_id = fields.Integer(metadata=_d("所属监管所编号"))
    parent_id = fields.Integer(allow_none=True, metadata=_d("所属市场的使用单位编号"))
    credit_class = fields.String(allow_none=True, metadata=_d("信用等级"))
    updated_at = fields.AwareDateTime(metadata=_d("最后变更时间（UTC）"))


class InstrumentOut(ma.Schema):
    id = fields.Integer(metadata=_d("计量器具编号"))
    type_id = fields.Integer(metadata=_d("器具种类编号"))
    type_name = fields.String(metadata=_d("器具种类名称"))
    merchant_id = fields.Integer(metadata=_d("使用单位编号"))
    station_id = fields.Integer(metadata=_d("所属监管所编号"))
    serial_no = fields.String(metadata=_d("出厂编号"))
    maker = fields.String(metadata=_d("制造单位"))
    model = fields.String(metadata=_d("型号规格"))
    measuring_range = fields.String(metadata=_d("测量范围"))
    accuracy_class = fields.String(metadata=_d("准确度等级"))
    location = fields.String(metadata=_d("安装位置"))
    install_address = fields.String(metadata=_d("安装地址"))
    region = fields.String(metadata=_d("使用地点行政区划"))
    purpose = fields.String(metadata=_d("器具用途"))
    submission = fields.String(metadata=_d("送检方式"))
    status = _enum(InstrumentStatus, "状态", attr="status")
    status_label = _label("status", "状态（中文）")
    first_verified_on = fields.Date(allow_none=True, metadata=_d("首次检定日期"))
    last_verified_on = fields.Date(allow_none=True, metadata=_d("最近检定日期"))
    last_result = _enum(VerificationResult, "最近检定结论", attr="last_result", nullable=True)
    last_result_label = _label("last_result", "最近检定结论（中文）")
    next_due_on = fields.Date(allow_none=True, metadata=_d("下次检定日期"))
    replace_by = fields.Date(allow_none=True, metadata=_d("到期轮换日期"))
    updated_at = fields.AwareDateTime(metadata=_d("最后变更时间（UTC）"))


class VerificationOut(ma.Schema):
    id = fields.Integer(metadata=_d("检定记录编号"))
    instrument_id = fields.Integer(metadata=_d("计量器具编号"))
    verified_on = fields.Date(metadata=_d("检定日期"))
    institution = fields.String(metadata=_d("检定机构（按原文）"))
    body_id = fields.Integer(allow_none=True, metadata=_d("已登记的检定机构编号"))
    certificate_no = fields.String(metadata=_d("证书编号"))
    result = _enum(VerificationResult, "检定结论", attr="result")
    result_label = _label("result", "检定结论（中文）")
    valid_until = fields.Date(allow_none=True, metadata=_d("有效期至"))
    voided = fields.Boolean(metadata=_d("是否已作废"))
    void_reason = fields.String(allow_none=True, metadata=_d("作废原因"))
    updated_at = fields.AwareDateTime(metadata=_d("最后变更时间（UTC）"))


class InspectionOut(ma.Schema):
    id = fields.Integer(metadata=_d("监督检查编号"))
    merchant_id = fields.Integer(metadata=_d("使用单位编号"))
    station_id = fields.Integer(metadata=_d("所属监管所编号"))
    campaign_id = fields.Integer(allow_none=True, metadata=_d("专项检查行动编号"))
    inspected_on = fields.Date(metadata=_d("检查日期"))
    visit_outcome = _enum(VisitOutcome, "检查情况", attr="visit_outcome")
    visit_outcome_label = _label("visit_outcome", "检查情况（中文）")
    notes = fields.String(metadata=_d("检查情况记录"))
    updated_at = fields.AwareDateTime(metadata=_d("最后变更时间（UTC）"))


class FindingOut(ma.Schema):
    id = fields.Integer(metadata=_d("问题编号"))
    inspection_id = fields.Integer(metadata=_d("监督检查编号"))
    code_id = fields.Integer(metadata=_d("问题代码编号"))
    description = fields.String(metadata=_d("问题描述"))
    measure = _enum(Measure, "处理措施", attr="measure")
    measure_label = _label("measure", "处理措施（中文）")
    case_no = fields.String(allow_none=True, metadata=_d("立案编号"))
    voided = fields.Boolean(metadata=_d("是否已作废"))
    updated_at = fields.AwareDateTime(metadata=_d("最后变更时间（UTC）"))


class RectificationOut(ma.Schema):
    id = fields.Integer(metadata=_d("责令改正编号"))
    finding_id = fields.Integer(metadata=_d("问题编号"))
    merchant_id = fields.Integer(metadata=_d("使用单位编号"))
    station_id = fields.Integer(metadata=_d("所属监管所编号"))
    issued_on = fields.Date(metadata=_d("下达日期"))
    deadline = fields.Date(metadata=_d("整改期限"))
    closed_on = fields.Date(allow_none=True, metadata=_d("复查关闭日期；未关闭为 null"))
    updated_at = fields.AwareDateTime(metadata=_d("最后变更时间（UTC）"))


class AlertOut(ma.Schema):
    id = fields.Integer(metadata=_d("预警编号"))
    kind = fields.String(metadata=_d("预警类型"))
    instrument_id = fields.Integer(allow_none=True, metadata=_d("计量器具编号"))
    merchant_id = fields.Integer(allow_none=True, metadata=_d("使用单位编号"))
    station_id = fields.Integer(allow_none=True, metadata=_d("所属监管所编号"))
    due_on = fields.Date(metadata=_d("到期日期"))
    status = _enum(AlertStatus, "状态", attr="status")
    status_label = _label("status", "状态（中文）")
    acknowledged_at = fields.AwareDateTime(allow_none=True, metadata=_d("确认时间"))
    resolved_at = fields.AwareDateTime(allow_none=True, metadata=_d("解除时间"))
    updated_at = fields.AwareDateTime(metadata=_d("最后变更时间（UTC）"))


def page_of(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """The page schema of one kind of record: {items: [...], next_cursor, limit}."""
    return type(name, (Page,), {"items": fields.List(fields.Nested(item_schema), metadata=_d("本页记录"))})


MerchantPage = page_of(MerchantOut, "MerchantPage")
InstrumentPage = page_of(InstrumentOut, "InstrumentPage")
VerificationPage = page_of(VerificationOut, "VerificationPage")
InspectionPage = page_of(InspectionOut, "InspectionPage")
FindingPage = page_of(FindingOut, "FindingPage")
RectificationPage = page_of(RectificationOut, "RectificationPage")
AlertPage = page_of(AlertOut, "AlertPage")


class InstrumentIn(ma.Schema):
    """One instrument to register (the same rules as registering it on the ledger page)."""

    type_id = fields.Integer(required=True, validate=validate.Range(1, 2 ** 31 - 1), metadata=_d("器具种类编号"))
    merchant_id = fields.Integer(load_default=None, validate=validate.Range(1, 2 ** 31 - 1),
                                 metadata=_d("使用单位编号；限定单位的令牌可不填（即该单位）"))
    serial_no = fields.String(required=True, validate=validate.Length(1, 80), metadata=_d("出厂编号"))
    maker = fields.String(load_default="", validate=validate.Length(max=120), metadata=_d("制造单位"))
    model = fields.String(load_default="", validate=validate.Length(max=80), metadata=_d("型号规格"))
    measuring_range = fields.String(load_default="", validate=validate.Length(max=80), metadata=_d("测量范围"))
    accuracy_class = fields.String(load_default="", validate=validate.Length(max=30), metadata=_d("准确度等级"))
    location = fields.String(load_default="", validate=validate.Length(max=120), metadata=_d("安装位置"))
    install_address = fields.String(load_default="", validate=validate.Length(max=300), metadata=_d("安装地址"))
    notes = fields.String(load_default="", validate=validate.Length(max=2000), metadata=_d("备注"))


class InstrumentBatchIn(ma.Schema):
    """A batch of instruments to register, each judged on its own."""

    instruments = fields.List(fields.Nested(InstrumentIn), required=True, validate=validate.Length(1, MAX_BATCH),
                              metadata=_d(f"要登记的计量器具，1 至 {MAX_BATCH} 条"))


class RowOutcome(ma.Schema):
    """What became of one row of a batch."""

    index = fields.Integer(metadata=_d("行号（从 0 起，按请求中的顺序）"))
    outcome = fields.String(metadata=_d("结果：created=已登记；refused=被拒绝（未登记）",
                                        enum=["created", "refused"]))
    id = fields.Integer(allow_none=True, metadata=_d("已登记的计量器具编号"))
    errors = fields.List(fields.String(), metadata=_d("被拒绝的原因（中文）"))


class BatchOut(ma.Schema):
    created = fields.Integer(metadata=_d("已登记条数"))
    refused = fields.Integer(metadata=_d("被拒绝条数"))
    rows = fields.List(fields.Nested(RowOutcome), metadata=_d("逐行结果"))


class ResultIn(ma.Schema):
    """One verification result as a body sends it (the columns of a results file)."""

    kind = fields.String(required=True, validate=validate.Length(1, 60),
                         metadata=_d("器具名称：目录中的种类编码（如 elec_price_scale）或名称（如 电子计价秤）"))
    serial_no = fields.String(required=True, validate=validate.Length(1, 80), metadata=_d("出厂编号"))
    maker = fields.String(load_default="", validate=validate.Length(max=120), metadata=_d("制造单位"))
    model = fields.String(load_default="", validate=validate.Length(max=80), metadata=_d("型号规格"))
    certificate_no = fields.String(load_default="", validate=validate.Length(max=60),
                                   metadata=_d("证书编号（同一证书重发不重复记录）"))
    verified_on = fields.Date(required=True, metadata=_d("检定日期"))
    result = fields.String(required=True, validate=validate.OneOf([m.value for m in VerificationResult]),
                           metadata=_d("检定结论：pass=合格，fail=不合格"))
    valid_until = fields.Date(load_default=None, allow_none=True, metadata=_d("有效期至（不填按检定规程推算）"))
    submitter = fields.String(load_default="", validate=validate.Length(max=120), metadata=_d("送检单位"))
    fail_reason = fields.String(load_default="", validate=validate.Length(max=500), metadata=_d("不合格原因"))


class ResultBatchIn(ma.Schema):
    """A batch of results from one body, each judged on its own."""

    results = fields.List(fields.Nested(ResultIn), required=True, validate=validate.Length(1, MAX_BATCH),
                          metadata=_d(f"检定结果，1 至 {MAX_BATCH} 条"))


# app.results.services' outcomes, written out: importing that module here closes an import cycle through
# importers/ (the parsing child imports importers.values first and fails).
RESULT_OUTCOMES = ["recorded", "unchanged", "queued", "refused"]


class ResultRowOut(ma.Schema):
    """What became of one result."""

    index = fields.Integer(metadata=_d("行号（从 0 起，按请求中的顺序）"))
    outcome = fields.String(metadata=_d("结果：recorded=已记录；unchanged=已有此记录，未变；queued=台账无此器具，"
                                        "转入未备案器具线索；refused=拒收（见 reason）", enum=RESULT_OUTCOMES))
    outcome_label = fields.String(metadata=_d("结果（中文）"))
    reason = fields.String(metadata=_d("拒收原因或所入线索（中文）"))
    warnings = fields.List(fields.String(), metadata=_d("提醒（如该机构未获此种类器具的授权）"))
    instrument_id = fields.Integer(allow_none=True, metadata=_d("匹配到的计量器具编号"))
    verification_id = fields.Integer(allow_none=True, metadata=_d("检定记录编号"))
    lead_id = fields.Integer(allow_none=True, metadata=_d("未备案器具线索编号"))


class ResultBatchOut(ma.Schema):
    recorded = fields.Integer(metadata=_d("已记录条数"))
    unchanged = fields.Integer(metadata=_d("已有记录、未变条数"))
    queued = fields.Integer(metadata=_d("转入线索条数"))
    refused = fields.Integer(metadata=_d("拒收条数"))
    rows = fields.List(fields.Nested(ResultRowOut), metadata=_d("逐行结果"))


class WebhookIn(ma.Schema):
    """An address to receive the token's change notifications."""

    url = fields.String(required=True, validate=validate.Length(1, 500),
                        metadata=_d("接收地址（http:// 或 https://；内网地址须管理员在配置中允许）"))
    event_types = fields.List(fields.String(validate=validate.OneOf(list(EVENT_TYPES))), required=True,
                              validate=validate.Length(1, len(EVENT_TYPES)),
                              metadata=_d("订阅的事件类型：" + "；".join(f"{k}={v}" for k, v in EVENT_TYPES.items())))
    description = fields.String(load_default="", validate=validate.Length(max=200), metadata=_d("说明"))


class WebhookOut(ma.Schema):
    id = fields.Integer(metadata=_d("推送地址编号"))
    url = fields.String(metadata=_d("接收地址"))
    event_types = fields.List(fields.String(), metadata=_d("订阅的事件类型"))
    is_active = fields.Boolean(metadata=_d("是否启用（管理员可暂停）"))
    description = fields.String(metadata=_d("说明"))
    # Text, not AwareDateTime: the POST's answer is kept as JSON for Idempotency-Key replays.
    created_at = fields.String(metadata=_d("登记时间（UTC，ISO 8601）"))


class WebhookCreated(WebhookOut):
    secret = fields.String(metadata=_d("签名密钥：只在登记时返回这一次，用于核验 X-Metrology-Signature"))


class WebhookList(ma.Schema):
    items = fields.List(fields.Nested(WebhookOut), metadata=_d("该令牌登记的推送地址"))
