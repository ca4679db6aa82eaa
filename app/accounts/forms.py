"""Login, user and station forms."""
from __future__ import annotations

from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import Email, Length, Optional

from app.accounts.models import Role
from app.forms import Form, VersionField, required


class LoginForm(Form):
    """Username and password."""

    username = StringField("用户名", validators=[required("用户名")])
    password = PasswordField("密码", validators=[required("密码")])
    remember = BooleanField("记住我")


class UserForm(Form):
    """An admin's view of one user."""

    username = StringField("用户名", validators=[required("用户名"), Length(max=50)])
    display_name = StringField("姓名", validators=[required("姓名"), Length(max=50)])
    role = SelectField("角色", choices=Role.choices())
    station_ids = SelectMultipleField("所属监管所", coerce=int)
    phone = StringField("电话", validators=[Optional(), Length(max=30)])
    email = StringField("电子邮箱", validators=[Optional(), Email(message="电子邮箱格式不正确"), Length(max=120)])
    is_active = BooleanField("启用", default=True)
    password = PasswordField("初始密码", validators=[Optional(), Length(min=8, message="密码至少需要8位")])
    version = VersionField()


class PasswordResetForm(Form):
    """A new password set by an admin."""

    password = PasswordField("新密码", validators=[required("新密码"), Length(min=8, message="密码至少需要8位")])


class StationForm(Form):
    """A station's name, code and division code."""

    name = StringField("名称", validators=[required("名称"), Length(max=100)])
    code = StringField("编码", validators=[required("编码"), Length(max=20)])
    division_code = StringField("行政区划代码", validators=[Optional(), Length(max=12)])
    version = VersionField()
