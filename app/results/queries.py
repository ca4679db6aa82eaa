"""Named queries on the leads (未备案器具线索)."""
from __future__ import annotations

from sqlalchemy import Select, func, select

from app.results.models import LeadState, ResultLead
from app.scope import Scope


def lead_list(scope: Scope, state: str | None = LeadState.PENDING.value, station_id: int | None = None) -> Select:
    """The leads in the scope (a state's, a station's when asked), newest first."""
    stmt = scope.apply(select(ResultLead), ResultLead.station_id)
    if state:
        stmt = stmt.where(ResultLead.state == state)
    if station_id:
        stmt = stmt.where(ResultLead.station_id == station_id)
    return stmt.order_by(ResultLead.id.desc())


def pending_count(scope: Scope) -> Select:
    """How many leads in the scope wait to be handled (the worklist's count)."""
    return scope.apply(select(func.count()).select_from(ResultLead), ResultLead.station_id).where(
        ResultLead.state == LeadState.PENDING.value)
