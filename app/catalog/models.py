"""The catalogue: instrument kinds and finding codes."""
from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import (Base, LabeledEnum, TimestampMixin, VersionedMixin, enum_column, not_negative, one_of,
                    positive)


class VerificationRule(LabeledEnum):
    """How an instrument kind is kept in verification."""

    PERIODIC = "periodic"
    SERVICE_LIFE = "service_life"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"periodic": "周期检定", "service_life": "首次检定、到期轮换"}


class Severity(LabeledEnum):
    """How serious a finding is."""

    INFO = "info"
    MINOR = "minor"
    MAJOR = "major"
    SEVERE = "severe"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"info": "提示", "minor": "一般", "major": "较重", "severe": "严重"}


class Confirmation(LabeledEnum):
    """How far a kind's rule and cycle are confirmed against the current catalogue and regulation."""

    YES = "yes"
    PARTLY = "partly"
    NO = "no"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"yes": "已确认", "partly": "部分确认", "no": "未确认"}


class InstrumentType(VersionedMixin, Base):
    """A catalogue entry (器具种类): regulation, rule, cycle or service life."""

    __tablename__ = "instrument_types"
    __table_args__ = (one_of("rule", VerificationRule), one_of("confirmed", Confirmation), positive("cycle_months"),
                      positive("service_life_years"), not_negative("lead_days"))
    __labels__ = {
        "name_zh": "名称",
        "rule": "管理方式",
        "cycle_months": "检定周期（月）",
        "service_life_years": "使用年限（年）",
        "regulation": "检定规程",
        "regulation_title": "规程名称",
        "category": "项别",
        "subcategory": "种别",
        "lead_days": "提前提醒天数",
        "note": "说明",
        "is_active": "启用",
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(80), default="")
    catalogue_item: Mapped[str] = mapped_column(String(60), default="")
    # 项别 and 种别 as the 强检目录 (SAMR 2020 No.42) and e-CQS name them (migration 0030): 非自动衡器 / 数字指示秤.
    category: Mapped[str] = mapped_column(String(60), default="")
    subcategory: Mapped[str] = mapped_column(String(60), default="")
    management: Mapped[str] = mapped_column(String(40), default="")
    regulation: Mapped[str] = mapped_column(String(40), default="")
    regulation_title: Mapped[str] = mapped_column(String(80), default="")
    rule: Mapped[VerificationRule] = mapped_column(enum_column(VerificationRule))
    cycle_months: Mapped[int | None] = mapped_column(Integer)
    service_life_years: Mapped[int | None] = mapped_column(Integer)
    confirmed: Mapped[Confirmation] = mapped_column(enum_column(Confirmation, length=10), default=Confirmation.NO)
    lead_days: Mapped[int] = mapped_column(Integer, default=30)
    note: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def is_service_life(self) -> bool:
        return self.rule == VerificationRule.SERVICE_LIFE

    @property
    def rule_text(self) -> str:
        """The rule and its number, as shown to users."""
        if self.is_service_life:
            return f"首检后使用 {self.service_life_years} 年轮换"
        return f"每 {self.cycle_months} 个月检定"

    def __str__(self) -> str:
        return self.name_zh


class InstrumentTypeAlias(TimestampMixin, Base):
    """Another name a ledger uses for a kind (计价秤 for 电子计价秤); the import reads these, admins extend them."""

    __tablename__ = "instrument_type_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("instrument_types.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(60))
    # The spelling as the import compares it (importers.kinds.kind_key): one kind per spelling.
    alias_key: Mapped[str] = mapped_column(String(80), unique=True)

    instrument_type: Mapped[InstrumentType] = relationship()

    def __str__(self) -> str:
        return self.alias


class FindingCode(VersionedMixin, Base):
    """A coded problem that inspections record, with its legal basis."""

    __tablename__ = "finding_codes"
    __table_args__ = (one_of("severity", Severity),)
    __labels__ = {
        "name_zh": "名称",
        "legal_basis": "法律依据",
        "typical_measure": "通常处理措施",
        "severity": "严重程度",
        "is_active": "启用",
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(120), default="")
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    typical_measure: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[Severity] = mapped_column(enum_column(Severity))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __str__(self) -> str:
        return self.name_zh
