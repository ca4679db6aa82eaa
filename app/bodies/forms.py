"""Verification body form."""
from __future__ import annotations

from wtforms import BooleanField, SelectMultipleField, StringField
from wtforms.validators import Length, Optional

from app.forms import Form, VersionField, required


class BodyForm(Form):
    """A body's name, code, authorised kinds and contact."""

    name = StringField("机构名称", validators=[required("机构名称"), Length(max=120)])
    code = StringField("机构代码", validators=[Length(max=40)], description="如统一社会信用代码或授权证书编号，可不填")
    type_ids = SelectMultipleField("授权检定的器具种类", coerce=int, validators=[Optional()],
                                   description="该机构经授权可检定的器具种类；可多选")
    contact_person = StringField("联系人", validators=[Length(max=50)])
    contact_phone = StringField("联系电话", validators=[Length(max=40)])
    is_active = BooleanField("启用", default=True)
    version = VersionField()


class ToggleForm(Form):
    """Activate or deactivate (the form carries only the CSRF token)."""
