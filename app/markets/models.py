"""Markets (集贸市场): the organiser's fair scales (公平秤), the re-weigh log kept at them (复秤记录), and the
checklist of an organiser's duties that an inspection of a 集贸市场主办者 goes through."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, LabeledEnum, TimestampMixin, VersionedMixin, enum_column, not_negative, one_of, positive
from app.instruments.models import Instrument
from app.markets.tolerance import GoodsCategory
from app.merchants.models import Merchant
from app.voiding.models import Voidable


class FairScale(VersionedMixin, Base):
    """An organiser's instrument marked 公平秤, with where in the market it stands; unmarking keeps the row."""

    __tablename__ = "fair_scales"
    __labels__ = {"instrument": "计量器具", "location": "市场内位置", "is_active": "在用"}

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"), unique=True)
    # The organiser (集贸市场主办者) whose instrument it is; copied for the market's lists and the public page.
    market_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    location: Mapped[str] = mapped_column(String(120))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    instrument: Mapped[Instrument] = relationship(lazy="joined")
    market: Mapped[Merchant] = relationship(foreign_keys=[market_id])

    def __str__(self) -> str:
        return f"公平秤（{self.location}）"


class Reweigh(Voidable, TimestampMixin, Base):
    """One re-weighing at a fair scale (复秤): what the buyer was told and what the fair scale found; evidence."""

    __tablename__ = "reweighs"
    __table_args__ = (positive("claimed_g"), not_negative("found_g"), not_negative("tolerance_g"),
                      one_of("category", GoodsCategory))
    __labels__ = {"weighed_on": "复秤日期", "goods": "商品", "category": "商品类别", "claimed_g": "标称重量（克）",
                  "found_g": "复秤重量（克）", "shortfall_g": "短缺（克）", "tolerance_g": "允许短缺（克）",
                  "stall": "摊位（经营户）", "notes": "备注"}

    id: Mapped[int] = mapped_column(primary_key=True)
    fair_scale_id: Mapped[int] = mapped_column(ForeignKey("fair_scales.id"), index=True)
    market_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    # The stall: a vendor (集贸市场经营户) of this market; None when the buyer could not say which.
    stall_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    weighed_on: Mapped[dt.date] = mapped_column(Date, index=True)
    goods: Mapped[str] = mapped_column(String(60))
    category: Mapped[GoodsCategory] = mapped_column(enum_column(GoodsCategory))
    claimed_g: Mapped[int] = mapped_column(Integer)
    found_g: Mapped[int] = mapped_column(Integer)
    # claimed - found (negative: the buyer got more); the tolerance that applies to the claimed weight, kept as
    # it was at the time (app/markets/tolerance.py).
    shortfall_g: Mapped[int] = mapped_column(Integer)
    tolerance_g: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    fair_scale: Mapped[FairScale] = relationship()
    stall: Mapped[Merchant | None] = relationship(foreign_keys=[stall_id])

    @property
    def is_short(self) -> bool:
        """True when the shortfall is beyond the tolerance (短斤缺两)."""
        return self.shortfall_g > self.tolerance_g


class Duty(LabeledEnum):
    """An organiser's metrology duties under 集贸市场计量监督管理办法 (2025 revision)."""

    RULES = "rules"
    AGREEMENTS = "agreements"
    REGISTERED = "registered"
    FAIR_SCALES = "fair_scales"
    PLEDGES = "pledges"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"rules": "建立计量管理制度", "agreements": "与经营者签订入场计量协议",
                "registered": "计量器具登记备案并按期检定", "fair_scales": "设置公平秤并正常使用",
                "pledges": "组织经营者作出诚信计量承诺"}


class DutyOutcome(LabeledEnum):
    """How an organiser stood on one duty."""

    MET = "met"
    NOT_MET = "not_met"
    NOT_APPLICABLE = "na"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"met": "符合", "not_met": "不符合", "na": "不适用"}


class DutyCheck(TimestampMixin, Base):
    """One duty checked in an inspection of an organiser; a failed one may raise a finding."""

    __tablename__ = "market_duty_checks"
    __table_args__ = (UniqueConstraint("inspection_id", "duty"), one_of("duty", Duty), one_of("outcome", DutyOutcome))
    __labels__ = {"duty": "主办者义务", "outcome": "检查结论", "note": "说明"}

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    duty: Mapped[Duty] = mapped_column(enum_column(Duty))
    outcome: Mapped[DutyOutcome] = mapped_column(enum_column(DutyOutcome, length=10))
    note: Mapped[str] = mapped_column(Text, default="")
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("findings.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
