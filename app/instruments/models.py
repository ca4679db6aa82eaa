"""Instruments (计量器具) and their verification records (检定记录)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.accounts.models import Station, User
from app.bodies.models import VerificationBody
from app.catalog.models import InstrumentType
from app.db import (Base, LabeledEnum, TimestampMixin, VersionedMixin, enum_column, not_before, one_of,
                    positive)
from app.merchants.models import Merchant
from app.search import keys as search_keys
from app.text import match_key
from app.voiding.models import Voidable

# Marks the serial key of a copy that was registered before the identity key was unique (migration 0014):
# "<key> <id>". match_key never yields a space, so such a key collides with nothing.
HELD_COPY_MARK = " "


class InstrumentStatus(LabeledEnum):
    """Whether the instrument is in use."""

    IN_USE = "in_use"
    STOPPED = "stopped"
    SCRAPPED = "scrapped"
    REPLACED = "replaced"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"in_use": "在用", "stopped": "停用", "scrapped": "报废", "replaced": "已更换"}


class VerificationResult(LabeledEnum):
    """Outcome of one verification."""

    PASS = "pass"
    FAIL = "fail"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"pass": "合格", "fail": "不合格"}


class Instrument(VersionedMixin, Base):
    """One physical instrument; its due dates are derived by the due-date engine."""

    __tablename__ = "instruments"
    __table_args__ = (
        UniqueConstraint("type_id", "serial_no", "maker_key", name="uq_instruments_identity"),
        # One instrument, one record: kind + serial + maker compared case-, width- and space-insensitively
        # (docs/decisions.md, issue 13). Also the index of every lookup by kind and serial.
        Index("uq_instruments_identity_key", "type_id", "serial_key", "maker_key", unique=True),
        # List pages filter by station and kind, newest first.
        Index("ix_instruments_station_type", "station_id", "type_id", "id"),
        # A station's list, newest first: instruments are registered and imported station by station, so
        # walking the whole table backwards by id reached an old station's instruments only after most rows.
        Index("ix_instruments_station_id", "station_id", "id"),
        # A merchant's instruments by kind and serial (its page): PostgreSQL otherwise walked the identity
        # index in that order, filtering on the merchant, through half the table for a large merchant.
        Index("ix_instruments_merchant_type_serial", "merchant_id", "type_id", "serial_no"),
        # uq_instruments_public_token: after the class (its condition names the column).
        # Worklists: in-use instruments by due date, within a station or overall. The trailing columns
        # make these covering for the due-date sweep (app/alerts/queries.py), which otherwise looks up
        # 150,000 table rows per run ("id" too: PostgreSQL's index-only scans return only index columns).
        Index("ix_instruments_status_due", "status", "next_due_on", "station_id", "last_result", "type_id",
              "merchant_id", "id"),
        # A station's in-use instruments in due order, the result at hand: the overdue and due-soon worklists read
        # each station's part in order and stop at the page (migration 0042).
        Index("ix_instruments_station_status_due_id", "station_id", "status", "next_due_on", "id", "last_result"),
        # The list sorted by serial number or due date, one station's stretch at a time (keyset pages merged
        # station by station, app/keyset.py; migration 0039). id: PostgreSQL's entries do not end with it.
        Index("ix_instruments_station_serial_id", "station_id", "serial_no", "id"),
        Index("ix_instruments_station_due_id", "station_id", "next_due_on", "id"),
        Index("ix_instruments_status_replace", "status", "replace_by", "station_id", "merchant_id", "id"),
        Index("ix_instruments_station_status_replace", "station_id", "status", "replace_by"),
        # Never-verified and failed worklists: their counts show on every page.
        # id before station_id: the never-verified list (newest first) walks it in order instead of sorting
        # every never-verified instrument's row; station-scoped counts still read the index alone.
        Index("ix_instruments_status_verified_id", "status", "last_verified_on", "id", "station_id"),
        Index("ix_instruments_status_result", "status", "last_result", "station_id", "next_due_on", "merchant_id",
              "id"),
        # The failed worklist's pages, one station's failed instruments in due order (keyset, migration 0041).
        Index("ix_instruments_station_result_due", "station_id", "status", "last_result", "next_due_on", "id"),
        # Dashboard counts by kind and status, and overdue by kind (covering).
        Index("ix_instruments_station_type_status", "station_id", "type_id", "status"),
        Index("ix_instruments_type_status_due", "type_id", "status", "next_due_on"),
        # The monthly report's in-use instruments by 用途 (reports/monthly_purpose.py), read from the index alone.
        Index("ix_instruments_status_purpose", "status", "purpose", "station_id"),
        # The API's change feed: pages of `updated_since` walk this index in order (app/api/queries.py),
        # 1,000 rows a page at a million instruments without sorting (migration 0029).
        Index("ix_instruments_updated_id", "updated_at", "id"),
        # ... and a token of one station walks its own stretch (else it skips the other stations' entries,
        # reading each one's row: 190 ms a page for the largest station on PostgreSQL).
        Index("ix_instruments_station_updated_id", "station_id", "updated_at", "id"),
        one_of("status", InstrumentStatus),
        one_of("last_result", VerificationResult),
        positive("nozzle_count"),
    )
    __labels__ = {
        "type": "器具种类",
        "type_id": "器具种类",
        "merchant": "使用单位",
        "merchant_id": "使用单位",
        "serial_no": "出厂编号",
        "model": "型号规格",
        "maker": "制造单位",
        "measuring_range": "测量范围",
        "accuracy_class": "准确度等级",
        "location": "安装位置",
        "install_address": "安装地址",
        "region": "使用地点行政区划",
        "purpose": "器具用途",
        "origin": "器具产地",
        "submission": "送检方式",
        "nozzle_count": "枪数",
        "status": "状态",
        "notes": "备注",
        "next_due_on": "下次检定日期",
        "replace_by": "到期轮换日期",
        "replaced_by_id": "更换为",
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("instrument_types.id"))
    # Indexed with kind and serial (ix_instruments_merchant_type_serial): the merchant page's order.
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    # Copied from the merchant so station-scoped lists use one index.
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    serial_no: Mapped[str] = mapped_column(String(80))
    # match_key(serial_no), kept in step by _serial_key below (bulk inserts give it themselves); a copy held
    # by migration 0014 has "<key> <id>" until a person resolves it (`flask instruments duplicates`).
    serial_key: Mapped[str] = mapped_column(String(100))
    maker: Mapped[str] = mapped_column(String(120), default="")
    # Normalised maker ('' when unknown), part of the identity key.
    maker_key: Mapped[str] = mapped_column(String(120), default="")
    model: Mapped[str] = mapped_column(String(80), default="")
    measuring_range: Mapped[str] = mapped_column(String(80), default="")
    accuracy_class: Mapped[str] = mapped_column(String(30), default="")
    location: Mapped[str] = mapped_column(String(120), default="")
    # A household meter's address (用户地址); the merchant is the utility, whose address is its own.
    install_address: Mapped[str] = mapped_column(String(300), default="")
    # As an e-CQS ledger gives them (migration 0022): stored as written, shown and exported, never interpreted.
    region: Mapped[str] = mapped_column(String(60), default="")  # 使用地点行政区划
    purpose: Mapped[str] = mapped_column(String(60), default="")  # 器具用途: 贸易结算, 医疗卫生 ...
    origin: Mapped[str] = mapped_column(String(60), default="")  # 器具产地
    submission: Mapped[str] = mapped_column(String(30), default="")  # 送检方式
    nozzle_count: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[InstrumentStatus] = mapped_column(
        enum_column(InstrumentStatus), default=InstrumentStatus.IN_USE
    )
    notes: Mapped[str] = mapped_column(Text, default="")

    # Derived by the due-date engine from the non-voided verifications.
    first_verified_on: Mapped[dt.date | None] = mapped_column(Date)
    last_verified_on: Mapped[dt.date | None] = mapped_column(Date)
    last_result: Mapped[VerificationResult | None] = mapped_column(enum_column(VerificationResult))
    next_due_on: Mapped[dt.date | None] = mapped_column(Date)
    replace_by: Mapped[dt.date | None] = mapped_column(Date)

    # Indexed: deleting instruments (undoing an import) checks this foreign key.
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("instruments.id"), index=True)
    # The public page's address (secrets.token_urlsafe), given lazily when a label is printed or staff open
    # the public page; the database id never appears in a public URL.
    public_token: Mapped[str | None] = mapped_column(String(43))
    # Serial number, location (stall, plate, charger, household account) and household address folded for search
    # (app/search/keys.py); trigram-indexed by migration 0015.
    search_text: Mapped[str] = mapped_column(Text, default=search_keys.context_default("instruments"),
                                             info=search_keys.column_info("instruments"))

    type: Mapped[InstrumentType] = relationship(lazy="joined")
    merchant: Mapped[Merchant] = relationship(lazy="joined")
    station: Mapped[Station] = relationship()
    replaced_by: Mapped["Instrument | None"] = relationship(remote_side=[id], foreign_keys=[replaced_by_id])
    verifications: Mapped[list["Verification"]] = relationship(
        back_populates="instrument",
        order_by="(Verification.verified_on.desc(), Verification.id.desc())",
    )

    @validates("serial_no")
    def _serial_key(self, _key: str, value: str) -> str:
        self.serial_key = match_key(value)
        return value

    @property
    def is_held_copy(self) -> bool:
        """A duplicate registered before the identity key was unique, waiting for a person to resolve it."""
        return HELD_COPY_MARK in (self.serial_key or "")

    @property
    def is_usable(self) -> bool:
        """False after a failed verification until a later pass."""
        return self.last_result != VerificationResult.FAIL

    @property
    def is_active(self) -> bool:
        """Only instruments in use are scheduled and alerted."""
        return self.status == InstrumentStatus.IN_USE

    def __str__(self) -> str:
        return f"{self.type.name_zh if self.type else ''} {self.serial_no}".strip()


search_keys.keep_in_step(Instrument)

# A unique index rather than a constraint: adding it does not rebuild the table on SQLite (which would drop the
# alerts' delete trigger of migration 0005). Partial (tokens only): over all rows, SQLite's statistics count the
# NULLs of every instrument without a token as one value and its planner then scanned the table for a token
# (1.4 s at a million instruments; migration 0017).
# The never-verified worklist newest first, a station at a time (migration 0039): the few per cent never verified.
Index("ix_instruments_never_verified", Instrument.station_id, Instrument.status, Instrument.id,
      sqlite_where=Instrument.last_verified_on.is_(None), postgresql_where=Instrument.last_verified_on.is_(None))
Index("uq_instruments_public_token", Instrument.public_token, unique=True,
      sqlite_where=Instrument.public_token.is_not(None), postgresql_where=Instrument.public_token.is_not(None))


class Verification(Voidable, TimestampMixin, Base):
    """One verification event; evidence, so never edited or deleted, only voided (app/voiding)."""

    __tablename__ = "verifications"
    __table_args__ = (
        # voided_at in both date indexes: counts of valid records (the dashboard's trend) read the index alone.
        Index("ix_verifications_instrument_date_voided", "instrument_id", "verified_on", "voided_at"),
        Index("ix_verifications_certificate_no", "certificate_no"),
        Index("ix_verifications_date_voided", "verified_on", "voided_at"),
        Index("ix_verifications_updated_id", "updated_at", "id"),  # the API's change feed
        one_of("result", VerificationResult),
        not_before("valid_until", "verified_on"),
    )
    __labels__ = {
        "verified_on": "检定日期",
        "institution": "检定机构",
        "certificate_no": "证书编号",
        "result": "检定结论",
        "valid_until": "有效期至",
        "notes": "备注",
        "voided_at": "作废时间",
        "void_reason": "作废原因",
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"))
    verified_on: Mapped[dt.date] = mapped_column(Date)
    institution: Mapped[str] = mapped_column(String(120), default="")
    # The registered body, when the text names one (the text stays as typed either way).
    body_id: Mapped[int | None] = mapped_column(ForeignKey("verification_bodies.id"), index=True)
    certificate_no: Mapped[str] = mapped_column(String(60), default="")
    result: Mapped[VerificationResult] = mapped_column(enum_column(VerificationResult))
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    instrument: Mapped[Instrument] = relationship(back_populates="verifications")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    body: Mapped[VerificationBody | None] = relationship()
