"""The acknowledge form of the alert centre."""
from __future__ import annotations

from wtforms import HiddenField, StringField
from wtforms.validators import Length, Optional

from app.forms import Form


class AcknowledgeForm(Form):
    """Acknowledge one alert, with an optional note, then go back to the list it was on."""

    note = StringField("备注", validators=[Optional(), Length(max=200, message="备注不能超过200字")])
    next = HiddenField()
