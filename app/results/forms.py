"""Lead forms: register the instrument (and merchant) from a lead, or dismiss it with a reason."""
from __future__ import annotations

from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from app.forms import CoercingSelect, Form, VersionField, chosen, int_or_none, required
from app.merchants.models import Industry


class RegisterForm(Form):
    """The instrument the lead describes, and its merchant: a registered one, or a new one."""

    merchant_id = CoercingSelect("使用单位", coerce=int_or_none, validators=[Optional()],
                                 description="送检单位已登记时选择它；否则按下方填写新使用单位")
    merchant_name = StringField("新使用单位名称", validators=[Length(max=200)])
    industry = SelectField("新使用单位行业", choices=Industry.choices(), default=Industry.OTHER.value)
    station_id = CoercingSelect("新使用单位所属监管所", coerce=int_or_none, validators=[Optional()])
    type_id = SelectField("器具种类", coerce=int, validators=[chosen("器具种类")])
    serial_no = StringField("出厂编号", validators=[required("出厂编号"), Length(max=80)])
    maker = StringField("制造单位", validators=[Length(max=120)])
    model = StringField("型号规格", validators=[Length(max=80)])
    location = StringField("安装位置", validators=[Length(max=120)])
    version = VersionField()


class DismissForm(Form):
    """Why the lead is not registered (kept with it)."""

    reason = TextAreaField("忽略原因", validators=[required("忽略原因"), Length(max=1000)],
                           description="如：器具已登记在其他名下、非强检器具、送检单位不在本辖区")
    version = VersionField()
