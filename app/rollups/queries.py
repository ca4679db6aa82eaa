"""Named queries of the county roll-up: each figure grouped by station in one statement (each a select()); the
stations are summed into counties in Python (a few hundred rows), so no query joins the region tree. The
instrument figures come from the per-station counts (app/counts)."""
from __future__ import annotations

from sqlalchemy import Select, func, select

from app.alerts.models import Alert, AlertStatus
from app.scope import Scope


def open_alerts_by_station(scope: Scope) -> Select:
    """(station_id, open alerts)."""
    stmt = (select(Alert.station_id, func.count()).where(Alert.status == AlertStatus.OPEN)
            .group_by(Alert.station_id))
    return scope.apply(stmt, Alert.station_id)
