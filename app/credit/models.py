"""Credit classes (信用分类): the admin-set rule, and each merchant's latest score with its components."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, VersionedMixin

CLASSES = ("A", "B", "C", "D")
CLASS_LABELS = {"A": "A 类（低风险）", "B": "B 类（较低风险）", "C": "C 类（较高风险）", "D": "D 类（高风险）"}


class CreditRule(VersionedMixin, Base):
    """The one scoring rule: points per finding by severity, per problem instrument and per upheld complaint, less
    for a pledge;
    the score's thresholds give the class."""

    __tablename__ = "credit_rules"
    __labels__ = {
        "window_months": "统计期（月）", "severe_points": "严重问题（每条）", "major_points": "较重问题（每条）",
        "minor_points": "一般问题（每条）", "overdue_points": "超期未检器具（每台）", "overdue_cap": "超期器具计分上限（台）",
        "failed_points": "检定不合格未复检器具（每台）", "complaint_points": "投诉举报属实或部分属实（每件）", "pledge_points": "有效诚信承诺（减）",
        "model_unit_points": "诚信计量示范单位（再减）", "a_max": "A 类最高分", "b_max": "B 类最高分", "c_max": "C 类最高分",
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL: the installation's rule; a region's own rule applies to every station below it that has no nearer one.
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), unique=True, index=True)
    window_months: Mapped[int] = mapped_column(Integer, default=24)
    severe_points: Mapped[int] = mapped_column(Integer, default=10)
    major_points: Mapped[int] = mapped_column(Integer, default=5)
    minor_points: Mapped[int] = mapped_column(Integer, default=2)
    overdue_points: Mapped[int] = mapped_column(Integer, default=1)
    overdue_cap: Mapped[int] = mapped_column(Integer, default=10)
    failed_points: Mapped[int] = mapped_column(Integer, default=3)
    # Per complaint received in the window whose outcome is 属实 or 部分属实 (app/complaints).
    complaint_points: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    pledge_points: Mapped[int] = mapped_column(Integer, default=3)
    model_unit_points: Mapped[int] = mapped_column(Integer, default=2)
    a_max: Mapped[int] = mapped_column(Integer, default=0)
    b_max: Mapped[int] = mapped_column(Integer, default=5)
    c_max: Mapped[int] = mapped_column(Integer, default=15)

    def __str__(self) -> str:
        return "信用分类规则"


class CreditScore(Base):
    """A merchant's score at the last recomputation, with the counts it came from (its reasons)."""

    __tablename__ = "credit_scores"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True)
    severe: Mapped[int] = mapped_column(Integer)
    major: Mapped[int] = mapped_column(Integer)
    minor: Mapped[int] = mapped_column(Integer)
    overdue: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    complaints: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pledged: Mapped[bool] = mapped_column(Boolean)
    model_unit: Mapped[bool] = mapped_column(Boolean)
    # Flagged 重点关注 (app/attention) at the computation: never in class A.
    repeat_offender: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[int] = mapped_column(Integer)
    credit_class: Mapped[str] = mapped_column(String(1))
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
