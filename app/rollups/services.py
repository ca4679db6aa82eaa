"""The county roll-up of a city or province user: each county's key figures side by side (no Flask)."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from app.counts.services import figures
from app.integrity import queries as pledge_queries
from app.integrity.models import TargetKind
from app.rollups import queries
from app.rollups.settings import divided_targets
from app.rollups.tree import Tree
from app.scope import Scope

FIGURES = ("instruments", "overdue", "due_soon", "past_service_life", "open_alerts", "pledges", "model_units")


@dataclass
class CountyRow:
    """One county's figures (or the total's: id None)."""

    id: int | None
    name: str
    figures: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIGURES, 0))
    pledge_target: int | None = None
    model_target: int | None = None


def visible_counties(tree: Tree, scope: Scope) -> list[int]:
    """The counties with a station in the scope, by code."""
    stations = tree.station_county
    counties = {c for s, c in stations.items() if c is not None and scope.allows(s)}
    return [c for c in tree.counties() if c in counties]


def county_rows(session: Session, tree: Tree, scope: Scope, today: dt.date, days: int) -> list[CountyRow]:
    """Every visible county's figures and the total: one grouped statement per figure over the scope."""
    counties = visible_counties(tree, scope)
    rows = {c: CountyRow(c, tree.label(c)) for c in counties}
    total = CountyRow(None, "合计")

    def add(station_id: int, name: str, n: int) -> None:
        row = rows.get(tree.station_county.get(station_id))
        if row is not None:
            row.figures[name] += n or 0
            total.figures[name] += n or 0

    # The per-station counts kept in step with the ledger (app/counts): a few rows a station, not its ledger.
    for station_id, row in figures(session, scope, today, days, by="station").items():
        for name, value in (("instruments", row["in_use"]), ("overdue", row["overdue"]),
                            ("due_soon", row["due_soon"]), ("past_service_life", row["past_service_life"])):
            add(station_id, name, value)
    for station_id, n in session.execute(queries.open_alerts_by_station(scope)):
        add(station_id, "open_alerts", n)
    for station_id, in_force, model, _revoked, _expired in session.execute(
            pledge_queries.counts_by("station", scope, today)):
        add(station_id, "pledges", in_force)
        add(station_id, "model_units", model)
    targets = {k: divided_targets(session, k, tree) for k in TargetKind}
    sums: dict[str, int | None] = defaultdict(lambda: None)
    for c, row in rows.items():
        row.pledge_target = targets[TargetKind.PLEDGES][c].target if c in targets[TargetKind.PLEDGES] else None
        row.model_target = targets[TargetKind.MODEL_UNITS][c].target if c in targets[TargetKind.MODEL_UNITS] else None
        for key, value in (("pledge", row.pledge_target), ("model", row.model_target)):
            if value is not None:
                sums[key] = (sums[key] or 0) + value
    total.pledge_target, total.model_target = sums["pledge"], sums["model"]
    return [rows[c] for c in counties] + [total]
