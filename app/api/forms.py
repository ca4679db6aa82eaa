"""API token forms (系统管理 → API 令牌)."""
from __future__ import annotations

from wtforms import DateField, IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import Length, NumberRange, Optional

from app.api.models import TokenScope
from app.forms import Form, chosen, required


class TokenForm(Form):
    """Name, scope, stations or body, optional merchant, expiry and rate."""

    name = StringField("令牌名称", validators=[required("令牌名称"), Length(max=80)],
                       description="说明谁在用、做什么，如“县自来水公司户表登记”")
    scope = SelectField("权限", choices=[(s.value, s.label) for s in TokenScope], validators=[chosen("权限")])
    station_ids = SelectMultipleField("站点", coerce=int, validators=[Optional()],
                                      description="只读和读写令牌：可访问的站点，可多选")
    body_id = SelectField("检定机构", coerce=int, validators=[Optional()],
                          description="检定机构报送令牌：报送结果的机构")
    merchant_id = IntegerField("限定单位编号", validators=[Optional(), NumberRange(min=1, max=2 ** 31 - 1)],
                               description="可不填。读写令牌填了使用单位编号后，只能为该单位登记器具（如供水公司的户用水表）")
    expires_on = DateField("有效期至", validators=[required("有效期")], description="当天 24 点（北京时间）失效")
    rate_per_minute = IntegerField("每分钟请求上限", default=600,
                                   validators=[required("每分钟请求上限"), NumberRange(min=1, max=10_000)])


class RevokeForm(Form):
    """Revoke (the form carries only the CSRF token; the page asks for confirmation first)."""
