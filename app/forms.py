"""Form pieces shared by the domain forms."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange, Optional, Regexp


class Form(FlaskForm):
    """Base of every form: WTForms' own messages in Simplified Chinese."""

    class Meta:
        locales = ("zh_CN", "zh")


def required(what: str) -> InputRequired:
    """A Chinese 'please fill in' validator."""
    return InputRequired(message=f"请填写{what}")


def chosen(what: str) -> InputRequired:
    """A Chinese 'please choose' validator."""
    return InputRequired(message=f"请选择{what}")


def email_address() -> Regexp:
    """An e-mail address check with a Chinese message.

    WTForms' Email() needs the email_validator package, which is not installed: it raised on the
    first address typed into the user form. The outbox accepts what this pattern accepts.
    """
    from app.mail.services import ADDRESS

    return Regexp(ADDRESS, message="电子邮箱格式不正确")


class VersionField(HiddenField):
    """The record version the form was opened on (optimistic locking)."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        try:
            self.data = int(self.data)
        except (TypeError, ValueError):
            self.data = 0


def optional_int(label: str, minimum: int = 0, maximum: int = 10_000) -> IntegerField:
    """An optional whole-number field with a Chinese range message."""
    return IntegerField(label, validators=[Optional(), NumberRange(min=minimum, max=maximum,
                                                                   message=f"应为{minimum}到{maximum}之间的整数")])


class CoercingSelect(SelectField):
    """A select whose empty choice becomes None instead of failing int coercion."""

    def process_formdata(self, valuelist):
        if valuelist and valuelist[0] in ("", "None"):
            self.data = None
        else:
            super().process_formdata(valuelist)

    def pre_validate(self, form):
        if self.data is None:
            return
        super().pre_validate(form)


def int_or_none(value):
    """Coerce a select value to int, keeping None."""
    if value in (None, "", "None"):
        return None
    return int(value)
