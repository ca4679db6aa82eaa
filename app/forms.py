"""Form pieces shared by the domain forms."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange, Optional, Regexp


# WTForms' messages that its zh_CN catalogue (3.x) leaves in English.
MISSING_MESSAGES = {
    "'%(value)s' is not a valid choice for this field.": "“%(value)s”不是有效的选项。",
    "'%(value)s' are not valid choices for this field.": "“%(value)s”不是有效的选项。",
    "Date must be at least %(min)s.": "日期不能早于 %(min)s。",
    "Date must be at most %(max)s.": "日期不能晚于 %(max)s。",
    "Date must be between %(min)s and %(max)s.": "日期应在 %(min)s 和 %(max)s 之间。",
    "Not a valid week value.": "不是有效的周。",
    "This field cannot be edited.": "此项不能修改。",
    "This field is disabled and cannot have a value.": "此项已停用，不能填写。",
}


class _Chinese:
    """WTForms' Chinese catalogue with the messages it lacks filled in."""

    def __init__(self, translations) -> None:
        self.translations = translations

    def gettext(self, string: str) -> str:
        return MISSING_MESSAGES.get(string) or self.translations.gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return MISSING_MESSAGES.get(singular if n == 1 else plural) or self.translations.ngettext(singular, plural, n)


class Form(FlaskForm):
    """Base of every form: WTForms' own messages in Simplified Chinese."""

    class Meta:
        locales = ("zh_CN", "zh")

        def get_translations(self, form):
            """WTForms' zh_CN messages, completed by MISSING_MESSAGES."""
            return _Chinese(super().get_translations(form))


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
