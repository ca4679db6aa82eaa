"""Webhook subscriptions (an API token's address) and the event outbox delivered to them (no Flask)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.api.models import ApiToken
from app.db import Base, LabeledEnum, TimestampMixin, UTCDateTime, VersionedMixin, enum_column, not_negative, one_of

# Every event a subscription may ask for, with its Chinese name. "deleted" happens only when an import
# is undone (the records it brought in are removed); evidence is otherwise never deleted, only voided.
EVENT_TYPES: dict[str, str] = {
    "instrument.created": "器具登记",
    "instrument.updated": "器具信息或到期日期变更",
    "instrument.retired": "器具停用、报废或更换",
    "instrument.deleted": "器具随导入撤销而删除",
    "verification.recorded": "检定记录新增",
    "verification.voided": "检定记录作废",
    "verification.updated": "检定记录关联到检定机构",
    "verification.deleted": "检定记录随导入撤销而删除",
}


class DeliveryStatus(LabeledEnum):
    """Where an event is on its way to the receiver."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"pending": "待发送", "sending": "发送中", "delivered": "已送达", "failed": "已放弃"}


class WebhookSubscription(VersionedMixin, Base):
    """An address an API token registered for change notifications, with its signing secret."""

    __tablename__ = "webhook_subscriptions"
    __labels__ = {"url": "接收地址", "event_types": "事件类型", "is_active": "状态", "description": "说明",
                  "token_id": "接口令牌"}

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    # The HMAC key is needed in clear to sign each delivery (a hash would not do); shown once, never listed.
    secret: Mapped[str] = mapped_column(String(100))
    # ",instrument.created,verification.recorded,": commas at both ends, so the capture's set-based
    # INSERT ... SELECT matches a type with LIKE '%,<type>,%' on both backends.
    event_types: Mapped[str] = mapped_column(String(400))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    token: Mapped[ApiToken] = relationship(lazy="joined")

    @property
    def types(self) -> list[str]:
        """The subscribed event types, in the registry's order."""
        chosen = set(filter(None, self.event_types.split(",")))
        return [t for t in EVENT_TYPES if t in chosen]

    def __str__(self) -> str:
        return self.url


class WebhookEvent(TimestampMixin, Base):
    """One change of one record for one subscription: the outbox row, kept after delivery as the log.

    Written in the transaction of the change (app/webhooks/capture.py), so a rolled-back change leaves
    none and a committed one always has its row. Changed by guarded UPDATEs (status and claim token in
    the WHERE clause) like the mail outbox, so it has no version counter.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (
        # The deliverer's query: pending events whose next attempt is due, oldest first.
        Index("ix_webhook_events_status_next", "status", "next_attempt_at", "id"),
        # Order per record: an event waits while an earlier one of the same record is undelivered.
        Index("ix_webhook_events_record", "subscription_id", "record_type", "record_id", "id"),
        # A subscription's delivery log, newest first.
        Index("ix_webhook_events_subscription", "subscription_id", "id"),
        one_of("status", DeliveryStatus),
        not_negative("attempts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(40))
    record_type: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[int] = mapped_column(Integer)
    # The instrument's version counter at the change (verifications have none: never edited, only voided).
    record_version: Mapped[int | None] = mapped_column(Integer)
    station_id: Mapped[int | None] = mapped_column(Integer)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # The record's fields as they were right after the change, built by the database in the same statement.
    data: Mapped[dict] = mapped_column(JSON)
    status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text, default="")
    claim_token: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    subscription: Mapped[WebhookSubscription] = relationship()

    @property
    def type_label(self) -> str:
        """The event type's Chinese name."""
        return EVENT_TYPES.get(self.event_type, self.event_type)
