"""Days that are not what their weekday says: an official holiday on a weekday, a weekend day worked (no Flask)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, LabeledEnum, VersionedMixin, enum_column, one_of


class DayKind(LabeledEnum):
    """What a listed day is."""

    HOLIDAY = "holiday"
    WORKDAY = "workday"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"holiday": "放假", "workday": "调休上班"}


class CalendarDay(VersionedMixin, Base):
    """One day of the calendar that differs from Monday-to-Friday: a holiday, or a weekend day worked."""

    __tablename__ = "calendar_days"
    __table_args__ = (one_of("kind", DayKind),)
    __labels__ = {"day": "日期", "kind": "类型", "name": "名称", "source": "依据"}

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, unique=True)
    kind: Mapped[DayKind] = mapped_column(enum_column(DayKind))
    # 春节, 国庆节 ... as the notice names the holiday the day belongs to.
    name: Mapped[str] = mapped_column(String(50), default="")
    # Where the day comes from: the State Council's notice of the year, or a local decision.
    source: Mapped[str] = mapped_column(String(200), default="")

    def __str__(self) -> str:
        return f"{self.day.isoformat()} {self.kind.label} {self.name}".strip()
