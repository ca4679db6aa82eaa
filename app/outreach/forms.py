"""Outreach forms: an activity (its free verifications by kind are one input per kind, read by the view), its
photos, a micro-station, a volunteer, the end of either."""
from __future__ import annotations

from flask_wtf.file import MultipleFileField
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from app.forms import CoercingSelect, Form, chosen, int_or_none, optional_int, required
from app.instruments.forms import date_field
from app.outreach.models import ActivityKind, PlaceKind
from app.outreach.services import MAX_COUNT


class ActivityForm(Form):
    """One outreach activity."""

    station_id = SelectField("监管所", coerce=int, validators=[chosen("监管所")])
    held_on = date_field("活动日期")
    kind = SelectField("活动类型", choices=ActivityKind.choices(), validators=[chosen("活动类型")],
                       description="世界计量日（5月20日前后）、计量惠民、“五进”（进学校、社区、企业、医院、养老机构）等")
    place = StringField("活动地点", validators=[required("活动地点"), Length(max=200)], description="如“城关镇中心小学”")
    place_kind = SelectField("场所类型", choices=PlaceKind.choices(), validators=[chosen("场所类型")])
    staff = StringField("参加人员", validators=[Length(max=300)], description="姓名，用顿号分隔")
    people_served = optional_int("服务群众（人次）", 0, MAX_COUNT)
    enterprises_visited = optional_int("走访企业（家）", 0, MAX_COUNT)
    materials = optional_int("发放资料（份）", 0, MAX_COUNT)
    notes = TextAreaField("备注", validators=[Length(max=2000)])


class PhotoForm(Form):
    """Photos of an activity: several files at once, or taken with the camera."""

    file = MultipleFileField("活动照片（JPEG、PNG 或 HEIC，可多选）", render_kw={"accept": "image/*"})
    camera = MultipleFileField("拍照", render_kw={"accept": "image/*", "capture": "environment"},
                               description="在手机上直接用相机拍照")


class MicroStationForm(Form):
    """A 民生计量科普宣传服务微站."""

    station_id = SelectField("监管所", coerce=int, validators=[chosen("监管所")])
    name = StringField("微站名称", validators=[required("微站名称"), Length(max=200)],
                       description="如“城关农贸市场民生计量科普宣传服务微站”")
    address = StringField("地址", validators=[Length(max=300)])
    opened_on = date_field("设立日期")
    notes = TextAreaField("备注", validators=[Length(max=2000)])


class VolunteerForm(Form):
    """A metrology volunteer."""

    station_id = SelectField("监管所", coerce=int, validators=[chosen("监管所")])
    name = StringField("姓名", validators=[required("姓名"), Length(max=50)])
    phone = StringField("联系电话", validators=[Length(max=30)])
    micro_station_id = CoercingSelect("所在微站", coerce=int_or_none, validators=[Optional()])
    joined_on = date_field("加入日期")
    notes = TextAreaField("备注", validators=[Length(max=2000)])


class EndForm(Form):
    """The day a micro-station closed or a volunteer left."""

    ended_on = date_field("日期")


class TargetsForm(Form):
    """The targets page (the CSRF token; one input per region and kind, read by the view)."""
