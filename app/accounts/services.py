"""Users and stations (services flush, never commit)."""
from __future__ import annotations

import functools
import gzip
import secrets
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts import queries
from app.accounts.models import Capability, Role, Station, User, new_session_token, role_sees_every_station
from app.audit import services as audit
from app.db import utcnow
from app.errors import Duplicate, Invalid, NotFound, StaleEdit
from app.regions import queries as regions
from app.regions.models import Region, RegionLevel
from app.text import as_typed, identifier

MIN_PASSWORD = 10
MAX_PASSWORD = 128
# 20,000 common passwords (Royce Williams' list, lowercased, as Django ships it): see COMMON-PASSWORDS.md.
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common-passwords.txt.gz")
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


@functools.cache
def _common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as f:
        return frozenset(line.strip() for line in f if line.strip())


def check_password_strength(password: str, username: str = "", field: str = "password") -> None:
    """Refuse a password that is short, the user's own name, one repeated character or a common password."""
    password = password or ""
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"密码至少需要{MIN_PASSWORD}位", field=field)
    if len(password) > MAX_PASSWORD:
        raise Invalid(f"密码不能超过{MAX_PASSWORD}位", field=field)
    folded = password.strip().lower()
    if username and folded == identifier(username).lower():
        raise Invalid("密码不能与用户名相同", field=field)
    if len(set(folded)) == 1:
        raise Invalid("密码不能由同一个字符重复组成", field=field)
    if folded in _common_passwords():
        raise Invalid("该密码过于常见，很容易被猜到，请换一个", field=field)


def generate_password() -> str:
    """A random password for first set-up and resets (it satisfies the password policy)."""
    return secrets.token_urlsafe(12)


def user_for_session(session: Session, alternative_id: str) -> User | None:
    """The active user whose current session token a cookie carries ("<id>:<token>"), else None."""
    user_id, _, token = (alternative_id or "").partition(":")
    user = session.get(User, int(user_id)) if user_id.isdigit() and token else None
    if user is None or not user.is_active or not secrets.compare_digest(user.session_token, token):
        return None
    return user


def end_sessions(user: User) -> None:
    """End every session and remember-me cookie of the user (a new token makes the old cookies stale)."""
    user.session_token = new_session_token()


def log_out(session: Session, user: User) -> None:
    """Log a user out everywhere: every session and remember-me cookie of theirs stops working."""
    end_sessions(user)
    session.flush()
    audit.record(session, user, "logout", user, note="退出登录")


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, else None."""
    user = session.scalars(select(User).where(func.lower(User.username) == identifier(username).lower())).first()
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
                station_ids=(), phone: str = "", email: str = "", wants_alert_digest: bool = True,
                must_change_password: bool = True, region_id: int | None = None) -> User:
    """Create a user; inspectors need at least one station; the user changes the given password at first login.

    region_id is kept only for roles that see every station (None: the whole installation); an actor assigned to
    a region may only create users inside it."""
    username = identifier(username)
    if not username:
        raise Invalid("请填写用户名", field="username")
    if session.scalars(select(User).where(func.lower(User.username) == username.lower())).first():
        raise Duplicate(f"用户名“{username}”已存在", field="username")
    check_password_strength(password, username)
    role = Role(role)
    stations = _stations(session, station_ids)
    if role == Role.INSPECTOR and not stations:
        raise Invalid("所检查员至少需要分配一个监管所", field="station_ids")
    region = _region_for(session, actor, role, region_id, stations)
    user = User(username=username, display_name=as_typed(display_name) or username, role=role,
                password_hash=hash_password(password), is_active=True, stations=stations, region=region,
                phone=identifier(phone), email=identifier(email), wants_alert_digest=bool(wants_alert_digest),
                must_change_password=bool(must_change_password))
    session.add(user)
    session.flush()
    audit.record(session, actor, "create", user,
                 audit.snapshot(user, ["username", "display_name", "role", "region", "stations", "phone", "email",
                                       "wants_alert_digest"]))
    return user


def _actor_region_id(actor) -> int | None:
    """The region an acting user is held to (None: the whole installation, the system or the CLI)."""
    return getattr(actor, "region_id", None) if isinstance(actor, User) else None


def _region_for(session: Session, actor, role: Role, region_id: int | None, stations: list[Station]) -> Region | None:
    """The region a user of this role gets, checked against what the actor administers."""
    limit = _actor_region_id(actor)
    if limit is not None:
        allowed = regions.station_ids_under(session, limit)
        if any(s.id not in allowed for s in stations):
            raise Invalid("只能分配本辖区的监管所", field="station_ids")
    if not role_sees_every_station(role):
        return None  # inspectors work in their assigned stations, whatever region was picked
    region = session.get(Region, region_id) if region_id else None
    if region_id and region is None:
        raise Invalid("所属区划不存在", field="region_id")
    if limit is not None and (region is None or not regions.is_under(session, region.id, limit)):
        raise Invalid("只能把用户分配到本辖区或其下级区划", field="region_id")
    return region


class Reach:
    """The users and stations an admin administers: everything (None), or those of the admin's region."""

    def __init__(self, session: Session, actor) -> None:
        limit = _actor_region_id(actor)
        self.region_ids = None if limit is None else {r.id for r in regions.regions_under(session, limit)}
        self.station_ids = None if limit is None else regions.station_ids_under(session, limit)

    def has_station(self, station_id: int | None) -> bool:
        """True when the station lies in the admin's region."""
        return self.station_ids is None or station_id in self.station_ids

    def has_county(self, county_id: int | None) -> bool:
        """True when the county lies in the admin's region."""
        return self.region_ids is None or county_id in self.region_ids

    def has_user(self, user: User) -> bool:
        """True when the admin administers this user: one whose region, or every one of whose stations, lies in
        the admin's region (a user of the whole installation only by an admin of the whole installation)."""
        if self.region_ids is None:
            return True
        if role_sees_every_station(user.role):
            return user.region_id in self.region_ids
        return bool(user.stations) and all(s.id in self.station_ids for s in user.stations)


def users_administered(session: Session, actor) -> list[User]:
    """The users an admin may see and edit on the users page."""
    reach = Reach(session, actor)
    return [u for u in session.scalars(queries.users()) if reach.has_user(u)]


def get_user_administered(session: Session, actor, user_id: int) -> User:
    """A user the admin administers, else NotFound (another county's user is not shown at all)."""
    user = get_user(session, user_id)
    if not Reach(session, actor).has_user(user):
        raise NotFound("用户不存在")
    return user


def get_station_administered(session: Session, actor, station_id: int) -> Station:
    """A station in the admin's region, else NotFound."""
    station = get_station(session, station_id)
    if not Reach(session, actor).has_station(station.id):
        raise NotFound("监管所不存在")
    return station


def counties_administered(session: Session, actor) -> list[Region]:
    """The counties an admin may put stations in."""
    return regions.counties_under(session, _actor_region_id(actor))


def regions_administered(session: Session, actor) -> list[Region]:
    """The regions an admin may assign users to (every one for an admin of the whole installation)."""
    limit = _actor_region_id(actor)
    return regions.all_regions(session) if limit is None else regions.regions_under(session, limit)


def update_user(session: Session, actor, user: User, *, expected_version: int, display_name: str, role: Role | str,
                is_active: bool, station_ids=(), phone: str = "", email: str = "",
                wants_alert_digest: bool | None = None, region_id: int | None = None) -> list[dict]:
    """Change a user's name, role, region, stations or whether they may log in."""
    if user.version != expected_version:
        raise StaleEdit("该用户")
    role = Role(role)
    stations = _stations(session, station_ids)
    if role == Role.INSPECTOR and not stations:
        raise Invalid("所检查员至少需要分配一个监管所", field="station_ids")
    if user.id == getattr(actor, "id", None) and (not is_active or role != Role.ADMIN):
        raise Invalid("不能停用自己的账号或取消自己的管理员角色")
    if not Reach(session, actor).has_user(user):
        raise NotFound("用户不存在")
    region = _region_for(session, actor, role, region_id, stations)
    old_stations = list(user.stations)
    values = {"display_name": as_typed(display_name), "role": role, "is_active": is_active,
              "phone": identifier(phone), "email": identifier(email), "region": region}
    if wants_alert_digest is not None:
        values["wants_alert_digest"] = bool(wants_alert_digest)
    was_active = user.is_active
    changes = audit.apply_changes(user, values)
    if was_active and not user.is_active:
        end_sessions(user)  # re-enabling later must not bring the old sessions back
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
    email = identifier(email)
    if wants_alert_digest and not email:
        raise Invalid("接收预警日报需要填写电子邮箱", field="email")
    if wants_monthly_report and not email:
        raise Invalid("接收月报需要填写电子邮箱", field="email")
    if wants_monthly_report and not user.can(Capability.SEE_EVERY_STATION):
        raise Invalid("月报（全部监管所）只发给监管科室和管理员", field="wants_monthly_report")
    changes = audit.apply_changes(user, {"email": email, "wants_alert_digest": bool(wants_alert_digest),
                                         "wants_monthly_report": bool(wants_monthly_report)})
    if changes:
        session.flush()
        audit.record(session, user, "update", user, changes, note="修改我的设置")
    return changes


def reset_password(session: Session, actor, user: User, password: str) -> None:
    """An admin sets a new password: the user's sessions end and they must change it at next login."""
    check_password_strength(password, user.username)
    user.password_hash = hash_password(password)
    # An admin resetting their own password has chosen it themselves.
    user.must_change_password = getattr(actor, "id", None) != user.id
    end_sessions(user)
    session.flush()
    audit.record(session, actor, "reset_password", user, note="重置密码")  # the value itself is never logged


def change_password(session: Session, user: User, *, current_password: str, new_password: str) -> None:
    """A user changes their own password (the current one is required); every other session of theirs ends."""
    if not check_password_hash(user.password_hash, current_password or ""):
        raise Invalid("当前密码不正确", field="current_password")
    check_password_strength(new_password, user.username, field="new_password")
    if new_password == current_password:
        raise Invalid("新密码不能与当前密码相同", field="new_password")
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    end_sessions(user)
    session.flush()
    audit.record(session, user, "change_password", user, note="修改密码")


def create_station(session: Session, actor, *, name: str, code: str, division_code: str = "",
                   county_id: int | None = None) -> Station:
    """Create a station with a unique name and code in a county (the only county when there is just one)."""
    values = {"name": as_typed(name), "code": identifier(code).upper(), "division_code": identifier(division_code)}
    _check_station(session, values, None)
    station = Station(**values, county=_county_for(session, actor, county_id))
    session.add(station)
    session.flush()
    audit.record(session, actor, "create", station,
                 audit.snapshot(station, ["name", "code", "division_code", "county"]))
    return station


def _county_for(session: Session, actor, county_id: int | None) -> Region:
    """The county a station goes in: the one chosen, inside what the actor administers."""
    counties = counties_administered(session, actor)
    if county_id is None and len(counties) == 1:
        return counties[0]  # a single-county installation needs no choice
    if not counties:
        raise Invalid("还没有县（区）：请先在“系统管理 → 行政区划”中添加本县（区）", field="county_id")
    county = session.get(Region, county_id) if county_id is not None else None
    if county is None or county.level != RegionLevel.COUNTY:
        raise Invalid("请选择监管所所属的县（区）", field="county_id")
    if county not in counties:
        raise Invalid("只能把监管所放在本辖区的县（区）", field="county_id")
    return county


def update_station(session: Session, actor, station: Station, *, expected_version: int, name: str, code: str,
                   division_code: str = "", county_id: int | None = None) -> list[dict]:
    """Rename or recode a station, or move it to another county the actor administers."""
    if station.version != expected_version:
        raise StaleEdit("该监管所")
    if not Reach(session, actor).has_station(station.id):
        raise NotFound("监管所不存在")
    values = {"name": as_typed(name), "code": identifier(code).upper(), "division_code": identifier(division_code)}
    _check_station(session, values, station)
    if county_id is not None or station.county is None:
        values["county"] = _county_for(session, actor, county_id)
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
