"""The region tree (GB/T 2260 行政区划): province, city, county; a county is one bureau with its stations."""
from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, LabeledEnum, VersionedMixin, enum_column, one_of


class RegionLevel(LabeledEnum):
    """Where a region sits in the tree."""

    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"province": "省", "city": "市", "county": "县（区）"}


class Region(VersionedMixin, Base):
    """A province, city or county keyed by its six-digit 行政区划代码; the top of the tree has no parent."""

    __tablename__ = "regions"
    __table_args__ = (one_of("level", RegionLevel),)
    __labels__ = {"code": "行政区划代码", "name": "名称", "level": "级别", "parent_id": "上级区划"}

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(6), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    level: Mapped[RegionLevel] = mapped_column(enum_column(RegionLevel))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)

    parent: Mapped["Region | None"] = relationship(remote_side="Region.id", back_populates="children")
    children: Mapped[list["Region"]] = relationship(back_populates="parent", order_by="Region.code")

    def __str__(self) -> str:
        return self.name
