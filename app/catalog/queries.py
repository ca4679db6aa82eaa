"""Named catalogue queries."""
from __future__ import annotations

from sqlalchemy import Select, select

from app.catalog.models import FindingCode, InstrumentType, InstrumentTypeAlias


def instrument_types(active_only: bool = False) -> Select:
    """Instrument kinds in catalogue order."""
    stmt = select(InstrumentType).order_by(InstrumentType.sort_order, InstrumentType.id)
    return stmt.where(InstrumentType.is_active.is_(True)) if active_only else stmt


def finding_codes(active_only: bool = False) -> Select:
    """Finding codes by code (only those still in use, when asked)."""
    stmt = select(FindingCode).order_by(FindingCode.id)
    return stmt.where(FindingCode.is_active.is_(True)) if active_only else stmt


def kind_aliases() -> Select:
    """(kind code, alias) pairs, as the import reads them."""
    return (select(InstrumentType.code, InstrumentTypeAlias.alias)
            .join(InstrumentTypeAlias, InstrumentTypeAlias.type_id == InstrumentType.id)
            .order_by(InstrumentTypeAlias.id))


def aliases_of(type_id: int) -> Select:
    """A kind's aliases, in the order they were added."""
    return select(InstrumentTypeAlias).where(InstrumentTypeAlias.type_id == type_id).order_by(InstrumentTypeAlias.id)
