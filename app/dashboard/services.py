"""Dashboard figures for a scope (no Flask)."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy.orm import Session

from app.catalog.queries import instrument_types
from app.counts.services import figures, narrowed, one_station, totals, verified_by_month
from app.dashboard import queries as dashboard_queries
from app.instruments import queries
from app.instruments.engine import add_months
from app.instruments.models import InstrumentStatus
from app.scope import Scope


def worklist_counts(session: Session, scope: Scope, today: dt.date, days: int) -> dict[str, int]:
    """How many instruments are on each worklist."""
    if not one_station(scope):
        summed = totals(figures(session, scope, today, days))
        return {name: summed[name] for name in queries.WORKLISTS}
    return {name: session.execute(queries.worklist_count(name, scope, today, days)).scalar_one()
            for name in queries.WORKLISTS}


def kind_status_table(session: Session, scope: Scope, today: dt.date, station_id: int | None = None,
                      days: int = 30) -> list[dict]:
    """One row per kind: counts by status plus overdue, for kinds that have instruments."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if not one_station(narrowed(scope, station_id)):
        for type_id, row in figures(session, narrowed(scope, station_id), today, days).items():
            counts[type_id].update({k: v for k, v in row.items() if v})
    else:
        for type_id, status, n in session.execute(queries.counts_by_type_and_status(scope, station_id)):
            counts[type_id][status.value] = n
        for type_id, n in session.execute(queries.overdue_by_type(scope, today, station_id)):
            counts[type_id]["overdue"] = n
        for type_id, n in session.execute(dashboard_queries.due_soon_by_type(scope, today, days, station_id)):
            counts[type_id]["due_soon"] = n
    rows = []
    for itype in session.scalars(instrument_types()):
        if itype.id not in counts:
            continue
        c = counts[itype.id]
        rows.append({"type": itype, "total": sum(c[s.value] for s in InstrumentStatus),
                     **{s.value: c[s.value] for s in InstrumentStatus}, "overdue": c["overdue"],
                     "due_soon": c["due_soon"]})
    return rows


def month_starts(today: dt.date, months: int = 12) -> list[dt.date]:
    """The first days of the last `months` months, oldest first, ending with today's month."""
    this_month = today.replace(day=1)
    return [add_months(this_month, -k) for k in range(months - 1, -1, -1)]


def trend(session: Session, scope: Scope, today: dt.date, station_id: int | None = None) -> list[dict]:
    """Per month of the last twelve: verification records, and in-use instruments overdue at the month's end
    (today for the current month), as the ledger stands now."""
    starts = month_starts(today)
    # Stored per station and kept in step with the records (app/counts), for one station too: a year of one
    # station's records was the slowest statement of an inspector's dashboard.
    verified = verified_by_month(session, narrowed(scope, station_id), today)
    # Due before the second month, then due in each later month: overdue at a past month's end is everything
    # due in that month or before (all such dates are before today); for this month, everything due before today.
    due = session.execute(dashboard_queries.overdue_by_month(scope, starts, today, station_id)).one()
    rows, overdue = [], 0
    for first, n_verified, n_due in zip(starts, verified, due):
        overdue += n_due or 0
        rows.append({"month": first, "verified": n_verified or 0, "overdue": overdue})
    return rows


def pledge_summary(session: Session, scope: Scope, today: dt.date, station_id: int | None = None,
                   county_id: int | None = None) -> dict:
    """Pledges in force and demonstration units against the admin's targets: the station's; else the county's
    (its own or its share of its city's, app/rollups); else overall."""
    from app.integrity import queries as pledge_queries
    from app.integrity.models import TargetKind
    from app.rollups.settings import divided_targets

    active = models = 0
    for _station, in_force, model, _revoked, _expired in session.execute(
            pledge_queries.counts_by("station", scope, today, station_id=station_id)):
        active, models = active + in_force, models + model
    if county_id and not station_id:
        return {"active": active, "model_units": models,
                "active_target": divided_targets(session, TargetKind.PLEDGES)[county_id].target,
                "model_target": divided_targets(session, TargetKind.MODEL_UNITS)[county_id].target}
    targets = {(t.kind.value, t.station_id): t.target for t in session.scalars(pledge_queries.targets())
               if t.region_id is None}
    key = station_id if station_id else None
    return {"active": active, "model_units": models, "active_target": targets.get(("pledges", key)),
            "model_target": targets.get(("model_units", key))}


def inspection_summary(session: Session, scope: Scope, today: dt.date, station_id: int | None = None) -> dict:
    """The last twelve months' findings by code and how rectification orders went (on time, late, open)."""
    from app.inspections import queries as inspection_queries

    if station_id:
        scope = Scope(frozenset({station_id}) & scope.station_ids if scope.station_ids is not None
                      else frozenset({station_id}))
    since = add_months(today.replace(day=1), -11)
    codes = session.execute(inspection_queries.findings_by_code(scope, date_from=since, date_to=today)).all()
    figures = session.execute(inspection_queries.finding_figures(scope, today, date_from=since,
                                                                 date_to=today)).mappings().one()
    return {"since": since, "codes": codes, **{k: int(v or 0) for k, v in figures.items()}}
