"""The working-day calendar's form: one day added."""
from __future__ import annotations

from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length

from app.forms import Form, chosen, required
from app.workdays.models import DayKind


class DayForm(Form):
    """A holiday or an adjusted working day."""

    day = DateField("日期", validators=[required("日期")])
    kind = SelectField("类型", choices=DayKind.choices(), validators=[chosen("类型")])
    name = StringField("名称（如 春节）", validators=[Length(max=50)])
    source = StringField("依据（如 国务院办公厅通知）", validators=[Length(max=200)])
