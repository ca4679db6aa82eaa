"""Region and station-move forms (系统管理 → 行政区划)."""
from __future__ import annotations

from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional

from app.forms import CoercingSelect, Form, VersionField, chosen, int_or_none, required
from app.regions.models import RegionLevel


class RegionForm(Form):
    """A region's code, name, level and parent."""

    code = StringField("行政区划代码", validators=[required("行政区划代码"), Length(max=6)],
                       description="6位数字（GB/T 2260），如 320706")
    name = StringField("名称", validators=[required("名称"), Length(max=50)])
    level = SelectField("级别", choices=RegionLevel.choices())
    parent_id = CoercingSelect("上级区划", coerce=int_or_none, validators=[Optional()])
    version = VersionField()


class MoveStationForm(Form):
    """The county a station moves to."""

    county_id = SelectField("所属县（区）", coerce=int, validators=[chosen("所属县（区）")])
    version = VersionField()


class DeleteRegionForm(Form):
    """Delete a region (the version guards against a stale page)."""

    version = VersionField()
