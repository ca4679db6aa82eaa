"""Webhook subscription forms."""
from __future__ import annotations

from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.validators import Length

from app.forms import Form, chosen, required
from app.webhooks.models import EVENT_TYPES


class SubscriptionForm(Form):
    """An address for a token: where, which events, a note."""

    token_id = SelectField("接口令牌", coerce=int, validators=[chosen("接口令牌")],
                           description="变更按该令牌的范围推送：站点令牌推送其站点的器具和检定记录，检定机构令牌推送本机构的检定记录")
    url = StringField("接收地址", validators=[required("接收地址"), Length(max=500)],
                      description="以 http:// 或 https:// 开头；不跟随重定向")
    event_types = SelectMultipleField("事件类型", choices=list(EVENT_TYPES.items()),
                                      validators=[chosen("事件类型")], description="可多选")
    description = StringField("说明", validators=[Length(max=200)])


class ActionForm(Form):
    """Pause, resume, delete or retry (the form carries only the CSRF token)."""
