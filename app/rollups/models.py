"""Per-region settings that have no home of their own: the alert lead time of a kind in a region."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, VersionedMixin, not_negative


class RegionLeadDays(VersionedMixin, Base):
    """A region's own reminder lead time for one kind; without a row the region inherits its parent's, and at
    the top the catalogue's (InstrumentType.lead_days, the installation's default)."""

    __tablename__ = "region_lead_days"
    __table_args__ = (UniqueConstraint("region_id", "type_id"), not_negative("lead_days"))
    __labels__ = {"lead_days": "提前提醒天数"}

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="CASCADE"))
    type_id: Mapped[int] = mapped_column(ForeignKey("instrument_types.id", ondelete="CASCADE"))
    lead_days: Mapped[int] = mapped_column(Integer)
