"""The void form: why a record is voided."""
from __future__ import annotations

from wtforms import TextAreaField
from wtforms.validators import Length

from app.forms import Form, required


class VoidForm(Form):
    """Why a record is voided (a verification, a finding)."""

    reason = TextAreaField("作废原因", validators=[required("作废原因"), Length(max=500)])
