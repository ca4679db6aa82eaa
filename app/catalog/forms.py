"""Catalogue edit form."""
from __future__ import annotations

from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from app.catalog.models import VerificationRule
from app.forms import Form, VersionField, optional_int


class InstrumentTypeForm(Form):
    """A kind's rule, cycle, life and reminder lead time."""

    rule = SelectField("管理方式", choices=VerificationRule.choices())
    cycle_months = optional_int("检定周期（月）", 1, 120)
    service_life_years = optional_int("使用年限（年）", 1, 50)
    lead_days = optional_int("提前提醒天数", 0, 365)
    regulation = StringField("检定规程", validators=[Length(max=40)])
    regulation_title = StringField("规程名称", validators=[Length(max=80)])
    note = TextAreaField("说明")
    is_active = BooleanField("启用")
    recompute = BooleanField("同时按新规则重新计算该种类已登记器具的到期日期", default=False)
    version = VersionField()
