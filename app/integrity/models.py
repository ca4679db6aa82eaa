"""Integrity pledges (诚信计量自我承诺) and the admin-set targets for them."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Station
from app.db import Base, LabeledEnum, VersionedMixin, enum_column, not_before, not_negative, one_of
from app.merchants.models import Merchant


class PledgeStatus(LabeledEnum):
    """A pledge's stored status; an active pledge past its review date reads as expired."""

    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"active": "有效", "revoked": "已撤销", "expired": "已过期"}


class TargetKind(LabeledEnum):
    """What an integrity target counts."""

    PLEDGES = "pledges"
    MODEL_UNITS = "model_units"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"pledges": "有效承诺单位", "model_units": "示范单位"}


class Pledge(VersionedMixin, Base):
    """One signed integrity pledge of one merchant; a merchant keeps its old pledges as history."""

    __tablename__ = "pledges"
    __table_args__ = (
        # The credit class and the public lookup ask "which merchants have an active pledge".
        Index("ix_pledges_status_review", "status", "review_on", "merchant_id"),
        one_of("status", PledgeStatus),
        not_before("review_on", "signed_on"),
        not_before("revoked_on", "signed_on"),
    )
    __labels__ = {
        "merchant": "使用单位",
        "signed_on": "签署日期",
        "scope_text": "承诺范围",
        "status": "状态",
        "review_on": "复核日期",
        "document_name": "承诺书文件",
        "is_model_unit": "示范单位",
        "model_unit_on": "示范单位认定/取消日期",
        "model_unit_decision": "示范单位决定",
        "revoked_on": "撤销日期",
        "revoke_reason": "撤销原因",
        "revoked_finding_id": "相关问题",
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    signed_on: Mapped[dt.date] = mapped_column(Date)
    scope_text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[PledgeStatus] = mapped_column(enum_column(PledgeStatus), default=PledgeStatus.ACTIVE)
    review_on: Mapped[dt.date | None] = mapped_column(Date)

    # The signed document, stored on disk outside the web root under INTEGRITY_STORAGE.
    document_name: Mapped[str] = mapped_column(String(255), default="")
    document_path: Mapped[str] = mapped_column(String(100), default="")
    document_type: Mapped[str] = mapped_column(String(10), default="")
    document_size: Mapped[int] = mapped_column(Integer, default=0)
    document_sha256: Mapped[str] = mapped_column(String(64), default="")

    is_model_unit: Mapped[bool] = mapped_column(Boolean, default=False)
    model_unit_on: Mapped[dt.date | None] = mapped_column(Date)
    model_unit_decision: Mapped[str] = mapped_column(String(300), default="")

    revoked_on: Mapped[dt.date | None] = mapped_column(Date)
    revoke_reason: Mapped[str] = mapped_column(Text, default="")
    # The finding that led to the revocation; a plain column until the findings table is merged,
    # when the integrator adds the foreign key.
    revoked_finding_id: Mapped[int | None] = mapped_column(Integer)

    merchant: Mapped[Merchant] = relationship(lazy="joined")

    def effective_status(self, today: dt.date) -> PledgeStatus:
        """The status as shown: an active pledge whose review date has passed is expired."""
        if self.status == PledgeStatus.ACTIVE and self.review_on is not None and self.review_on < today:
            return PledgeStatus.EXPIRED
        return self.status

    def __str__(self) -> str:
        return f"{self.merchant.name if self.merchant else ''} 诚信计量承诺（{self.signed_on.isoformat()}）"


class IntegrityTarget(VersionedMixin, Base):
    """An admin-set target count of pledges or demonstration units, overall or for one station."""

    __tablename__ = "integrity_targets"
    __table_args__ = (UniqueConstraint("kind", "scope_key"),
                      one_of("kind", TargetKind), not_negative("target"))
    __labels__ = {"target": "目标数"}

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[TargetKind] = mapped_column(enum_column(TargetKind))
    # "all", the station id as text, or "r" and the region id: one row per kind and scope (a NULL station would
    # not be unique).
    scope_key: Mapped[str] = mapped_column(String(20))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    # A region's target (a city's 1,800 demonstration units): divided among the regions below it (app/rollups).
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    target: Mapped[int] = mapped_column(Integer, default=0)

    station: Mapped[Station | None] = relationship()
