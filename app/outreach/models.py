"""Outreach (计量惠民、五进、世界计量日): activities with their free verifications and photos, and the registry of
民生计量科普宣传服务微站 and volunteers, with targets per county."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Station
from app.catalog.models import InstrumentType
from app.db import (Base, LabeledEnum, TimestampMixin, UTCDateTime, VersionedMixin, enum_column, not_before,
                    not_negative, one_of, positive)
from app.voiding.models import Voidable


class ActivityKind(LabeledEnum):
    """What an outreach activity was, as bureaus report it upward."""

    METROLOGY_DAY = "metrology_day"
    BENEFIT = "benefit"
    FIVE_INTO = "five_into"
    SME = "sme"
    SCIENCE = "science"
    OTHER = "other"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"metrology_day": "世界计量日", "benefit": "计量惠民", "five_into": "五进",
                "sme": "服务中小企业", "science": "科普宣传", "other": "其他"}


class PlaceKind(LabeledEnum):
    """The kind of place an activity went to (the 五进: schools, communities, enterprises, hospitals, care homes)."""

    SCHOOL = "school"
    COMMUNITY = "community"
    ENTERPRISE = "enterprise"
    HOSPITAL = "hospital"
    CARE_HOME = "care_home"
    MARKET = "market"
    OTHER = "other"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"school": "学校", "community": "社区", "enterprise": "企业", "hospital": "医院",
                "care_home": "养老机构", "market": "集贸市场", "other": "其他"}


class OutreachTargetKind(LabeledEnum):
    """What a county's outreach target counts."""

    MICRO_STATIONS = "micro_stations"
    VOLUNTEERS = "volunteers"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"micro_stations": "科普宣传服务微站", "volunteers": "志愿者"}


class OutreachActivity(Voidable, TimestampMixin, Base):
    """One outreach activity of a station; evidence: never edited, voided with a reason and entered again."""

    __tablename__ = "outreach_activities"
    __table_args__ = (one_of("kind", ActivityKind), one_of("place_kind", PlaceKind), not_negative("people_served"),
                      not_negative("enterprises_visited"), not_negative("materials"))
    __labels__ = {"held_on": "活动日期", "kind": "活动类型", "place": "活动地点", "place_kind": "场所类型",
                  "station": "监管所", "staff": "参加人员", "people_served": "服务群众（人次）",
                  "enterprises_visited": "走访企业（家）", "materials": "发放资料（份）", "notes": "备注"}

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    held_on: Mapped[dt.date] = mapped_column(Date, index=True)
    kind: Mapped[ActivityKind] = mapped_column(enum_column(ActivityKind))
    place: Mapped[str] = mapped_column(String(200))
    place_kind: Mapped[PlaceKind] = mapped_column(enum_column(PlaceKind))
    staff: Mapped[str] = mapped_column(String(300), default="")
    people_served: Mapped[int] = mapped_column(Integer, default=0)
    enterprises_visited: Mapped[int] = mapped_column(Integer, default=0)
    materials: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    station: Mapped[Station] = relationship()
    verifications: Mapped[list["FreeVerification"]] = relationship(order_by="FreeVerification.id",
                                                                    back_populates="activity")
    photos: Mapped[list["OutreachPhoto"]] = relationship(order_by="OutreachPhoto.id", viewonly=True)

    @property
    def free_verifications(self) -> int:
        """台件 verified free of charge, all kinds together."""
        return sum(v.count for v in self.verifications)

    def __str__(self) -> str:
        return f"{self.held_on.isoformat()} {self.kind.label}（{self.place}）"


class FreeVerification(TimestampMixin, Base):
    """How many instruments of one kind an activity verified free of charge (台件)."""

    __tablename__ = "outreach_verifications"
    __table_args__ = (UniqueConstraint("activity_id", "type_id"), positive("count"))

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("outreach_activities.id"), index=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("instrument_types.id"))
    count: Mapped[int] = mapped_column(Integer)

    activity: Mapped[OutreachActivity] = relationship(back_populates="verifications")
    instrument_type: Mapped[InstrumentType] = relationship(lazy="joined")


class OutreachPhoto(TimestampMixin, Base):
    """A photo of an activity, kept on disk like inspection evidence (generated name, SHA-256); never deleted."""

    __tablename__ = "outreach_photos"
    __labels__ = {"original_name": "文件名", "taken_at": "拍摄时间"}

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("outreach_activities.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    original_name: Mapped[str] = mapped_column(String(200))
    stored_name: Mapped[str] = mapped_column(String(120), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    taken_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class MicroStation(VersionedMixin, Base):
    """A 民生计量科普宣传服务微站 a station keeps (in a market, a community centre, a school)."""

    __tablename__ = "micro_stations"
    __table_args__ = (not_before("closed_on", "opened_on"),)
    __labels__ = {"name": "微站名称", "address": "地址", "station": "监管所", "opened_on": "设立日期",
                  "closed_on": "撤销日期", "notes": "备注"}

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    opened_on: Mapped[dt.date] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")

    station: Mapped[Station] = relationship()

    def __str__(self) -> str:
        return self.name


class Volunteer(VersionedMixin, Base):
    """A metrology volunteer (计量志愿者) of a station, optionally attached to a micro-station."""

    __tablename__ = "outreach_volunteers"
    __table_args__ = (not_before("left_on", "joined_on"),)
    __labels__ = {"name": "姓名", "phone": "联系电话", "station": "监管所", "micro_station": "所在微站",
                  "joined_on": "加入日期", "left_on": "退出日期", "notes": "备注"}

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    micro_station_id: Mapped[int | None] = mapped_column(ForeignKey("micro_stations.id"))
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(30), default="")
    joined_on: Mapped[dt.date] = mapped_column(Date)
    left_on: Mapped[dt.date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")

    station: Mapped[Station] = relationship()
    micro_station: Mapped[MicroStation | None] = relationship()

    def __str__(self) -> str:
        return self.name


class OutreachTarget(VersionedMixin, Base):
    """A region's target of micro-stations or volunteers; a county without its own inherits its city's (as the
    settings of migration 0034 do). region_id NULL: the installation's default."""

    __tablename__ = "outreach_targets"
    __table_args__ = (UniqueConstraint("kind", "scope_key"), one_of("kind", OutreachTargetKind),
                      not_negative("target"))
    __labels__ = {"target": "目标数"}

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OutreachTargetKind] = mapped_column(enum_column(OutreachTargetKind))
    # "all" or "r" and the region id: one row per kind and level (a NULL region would not be unique).
    scope_key: Mapped[str] = mapped_column(String(20))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="CASCADE"), index=True)
    target: Mapped[int] = mapped_column(Integer, default=0)
