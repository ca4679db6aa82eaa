"""Special inspections (专项检查): campaigns, random draws, inspections, findings, rectification, evidence."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, Column, Date, Float, ForeignKey, Index, Integer,
                        String, Table, Text, UniqueConstraint, column)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Station, User
from app.catalog.models import FindingCode
from app.db import Base, LabeledEnum, TimestampMixin, UTCDateTime, VersionedMixin, enum_column, not_before, one_of
from app.instruments.models import Instrument, InstrumentStatus
from app.merchants.models import Merchant
from app.voiding.models import Voidable

CREDIT_CLASSES = ("A", "B", "C", "D")
# The draw's key for merchants the credit-class capability has not classed yet.
UNCLASSED = "none"
DEFAULT_RATES = {"A": 1, "B": 2, "C": 10, "D": 30, UNCLASSED: 5}
DEFAULT_RECTIFY_DAYS = 15


class VisitOutcome(LabeledEnum):
    """Whether the inspection could take place."""

    CONDUCTED = "conducted"
    NO_ACTIVITY = "no_activity"
    UNREACHABLE = "unreachable"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"conducted": "已实施检查", "no_activity": "未发现开展本次抽查涉及的经营活动",
                "unreachable": "通过登记住所无法联系"}


class CheckOutcome(LabeledEnum):
    """What the inspectors found on one instrument."""

    OK = "ok"
    PROBLEM = "problem"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"ok": "未发现问题", "problem": "发现问题"}


class Measure(LabeledEnum):
    """What was done about a finding."""

    ON_THE_SPOT = "on_the_spot"
    RECTIFY = "rectify"
    STOP_USE = "stop_use"
    CASE = "case"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"on_the_spot": "当场改正", "rectify": "责令改正", "stop_use": "责令停止使用", "case": "立案"}


class SignerRole(LabeledEnum):
    """Who signed the 现场检查笔录."""

    MERCHANT = "merchant"
    INSPECTOR = "inspector"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"merchant": "当事人", "inspector": "检查人员"}


class PublicOutcome(LabeledEnum):
    """The result categories published under 双随机、一公开."""

    NO_PROBLEM = "no_problem"
    RECTIFIED = "rectified"
    PENDING = "pending"
    NO_ACTIVITY = "no_activity"
    UNREACHABLE = "unreachable"
    NOT_YET = "not_yet"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"no_problem": "未发现问题", "rectified": "发现问题已责令改正", "pending": "发现问题待后续处理",
                "no_activity": "未发现开展本次抽查涉及的经营活动", "unreachable": "通过登记住所无法联系",
                "not_yet": "尚未检查"}


class Campaign(VersionedMixin, Base):
    """A named inspection drive (专项检查行动) over a period, kinds, industries and stations."""

    __tablename__ = "campaigns"
    # One name per year: the key is "<year of the start>|<name folded for comparison>" (services.campaign_key).
    __table_args__ = (not_before("ends_on", "starts_on"), Index("uq_campaigns_name_key", "name_key", unique=True))
    __labels__ = {"name": "名称", "starts_on": "开始日期", "ends_on": "结束日期", "type_ids": "器具种类",
                  "industries": "行业", "station_ids": "参加的监管所", "notes": "说明"}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(220))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    # Lists of ids / values: the scope of a drive is read as a whole and never joined on.
    type_ids: Mapped[list] = mapped_column(JSON, default=list)
    industries: Mapped[list] = mapped_column(JSON, default=list)
    station_ids: Mapped[list] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    def has_started(self, today: dt.date) -> bool:
        """True from the first day of the campaign."""
        return today >= self.starts_on

    def has_ended(self, today: dt.date) -> bool:
        """True after the campaign's last day."""
        return today > self.ends_on

    def __str__(self) -> str:
        return self.name


class RandomDraw(VersionedMixin, Base):
    """A reproducible random pick (双随机) of merchants and inspectors for a campaign."""

    __tablename__ = "random_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), unique=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    # Everything the draw read: filters, rates, the pool and the roster, so it can be re-run exactly.
    inputs: Mapped[dict] = mapped_column(JSON)
    # [{"merchant_id": .., "station_id": .., "credit_class": .., "inspector_ids": [..]}] in merchant id order.
    result: Mapped[list] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    locked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    campaign: Mapped[Campaign] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship()

    def is_locked(self, today: dt.date) -> bool:
        """Locked once an inspection used it or its campaign started."""
        return self.locked_at is not None or self.campaign.has_started(today)

    def __str__(self) -> str:
        return f"{self.campaign.name} 随机抽取"


class CampaignTarget(TimestampMixin, Base):
    """A merchant planned for inspection in a campaign (drawn or added by hand)."""

    __tablename__ = "campaign_targets"
    __table_args__ = (UniqueConstraint("campaign_id", "merchant_id", name="uq_campaign_targets_merchant"),
                      Index("ix_campaign_targets_station", "campaign_id", "station_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    draw_id: Mapped[int | None] = mapped_column(ForeignKey("random_draws.id"))
    inspector_ids: Mapped[list] = mapped_column(JSON, default=list)

    merchant: Mapped[Merchant] = relationship(lazy="joined")


inspection_inspectors = Table(
    "inspection_inspectors",
    Base.metadata,
    Column("inspection_id", ForeignKey("inspections.id"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True, index=True),
)


class Inspection(TimestampMixin, Base):
    """One visit to one merchant (监督检查); evidence, never edited or deleted."""

    __tablename__ = "inspections"
    __table_args__ = (Index("ix_inspections_campaign_merchant", "campaign_id", "merchant_id"),
                      Index("ix_inspections_station_date", "station_id", "inspected_on"),
                      Index("ix_inspections_updated_id", "updated_at", "id"),  # the API's change feed
                      one_of("visit_outcome", VisitOutcome))
    __labels__ = {"merchant": "使用单位", "inspected_on": "检查日期", "campaign": "专项检查行动",
                  "visit_outcome": "检查情况", "notes": "检查情况记录", "inspectors": "检查人员",
                  "client_id": "现场记录编号", "latitude": "纬度", "longitude": "经度",
                  "location_accuracy": "定位精度（米）"}

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    # Copied from the merchant at the time of the visit: the station that did it.
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    inspected_on: Mapped[dt.date] = mapped_column(Date)
    visit_outcome: Mapped[VisitOutcome] = mapped_column(enum_column(VisitOutcome))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The id the phone made for a draft recorded there (None for the desktop form): a resent draft finds it.
    client_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    # Where the phone was when the inspection was sent, with the user's permission; shown to staff only.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    location_accuracy: Mapped[float | None] = mapped_column(Float)

    merchant: Mapped[Merchant] = relationship(lazy="joined")
    station: Mapped[Station] = relationship()
    campaign: Mapped[Campaign | None] = relationship()
    inspectors: Mapped[list[User]] = relationship(secondary=inspection_inspectors, order_by=User.id,
                                                  lazy="selectin")
    checks: Mapped[list["InspectionInstrument"]] = relationship(order_by="InspectionInstrument.id",
                                                                viewonly=True)
    findings: Mapped[list["Finding"]] = relationship(order_by="Finding.id", viewonly=True)
    signatures: Mapped[list["Signature"]] = relationship(order_by="Signature.id", viewonly=True)

    @property
    def signature_lines(self) -> list[tuple["SignerRole", list["Signature"]]]:
        """The record's signature lines: each signer role (the merchant's side first) with its signatures."""
        return [(role, [s for s in self.signatures if s.role == role]) for role in SignerRole]

    @property
    def is_signed(self) -> bool:
        """Signed at least once: from then on the record cannot change (a correction is a new inspection)."""
        return bool(self.signatures)

    @property
    def has_location(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    @property
    def findings_in_force(self) -> list["Finding"]:
        """The findings not voided (what printed documents list)."""
        return [f for f in self.findings if not f.is_voided]

    def __str__(self) -> str:
        return f"{self.merchant.name} {self.inspected_on.isoformat()} 检查"


class InspectionInstrument(TimestampMixin, Base):
    """One instrument checked in an inspection, with a snapshot of its facts at that moment."""

    __tablename__ = "inspection_instruments"
    __table_args__ = (UniqueConstraint("inspection_id", "instrument_id", name="uq_inspection_instruments_pair"),
                      one_of("outcome", CheckOutcome), one_of("status", InstrumentStatus))
    __labels__ = {"outcome": "检查结果"}

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"))
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"), index=True)
    outcome: Mapped[CheckOutcome] = mapped_column(enum_column(CheckOutcome))
    registered_on_spot: Mapped[bool] = mapped_column(Boolean, default=False)
    # The snapshot: later edits of the instrument never rewrite what the inspectors saw.
    kind_name: Mapped[str] = mapped_column(String(60))
    serial_no: Mapped[str] = mapped_column(String(80))
    status: Mapped[InstrumentStatus] = mapped_column(enum_column(InstrumentStatus))
    next_due_on: Mapped[dt.date | None] = mapped_column(Date)
    replace_by: Mapped[dt.date | None] = mapped_column(Date)
    last_verified_on: Mapped[dt.date | None] = mapped_column(Date)

    instrument: Mapped[Instrument] = relationship()

    @property
    def label(self) -> str:
        return f"{self.kind_name} {self.serial_no}"


class Finding(Voidable, TimestampMixin, Base):
    """One problem found (问题), coded from the catalogue; evidence, never edited or deleted, only voided
    (app/voiding): a voided finding stays visible and leaves every count."""

    __tablename__ = "findings"
    __table_args__ = (Index("ix_findings_inspection", "inspection_id"),
                      Index("ix_findings_code", "code_id"),
                      Index("ix_findings_updated_id", "updated_at", "id"),  # the API's change feed
                      one_of("measure", Measure))

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"))
    check_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_instruments.id"))
    code_id: Mapped[int] = mapped_column(ForeignKey("finding_codes.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    measure: Mapped[Measure] = mapped_column(enum_column(Measure))
    case_no: Mapped[str | None] = mapped_column(String(60), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    inspection: Mapped[Inspection] = relationship()
    check: Mapped[InspectionInstrument | None] = relationship(lazy="joined")
    code: Mapped[FindingCode] = relationship(lazy="joined")
    rectification: Mapped["Rectification | None"] = relationship(back_populates="finding", viewonly=True)


class Rectification(VersionedMixin, Base):
    """An order to put a finding right by a deadline (责令改正), closed by a re-check (复查)."""

    __tablename__ = "rectifications"
    # The late sweep and the campaign figures read open orders by deadline.
    __table_args__ = (Index("ix_rectifications_open_deadline", "closed_on", "deadline"),
                      Index("ix_rectifications_station", "station_id", "deadline"),
                      Index("ix_rectifications_updated_id", "updated_at", "id"),  # the API's change feed
                      not_before("deadline", "issued_on"), not_before("closed_on", "issued_on"))
    __labels__ = {"issued_on": "下达日期", "deadline": "整改期限", "closed_on": "复查关闭日期"}

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"), unique=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    issued_on: Mapped[dt.date] = mapped_column(Date)
    deadline: Mapped[dt.date] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)

    finding: Mapped[Finding] = relationship(back_populates="rectification", lazy="joined")
    merchant: Mapped[Merchant] = relationship()
    rechecks: Mapped[list["Recheck"]] = relationship(order_by="Recheck.id", viewonly=True)
    extensions: Mapped[list["DeadlineExtension"]] = relationship(order_by="DeadlineExtension.id", viewonly=True)

    @property
    def is_open(self) -> bool:
        return self.closed_on is None

    @property
    def is_voided(self) -> bool:
        """Closed because its finding was voided."""
        return self.finding.is_voided

    def is_late(self, today: dt.date) -> bool:
        """Open past its deadline, or closed after it."""
        if self.closed_on is None:
            return self.deadline < today
        return self.closed_on > self.deadline


class Recheck(TimestampMixin, Base):
    """A re-check (复查) of a rectification order; evidence, never edited or deleted."""

    __tablename__ = "rechecks"

    id: Mapped[int] = mapped_column(primary_key=True)
    rectification_id: Mapped[int] = mapped_column(ForeignKey("rectifications.id"), index=True)
    rechecked_on: Mapped[dt.date] = mapped_column(Date)
    rectified: Mapped[bool] = mapped_column(Boolean)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    created_by: Mapped[User | None] = relationship()


class DeadlineExtension(TimestampMixin, Base):
    """One extension of a rectification order's deadline (延长整改期限), with its reason; never edited."""

    __tablename__ = "deadline_extensions"
    __table_args__ = (CheckConstraint(column("new_deadline") > column("old_deadline"),
                                      name="new_deadline_after_old_deadline"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rectification_id: Mapped[int] = mapped_column(ForeignKey("rectifications.id"), index=True)
    old_deadline: Mapped[dt.date] = mapped_column(Date)
    new_deadline: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    created_by: Mapped[User | None] = relationship()


class EvidenceFile(TimestampMixin, Base):
    """A photo or scan attached to an inspection or one of its findings; the bytes live on disk."""

    __tablename__ = "evidence_files"
    __labels__ = {"original_name": "文件名", "taken_at": "拍摄时间"}

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("findings.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    original_name: Mapped[str] = mapped_column(String(200))
    # Relative to the evidence storage directory; a generated name, never the user's.
    stored_name: Mapped[str] = mapped_column(String(120), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # When the photo was taken, as the phone said (None for files uploaded from a desktop).
    taken_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    @property
    def type_label(self) -> str:
        """The kind of file in words (the stored content type is a MIME type)."""
        return EVIDENCE_TYPE_LABELS.get(self.content_type, "文件")


EVIDENCE_TYPE_LABELS = {"image/jpeg": "JPEG 图片", "image/png": "PNG 图片", "application/pdf": "PDF 文件"}


class Signature(TimestampMixin, Base):
    """A signature on an inspection's 现场检查笔录 (当事人 or one of its inspectors), kept as a PNG on disk like
    evidence, with its time and SHA-256; never edited or deleted. The first one locks the record."""

    __tablename__ = "inspection_signatures"
    __table_args__ = (one_of("role", SignerRole),)
    __labels__ = {"role": "签名人身份", "user": "检查人员", "signer_name": "签名人", "signed_at": "签名时间"}

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    role: Mapped[SignerRole] = mapped_column(enum_column(SignerRole))
    # The inspector who signed (None for the merchant's representative).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The name as the signer typed it.
    signer_name: Mapped[str] = mapped_column(String(50))
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # Relative to the evidence storage directory; a generated name.
    stored_name: Mapped[str] = mapped_column(String(120), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])

    def __str__(self) -> str:
        return f"{self.role.label} {self.signer_name} 签名"
