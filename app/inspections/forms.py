"""Forms for campaigns, draws, inspections, findings, re-checks and evidence."""
from __future__ import annotations

from flask_wtf.file import MultipleFileField
from wtforms import (BooleanField, DecimalField, HiddenField, IntegerField, SelectField, SelectMultipleField,
                     StringField, TextAreaField)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from app.forms import CoercingSelect, Form, VersionField, chosen, int_or_none, required
from app.inspections.models import (CREDIT_CLASSES, DEFAULT_RATES, UNCLASSED, CheckOutcome, Measure, SignerRole,
                                    VisitOutcome)
from app.instruments.forms import date_field
from app.merchants.models import Industry


class CampaignForm(Form):
    """A campaign's name, period and scope."""

    name = StringField("行动名称", validators=[required("行动名称"), Length(max=200)])
    starts_on = date_field("开始日期")
    ends_on = date_field("结束日期")
    type_ids = SelectMultipleField("器具种类", coerce=int, validators=[Optional()],
                                   description="可多选；不选表示不限")
    industries = SelectMultipleField("行业", choices=Industry.choices(), validators=[Optional()],
                                     description="可多选；不选表示不限")
    station_ids = SelectMultipleField("参加的监管所", coerce=int, validators=[chosen("参加的监管所")])
    notes = TextAreaField("说明")
    version = VersionField()


def _rate(label: str, default) -> DecimalField:
    return DecimalField(label, default=default, places=None, validators=[
        InputRequired(message="请填写抽查比例"), NumberRange(min=0, max=100, message="抽查比例应在0到100之间")])


# The credit classes a draw has a rate for, in the form's order.
RATE_KEYS = (*CREDIT_CLASSES, UNCLASSED)


class DrawForm(Form):
    """What to draw from, at which rates, and with which inspectors."""

    station_ids = SelectMultipleField("抽取范围：监管所", coerce=int, validators=[chosen("监管所")])
    industries = SelectMultipleField("抽取范围：行业", choices=Industry.choices(), validators=[Optional()],
                                     description="不选表示不限行业")
    rate_A = _rate("A 类抽查比例（%）", DEFAULT_RATES["A"])
    rate_B = _rate("B 类抽查比例（%）", DEFAULT_RATES["B"])
    rate_C = _rate("C 类抽查比例（%）", DEFAULT_RATES["C"])
    rate_D = _rate("D 类抽查比例（%）", DEFAULT_RATES["D"])
    rate_none = _rate("尚未评定信用等级的抽查比例（%）", DEFAULT_RATES["none"])
    inspectors_per_target = IntegerField("每户检查人员数", default=2, validators=[
        InputRequired(message="请填写每户检查人员数"), NumberRange(min=2, max=10, message="每户至少两名检查人员")])
    exclude_own_station = BooleanField("不从检查对象所属监管所抽取检查人员")
    attention_only = BooleanField("仅从重点关注单位中抽取", description="两年内同一问题重复出现等原因被列为重点关注的使用单位")
    roster_ids = SelectMultipleField("检查人员名录", coerce=int, validators=[chosen("检查人员")])
    seed = IntegerField("随机种子", validators=[Optional(), NumberRange(min=0, max=2 ** 62, message="随机种子应为非负整数")],
                        description="留空由系统生成；记录后任何人可用同一种子复核抽取结果")

    def rates(self) -> dict:
        """The rate (%) per credit class, keyed as run_draw() takes them."""
        return {key: getattr(self, f"rate_{key}").data for key in RATE_KEYS}


class InspectionForm(Form):
    """One visit: date, inspectors, campaign and outcome (instruments are read from the request)."""

    inspected_on = date_field("检查日期")
    visit_outcome = SelectField("检查情况", choices=VisitOutcome.choices(), default="conducted")
    inspector_ids = SelectMultipleField("检查人员（至少两人）", coerce=int, validators=[chosen("检查人员")])
    campaign_id = CoercingSelect("专项检查行动", coerce=int_or_none, validators=[Optional()])
    notes = TextAreaField("检查情况记录")
    new_type_id = CoercingSelect("现场发现未登记器具：种类", coerce=int_or_none, validators=[Optional()])
    new_serial_no = StringField("出厂编号", validators=[Length(max=80)])
    new_maker = StringField("制造单位", validators=[Length(max=120)])

    def values(self, formdata, instrument_ids: list[int]) -> dict:
        """What record_inspection() takes: the fields, the ticked outcome of each listed instrument, and the
        unregistered instrument found on site, if one was entered."""
        values = {"inspected_on": self.inspected_on.data, "visit_outcome": self.visit_outcome.data,
                  "campaign_id": self.campaign_id.data, "inspector_ids": self.inspector_ids.data,
                  "notes": self.notes.data, "checks": checks_from(formdata, instrument_ids)}
        if self.new_type_id.data or self.new_serial_no.data:
            values["new_instrument"] = {"type_id": self.new_type_id.data, "serial_no": self.new_serial_no.data,
                                        "maker": self.new_maker.data, "outcome": CheckOutcome.PROBLEM}
        return values


def checks_from(formdata, instrument_ids: list[int]) -> list[tuple[int, str]]:
    """The per-instrument outcomes ticked on the form (inst_<id> = ok / problem; blank = not checked)."""
    outcomes = {o.value for o in CheckOutcome}
    return [(instrument_id, value) for instrument_id in instrument_ids
            if (value := formdata.get(f"inst_{instrument_id}", "")) in outcomes]


class FindingForm(Form):
    """A coded finding and what was done about it."""

    code_id = SelectField("问题类型", coerce=int, validators=[chosen("问题类型")])
    check_id = CoercingSelect("涉及器具", coerce=int_or_none, validators=[Optional()])
    description = TextAreaField("问题描述")
    measure = SelectField("处理措施", choices=Measure.choices(), default="rectify")
    deadline = date_field("整改期限", optional=True)
    case_no = StringField("案件编号", validators=[Length(max=60)], description="处理措施为“立案”时填写")

    def values(self) -> dict:
        """What add_finding() takes."""
        return {k: getattr(self, k).data for k in ("code_id", "check_id", "description", "measure", "case_no",
                                                   "deadline")}


class RecheckForm(Form):
    """A re-check of a rectification order."""

    rechecked_on = date_field("复查日期")
    rectified = SelectField("复查结论", choices=[("yes", "已改正"), ("no", "未改正")], validators=[chosen("复查结论")])
    notes = TextAreaField("复查情况")
    version = VersionField()

    def values(self) -> dict:
        """What record_recheck() takes."""
        return {"rechecked_on": self.rechecked_on.data, "rectified": self.rectified.data == "yes",
                "notes": self.notes.data}


class EvidenceForm(Form):
    """Photos or scans for an inspection or one of its findings: several files at once, or taken with the camera."""

    file = MultipleFileField("证据文件（JPEG、PNG、HEIC 或 PDF，可多选）", render_kw={"accept": "image/*,application/pdf"})
    camera = MultipleFileField("拍照", render_kw={"accept": "image/*", "capture": "environment"},
                               description="在手机上直接用相机拍照")
    finding_id = CoercingSelect("对应问题", coerce=int_or_none, validators=[Optional()])


class SignatureForm(Form):
    """A signature on the 现场检查笔录: who signs (当事人, or one of the inspection's inspectors) and the drawing."""

    role = SelectField("签名人身份", choices=SignerRole.choices(), validators=[chosen("签名人身份")])
    user_id = CoercingSelect("检查人员", coerce=int_or_none, validators=[Optional()],
                             description="检查人员签名时选择本人")
    name = StringField("签名人姓名", validators=[required("签名人姓名"), Length(max=50)],
                       description="按签名人本人的写法填写")
    signature = HiddenField("签名")


class TargetForm(Form):
    """A merchant planned into a campaign by hand."""

    merchant_id = IntegerField("使用单位编号", validators=[InputRequired(message="请选择使用单位")])


class PublishForm(Form):
    """The confirmation that a draw's results may be made public."""

    confirm = BooleanField("我已核对以上将要公示的内容，确认公示", validators=[
        InputRequired(message="请先勾选确认，再公示抽查结果")])


class CheckCorrectionForm(Form):
    """Why a check recorded as 未发现问题 is corrected to 发现问题."""

    reason = TextAreaField("更正原因", validators=[required("更正原因"), Length(max=500)])


class ExtendForm(Form):
    """A later deadline for a rectification order, and why."""

    new_deadline = date_field("新的整改期限")
    reason = TextAreaField("延期原因", validators=[required("延期原因"), Length(max=500)])
    version = VersionField()
