"""Users and stations (services flush, never commit)."""
from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts.models import Role, Station, User
from app.audit import services as audit
from app.db import utcnow
from app.errors import Duplicate, Invalid, NotFound, StaleEdit
from app.text import clean

MIN_PASSWORD = 8
# werkzeug's default (scrypt); the test config picks a cheaper method to keep the suite fast.
_hash_method = "scrypt"


def configure_hashing(method: str) -> None:
    """Choose the password hashing method (set from the app config)."""
    global _hash_method
    _hash_method = method
# A hash to compare against when the username is unknown, so timing does not reveal it.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def hash_password(password: str) -> str:
    """Hash a password for storage."""
    return generate_password_hash(password, method=_hash_method)


def check_password_strength(password: str) -> None:
    """Refuse passwords too short to be safe."""
    if len(password or "") < MIN_PASSWORD:
        raise Invalid(f"密码至少需要{MIN_PASSWORD}位", field="password")


def generate_password() -> str:
    """A random password for first set-up and resets."""
    return secrets.token_urlsafe(12)


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, else None."""
    user = session.scalars(select(User).where(func.lower(User.username) == clean(username).lower())).first()
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or "") or not user.is_active:
        return None
    return user


def _stations(session: Session, ids) -> list[Station]:
    ids = [int(i) for i in ids or []]
    return list(session.scalars(select(Station).where(Station.id.in_(ids)).order_by(Station.code))) if ids else []


def create_user(session: Session, actor, *, username: str, display_name: str, role: Role | str, password: str,
                station_ids=(), phone: str = "", email: str = "", wants_alert_digest: bool = True) -> User:
    """Create a user; inspectors need at least one station."""
    username = clean(username)
    if not username:
        raise Invalid("请填写用户名", field="username")
    if session.scalars(select(User).where(func.lower(User.username) == username.lower())).first():
        raise Duplicate(f"用户名“{username}”已存在", field="username")
    check_password_strength(password)
    role = Role(role)
    stations = _stations(session, station_ids)
    if role == Role.INSPECTOR and not stations:
        raise Invalid("所检查员至少需要分配一个监管所", field="station_ids")
    user = User(username=username, display_name=clean(display_name) or username, role=role,
                password_hash=hash_password(password), is_active=True, stations=stations,
                phone=clean(phone), email=clean(email), wants_alert_digest=bool(wants_alert_digest))
    session.add(user)
    session.flush()
    audit.record(session, actor, "create", user,
                 audit.snapshot(user, ["username", "display_name", "role", "stations", "phone", "email",
                                       "wants_alert_digest"]))
    return user


def update_user(session: Session, actor, user: User, *, expected_version: int, display_name: str, role: Role | str,
                is_active: bool, station_ids=(), phone: str = "", email: str = "",
                wants_alert_digest: bool | None = None) -> list[dict]:
    """Change a user's name, role, stations or whether they may log in."""
    if user.version != expected_version:
        raise StaleEdit("该用户")
    role = Role(role)
    stations = _stations(session, station_ids)
    if role == Role.INSPECTOR and not stations:
        raise Invalid("所检查员至少需要分配一个监管所", field="station_ids")
    if user.id == getattr(actor, "id", None) and (not is_active or role != Role.ADMIN):
        raise Invalid("不能停用自己的账号或取消自己的管理员角色")
    old_stations = list(user.stations)
    values = {"display_name": clean(display_name), "role": role, "is_active": is_active, "phone": clean(phone),
              "email": clean(email)}
    if wants_alert_digest is not None:
        values["wants_alert_digest"] = bool(wants_alert_digest)
    changes = audit.apply_changes(user, values)
    if {s.id for s in old_stations} != {s.id for s in stations}:
        changes.append(audit.change_row("stations", "所属监管所", old_stations, stations))
        user.stations = stations
        # A station change alone touches no column; touching one makes the version move too.
        user.updated_at = utcnow()
    if changes:
        session.flush()
        audit.record(session, actor, "update", user, changes)
    return changes


def update_my_settings(session: Session, user: User, *, email: str, wants_alert_digest: bool,
                       wants_monthly_report: bool = False) -> list[dict]:
    """A user's own settings: e-mail address and whether they get the alert digest and the monthly report."""
    email = clean(email)
    if wants_alert_digest and not email:
        raise Invalid("接收预警日报需要填写电子邮箱", field="email")
    if wants_monthly_report and not email:
        raise Invalid("接收月报需要填写电子邮箱", field="email")
    if wants_monthly_report and user.role == Role.INSPECTOR:
        raise Invalid("月报（全部监管所）只发给监管科室和管理员", field="wants_monthly_report")
    changes = audit.apply_changes(user, {"email": email, "wants_alert_digest": bool(wants_alert_digest),
                                         "wants_monthly_report": bool(wants_monthly_report)})
    if changes:
        session.flush()
        audit.record(session, user, "update", user, changes, note="修改我的设置")
    return changes


def reset_password(session: Session, actor, user: User, password: str) -> None:
    """Set a new password (the value itself is never logged)."""
    check_password_strength(password)
    user.password_hash = hash_password(password)
    session.flush()
    audit.record(session, actor, "reset_password", user, note="重置密码")


def create_station(session: Session, actor, *, name: str, code: str, division_code: str = "") -> Station:
    """Create a station with a unique name and code."""
    values = {"name": clean(name), "code": clean(code).upper(), "division_code": clean(division_code)}
    _check_station(session, values, None)
    station = Station(**values)
    session.add(station)
    session.flush()
    audit.record(session, actor, "create", station, audit.snapshot(station, ["name", "code", "division_code"]))
    return station


def update_station(session: Session, actor, station: Station, *, expected_version: int, name: str, code: str,
                   division_code: str = "") -> list[dict]:
    """Rename or recode a station."""
    if station.version != expected_version:
        raise StaleEdit("该监管所")
    values = {"name": clean(name), "code": clean(code).upper(), "division_code": clean(division_code)}
    _check_station(session, values, station)
    changes = audit.apply_changes(station, values)
    if changes:
        session.flush()
        audit.record(session, actor, "update", station, changes)
    return changes


def _check_station(session: Session, values: dict, station: Station | None) -> None:
    if not values["name"] or not values["code"]:
        raise Invalid("请填写监管所名称和编码")
    division = values["division_code"]
    if division and not (division.isdigit() and len(division) in (6, 9, 12)):
        raise Invalid("行政区划代码应为6、9或12位数字", field="division_code")
    for field, label in (("name", "名称"), ("code", "编码")):
        stmt = select(Station).where(getattr(Station, field) == values[field])
        if station is not None:
            stmt = stmt.where(Station.id != station.id)
        if session.scalars(stmt).first():
            raise Duplicate(f"监管所{label}“{values[field]}”已存在", field=field)


def get_user(session: Session, user_id: int) -> User:
    """A user by id, else NotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在")
    return user


def get_station(session: Session, station_id: int) -> Station:
    """A station by id, else NotFound."""
    station = session.get(Station, station_id)
    if station is None:
        raise NotFound("监管所不存在")
    return station


def ensure_admin(session: Session, username: str = "admin",
                 password: str | None = None) -> tuple[User | None, str | None]:
    """Create the first admin when there is none; returns (user, password) or (None, None)."""
    if session.scalars(select(User).where(User.role == Role.ADMIN)).first() is not None:
        return None, None
    password = password or generate_password()
    user = create_user(session, None, username=username, display_name="系统管理员", role=Role.ADMIN,
                       password=password)
    return user, password
