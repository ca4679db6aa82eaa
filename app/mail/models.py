"""The mail outbox: every message is written here first and delivered by the outbox job."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, LabeledEnum, TimestampMixin, UTCDateTime, enum_column, not_negative, one_of, utcnow


class MessageStatus(LabeledEnum):
    """Where a message is on its way out."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"pending": "待发送", "sending": "发送中", "sent": "已发送"}


class OutboxMessage(TimestampMixin, Base):
    """One e-mail to one recipient, kept after it is sent.

    No version counter: the outbox is changed by guarded UPDATE statements (status and claim token
    in the WHERE clause), never by a form, so a stale write is impossible by construction.
    """

    __tablename__ = "mail_outbox"
    __table_args__ = (
        # The sender's query: pending messages whose next attempt is due, oldest first.
        Index("ix_mail_outbox_status_next", "status", "next_attempt_at", "id"),
        one_of("status", MessageStatus),
        not_negative("attempts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    to_addr: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # What produced it (e.g. "alert_digest") and for whom, for the admin's outbox page.
    category: Mapped[str] = mapped_column(String(40), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    status: Mapped[MessageStatus] = mapped_column(enum_column(MessageStatus), default=MessageStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # Set when a sender claims the message; only the holder of the token may mark it sent.
    claim_token: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # One optional attachment (the monthly report workbook); deferred so lists never load it.
    attachment_name: Mapped[str] = mapped_column(String(200), default="")
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)

    @property
    def message_id(self) -> str:
        """A stable Message-ID, so a receiving server can drop a copy sent again after a crash."""
        return f"<outbox-{self.id}-{int(self.created_at.timestamp())}@metrology.local>"
