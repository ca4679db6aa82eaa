"""The credit rule form."""
from __future__ import annotations

from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange

from app.credit.models import CreditRule
from app.forms import Form, VersionField


def _points(label: str, minimum: int = 0, maximum: int = 1000) -> IntegerField:
    return IntegerField(label, validators=[InputRequired(message=f"请填写{label}"),
                                           NumberRange(min=minimum, max=maximum,
                                                       message=f"应为{minimum}到{maximum}之间的整数")])


class CreditRuleForm(Form):
    """Weights and thresholds of the credit classes."""

    window_months = _points(CreditRule.__labels__["window_months"], 1, 120)
    severe_points = _points(CreditRule.__labels__["severe_points"])
    major_points = _points(CreditRule.__labels__["major_points"])
    minor_points = _points(CreditRule.__labels__["minor_points"])
    overdue_points = _points(CreditRule.__labels__["overdue_points"])
    overdue_cap = _points(CreditRule.__labels__["overdue_cap"])
    failed_points = _points(CreditRule.__labels__["failed_points"])
    complaint_points = _points(CreditRule.__labels__["complaint_points"])
    pledge_points = _points(CreditRule.__labels__["pledge_points"])
    model_unit_points = _points(CreditRule.__labels__["model_unit_points"])
    a_max = _points(CreditRule.__labels__["a_max"], -1000)
    b_max = _points(CreditRule.__labels__["b_max"], -1000)
    c_max = _points(CreditRule.__labels__["c_max"], -1000)
    version = VersionField()
