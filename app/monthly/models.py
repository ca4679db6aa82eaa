"""The archive of monthly reports: one workbook per month and scope, rebuilt on demand."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Float, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Station
from app.db import Base, UTCDateTime
from app.regions.models import RegionLevel

ALL_STATIONS = "all"


class MonthlyReport(Base):
    """The workbook of one month for one station (or all: scope_key "all"), as last built."""

    __tablename__ = "monthly_reports"
    __table_args__ = (UniqueConstraint("month", "scope_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7), index=True)   # 2026-10
    scope_key: Mapped[str] = mapped_column(String(20))           # "all" or the station id
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"), nullable=True)
    # A city's or province's edition (scope_key "r<id>"): every county below it and its totals.
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), nullable=True, index=True)
    # Deferred: the archive list never loads the workbooks themselves.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    size: Mapped[int] = mapped_column(Integer)
    totals: Mapped[dict] = mapped_column(JSON, default=dict)
    built_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    built_by: Mapped[str] = mapped_column(String(100))
    seconds: Mapped[float] = mapped_column(Float, default=0.0)

    station: Mapped[Station | None] = relationship()
    region = relationship("Region")

    @property
    def scope_name(self) -> str:
        if self.region is not None:
            return f"{self.region.name}（{'全县' if self.region.level == RegionLevel.COUNTY else '各县汇总'}）"
        return self.station.name if self.station else "全部监管所"

    @property
    def file_name(self) -> str:
        return f"计量监管月报_{self.month}_{self.scope_name}.xlsx"
