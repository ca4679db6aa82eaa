"""Named import queries: batch lists and a batch's rows. Each returns a select()."""
from __future__ import annotations

from sqlalchemy import Select, String, and_, cast, exists, func, not_, or_, select
from sqlalchemy.orm import aliased

from app.catalog.models import InstrumentType
from app.imports.models import ImportBatch, ImportRow, ImportStatus, RowAction
from app.scope import Scope

# Row filters of the batch page: key -> Chinese label.
ROW_FILTERS = {
    "errors": "仅错误行",
    "warnings": "有提示",
    "create": "有新增",
    "update": "有更新",
    "unchanged": "无变化",
}

_ACTIONS = (ImportRow.merchant_action, ImportRow.instrument_action, ImportRow.verification_action)


def batch_list(scope: Scope, station_id: int | None = None, status: str | None = None) -> Select:
    """Batches of the scope's stations, newest first, optionally of one station or status."""
    stmt = scope.apply(select(ImportBatch), ImportBatch.station_id).where(_listed(scope))
    if station_id:
        stmt = stmt.where(ImportBatch.station_id == station_id)
    if status:
        stmt = stmt.where(ImportBatch.status == ImportStatus(status))
    return stmt.order_by(ImportBatch.id.desc())


def _listed(scope: Scope):
    """Workbook batches whose sheets all go to the scope's stations, with their sheets inside them; the sheets
    of the others alone (a user who sees only some of a workbook's stations finds those sheets)."""
    sheet = aliased(ImportBatch)
    if scope.is_all:
        return ImportBatch.parent_id.is_(None)
    outside = exists().where(sheet.parent_id == func.coalesce(ImportBatch.parent_id, ImportBatch.id),
                             not_(scope.condition(sheet.station_id)))
    return or_(and_(ImportBatch.parent_id.is_(None), not_(outside)), and_(ImportBatch.parent_id.is_not(None), outside))


def batch_rows(batch_id: int, row_filter: str | None = None) -> Select:
    """A batch's rows in file order, narrowed to errors or to one planned action."""
    stmt = select(ImportRow).where(ImportRow.batch_id == batch_id)
    if row_filter == "errors":
        stmt = stmt.where(ImportRow.merchant_action == RowAction.ERROR)
    elif row_filter == "warnings":
        # Stored as JSON; a row without warnings holds exactly "[]" (services._problems).
        stmt = stmt.where(cast(ImportRow.warnings, String) != "[]")
    elif row_filter in ("create", "update"):
        action = RowAction(row_filter)
        stmt = stmt.where(or_(*(column == action for column in _ACTIONS)))
    elif row_filter == "unchanged":
        stmt = stmt.where(ImportRow.merchant_action != RowAction.ERROR,
                          not_(or_(*(column.in_((RowAction.CREATE, RowAction.UPDATE)) for column in _ACTIONS))))
    return stmt.order_by(ImportRow.row_no)


def error_rows(batch_id: int) -> Select:
    """A batch's rows with errors, in file order (for the errors workbook)."""
    return batch_rows(batch_id, "errors")



def kind_name(code: str) -> Select:
    """The catalogue name of the kind chosen for a whole file."""
    return select(InstrumentType.name_zh).where(InstrumentType.code == code)


def busy_batches() -> Select:
    """Batches being analysed or applied (or left so by a stopped worker), oldest first: what the recovery looks at."""
    return select(ImportBatch).where(ImportBatch.status.in_((ImportStatus.PLANNING, ImportStatus.APPLYING))) \
        .order_by(ImportBatch.id)
