"""Complaints (投诉举报) and their outcomes, which are evidence (no Flask)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Station, User
from app.db import Base, LabeledEnum, TimestampMixin, UTCDateTime, VersionedMixin, enum_column, one_of
from app.inspections.models import Inspection
from app.instruments.models import Instrument
from app.merchants.models import Merchant
from app.voiding.models import Voidable


class Channel(LabeledEnum):
    """How the complaint came in."""

    PUBLIC = "public"
    HOTLINE_12315 = "12315"
    HOTLINE_12345 = "12345"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"public": "群众扫码/在线反映", "12315": "12315 转办", "12345": "12345 转办"}


class Category(LabeledEnum):
    """What happened, as the complainant says."""

    SHORT_WEIGHT = "short_weight"
    NO_VALID_MARK = "no_valid_mark"
    REFUSED_REWEIGH = "refused_reweigh"
    OTHER = "other"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"short_weight": "短斤少两", "no_valid_mark": "无有效检定标志", "refused_reweigh": "拒绝复秤",
                "other": "其他"}


class State(LabeledEnum):
    """Where the complaint stands."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"new": "已受理，待分派", "in_progress": "核查处理中", "closed": "已办结"}


class Outcome(LabeledEnum):
    """What the check found."""

    SUBSTANTIATED = "substantiated"
    PARTLY = "partly"
    UNFOUNDED = "unfounded"
    UNREACHABLE = "unreachable"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"substantiated": "属实", "partly": "部分属实", "unfounded": "不属实", "unreachable": "无法联系"}


# The outcomes that hold the merchant responsible (credit score, repeat offenders, monthly report).
UPHELD = (Outcome.SUBSTANTIATED, Outcome.PARTLY)


class Complaint(Voidable, VersionedMixin, Base):
    """One complaint about a merchant (and perhaps one of its instruments), handled by the merchant's station.

    A complaint entered by mistake (a duplicate, a transfer for another bureau) is voided with a reason: it then
    leaves every count and never alerts.
    """

    __tablename__ = "complaints"
    __table_args__ = (
        one_of("channel", Channel), one_of("category", Category), one_of("state", State),
        # The worklist of a station: open ones by deadline.
        Index("ix_complaints_station_state_deadline", "station_id", "state", "deadline"),
        Index("ix_complaints_merchant_received", "merchant_id", "received_on"),
    )
    __labels__ = {
        "reference": "查询编号", "channel": "来源", "transfer_no": "转办单号", "received_on": "受理日期",
        "category": "反映问题", "description": "具体情况", "phone": "联系电话", "phone_consent": "同意联系",
        "deadline": "办理期限", "assignee": "承办人", "assignee_id": "承办人", "inspection_id": "核查检查",
        "state": "状态", "reply": "答复内容", "reward_eligible": "符合举报奖励条件", "closed_on": "办结日期",
        "merchant": "使用单位", "instrument": "计量器具",
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    # What the complainant keeps to look the outcome up: random, never sequential (services.new_reference).
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("instruments.id"))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    # The hotline's own number of the transferred case (empty for the public's).
    transfer_no: Mapped[str] = mapped_column(String(50), default="")
    received_on: Mapped[dt.date] = mapped_column(Date)
    category: Mapped[Category] = mapped_column(enum_column(Category))
    description: Mapped[str] = mapped_column(Text, default="")
    # Only with the complainant's consent; shown to staff only.
    phone: Mapped[str] = mapped_column(String(30), default="")
    phone_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    # The complainant's photo, kept like evidence (generated name under the evidence storage).
    photo_name: Mapped[str | None] = mapped_column(String(120), unique=True)
    photo_type: Mapped[str | None] = mapped_column(String(40))
    photo_size: Mapped[int | None] = mapped_column(Integer)
    photo_sha256: Mapped[str | None] = mapped_column(String(64))
    deadline: Mapped[dt.date] = mapped_column(Date)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"))
    state: Mapped[State] = mapped_column(enum_column(State), default=State.NEW)
    # The answer the complainant reads on the public page, once closed.
    reply: Mapped[str] = mapped_column(Text, default="")
    reward_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    # The public form's one-time challenge: a second submission of the same answered question is refused.
    challenge_nonce: Mapped[str | None] = mapped_column(String(40), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    station: Mapped[Station] = relationship()
    merchant: Mapped[Merchant] = relationship()
    instrument: Mapped[Instrument | None] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    inspection: Mapped[Inspection | None] = relationship()
    outcomes: Mapped[list["ComplaintOutcome"]] = relationship(order_by="ComplaintOutcome.id",
                                                              back_populates="complaint")

    @property
    def current_outcome(self) -> "ComplaintOutcome | None":
        """The latest outcome in force (a correction supersedes the entry before it)."""
        in_force = [o for o in self.outcomes if not o.is_voided]
        return in_force[-1] if in_force else None

    def is_late(self, today: dt.date) -> bool:
        """Past its deadline and not closed (a voided complaint is never late)."""
        return not self.is_voided and self.state != State.CLOSED and self.deadline < today

    def __str__(self) -> str:
        return f"投诉举报 {self.reference}"


class ComplaintOutcome(Voidable, TimestampMixin, Base):
    """The outcome of a complaint's check: recorded once, corrected by a new entry, or voided with a reason."""

    __tablename__ = "complaint_outcomes"
    __table_args__ = (one_of("outcome", Outcome),)
    __labels__ = {"outcome": "核查结论", "note": "核查情况"}

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    outcome: Mapped[Outcome] = mapped_column(enum_column(Outcome))
    note: Mapped[str] = mapped_column(Text, default="")
    # The entry this one corrects (None for the first).
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("complaint_outcomes.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    complaint: Mapped[Complaint] = relationship(back_populates="outcomes")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    def __str__(self) -> str:
        return f"核查结论：{self.outcome.label}"
