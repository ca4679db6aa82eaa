"""Login, logout, and the admin pages for users and stations."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_login.config import COOKIE_NAME

from app.accounts import queries, services
from app.accounts.forms import (ChangePasswordForm, LoginForm, MySettingsForm, PasswordResetForm, StationForm,
                                UserForm)
from app.accounts.models import Station, User
from app.audit import services as audit
from app.extensions import client_address, limiter
from app.security import admin_required, staff_required
from app.text import identifier
from app.web import db, unit_of_work

bp = Blueprint("accounts", __name__, template_folder="templates")


def _login_account_key() -> str:
    return "login-account:" + identifier(request.form.get("username")).lower()  # the name as authenticate() reads it


def _login_failed(response) -> bool:
    # A failed login re-renders the form (200); success redirects. Only failures count.
    return request.method == "POST" and response.status_code == 200


def _login_limit() -> str:
    return current_app.config["LOGIN_FAILURE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, key_func=_login_account_key, methods=["POST"], deduct_when=_login_failed,
               scope="login-account")
@limiter.limit(_login_limit, key_func=lambda: "login-addr:" + client_address(), methods=["POST"],
               deduct_when=_login_failed, scope="login-address")
def login():
    """Log in with username and password."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(db(), form.username.data, form.password.data)
        if user is None:
            flash("用户名或密码错误，或账号已停用。", "danger")
        else:
            login_user(user, remember=form.remember.data)
            with unit_of_work() as uow:
                audit.record(uow.session, user, "login", user, note=f"登录，来自 {client_address()}")
            target = request.args.get("next", "")
            # Only same-site relative paths: never an open redirect.
            if not target.startswith("/") or target.startswith("//") or "\\" in target or not target.isprintable():
                target = url_for("dashboard.index")
            return redirect(target)
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Log out: every session and remember-me cookie of the user ends, on every device."""
    with unit_of_work() as uow:
        services.log_out(uow.session, current_user._get_current_object())
    logout_user()
    flash("您已退出登录。", "info")
    return redirect(url_for("accounts.login"))


# What a user who must change their password may still open: the change page itself, logout and static files.
_OPEN_BEFORE_PASSWORD_CHANGE = {"accounts.change_password", "accounts.logout", "static", "bootstrap.static"}


@bp.before_app_request
def _require_password_change():
    if request.endpoint is None or request.endpoint in _OPEN_BEFORE_PASSWORD_CHANGE:
        return None
    if current_user.is_authenticated and current_user.must_change_password:
        return redirect(url_for("accounts.change_password"))
    return None


def _log_in_again(user: User) -> None:
    """Keep the user who just ended their own sessions logged in here, with the new token."""
    remember_cookie = current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME)
    login_user(user, remember=remember_cookie in request.cookies)


def _password_change_key() -> str:
    return f"password-change:{getattr(current_user, 'id', '')}"


@bp.route("/me/password", methods=["GET", "POST"])
@limiter.limit(_login_limit, key_func=_password_change_key, methods=["POST"], deduct_when=_login_failed,
               scope="password-change")
@staff_required
def change_password():
    """The user changes their own password (the current one is required)."""
    user = current_user._get_current_object()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.change_password(uow.session, user, current_password=form.current_password.data,
                                     new_password=form.new_password.data)
        if uow.ok:
            _log_in_again(user)
            return uow.redirect("密码已修改，其他设备上的登录已全部退出。", url_for("accounts.my_settings"))
    return render_template("accounts/change_password.html", form=form)


def _station_choices() -> list[tuple[int, str]]:
    reach = services.Reach(db(), current_user)
    return [(s.id, f"{s.code} {s.name}") for s in db().scalars(queries.stations()) if reach.has_station(s.id)]


def _region_choices() -> list[tuple[int | None, str]]:
    # Only an admin of the whole installation may leave a user's region empty (the whole installation).
    whole = [(None, "（整个系统）")] if current_user.region_id is None else []
    return whole + [(r.id, f"{r.code} {r.name}（{r.level.label}）")
                    for r in services.regions_administered(db(), current_user)]


def _user_form_choices(form: UserForm) -> None:
    form.station_ids.choices = _station_choices()
    form.region_id.choices = _region_choices()


@bp.route("/admin/users")
@admin_required
def users():
    """The users the admin administers (every one, or those of the admin's region)."""
    rows = services.users_administered(db(), current_user)
    return render_template("accounts/users.html", users=rows)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@admin_required
def user_new():
    """Create a user."""
    form = UserForm()
    _user_form_choices(form)
    if request.method == "GET":
        form.region_id.data = current_user.region_id
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            user = services.create_user(uow.session, current_user, username=form.username.data,
                                        display_name=form.display_name.data, role=form.role.data,
                                        password=form.password.data or "", station_ids=form.station_ids.data,
                                        phone=form.phone.data or "", email=form.email.data or "",
                                        wants_alert_digest=form.wants_alert_digest.data,
                                        region_id=form.region_id.data)
        if uow.ok:
            return uow.redirect(f"已创建用户 {user.username}。", url_for("accounts.users"))
    return render_template("accounts/user_form.html", form=form, user=None)


@bp.route("/admin/users/<int:user_id>/edit", methods=["GET", "POST"])
@admin_required
def user_edit(user_id: int):
    """Edit a user's name, role, stations and whether they may log in."""
    user = services.get_user_administered(db(), current_user, user_id)
    form = UserForm(obj=user)
    del form.password
    form.username.render_kw = {"readonly": True}
    _user_form_choices(form)
    if request.method == "GET":
        form.station_ids.data = [s.id for s in user.stations]
        form.role.data = user.role.value
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.update_user(uow.session, current_user, user, expected_version=form.version.data,
                                 display_name=form.display_name.data, role=form.role.data,
                                 is_active=form.is_active.data, station_ids=form.station_ids.data,
                                 phone=form.phone.data or "", email=form.email.data or "",
                                 wants_alert_digest=form.wants_alert_digest.data,
                                 region_id=form.region_id.data)
        if uow.ok:
            return uow.redirect("已保存。", url_for("accounts.users"))
    return render_template("accounts/user_form.html", form=form, user=user,
                           reset_form=PasswordResetForm())


@bp.route("/admin/users/<int:user_id>/password", methods=["POST"])
@admin_required
def user_password(user_id: int):
    """Reset a user's password."""
    user = services.get_user_administered(db(), current_user, user_id)
    form = PasswordResetForm()
    if form.validate_on_submit():
        # No form given: a refusal is flashed on the edit page this action redirects back to.
        with unit_of_work() as uow:
            services.reset_password(uow.session, current_user, user, form.password.data)
        if uow.ok:
            if user.id == current_user.id:
                _log_in_again(user)
                flash("已重置您自己的密码。", "success")
            else:
                flash(f"已重置 {user.username} 的密码：其登录已全部退出，下次登录时须修改密码。", "success")
    else:
        for errors in form.errors.values():
            for e in errors:
                flash(e, "danger")
    return redirect(url_for("accounts.user_edit", user_id=user.id))


@bp.route("/me/settings", methods=["GET", "POST"])
@staff_required
def my_settings():
    """The user's own settings: e-mail address and the daily alert digest."""
    user = current_user._get_current_object()
    form = MySettingsForm(obj=user)
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.update_my_settings(uow.session, user, email=form.email.data or "",
                                        wants_alert_digest=form.wants_alert_digest.data,
                                        wants_monthly_report=form.wants_monthly_report.data)
        if uow.ok:
            return uow.redirect("设置已保存。", url_for("accounts.my_settings"))
    return render_template("accounts/my_settings.html", form=form)


@bp.route("/admin/stations")
@admin_required
def stations():
    """The stations the admin administers (every one, or those of the admin's region)."""
    reach = services.Reach(db(), current_user)
    rows = [s for s in db().scalars(queries.stations()) if reach.has_station(s.id)]
    return render_template("accounts/stations.html", stations=rows)


@bp.route("/admin/stations/new", methods=["GET", "POST"])
@admin_required
def station_new():
    """Create a station."""
    return _station_form(None)


@bp.route("/admin/stations/<int:station_id>/edit", methods=["GET", "POST"])
@admin_required
def station_edit(station_id: int):
    """Edit a station."""
    return _station_form(services.get_station_administered(db(), current_user, station_id))


def _station_form(station: Station | None):
    form = StationForm(obj=station)
    counties = services.counties_administered(db(), current_user)
    form.county_id.choices = [(None, "（请选择）")] * (len(counties) != 1) + [
        (c.id, f"{c.code} {c.name}") for c in counties]
    if form.validate_on_submit():
        values = {"name": form.name.data, "code": form.code.data, "division_code": form.division_code.data or "",
                  "county_id": form.county_id.data}
        with unit_of_work(form) as uow:
            if station is None:
                services.create_station(uow.session, current_user, **values)
            else:
                services.update_station(uow.session, current_user, station, expected_version=form.version.data,
                                        **values)
        if uow.ok:
            return uow.redirect("已保存。", url_for("accounts.stations"))
    return render_template("accounts/station_form.html", form=form, station=station)


