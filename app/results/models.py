"""Leads (未备案器具线索): verification results for instruments the ledger does not hold yet."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Station, User
from app.bodies.models import VerificationBody
from app.catalog.models import InstrumentType
from app.db import Base, LabeledEnum, UTCDateTime, VersionedMixin, enum_column, one_of
from app.instruments.models import Instrument, VerificationResult
from app.merchants.models import Merchant


class LeadState(LabeledEnum):
    """Where a lead stands: waiting, the instrument registered from it, or dismissed with a reason."""

    PENDING = "pending"
    REGISTERED = "registered"
    DISMISSED = "dismissed"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"pending": "待处理", "registered": "已登记", "dismissed": "已忽略"}


class ResultLead(VersionedMixin, Base):
    """One verification result as received from a body, for an instrument not (yet) in the ledger."""

    __tablename__ = "result_leads"
    __table_args__ = (Index("ix_result_leads_station_state", "station_id", "state", "id"),
                      one_of("state", LeadState), one_of("result", VerificationResult))
    __labels__ = {"state": "状态", "reason": "忽略原因", "instrument_id": "登记的计量器具", "handled_by_id": "处理人",
                  "handled_at": "处理时间"}

    id: Mapped[int] = mapped_column(primary_key=True)
    # Whose worklist: the station of the merchant named by 送检单位, else the batch's; None: county-wide only.
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"))
    body_id: Mapped[int | None] = mapped_column(ForeignKey("verification_bodies.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"), index=True)
    type_id: Mapped[int | None] = mapped_column(ForeignKey("instrument_types.id"))
    # kind|serial|maker|certificate-or-date, folded: the same result received again finds its pending lead.
    match_key: Mapped[str] = mapped_column(String(400), index=True)
    # The result as received, text as typed.
    kind_text: Mapped[str] = mapped_column(String(200), default="")
    serial_no: Mapped[str] = mapped_column(String(80), default="")
    maker: Mapped[str] = mapped_column(String(120), default="")
    model: Mapped[str] = mapped_column(String(80), default="")
    certificate_no: Mapped[str] = mapped_column(String(60), default="")
    verified_on: Mapped[dt.date] = mapped_column(Date)
    result: Mapped[VerificationResult] = mapped_column(enum_column(VerificationResult, 10))
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    submitter: Mapped[str] = mapped_column(String(200), default="")
    fail_reason: Mapped[str] = mapped_column(Text, default="")
    institution: Mapped[str] = mapped_column(String(120), default="")
    # Who sent it: a batch's file, or an API token's name.
    received_from: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[LeadState] = mapped_column(enum_column(LeadState), default=LeadState.PENDING)
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("instruments.id"))
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")

    station: Mapped[Station | None] = relationship()
    merchant: Mapped[Merchant | None] = relationship()
    body: Mapped[VerificationBody | None] = relationship()
    type: Mapped[InstrumentType | None] = relationship()
    instrument: Mapped[Instrument | None] = relationship()
    handled_by: Mapped[User | None] = relationship()

    def __str__(self) -> str:
        return f"未备案器具线索 #{self.id} {self.kind_text} {self.serial_no}"
