"""Named queries of the county roll-up: each figure grouped by station in one statement (each a select()); the
stations are summed into counties in Python (a few hundred rows), so no query joins the region tree."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, func, select

from app.alerts.models import Alert, AlertStatus
from app.db import count_if
from app.instruments.models import Instrument, InstrumentStatus
from app.instruments.queries import worklist_condition
from app.scope import Scope


def instrument_figures(scope: Scope, today: dt.date, days: int) -> Select:
    """(station_id, in-use instruments, overdue, due within `days`, past service life)."""
    stmt = (select(Instrument.station_id, func.count(),
                   count_if(worklist_condition("overdue", today, days)),
                   count_if(worklist_condition("due_soon", today, days)),
                   count_if(worklist_condition("past_service_life", today, days)))
            .where(Instrument.status == InstrumentStatus.IN_USE).group_by(Instrument.station_id))
    return scope.apply(stmt, Instrument.station_id)


def open_alerts_by_station(scope: Scope) -> Select:
    """(station_id, open alerts)."""
    stmt = (select(Alert.station_id, func.count()).where(Alert.status == AlertStatus.OPEN)
            .group_by(Alert.station_id))
    return scope.apply(stmt, Alert.station_id)
