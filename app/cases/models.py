"""Cases and penalties (案件): a 立案 finding opens a case that moves through the stages of the ordinary
administrative-penalty procedure; enforcement brigades (执法大队) as teams of users; the per-stage time limits.

A case is evidence: its stages are appended (CaseStage), never edited or deleted; a correction is a new entry
that names the entry it corrects; a wrong case is voided with a reason (app/voiding). The Case row is the header
the worklist reads: the current stage, its date, the responsible unit and the deadline of the next stage, all
derived from the entries by the service that appends them.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Boolean, Column, Date, ForeignKey, Index, Integer, Numeric, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Station, User
from app.db import Base, LabeledEnum, TimestampMixin, VersionedMixin, enum_column, not_before, one_of, positive
from app.instruments.models import Instrument
from app.merchants.models import Merchant
from app.voiding.models import Voidable


class Stage(LabeledEnum):
    """The stages of a case, in procedure order."""

    FILED = "filed"
    INVESTIGATION = "investigation"
    NOTICE = "notice"
    DECISION = "decision"
    EXECUTION = "execution"
    CLOSED = "closed"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"filed": "立案", "investigation": "调查取证", "notice": "告知", "decision": "决定",
                "execution": "执行", "closed": "结案"}

    @property
    def position(self) -> int:
        """The stage's place in the procedure (0 for 立案)."""
        return list(Stage).index(self)


class DecisionKind(LabeledEnum):
    """What the decision was."""

    PENALTY = "penalty"
    NO_PENALTY = "no_penalty"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"penalty": "给予行政处罚", "no_penalty": "不予行政处罚"}


class NoPenaltyBasis(LabeledEnum):
    """The legal basis of a decision not to penalise (《中华人民共和国行政处罚法》第三十三条)."""

    FIRST_MINOR = "first_minor"
    MINOR = "minor"
    NO_FAULT = "no_fault"
    OTHER = "other"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"first_minor": "首违不罚：初次违法且危害后果轻微并及时改正（《行政处罚法》第三十三条第一款）",
                "minor": "违法行为轻微并及时改正，没有造成危害后果（《行政处罚法》第三十三条第一款）",
                "no_fault": "当事人有证据足以证明没有主观过错（《行政处罚法》第三十三条第二款）",
                "other": "其他（须在说明中写明依据）"}


team_members = Table(
    "enforcement_team_members",
    Base.metadata,
    Column("team_id", ForeignKey("enforcement_teams.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True, index=True),
)


class EnforcementTeam(VersionedMixin, Base):
    """An enforcement brigade (执法大队) as a team of users that admins keep; a case stage may be assigned to it."""

    __tablename__ = "enforcement_teams"
    __labels__ = {"name": "名称", "is_active": "启用", "members": "成员"}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    members: Mapped[list[User]] = relationship(secondary=team_members, order_by=User.id, lazy="selectin")

    def __str__(self) -> str:
        return self.name


class StageLimit(VersionedMixin, Base):
    """An admin's time limit (days) for reaching a stage; stages without a row use services.DEFAULT_LIMITS."""

    __tablename__ = "case_stage_limits"
    __table_args__ = (one_of("stage", Stage), positive("days"))
    __labels__ = {"stage": "阶段", "days": "期限（天）"}

    id: Mapped[int] = mapped_column(primary_key=True)
    stage: Mapped[Stage] = mapped_column(enum_column(Stage), unique=True)
    days: Mapped[int] = mapped_column(Integer)


class Case(Voidable, VersionedMixin, Base):
    """A case opened for a 立案 finding: the header of its appended stages (what the worklist reads)."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_station_stage", "station_id", "stage"),
                      # The late sweep reads open cases by the next stage's deadline.
                      Index("ix_cases_open_due", "closed_on", "due_on"),
                      Index("ix_cases_team", "team_id"),
                      not_before("closed_on", "opened_on"),
                      one_of("stage", Stage))
    __labels__ = {"case_no": "案件编号", "stage": "当前阶段", "stage_on": "阶段日期", "due_on": "下一阶段期限",
                  "team": "承办执法大队", "published_on": "公示日期", "closed_on": "结案日期"}

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(60), unique=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"), unique=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    # The station of the inspection that found it: station staff and regional users see the case through it.
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    # The day the problem was discovered (the inspection's date): the 立案 limit counts from it.
    discovered_on: Mapped[dt.date] = mapped_column(Date)
    opened_on: Mapped[dt.date] = mapped_column(Date)
    stage: Mapped[Stage] = mapped_column(enum_column(Stage))
    stage_on: Mapped[dt.date] = mapped_column(Date)
    # The brigade responsible now (None: the station itself); its members see and carry the case.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("enforcement_teams.id"))
    # By when the next stage is due (None once closed).
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    published_on: Mapped[dt.date | None] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    merchant: Mapped[Merchant] = relationship(lazy="joined")
    station: Mapped[Station] = relationship()
    team: Mapped[EnforcementTeam | None] = relationship()
    finding = relationship("Finding", viewonly=True)
    entries: Mapped[list["CaseStage"]] = relationship(order_by="CaseStage.id", viewonly=True)
    extensions: Mapped[list["CaseExtension"]] = relationship(order_by="CaseExtension.id", viewonly=True)

    @property
    def effective_entries(self) -> list["CaseStage"]:
        """The entries no later entry corrects, in order."""
        corrected = {e.corrects_id for e in self.entries if e.corrects_id}
        return [e for e in self.entries if e.id not in corrected]

    @property
    def decision(self) -> "CaseStage | None":
        """The decision entry in force, if the case got that far."""
        return next((e for e in self.effective_entries if e.stage == Stage.DECISION), None)

    @property
    def is_closed(self) -> bool:
        """True once 结案 is recorded."""
        return self.closed_on is not None

    def is_late(self, today: dt.date) -> bool:
        """Open, in force and past the next stage's deadline."""
        return not self.is_voided and self.closed_on is None and self.due_on is not None and self.due_on < today

    @property
    def unit_label(self) -> str:
        """The responsible unit in words: the brigade, or the station."""
        return self.team.name if self.team is not None else self.station.name

    def __str__(self) -> str:
        return f"案件 {self.case_no}"


class CaseExtension(TimestampMixin, Base):
    """An extension of a case's time limit for the decision (延长办案期限), with who approved it, when and why:
    《市场监督管理行政处罚程序规定》第六十四条, thirty days with the head's approval, further by the heads' collective
    decision. Never edited or deleted."""

    __tablename__ = "case_extensions"
    __table_args__ = (positive("days"),)
    __labels__ = {"days": "延长天数", "approved_on": "批准日期", "approver": "批准人", "reason": "延期理由"}

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    days: Mapped[int] = mapped_column(Integer)
    approved_on: Mapped[dt.date] = mapped_column(Date)
    approver: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    created_by: Mapped[User | None] = relationship()


case_confiscations = Table(
    "case_confiscations",
    Base.metadata,
    Column("stage_id", ForeignKey("case_stages.id"), primary_key=True),
    Column("instrument_id", ForeignKey("instruments.id"), primary_key=True, index=True),
)


class CaseStage(TimestampMixin, Base):
    """One stage of a case as recorded (date, responsible unit, the deadline it had); the decision's amounts and
    basis on the 决定 entry. Never edited or deleted: a correction is a new entry naming this one."""

    __tablename__ = "case_stages"
    __table_args__ = (one_of("stage", Stage), one_of("decision", DecisionKind), one_of("basis", NoPenaltyBasis))
    __labels__ = {"stage": "阶段", "stage_on": "日期", "team_id": "承办单位", "deadline": "期限", "notes": "说明",
                  "decision": "处理决定", "fine": "罚款（元）", "confiscation": "没收违法所得（元）",
                  "basis": "不予处罚依据", "instrument_ids": "没收的计量器具"}

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    stage: Mapped[Stage] = mapped_column(enum_column(Stage))
    stage_on: Mapped[dt.date] = mapped_column(Date)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("enforcement_teams.id"))
    # The deadline this stage had when it was recorded (late when stage_on is after it).
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("case_stages.id"), unique=True)
    decision: Mapped[DecisionKind | None] = mapped_column(enum_column(DecisionKind))
    # Yuan, exact to the fen.
    fine: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    confiscation: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    basis: Mapped[NoPenaltyBasis | None] = mapped_column(enum_column(NoPenaltyBasis))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    team: Mapped[EnforcementTeam | None] = relationship()
    station: Mapped[Station] = relationship()
    created_by: Mapped[User | None] = relationship()
    confiscated: Mapped[list[Instrument]] = relationship(secondary=case_confiscations, order_by=Instrument.id,
                                                         viewonly=True)

    @property
    def unit_label(self) -> str:
        """The responsible unit in words: the brigade, or the station."""
        return self.team.name if self.team is not None else self.station.name

    @property
    def is_late(self) -> bool:
        """Recorded after its deadline."""
        return self.deadline is not None and self.stage_on > self.deadline
