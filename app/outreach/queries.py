"""Named outreach queries: activities, their figures (in force only: a voided activity counts nowhere), the
registry of micro-stations and volunteers."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, and_, func, or_, select

from app.accounts.models import Station
from app.catalog.models import InstrumentType
from app.outreach.models import (FreeVerification, MicroStation, OutreachActivity, OutreachTarget, Volunteer)
from app.scope import Scope


def activity_list(scope: Scope, *, date_from: dt.date | None = None, date_to: dt.date | None = None,
                  kind: str | None = None) -> Select:
    """Activities in the scope, newest first (voided ones too: they stay visible, struck through)."""
    stmt = select(OutreachActivity).order_by(OutreachActivity.held_on.desc(), OutreachActivity.id.desc())
    if date_from is not None:
        stmt = stmt.where(OutreachActivity.held_on >= date_from)
    if date_to is not None:
        stmt = stmt.where(OutreachActivity.held_on <= date_to)
    if kind:
        stmt = stmt.where(OutreachActivity.kind == kind)
    return scope.apply(stmt, OutreachActivity.station_id)


def _free_by_activity():
    """activity id -> 台件 verified free of charge, as a subquery."""
    return (select(FreeVerification.activity_id, func.sum(FreeVerification.count).label("free"))
            .group_by(FreeVerification.activity_id).subquery())


def activity_figures(scope: Scope, date_from: dt.date, date_to: dt.date, *, group_by: str | None = None) -> Select:
    """(group, activities, free verifications, people served, enterprises visited, materials) of the activities
    in force held in the period; group_by: None (one row), "station", "kind" or "place_kind"."""
    free = _free_by_activity()
    group = {None: None, "station": OutreachActivity.station_id, "kind": OutreachActivity.kind,
             "place_kind": OutreachActivity.place_kind}[group_by]
    columns = [func.count(OutreachActivity.id).label("activities"),
               func.coalesce(func.sum(free.c.free), 0).label("free"),
               func.coalesce(func.sum(OutreachActivity.people_served), 0).label("people"),
               func.coalesce(func.sum(OutreachActivity.enterprises_visited), 0).label("enterprises"),
               func.coalesce(func.sum(OutreachActivity.materials), 0).label("materials")]
    stmt = (select(*([group.label("grp")] if group is not None else []), *columns)
            .select_from(OutreachActivity).outerjoin(free, free.c.activity_id == OutreachActivity.id)
            .where(OutreachActivity.in_force(), OutreachActivity.held_on.between(date_from, date_to)))
    if group is not None:
        stmt = stmt.group_by(group)
    return scope.apply(stmt, OutreachActivity.station_id)


def free_by_kind(scope: Scope, date_from: dt.date, date_to: dt.date) -> Select:
    """(kind name, 台件) verified free of charge in the period, by instrument kind in catalogue order."""
    stmt = (select(InstrumentType.name_zh, func.sum(FreeVerification.count))
            .select_from(FreeVerification)
            .join(OutreachActivity, OutreachActivity.id == FreeVerification.activity_id)
            .join(InstrumentType, InstrumentType.id == FreeVerification.type_id)
            .where(OutreachActivity.in_force(), OutreachActivity.held_on.between(date_from, date_to))
            .group_by(InstrumentType.id, InstrumentType.name_zh, InstrumentType.sort_order)
            .order_by(InstrumentType.sort_order, InstrumentType.id))
    return scope.apply(stmt, OutreachActivity.station_id)


def micro_station_list(scope: Scope) -> Select:
    """Micro-stations in the scope, open ones first."""
    stmt = (select(MicroStation).join(Station, Station.id == MicroStation.station_id)
            .order_by(MicroStation.closed_on.is_not(None), Station.name, MicroStation.name, MicroStation.id))
    return scope.apply(stmt, MicroStation.station_id)


def volunteer_list(scope: Scope) -> Select:
    """Volunteers in the scope, serving ones first."""
    stmt = (select(Volunteer).join(Station, Station.id == Volunteer.station_id)
            .order_by(Volunteer.left_on.is_not(None), Station.name, Volunteer.name, Volunteer.id))
    return scope.apply(stmt, Volunteer.station_id)


def open_micro_stations_by_station(scope: Scope, on: dt.date) -> Select:
    """(station id, micro-stations open on the date)."""
    stmt = (select(MicroStation.station_id, func.count())
            .where(MicroStation.opened_on <= on, or_(MicroStation.closed_on.is_(None), MicroStation.closed_on > on))
            .group_by(MicroStation.station_id))
    return scope.apply(stmt, MicroStation.station_id)


def serving_volunteers_by_station(scope: Scope, on: dt.date) -> Select:
    """(station id, volunteers serving on the date)."""
    stmt = (select(Volunteer.station_id, func.count())
            .where(Volunteer.joined_on <= on, or_(Volunteer.left_on.is_(None), Volunteer.left_on > on))
            .group_by(Volunteer.station_id))
    return scope.apply(stmt, Volunteer.station_id)


def targets() -> Select:
    """Every outreach target row (regions' and the installation's)."""
    return select(OutreachTarget).order_by(OutreachTarget.kind, OutreachTarget.region_id)


def micro_station_choices(scope: Scope, on: dt.date) -> Select:
    """Micro-stations open on the date a volunteer may be attached to."""
    stmt = (select(MicroStation).where(and_(MicroStation.opened_on <= on,
                                            or_(MicroStation.closed_on.is_(None), MicroStation.closed_on > on)))
            .order_by(MicroStation.name, MicroStation.id))
    return scope.apply(stmt, MicroStation.station_id)
