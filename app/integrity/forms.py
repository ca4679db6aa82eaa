"""Pledge, revocation, demonstration-unit and target forms."""
from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional

from app.forms import Form, VersionField, required
from app.instruments.forms import date_field


class PledgeForm(Form):
    """A signed pledge: dates, scope and the signed document."""

    signed_on = date_field("签署日期")
    review_on = date_field("复核日期", optional=True)
    scope_text = TextAreaField("承诺范围", validators=[Length(max=2000)],
                               description="如：本店全部在用电子计价秤；承诺计量器具按期检定、计量准确")
    document = FileField("承诺书文件", description="签字盖章的承诺书扫描件或照片：PDF、JPEG 或 PNG")
    version = VersionField()


class RevokeForm(Form):
    """Why a pledge is revoked, and the finding behind it when there is one."""

    revoked_on = date_field("撤销日期")
    reason = TextAreaField("撤销原因", validators=[required("撤销原因"), Length(max=1000)])
    finding_id = IntegerField("相关问题编号", validators=[Optional(), NumberRange(min=1, message="应为正整数")],
                              description="由检查中发现的问题引起时填写（可不填）")
    version = VersionField()


class ModelUnitForm(Form):
    """Marking or unmarking a demonstration unit."""

    on = date_field("日期")
    decision = StringField("决定（文号或说明）", validators=[required("决定"), Length(max=300)])
    version = VersionField()


class TargetsForm(Form):
    """Only the CSRF token: the target inputs are one per kind and station, read by the view."""

