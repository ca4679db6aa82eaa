"""Forms of complaints: the public's, a transfer from 12315 / 12345, and the handling steps."""
from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from app.complaints.models import Category, Channel, Outcome
from app.forms import Form, VersionField, chosen, required
from app.voiding.forms import VoidForm  # noqa: F401 - the void form of complaints and their outcomes

DESCRIPTION = "具体情况"


class PublicComplaintForm(Form):
    """What a member of the public reports: no login, a challenge instead."""

    category = RadioField("遇到了什么问题", choices=Category.choices(), validators=[chosen("遇到的问题")])
    description = TextAreaField(DESCRIPTION, validators=[required(DESCRIPTION), Length(max=2000, message="具体情况不能超过2000个字")])
    photo = FileField("照片（可不传）")
    phone = StringField("联系电话（可不填）", validators=[Optional(), Length(max=30, message="联系电话不能超过30个字符")])
    phone_consent = BooleanField("同意工作人员就此事与我联系（留电话时须勾选）")
    challenge = HiddenField()
    answer = StringField("验证题", validators=[required("验证题的答案"), Length(max=10)])
    # Hidden from people by the stylesheet (.hp-field): only a program fills it.
    website = StringField("请勿填写此项")


class TransferForm(Form):
    """A complaint transferred from 12315 or 12345."""

    channel = SelectField("转办来源", choices=[(c.value, c.label) for c in Channel if c != Channel.PUBLIC],
                          validators=[chosen("转办来源")])
    transfer_no = StringField("转办单号", validators=[required("转办单号"), Length(max=50)])
    received_on = DateField("受理日期", validators=[required("受理日期")])
    category = SelectField("反映问题", choices=Category.choices(), validators=[chosen("反映问题")])
    description = TextAreaField(DESCRIPTION, validators=[required(DESCRIPTION), Length(max=2000)])
    phone = StringField("投诉人电话", validators=[Optional(), Length(max=30)])
    phone_consent = BooleanField("投诉人同意联系", default=True)


class AssignForm(Form):
    """Who handles the complaint."""

    assignee_id = SelectField("承办人", coerce=lambda v: int(v) if v else None, validators=[chosen("承办人")])
    version = VersionField()


class InspectionLinkForm(Form):
    """The inspection of the merchant that checked the complaint."""

    inspection_id = SelectField("核查检查", coerce=lambda v: int(v) if v else None, validators=[chosen("核查检查")])
    version = VersionField()


class OutcomeForm(Form):
    """The check's outcome (or a correction of the one in force)."""

    outcome = SelectField("核查结论", choices=Outcome.choices(), validators=[chosen("核查结论")])
    note = TextAreaField("核查情况（更正时写明原因）", validators=[Length(max=2000)])
    corrects_id = HiddenField()


class CloseForm(Form):
    """The reply to the complainant and the reward flag: closing the complaint."""

    reply = TextAreaField("答复内容（投诉人凭查询编号可见）", validators=[required("答复内容"), Length(max=2000)])
    reward_eligible = BooleanField("符合举报奖励条件")
    version = VersionField()

