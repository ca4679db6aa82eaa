"""Named queries of complaints (each a select()): the worklist, current outcomes, figures, the alert rule, and
the merchants with repeated upheld complaints."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import selectinload

from app.complaints.models import UPHELD, Complaint, ComplaintOutcome, State
from app.db import count_if
from app.scope import Scope


def current_outcomes() -> Select:
    """(complaint_id, outcome_id) of each complaint's latest outcome in force."""
    return (select(ComplaintOutcome.complaint_id.label("complaint_id"), func.max(ComplaintOutcome.id).label("outcome_id"))
            .where(ComplaintOutcome.in_force()).group_by(ComplaintOutcome.complaint_id))


def upheld_complaints() -> Select:
    """(complaint id, merchant id, received_on) of complaints in force whose current outcome is 属实 or 部分属实."""
    latest = current_outcomes().subquery()
    return (select(Complaint.id.label("id"), Complaint.merchant_id.label("merchant_id"),
                   Complaint.received_on.label("received_on"), Complaint.station_id.label("station_id"))
            .join(latest, latest.c.complaint_id == Complaint.id)
            .join(ComplaintOutcome, ComplaintOutcome.id == latest.c.outcome_id)
            .where(Complaint.in_force(), ComplaintOutcome.outcome.in_(UPHELD)))


def repeated_complaint_merchants(since: dt.date, at_least: int = 2) -> Select:
    """merchant_id of merchants with at least `at_least` complaints received on or after `since` whose outcome is
    属实 or 部分属实 (neither the complaint nor that outcome voided)."""
    upheld = upheld_complaints().where(Complaint.received_on >= since).subquery()
    return (select(upheld.c.merchant_id).group_by(upheld.c.merchant_id)
            .having(func.count() >= at_least))


@dataclass(frozen=True)
class ComplaintFilter:
    """What the worklist is narrowed to."""

    state: str | None = None          # a State value, "open" (not closed) or None for all
    overdue: bool = False
    station_id: int | None = None
    merchant_id: int | None = None


def complaint_list(scope: Scope, f: ComplaintFilter, today: dt.date) -> Select:
    """Complaints in scope matching the filter: open ones first, earliest deadline first."""
    stmt = scope.apply(select(Complaint), Complaint.station_id).where(Complaint.in_force())
    if f.state == "open":
        stmt = stmt.where(Complaint.state != State.CLOSED)
    elif f.state:
        stmt = stmt.where(Complaint.state == State(f.state))
    if f.overdue:
        stmt = stmt.where(Complaint.state != State.CLOSED, Complaint.deadline < today)
    if f.station_id:
        stmt = stmt.where(Complaint.station_id == f.station_id)
    if f.merchant_id:
        stmt = stmt.where(Complaint.merchant_id == f.merchant_id)
    return (stmt.options(selectinload(Complaint.merchant), selectinload(Complaint.station),
                         selectinload(Complaint.assignee), selectinload(Complaint.outcomes))
            .order_by(Complaint.state == State.CLOSED, Complaint.deadline, Complaint.id))


def open_counts(scope: Scope, today: dt.date) -> Select:
    """(open, overdue) complaints in scope: the dashboard's and the navigation's figures."""
    open_ = and_(Complaint.in_force(), Complaint.state != State.CLOSED)
    stmt = select(count_if(open_), count_if(and_(open_, Complaint.deadline < today))).select_from(Complaint)
    return scope.apply(stmt, Complaint.station_id)


def late_complaints(today: dt.date) -> Select:
    """(id, instrument_id, merchant_id, station_id, deadline) of complaints in force, not closed, past their
    deadline: the alert sweep's rule."""
    return (select(Complaint.id, Complaint.instrument_id, Complaint.merchant_id, Complaint.station_id,
                   Complaint.deadline)
            .where(Complaint.in_force(), Complaint.state != State.CLOSED, Complaint.deadline < today))


def month_figures(first: dt.date, last: dt.date, stations) -> Select:
    """Per station: received in the period by channel, closed in it (and on time), open and late at its end, and
    upheld among those received: the monthly report's complaints sheet."""
    from app.complaints.models import Channel

    latest = current_outcomes().subquery()
    received = Complaint.received_on.between(first, last)
    closed = Complaint.closed_on.between(first, last)
    open_at_end = and_(Complaint.received_on <= last, or_(Complaint.closed_on.is_(None), Complaint.closed_on > last))
    stmt = (select(Complaint.station_id,
                   count_if(received).label("received"),
                   count_if(and_(received, Complaint.channel == Channel.PUBLIC)).label("public"),
                   count_if(and_(received, Complaint.channel != Channel.PUBLIC)).label("transferred"),
                   count_if(closed).label("closed"),
                   count_if(and_(closed, Complaint.closed_on <= Complaint.deadline)).label("on_time"),
                   count_if(open_at_end).label("open_at_end"),
                   count_if(and_(open_at_end, Complaint.deadline < last)).label("late_at_end"),
                   count_if(and_(received, ComplaintOutcome.outcome.in_(UPHELD))).label("upheld"),
                   count_if(and_(received, Complaint.reward_eligible.is_(True))).label("reward"))
            .select_from(Complaint)
            .outerjoin(latest, latest.c.complaint_id == Complaint.id)
            .outerjoin(ComplaintOutcome, ComplaintOutcome.id == latest.c.outcome_id)
            .where(Complaint.in_force(), Complaint.received_on <= last)
            .group_by(Complaint.station_id))
    if stations is None:
        return stmt
    if isinstance(stations, int):
        return stmt.where(Complaint.station_id == stations)
    return stmt.where(Complaint.station_id.in_(sorted(stations)))


def by_reference(reference: str) -> Select:
    """The complaint a public reference names."""
    return select(Complaint).where(Complaint.reference == reference)


def upheld_counts_since(since: dt.date) -> Select:
    """(merchant_id, upheld complaints received after `since`): the credit score's component."""
    upheld = upheld_complaints().where(Complaint.received_on > since).subquery()
    return (select(upheld.c.merchant_id.label("merchant_id"), func.count().label("complaints"))
            .group_by(upheld.c.merchant_id))



def inspections_of_merchant(merchant_id: int, limit: int = 50) -> Select:
    """(id, inspected_on) of a merchant's latest inspections: those a complaint may be linked to."""
    from app.inspections.models import Inspection

    return (select(Inspection.id, Inspection.inspected_on).where(Inspection.merchant_id == merchant_id)
            .order_by(Inspection.inspected_on.desc(), Inspection.id.desc()).limit(limit))
