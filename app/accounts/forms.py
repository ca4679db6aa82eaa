"""Login, user and station forms."""
from __future__ import annotations

from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import EqualTo, Length, Optional

from app.accounts.models import Role
from app.forms import CoercingSelect, Form, VersionField, email_address, int_or_none, required


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
    region_id = CoercingSelect("所属区划", coerce=int_or_none, validators=[Optional()],
                               description="监管科室和管理员看到（管理员还管理）该区划下全部监管所；"
                                           "留空为整个系统。所检查员按所属监管所工作，不用此项")
    station_ids = SelectMultipleField("所属监管所", coerce=int)
    phone = StringField("电话", validators=[Optional(), Length(max=30)])
    email = StringField("电子邮箱", validators=[Optional(), email_address(), Length(max=120)])
    is_active = BooleanField("启用", default=True)
    wants_alert_digest = BooleanField("接收预警日报", default=True,
                                      description="每天把所属监管所的新增和未解除预警发到上面的电子邮箱")
    # The password policy (length, common passwords, ...) is the service's: one set of rules and messages.
    password = PasswordField("初始密码", validators=[Optional()],
                             description="至少10位，不能是用户名或常见密码；该用户首次登录时须修改")
    version = VersionField()


class PasswordResetForm(Form):
    """A new password set by an admin."""

    password = PasswordField("新密码", validators=[required("新密码")])


class StationForm(Form):
    """A station's name, code and division code."""

    name = StringField("名称", validators=[required("名称"), Length(max=100)])
    code = StringField("编码", validators=[required("编码"), Length(max=20)])
    division_code = StringField("行政区划代码", validators=[Optional(), Length(max=12)])
    county_id = CoercingSelect("所属县（区）", coerce=int_or_none, validators=[Optional()])
    version = VersionField()


class MySettingsForm(Form):
    """What a user sets for themselves: their e-mail address and whether they want the alert digest."""

    email = StringField("电子邮箱", validators=[Optional(), email_address(), Length(max=120)],
                        description="预警日报发到这个地址")
    wants_alert_digest = BooleanField("接收预警日报",
                                      description="每天一封：所属监管所上次日报以来新增的预警和仍未解除的预警")
    wants_monthly_report = BooleanField("接收月报",
                                        description="每月 1 日收到上月全部监管所的月报（限监管科室和管理员）")


class ChangePasswordForm(Form):
    """A user's own new password, with the current one to prove it is them."""

    current_password = PasswordField("当前密码", validators=[required("当前密码")])
    new_password = PasswordField("新密码", validators=[required("新密码")],
                                 description="至少10位，不能是用户名，也不能是常见密码")
    confirm_password = PasswordField("再次输入新密码", validators=[
        required("再次输入新密码"), EqualTo("new_password", message="两次输入的新密码不一致")])
