"""Dashboard figures for a scope (no Flask)."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy.orm import Session

from app.catalog.queries import instrument_types
from app.instruments import queries
from app.instruments.models import InstrumentStatus
from app.scope import Scope


def worklist_counts(session: Session, scope: Scope, today: dt.date, days: int) -> dict[str, int]:
    """How many instruments are on each worklist."""
    return {name: session.execute(queries.worklist_count(name, scope, today, days)).scalar_one()
            for name in queries.WORKLISTS}


def kind_status_table(session: Session, scope: Scope, today: dt.date, station_id: int | None = None) -> list[dict]:
    """One row per kind: counts by status plus overdue, for kinds that have instruments."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for type_id, status, n in session.execute(queries.counts_by_type_and_status(scope, station_id)):
        counts[type_id][status.value] = n
    for type_id, n in session.execute(queries.overdue_by_type(scope, today, station_id)):
        counts[type_id]["overdue"] = n
    rows = []
    for itype in session.scalars(instrument_types()):
        if itype.id not in counts:
            continue
        c = counts[itype.id]
        rows.append({"type": itype, "total": sum(c[s.value] for s in InstrumentStatus),
                     **{s.value: c[s.value] for s in InstrumentStatus}, "overdue": c["overdue"]})
    return rows
