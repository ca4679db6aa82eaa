"""Users, roles, what each role may do (capabilities) and stations."""
from __future__ import annotations

import secrets
from enum import Enum

from sqlalchemy import Boolean, Column, ForeignKey, String, Table, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, LabeledEnum, VersionedMixin, enum_column, one_of
from app.regions.models import Region


class Role(LabeledEnum):
    """What a user may do."""

    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    INSPECTOR = "inspector"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"admin": "管理员", "supervisor": "监管科室", "inspector": "所检查员"}


class Capability(str, Enum):
    """One thing a user may do; guards and templates ask for these, never for a role."""

    # Open the staff pages: lists, records, worklists, figures (of the user's stations).
    VIEW_RECORDS = "view_records"
    # See every station's records rather than only the stations the user is assigned to.
    SEE_EVERY_STATION = "see_every_station"
    # Change the ledger of a station in scope: merchants, instruments, verifications, inspections, findings,
    # re-checks, evidence, pledges, imports, acknowledging alerts.
    EDIT_LEDGER = "edit_ledger"
    # Plan campaigns (专项检查行动) and run and publish random draws (双随机).
    RUN_CAMPAIGNS = "run_campaigns"
    # Users, stations, the catalogue, credit rules, targets, scheduled jobs, the outbox and the audit log.
    ADMINISTER = "administer"


# The one place a role is turned into what it may do (DESIGN.md, "Who uses it, and for what").
ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.ADMIN: frozenset(Capability),
    Role.SUPERVISOR: frozenset({Capability.VIEW_RECORDS, Capability.SEE_EVERY_STATION, Capability.RUN_CAMPAIGNS}),
    Role.INSPECTOR: frozenset({Capability.VIEW_RECORDS, Capability.EDIT_LEDGER}),
}


class Capabilities:
    """What a user may do, asked by name; shared by logged-in users and the anonymous visitor (who may nothing)."""

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset()

    def can(self, capability: Capability) -> bool:
        """True when the user holds this capability."""
        return capability in self.capabilities

    @property
    def can_view_records(self) -> bool:
        """May open the staff pages."""
        return self.can(Capability.VIEW_RECORDS)

    @property
    def sees_every_station(self) -> bool:
        """Sees every station's records, not only the assigned stations'."""
        return self.can(Capability.SEE_EVERY_STATION)

    @property
    def can_edit_ledger(self) -> bool:
        """May change the ledger of some station (which ones: may_edit_station)."""
        return self.can(Capability.EDIT_LEDGER)

    @property
    def can_run_campaigns(self) -> bool:
        """May plan campaigns and run and publish random draws."""
        return self.can(Capability.RUN_CAMPAIGNS)

    @property
    def can_administer(self) -> bool:
        """May manage users, stations, the catalogue and the system's settings."""
        return self.can(Capability.ADMINISTER)

    def may_edit_station(self, station_id: int | None) -> bool:
        """May change the ledger of this station: the capability, and the station inside the user's scope."""
        from app.scope import Scope  # app.scope imports this module

        return self.can_edit_ledger and Scope.for_user(self).allows(station_id)


user_stations = Table(
    "user_stations",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("station_id", ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True),
)


class Station(VersionedMixin, Base):
    """A field station (市场监管所); every merchant belongs to one."""

    __tablename__ = "stations"
    __labels__ = {"name": "名称", "code": "编码", "division_code": "行政区划代码", "county_id": "所属县（区）"}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    division_code: Mapped[str] = mapped_column(String(12), default="")
    # The county (bureau) the station belongs to. NULL is allowed in the database only so an upgrade can add the
    # column before filling it; the services require a county for every new station.
    county_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)

    county: Mapped[Region | None] = relationship()

    def __str__(self) -> str:
        return self.name


def new_session_token() -> str:
    """A fresh random session token for a user."""
    return secrets.token_urlsafe(32)


class User(Capabilities, VersionedMixin, Base):
    """A person who logs in: admin, supervisor or station inspector."""

    __tablename__ = "users"
    __table_args__ = (one_of("role", Role),)
    __labels__ = {
        "username": "用户名",
        "display_name": "姓名",
        "role": "角色",
        "is_active": "启用",
        "phone": "电话",
        "email": "电子邮箱",
        "stations": "所属监管所",
        "region_id": "所属区划",
        "wants_alert_digest": "接收预警日报",
        "wants_monthly_report": "接收月报",
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str] = mapped_column(String(50))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    phone: Mapped[str] = mapped_column(String(30), default="")
    email: Mapped[str] = mapped_column(String(120), default="")
    # The daily alert digest of the user's stations, by e-mail; each user can turn it off.
    wants_alert_digest: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Last month's all-station report by e-mail on the 1st (supervisors and admins ask for it).
    wants_monthly_report: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    # Part of every session and remember-me cookie (see get_id); a new value ends all of the user's sessions.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    # Set when an admin chose the password: the user must pick their own before doing anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # For users who see every station (SEE_EVERY_STATION): NULL is the whole installation, a region every station
    # under it. Inspectors keep their assigned stations and have no region.
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)

    region: Mapped[Region | None] = relationship()

    stations: Mapped[list[Station]] = relationship(
        secondary=user_stations, order_by=Station.code, lazy="selectin"
    )

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What the user's role may do (ROLE_CAPABILITIES)."""
        return ROLE_CAPABILITIES[self.role]

    # Flask-Login protocol, written out so models need no Flask import.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        # Flask-Login's alternative id: cookies carry the token, so a rotated token refuses old cookies.
        return f"{self.id}:{self.session_token}"

    def __str__(self) -> str:
        return self.display_name or self.username
