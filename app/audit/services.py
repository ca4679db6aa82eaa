"""Writing the audit log: field-level changes with display values."""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry

SYSTEM_ACTOR = "系统"


def display(value: Any) -> str:
    """A value as a person reads it in the audit log."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, enum.Enum) and hasattr(value, "label"):
        return value.label
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set)):
        return "、".join(sorted(display(v) for v in value))
    return str(value)


def apply_changes(obj: Any, values: dict[str, Any]) -> list[dict]:
    """Set attributes on obj and return the changed fields as audit change rows."""
    labels = getattr(obj, "__labels__", {})
    changes = []
    for field, new in values.items():
        old = getattr(obj, field)
        if _same(old, new):
            continue
        changes.append(change_row(field, labels.get(field, field), old, new))
        setattr(obj, field, new)
    return changes


def change_row(field: str, label: str, old: Any, new: Any) -> dict:
    """One field's change, with display values."""
    return {"field": field, "label": label, "old": display(old), "new": display(new)}


def snapshot(obj: Any, fields: list[str]) -> list[dict]:
    """Change rows describing a newly created record (old values empty)."""
    labels = getattr(obj, "__labels__", {})
    rows = []
    for field in fields:
        value = getattr(obj, field)
        if value is None or value == "" or value == []:
            continue
        rows.append(change_row(field, labels.get(field, field), None, value))
    return rows


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)):
        return {id(x) for x in old} == {id(x) for x in new}
    return (old if old is not None else "") == (new if new is not None else "")


def actor_name(actor: Any) -> str:
    """The text kept as 'who' in the log."""
    if actor is None:
        return SYSTEM_ACTOR
    if isinstance(actor, str):
        return actor
    return f"{actor.display_name}（{actor.username}）"


def record(session: Session, actor: Any, action: str, entity: Any = None, changes: list[dict] | None = None,
           note: str = "", entity_type: str | None = None, entity_label: str | None = None) -> AuditEntry:
    """Append one audit entry for an action on a record (flushes to get ids)."""
    session.flush()
    entry = AuditEntry(
        user_id=getattr(actor, "id", None),
        actor=actor_name(actor),
        action=action,
        entity_type=entity_type or type(entity).__tablename__,
        entity_id=getattr(entity, "id", None),
        entity_label=(entity_label if entity_label is not None else str(entity))[:200],
        changes=changes or [],
        note=note,
    )
    session.add(entry)
    session.flush()
    return entry


class AppendOnlyViolation(RuntimeError):
    """Raised when code tries to change evidence that must stay as written."""


def _append_only() -> dict[type, set[str]]:
    """Evidence classes and the columns that may still change on them (the rest never do)."""
    # Imported here to keep the audit package free of a cycle with the domains it guards.
    from app.inspections.models import (DeadlineExtension, EvidenceFile, Finding, Inspection, InspectionInstrument,
                                        RandomDraw, Recheck, Signature)
    from app.cases.models import Case, CaseExtension, CaseStage
    from app.certificates.models import Certificate
    from app.complaints.models import ComplaintOutcome
    from app.instruments.models import Verification
    from app.voiding.models import VOID_COLUMNS

    return {
        AuditEntry: set(),
        # Linking a record to a registered body (检定机构) adds a reference; its institution text never moves.
        Verification: set(VOID_COLUMNS) | {"body_id"}, Finding: set(VOID_COLUMNS),
        # A check's outcome may be corrected (ok -> problem) with a reason in the audit log; nothing else moves.
        InspectionInstrument: {"outcome"},
        Certificate: set(VOID_COLUMNS),
        # A complaint's outcome is recorded once: a correction is a new entry, a mistake is voided.
        ComplaintOutcome: set(VOID_COLUMNS),
        Inspection: set(), Recheck: set(), EvidenceFile: set(), DeadlineExtension: set(), Signature: set(),
        # A draw's seed, inputs and result are fixed once drawn; only its lock and publication move.
        RandomDraw: {"locked_at", "published_at", "version", "updated_at"},
        # A case's stages are appended (CaseStage, never edited); its header follows them, is published or voided.
        CaseStage: set(), CaseExtension: set(),
        Case: set(VOID_COLUMNS) | {"opened_on", "stage", "stage_on", "team_id", "due_on", "closed_on", "published_on",
                                   "version", "updated_at"},
    }


def _guard(session: Session, _ctx, _instances) -> None:
    guarded = _append_only()
    for obj in session.deleted:
        if type(obj) in guarded:
            raise AppendOnlyViolation(f"{type(obj).__name__} records are never deleted")
    for obj in session.dirty:
        allowed = guarded.get(type(obj))
        if allowed is None or not session.is_modified(obj):
            continue
        changed = _changed_columns(obj) - allowed
        if changed:
            raise AppendOnlyViolation(f"{type(obj).__name__} records are never edited (tried {sorted(changed)})")


def _changed_columns(obj: Any) -> set[str]:
    from sqlalchemy import inspect

    insp = inspect(obj)
    # Column attributes only: appending to a relationship collection does not edit the record.
    return {a.key for a in insp.attrs if a.key in insp.mapper.column_attrs and a.history.has_changes()}


def install_guards() -> None:
    """Refuse, at flush time, edits and deletes of evidence (idempotent)."""
    if not event.contains(Session, "before_flush", _guard):
        event.listen(Session, "before_flush", _guard)
