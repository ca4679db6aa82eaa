"""Named catalogue queries."""
from __future__ import annotations

from sqlalchemy import Select, select

from app.catalog.models import FindingCode, InstrumentType


def instrument_types(active_only: bool = False) -> Select:
    """Instrument kinds in catalogue order."""
    stmt = select(InstrumentType).order_by(InstrumentType.sort_order, InstrumentType.id)
    return stmt.where(InstrumentType.is_active.is_(True)) if active_only else stmt


def finding_codes(active_only: bool = False) -> Select:
    """Finding codes by code (only those still in use, when asked)."""
    stmt = select(FindingCode).order_by(FindingCode.id)
    return stmt.where(FindingCode.is_active.is_(True)) if active_only else stmt
