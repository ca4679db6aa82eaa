"""The one way to void a record (flush, never commit)."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from app.audit import services as audit
from app.db import utcnow
from app.errors import Invalid
from app.text import as_typed
from app.voiding.models import Voidable


def void_record(session: Session, actor, record: Voidable, reason: str, *, what: str, entity_label: str,
                consequences: Callable[[], list[dict]] | None = None) -> list[dict]:
    """Void `record` with a reason, apply its consequences (a callable returning audit change rows), log it once.

    `what` names the record in messages (检定记录, 问题); refused when the reason is blank or it is voided already.
    """
    reason = as_typed(reason)
    if not reason:
        raise Invalid("请填写作废原因", field="reason")
    if record.voided_at is not None:
        raise Invalid(f"该{what}已作废")
    record.voided_at = utcnow()
    record.voided_by_id = getattr(actor, "id", None)
    record.void_reason = reason
    session.flush()
    changes = [audit.change_row("void_reason", "作废原因", None, reason)]
    if consequences is not None:
        changes += consequences()
    audit.record(session, actor, "void", record, changes, entity_label=entity_label)
    return changes
