"""Catalogue edit form."""
from __future__ import annotations

from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from app.catalog.models import Confirmation, VerificationRule
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
    confirmed = SelectField("确认情况", choices=Confirmation.choices(), default=Confirmation.NO.value,
                            description="规程与周期是否已按强检目录及规程原文核对")
    note = TextAreaField("说明")
    is_active = BooleanField("启用", description="停用后不能再登记该种类的新器具，已登记的器具照常管理")
    recompute = BooleanField("同时按新规则重新计算该种类已登记器具的到期日期", default=False)
    version = VersionField()


class AliasForm(Form):
    """Another spelling of a kind, as ledgers write it."""

    alias = StringField("别名", validators=[required("别名"), Length(max=60)],
                        description="台账中对该种类的其他写法，如“计价秤”“电子称”；导入时按此识别")


class AliasDeleteForm(Form):
    """Remove one alias (the form carries only the CSRF token)."""


class NewInstrumentTypeForm(Form):
    """A kind an admin adds to the catalogue."""

    name_zh = StringField("器具种类名称", validators=[required("器具种类名称"), Length(max=60)],
                          description="如“汽车衡”；不能与已有种类的名称或别名相同")
    code = StringField("代码", validators=[Length(max=40)],
                       description="英文小写字母、数字或下划线，可不填（由系统生成）")
    rule = SelectField("管理方式", choices=VerificationRule.choices())
    cycle_months = optional_int("检定周期（月）", 1, 120)
    service_life_years = optional_int("使用年限（年）", 1, 50)
    lead_days = optional_int("提前提醒天数", 0, 365)
    regulation = StringField("检定规程", validators=[Length(max=40)], description="如“JJG 539-2016”")
    regulation_title = StringField("规程名称", validators=[Length(max=80)])
    category = StringField("项别", validators=[Length(max=60)], description="强检目录及 e-CQS 的项别，如“非自动衡器”")
    subcategory = StringField("种别", validators=[Length(max=60)], description="强检目录及 e-CQS 的种别，如“数字指示秤”")
    confirmed = SelectField("确认情况", choices=Confirmation.choices(), default=Confirmation.NO.value,
                            description="规程与周期是否已按强检目录及规程原文核对")
    aliases = TextAreaField("别名", validators=[Length(max=2000)],
                            description="台账中的其他写法，每行一个或用逗号、顿号分隔；导入时按此识别")
    note = TextAreaField("说明", validators=[Length(max=2000)])


class RetireForm(Form):
    """Retire a kind, with the reason the log keeps."""

    reason = StringField("停用原因", validators=[required("停用原因"), Length(max=200)])


class RestoreForm(Form):
    """Bring a retired kind back (the form carries only the CSRF token)."""
