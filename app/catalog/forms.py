"""Catalogue edit form."""
from __future__ import annotations

from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from app.catalog.models import VerificationRule
from app.forms import Form, VersionField, optional_int, required


class InstrumentTypeForm(Form):
    """A kind's rule, cycle, life and reminder lead time."""

    rule = SelectField("管理方式", choices=VerificationRule.choices())
    cycle_months = optional_int("检定周期（月）", 1, 120)
    service_life_years = optional_int("使用年限（年）", 1, 50)
    lead_days = optional_int("提前提醒天数", 0, 365)
    regulation = StringField("检定规程", validators=[Length(max=40)])
    regulation_title = StringField("规程名称", validators=[Length(max=80)])
    category = StringField("项别", validators=[Length(max=60)], description="强检目录及 e-CQS 的项别，如“非自动衡器”")
    subcategory = StringField("种别", validators=[Length(max=60)], description="强检目录及 e-CQS 的种别，如“数字指示秤”")
    note = TextAreaField("说明")
    is_active = BooleanField("启用")
    recompute = BooleanField("同时按新规则重新计算该种类已登记器具的到期日期", default=False)
    version = VersionField()


class AliasForm(Form):
    """Another spelling of a kind, as ledgers write it."""

    alias = StringField("别名", validators=[required("别名"), Length(max=60)],
                        description="台账中对该种类的其他写法，如“计价秤”“电子称”；导入时按此识别")


class AliasDeleteForm(Form):
    """Remove one alias (the form carries only the CSRF token)."""
