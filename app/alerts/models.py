"""Alerts (预警) raised by the due-date sweep, and the daily digests sent about them."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship, validates

from app.accounts.models import Station, User
from app.alerts import kinds
from app.db import Base, LabeledEnum, UTCDateTime, VersionedMixin, enum_column, one_of, utcnow
from app.instruments.models import Instrument
from app.merchants.models import Merchant


class AlertStatus(LabeledEnum):
    """Whether the condition behind an alert still holds."""

    OPEN = "open"
    RESOLVED = "resolved"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"open": "未解除", "resolved": "已解除"}


class Alert(VersionedMixin, Base):
    """Something that needs action: one kind, about one subject, for one due date.

    The subject is generic (subject_type, subject_id) so later kinds can be about a rectification
    order or a pledge; instrument_id, merchant_id and station_id are kept for scoping and joins.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        # One alert per kind, subject and due date, however often the sweep runs. Subject first, so the
        # same index finds a subject's alerts (the instrument page, the delete trigger).
        UniqueConstraint("subject_type", "subject_id", "kind", "due_on", name="uq_alerts_subject"),
        # Resolving and reopening by kind (covering: the sweep compares (subject_id, due_on)), and the
        # alert centre filtered by kind. subject_id before due_on: the sweep inserts in subject order,
        # so this index, like the unique key, grows at its end (10 % of a first sweep on PostgreSQL).
        Index("ix_alerts_status_kind_due", "status", "kind", "subject_id", "due_on"),
        # Navigation counts and the alert centre within a station (covering for the counts).
        Index("ix_alerts_status_station", "status", "station_id", "acknowledged_at", "kind"),
        # The alert centre by due date, a station's stretch at a time (keyset pages, migration 0039).
        Index("ix_alerts_station_status_due", "station_id", "status", "due_on", "id"),
        # The API reads alerts in (updated_at, id) order (app/api/queries.py).
        Index("ix_alerts_updated_id", "updated_at", "id"),
        one_of("status", AlertStatus),
    )
    __labels__ = {"kind": "预警类型", "status": "状态", "due_on": "到期日期", "acknowledged_at": "确认时间",
                  "acknowledged_by": "确认人", "resolved_at": "解除时间"}

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int] = mapped_column(Integer)
    # The subject's instrument, merchant and station, copied for scoping and joins. No foreign keys:
    # on PostgreSQL a foreign key check locks the referenced row (FOR KEY SHARE), which writes to
    # 150,000 instrument rows in a first sweep and took more than half of its time. Deleting an
    # instrument (undoing an import) still deletes its alerts: a trigger from migration 0005 does it.
    instrument_id: Mapped[int | None] = mapped_column(Integer)
    merchant_id: Mapped[int | None] = mapped_column(Integer)
    station_id: Mapped[int | None] = mapped_column(Integer)
    due_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[AlertStatus] = mapped_column(enum_column(AlertStatus), default=AlertStatus.OPEN)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # No foreign key either: PostgreSQL queues a constraint trigger for every inserted row even when the
    # value is NULL (155,000 calls, about 0.2 s of a first sweep); users are disabled, never deleted.
    acknowledged_by_id: Mapped[int | None] = mapped_column(Integer)

    instrument: Mapped[Instrument | None] = relationship(
        primaryjoin=lambda: foreign(Alert.instrument_id) == Instrument.id, viewonly=True)
    merchant: Mapped[Merchant | None] = relationship(primaryjoin=lambda: foreign(Alert.merchant_id) == Merchant.id,
                                                     viewonly=True)
    station: Mapped[Station | None] = relationship(primaryjoin=lambda: foreign(Alert.station_id) == Station.id,
                                                   viewonly=True)
    acknowledged_by: Mapped[User | None] = relationship(
        primaryjoin=lambda: foreign(Alert.acknowledged_by_id) == User.id, viewonly=True)

    @validates("kind")
    def _check_kind(self, _key: str, value: str) -> str:
        if value not in kinds.KINDS:
            raise ValueError(f"unknown alert kind {value!r}")
        return value

    @property
    def kind_label(self) -> str:
        """The kind's Chinese label."""
        return kinds.label_of(self.kind)

    @property
    def level(self) -> str:
        """The Bootstrap colour of the kind's badge."""
        kind = kinds.KINDS.get(self.kind)
        return kind.level if kind else "secondary"

    @property
    def is_open(self) -> bool:
        """True while the condition behind the alert holds."""
        return self.status == AlertStatus.OPEN

    def __str__(self) -> str:
        subject = str(self.instrument) if self.instrument is not None else f"{self.subject_type} {self.subject_id}"
        return f"{self.kind_label}：{subject}（{self.due_on.isoformat()}）"


class AlertDigest(Base):
    """One station's daily digest: written once per station and local day, whatever the retries."""

    __tablename__ = "alert_digests"
    __table_args__ = (UniqueConstraint("station_id", "digest_on", name="uq_alert_digests_station_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    digest_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    new_count: Mapped[int] = mapped_column(Integer, default=0)
    open_count: Mapped[int] = mapped_column(Integer, default=0)
    recipients: Mapped[int] = mapped_column(Integer, default=0)

    station: Mapped[Station] = relationship()
