"""Market forms: mark a fair scale, log a re-weigh, the organiser-duty checklist (one select per duty, read by
the view)."""
from __future__ import annotations

from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from app.forms import CoercingSelect, Form, chosen, int_or_none, optional_int, required
from app.instruments.forms import date_field
from app.markets.services import MAX_GRAMS
from app.markets.tolerance import GoodsCategory


class FairScaleForm(Form):
    """Which of the organiser's scales is a fair scale, and where it stands."""

    instrument_id = SelectField("计量器具", coerce=int, validators=[chosen("计量器具")])
    location = StringField("市场内位置", validators=[required("市场内位置"), Length(max=120)],
                           description="如“东门入口服务台旁”")


class UnmarkForm(Form):
    """Stop using a fair scale (the form carries only the CSRF token)."""


class ReweighForm(Form):
    """One re-weigh at a fair scale."""

    weighed_on = date_field("复秤日期")
    goods = StringField("商品", validators=[required("商品名称"), Length(max=60)], description="如“猪肉”“苹果”")
    category = SelectField("商品类别", choices=GoodsCategory.choices(), validators=[chosen("商品类别")],
                           description="按《零售商品称重计量监督管理办法》附表1，决定允许的负偏差")
    claimed_g = optional_int("标称重量（克）", 1, MAX_GRAMS)
    found_g = optional_int("复秤重量（克）", 0, MAX_GRAMS)
    stall_id = CoercingSelect("摊位（经营户）", coerce=int_or_none, validators=[Optional()])
    notes = TextAreaField("备注", validators=[Length(max=2000)])


class DutiesForm(Form):
    """The duty checklist (the CSRF token; the selects are read by the view)."""
