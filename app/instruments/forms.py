"""Instrument, verification and replacement forms (the void form is app/voiding/forms.py)."""
from __future__ import annotations

from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from app.certificates.forms import certificate_field
from app.forms import Form, VersionField, chosen, optional_int, required
from app.instruments.ecqs import PURPOSES, SUBMISSIONS
from app.instruments.models import InstrumentStatus, VerificationResult


def date_field(label: str, optional: bool = False) -> DateField:
    """A date input with a Chinese format message."""
    validators = [Optional()] if optional else [required(label)]
    return DateField(label, validators=validators, format="%Y-%m-%d")


class InstrumentForm(Form):
    """One instrument's facts (the merchant is chosen before)."""

    type_id = SelectField("器具种类", coerce=int, validators=[chosen("器具种类")])
    serial_no = StringField("出厂编号", validators=[required("出厂编号"), Length(max=80)])
    model = StringField("型号规格", validators=[Length(max=80)])
    maker = StringField("制造单位", validators=[Length(max=120)])
    measuring_range = StringField("测量范围", validators=[Length(max=80)])
    accuracy_class = StringField("准确度等级", validators=[Length(max=30)])
    location = StringField("安装位置", validators=[Length(max=120)],
                           description="摊位号、加油枪号、车牌号、充电桩编号或户号")
    install_address = StringField("安装地址", validators=[Length(max=300)], description="住户水表、燃气表、电能表的用户地址")
    region = StringField("使用地点行政区划", validators=[Length(max=60)],
                         description="6位行政区划代码（如 320703），应在本监管所的行政区划内",
                         render_kw={"inputmode": "numeric", "maxlength": 60})
    purpose = SelectField("器具用途", choices=[("", "（未填写）")] + [(p, p) for p in PURPOSES],
                          validate_choice=False)
    origin = StringField("器具产地", validators=[Length(max=60)])
    submission = SelectField("送检方式", choices=[("", "（未填写）")] + [(s, s) for s in SUBMISSIONS],
                             validate_choice=False)
    nozzle_count = optional_int("枪数（加油/加气机）", 1, 32)
    status = SelectField("状态", choices=InstrumentStatus.choices(), default="in_use")
    notes = TextAreaField("备注")
    version = VersionField()


class VerificationForm(Form):
    """One verification record."""

    verified_on = date_field("检定日期")
    body_id = SelectField("检定机构", coerce=int, default=0,
                          description="选择已登记的检定机构；不在列表中时选“其他（手工填写）”并在下一栏填写")
    institution = StringField("其他检定机构名称", validators=[Length(max=120)],
                              description="选择了上面的检定机构时不必填写")
    certificate_no = StringField("证书编号", validators=[Length(max=60)])
    result = SelectField("检定结论", choices=VerificationResult.choices(), validators=[chosen("检定结论")])
    valid_until = date_field("有效期至", optional=True)
    notes = TextAreaField("备注")
    certificate = certificate_field("可选；也可以保存后在器具页面附加")


class ReplaceForm(Form):
    """The meter that replaces an old one, with its first verification."""

    serial_no = StringField("新表出厂编号", validators=[required("新表出厂编号"), Length(max=80)])
    maker = StringField("制造单位", validators=[Length(max=120)])
    model = StringField("型号规格", validators=[Length(max=80)])
    verified_on = date_field("新表首次检定日期", optional=True)
    institution = StringField("检定机构", validators=[Length(max=120)])
    certificate_no = StringField("证书编号", validators=[Length(max=60)])
    valid_until = date_field("有效期至", optional=True)


class LabelsForm(Form):
    """The label stock for a sheet of QR labels."""

    size = SelectField("标签规格", validators=[chosen("标签规格")])


def keep_legacy_choice(field: SelectField, value: str) -> None:
    """Offer an instrument's current text (a legacy or imported value outside the choices) so saving the form
    unchanged keeps it as typed; the service refuses any other value outside the choices."""
    if value and value not in {v for v, _ in field.choices}:
        field.choices = list(field.choices) + [(value, f"{value}（原值，不是可选值之一）")]
