"""Merchant form."""
from __future__ import annotations

from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from app.forms import CoercingSelect, Form, VersionField, chosen, int_or_none, required
from app.merchants.models import Industry


class MerchantForm(Form):
    """A merchant's facts."""

    name = StringField("名称", validators=[required("使用单位名称"), Length(max=200)])
    credit_code = StringField("统一社会信用代码", validators=[Optional(), Length(max=40)],
                              description="个体摊位可不填；填写时自动转为大写半角并校验")
    industry = SelectField("行业", choices=Industry.choices(), validators=[chosen("行业")])
    station_id = SelectField("所属监管所", coerce=int, validators=[chosen("所属监管所")])
    parent_id = CoercingSelect("所属市场", coerce=int_or_none, validators=[Optional()],
                               description="集贸市场经营户可选择所在市场的主办者")
    address = StringField("地址", validators=[Length(max=300)])
    contact = StringField("联系人", validators=[Length(max=50)])
    phone = StringField("联系电话", validators=[Length(max=30)])
    notes = TextAreaField("备注")
    version = VersionField()
