"""Named queries of cases: who sees which case, the worklist, late cases for the sweep, the month's figures and
the published decisions of merchants (no Flask)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Integer, Select, and_, exists, false, func, literal, or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.elements import ColumnElement

from app.cases.models import Case, CaseExtension, CaseStage, DecisionKind, EnforcementTeam, Stage, team_members
from app.scope import Scope


@dataclass(frozen=True)
class CaseAccess:
    """Which cases a user sees: those of the stations in scope, and those assigned to a brigade they are in."""

    scope: Scope
    team_ids: frozenset[int] = frozenset()

    def condition(self) -> ColumnElement | None:
        """The WHERE condition over cases (None when unrestricted)."""
        stations = self.scope.condition(Case.station_id)
        if stations is None:
            return None
        if not self.team_ids:
            return stations
        return or_(stations, Case.team_id.in_(sorted(self.team_ids)))

    def apply(self, stmt: Select) -> Select:
        """Restrict a select of cases to the access."""
        cond = self.condition()
        return stmt if cond is None else stmt.where(cond)

    def sees(self, case: Case) -> bool:
        """True when the case is inside the access."""
        return self.scope.allows(case.station_id) or (case.team_id is not None and case.team_id in self.team_ids)


def team_ids_of(user_id: int) -> Select:
    """The ids of the active brigades a user is a member of."""
    return (select(team_members.c.team_id).join(EnforcementTeam, EnforcementTeam.id == team_members.c.team_id)
            .where(team_members.c.user_id == user_id, EnforcementTeam.is_active.is_(True)))


def teams(active_only: bool = False) -> Select:
    """Brigades by name."""
    stmt = select(EnforcementTeam).order_by(EnforcementTeam.name)
    return stmt.where(EnforcementTeam.is_active.is_(True)) if active_only else stmt


def _late(today: dt.date) -> ColumnElement:
    return and_(Case.closed_on.is_(None), Case.in_force(), Case.due_on < today)


CASE_STATES = {"open": "办理中", "late": "已逾期", "closed": "已结案", "voided": "已作废"}


def case_list(access: CaseAccess, today: dt.date, *, state: str = "open", stage: str | None = None,
              station_id: int | None = None, team_id: int | None = None, merchant_id: int | None = None) -> Select:
    """The case worklist: open cases (late first, by the next deadline) or closed / voided ones, filtered."""
    stmt = access.apply(select(Case)).options(selectinload(Case.team), selectinload(Case.station))
    if state == "open":
        stmt = stmt.where(Case.closed_on.is_(None), Case.in_force())
    elif state == "late":
        stmt = stmt.where(_late(today))
    elif state == "closed":
        stmt = stmt.where(Case.closed_on.is_not(None), Case.in_force())
    elif state == "voided":
        stmt = stmt.where(Case.voided_at.is_not(None))
    if stage:
        stmt = stmt.where(Case.stage == Stage(stage))
    if station_id:
        stmt = stmt.where(Case.station_id == station_id)
    if team_id:
        stmt = stmt.where(Case.team_id == team_id)
    if merchant_id:
        stmt = stmt.where(Case.merchant_id == merchant_id)
    return stmt.order_by(Case.due_on.is_(None), Case.due_on, Case.id)


def late_cases(today: dt.date) -> Select:
    """The late-case alert rule: (case id, no instrument, merchant, station, the missed deadline) of every open case
    in force past the deadline of its next stage; closed and voided cases never appear."""
    return (select(Case.id, literal(None, Integer()), Case.merchant_id, Case.station_id, Case.due_on)
            .where(_late(today)))


def decisions_in_force() -> Select:
    """The decision entries no correction replaces, of cases in force, with their case's station and merchant."""
    correction = CaseStage.__table__.alias("correction")
    replaced = exists(select(correction.c.id).where(correction.c.corrects_id == CaseStage.id))
    return (select(CaseStage.id, CaseStage.stage_on, CaseStage.decision, CaseStage.fine, CaseStage.confiscation,
                   Case.id.label("case_id"), Case.station_id, Case.merchant_id)
            .join(Case, Case.id == CaseStage.case_id)
            .where(CaseStage.stage == Stage.DECISION, ~replaced, Case.in_force()))


def month_figures(scope: Scope, first: dt.date, last: dt.date) -> Select:
    """Per station: cases opened in the month, decisions (penalties / not penalised), closed in the month, and the
    month's fines and confiscations (罚没款) of penalty decisions dated in it."""
    d = decisions_in_force().subquery()
    in_month = d.c.stage_on.between(first, last)
    penalty = and_(in_month, d.c.decision == DecisionKind.PENALTY.value)
    stmt = (select(d.c.station_id,
                   func.count().filter(penalty).label("penalties"),
                   func.count().filter(and_(in_month, d.c.decision == DecisionKind.NO_PENALTY.value)).label("spared"),
                   func.coalesce(func.sum(d.c.fine).filter(penalty), 0).label("fines"),
                   func.coalesce(func.sum(d.c.confiscation).filter(penalty), 0).label("confiscations"))
            .group_by(d.c.station_id))
    cond = scope.condition(d.c.station_id)
    return stmt if cond is None else stmt.where(cond)


def stage_counts(scope: Scope, first: dt.date, last: dt.date) -> Select:
    """Per station and stage: cases in force opened by the month's end and not closed before it, by the stage they
    are at now, plus cases opened and closed within the month."""
    stmt = (select(Case.station_id, Case.stage, func.count(),
                   func.count().filter(Case.opened_on.between(first, last)),
                   func.count().filter(Case.closed_on.between(first, last)))
            .where(Case.in_force(), Case.opened_on <= last,
                   or_(Case.closed_on.is_(None), Case.closed_on >= first))
            .group_by(Case.station_id, Case.stage))
    return scope.apply(stmt, Case.station_id)


def published_decisions(merchant_ids: list[int]) -> Select:
    """The published penalty decisions of some merchants (行政处罚信息), newest first: what the public may see."""
    if not merchant_ids:
        return select(Case).where(false())
    return (select(Case).where(Case.merchant_id.in_(merchant_ids), Case.published_on.is_not(None), Case.in_force())
            .options(selectinload(Case.entries)).order_by(Case.published_on.desc(), Case.id.desc()))


def cases_of_merchant(access: CaseAccess, merchant_id: int) -> Select:
    """A merchant's cases the user sees, newest first."""
    return access.apply(select(Case).where(Case.merchant_id == merchant_id)).order_by(Case.opened_on.desc(),
                                                                                       Case.id.desc())


def case_of_findings(finding_ids: list[int]) -> Select:
    """(finding id, case id) of the cases of some findings."""
    return select(Case.finding_id, Case.id).where(Case.finding_id.in_(finding_ids or [0]))


def confiscable(merchant_id: int) -> Select:
    """A merchant's instruments in use (what a decision may confiscate), by id."""
    from app.instruments.models import Instrument, InstrumentStatus

    return (select(Instrument).where(Instrument.merchant_id == merchant_id, Instrument.status == InstrumentStatus.IN_USE)
            .order_by(Instrument.id))


def possible_members() -> Select:
    """Active users, by username (a brigade's possible members)."""
    from app.accounts.models import User

    return select(User).where(User.is_active.is_(True)).order_by(User.username)


def extension_days(case_id: int) -> Select:
    """The days a case's time limit for the decision was extended by, in all (0 when never)."""
    return select(func.coalesce(func.sum(CaseExtension.days), 0)).where(CaseExtension.case_id == case_id)
