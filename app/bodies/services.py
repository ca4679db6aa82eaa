"""Creating and editing verification bodies, and linking verifications to them (flush, never commit)."""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.bodies.models import VerificationBody
from app.catalog.models import InstrumentType
from app.errors import Invalid, NotFound, StaleEdit
from app.instruments.models import Verification
from app.text import as_typed, identifier, match_key
from app.webhooks import capture as webhooks

FIELDS = ["name", "code", "type_ids", "contact_person", "contact_phone", "is_active"]


def get_body(session: Session, body_id: int) -> VerificationBody:
    """A verification body, else NotFound."""
    body = session.get(VerificationBody, body_id)
    if body is None:
        raise NotFound("检定机构不存在")
    return body


def _clean(session: Session, values: dict, body: VerificationBody | None) -> dict:
    name = as_typed(values.get("name"))
    key = match_key(name)
    if not key:
        raise Invalid("请填写机构名称", field="name")
    if len(name) > 120:
        raise Invalid("机构名称不能超过120个字", field="name")
    other = session.scalars(select(VerificationBody).where(VerificationBody.name_key == key)).first()
    if other is not None and other is not body:
        raise Invalid(f"已有同名的检定机构“{other.name}”", field="name")
    code = identifier(values.get("code")) or None
    if code is not None:
        other = session.scalars(select(VerificationBody).where(VerificationBody.code == code)).first()
        if other is not None and other is not body:
            raise Invalid(f"机构代码“{code}”已由“{other.name}”使用", field="code")
    type_ids = sorted({int(t) for t in values.get("type_ids") or []})
    known = set(session.scalars(select(InstrumentType.id).where(InstrumentType.id.in_(type_ids))))
    if set(type_ids) - known:
        raise Invalid("所选器具种类不存在", field="type_ids")
    return {"name": name, "name_key": key, "code": code, "type_ids": type_ids,
            "contact_person": as_typed(values.get("contact_person")),
            "contact_phone": as_typed(values.get("contact_phone")),
            "is_active": bool(values.get("is_active", True))}


def link_matching(session: Session, body: VerificationBody) -> int:
    """Link every unlinked verification whose institution text has the body's name key (set-based; the text
    stays as typed). Returns how many were linked."""
    keys = session.scalars(select(Verification.institution).where(
        Verification.body_id.is_(None), Verification.institution != "").distinct()).all()
    texts = [t for t in keys if match_key(t) == body.name_key]
    if not texts:
        return 0
    linked = webhooks.wanted(session) and session.scalars(select(Verification.id).where(
        Verification.body_id.is_(None), Verification.institution.in_(texts))).all()
    result = session.execute(update(Verification).where(
        Verification.body_id.is_(None), Verification.institution.in_(texts)).values(body_id=body.id)
        .execution_options(synchronize_session=False))
    if linked:
        webhooks.capture(session, webhooks.VERIFICATION, "verification.updated", linked)
    return result.rowcount or 0


def _note(linked: int) -> str:
    return f"按名称关联了 {linked} 条原有检定记录（检定机构文字保持原样）" if linked else ""


def create_body(session: Session, actor, values: dict) -> tuple[VerificationBody, int]:
    """Register a body and link the verifications that already name it. Returns (body, linked)."""
    clean = _clean(session, values, None)
    body = VerificationBody(**clean)
    session.add(body)
    session.flush()
    linked = link_matching(session, body)
    audit.record(session, actor, "create", body, audit.snapshot(body, FIELDS), note=_note(linked))
    return body, linked


def update_body(session: Session, actor, body: VerificationBody, *, expected_version: int,
                values: dict) -> tuple[list[dict], int]:
    """Edit a body (stale edits refused); a new name links the verifications that name it. Returns (changes,
    linked)."""
    if body.version != expected_version:
        raise StaleEdit("该检定机构")
    clean = _clean(session, values, body)
    key = clean.pop("name_key")
    changes = audit.apply_changes(body, clean)
    linked = 0
    if changes:
        body.name_key = key
        session.flush()
        linked = link_matching(session, body)
        audit.record(session, actor, "update", body, changes, note=_note(linked))
    return changes, linked


def set_active(session: Session, actor, body: VerificationBody, active: bool) -> None:
    """Activate or deactivate a body; its past verifications stay linked."""
    if body.is_active == active:
        return
    changes = audit.apply_changes(body, {"is_active": active})
    session.flush()
    audit.record(session, actor, "update", body, changes, note="启用检定机构" if active else "停用检定机构")


def body_for(session: Session, body_id: int | None, text: str | None) -> VerificationBody | None:
    """The body chosen by id, else the one whose name matches the typed text, else None."""
    if body_id:
        return get_body(session, body_id)
    key = match_key(text)
    if not key:
        return None
    return session.scalars(select(VerificationBody).where(VerificationBody.name_key == key)).first()

