"""Registering, editing and revoking pledges, demonstration units and targets (services flush, never commit)."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import uploads
from app.accounts.models import Station
from app.audit import services as audit
from app.errors import Invalid, NotFound, StaleEdit
from app.integrity import queries
from app.integrity.models import IntegrityTarget, Pledge, PledgeStatus, TargetKind
from app.merchants.models import Merchant
from app.scope import Scope
from app.text import as_typed

# The document types a signed pledge may come as (a scan or a photo), stored by their short name.
DOCUMENT_MIMETYPES = {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png"}
DOCUMENT_SUFFIXES = {"pdf": ".pdf", "jpeg": ".jpg", "png": ".png"}


@dataclass(frozen=True)
class Upload:
    """An uploaded file as plain data: its name as the user had it and its bytes."""

    name: str
    data: bytes


def sniff(data: bytes) -> str | None:
    """The document type by its first bytes ('pdf', 'jpeg', 'png'), or None; the file name is not trusted."""
    content_type = uploads.sniff(data)
    return next((kind for kind, mime in DOCUMENT_MIMETYPES.items() if mime == content_type), None)


def _store_document(session: Session, pledge: Pledge, upload: Upload, storage_dir: str, max_bytes: int) -> None:
    if not upload.data:
        raise Invalid("上传的承诺书文件是空的", field="document")
    if len(upload.data) > max_bytes:
        raise Invalid(f"承诺书文件不能超过 {max_bytes // (1024 * 1024)} MB", field="document")
    kind = sniff(upload.data)
    if kind is None:
        raise Invalid("承诺书文件只能是 PDF、JPEG 或 PNG（按文件内容判断）", field="document")
    # A random stored name: the user's file name never reaches the file system, and the file is this
    # pledge's alone (removed again if the pledge is not saved).
    stored = secrets.token_hex(16) + DOCUMENT_SUFFIXES[kind]
    digest = hashlib.sha256(upload.data).hexdigest()
    uploads.keep(storage_dir, stored, upload.data, sha256=digest, field="document", session=session)
    pledge.document_name = as_typed(Path(upload.name.replace("\\", "/")).name)[:255] or f"承诺书{DOCUMENT_SUFFIXES[kind]}"
    pledge.document_path = stored
    pledge.document_type = kind
    pledge.document_size = len(upload.data)
    pledge.document_sha256 = digest


def document_file(pledge: Pledge, storage_dir: str) -> Path:
    """Where a pledge's signed document is kept, while it is still the one uploaded; else NotFound."""
    if not pledge.document_path:
        raise NotFound("该承诺没有上传承诺书文件")
    return uploads.kept_file(storage_dir, pledge.document_path, pledge.document_size, pledge.document_sha256,
                             "承诺书文件")


def _check_dates(signed_on: dt.date | None, review_on: dt.date | None, today: dt.date) -> None:
    if signed_on is None:
        raise Invalid("请填写签署日期", field="signed_on")
    if signed_on > today:
        raise Invalid("签署日期不能晚于今天", field="signed_on")
    if review_on is not None and review_on < signed_on:
        raise Invalid("复核日期不能早于签署日期", field="review_on")


def create_pledge(session: Session, actor, scope: Scope, merchant: Merchant, values: dict, upload: Upload | None,
                  *, storage_dir: str, max_bytes: int, today: dt.date) -> Pledge:
    """Register a merchant's signed pledge; refused while the merchant has another active one."""
    if not scope.allows(merchant.station_id):
        raise NotFound("使用单位不存在")
    _check_dates(values.get("signed_on"), values.get("review_on"), today)
    current = session.scalars(queries.current_pledge(merchant.id, today)).first()
    if current is not None:
        raise Invalid(f"该使用单位已有有效的诚信计量承诺（{current.signed_on.isoformat()} 签署），"
                      "请先撤销或等其过期后再登记新的承诺", link=f"/integrity/{current.id}", link_text="查看该承诺")
    pledge = Pledge(merchant=merchant, signed_on=values["signed_on"], review_on=values.get("review_on"),
                    scope_text=as_typed(values.get("scope_text")), status=PledgeStatus.ACTIVE)
    if upload is not None:
        _store_document(session, pledge, upload, storage_dir, max_bytes)
    session.add(pledge)
    session.flush()
    audit.record(session, actor, "create", pledge, audit.snapshot(pledge, [
        "merchant", "signed_on", "scope_text", "status", "review_on", "document_name"]))
    return pledge


def update_pledge(session: Session, actor, pledge: Pledge, *, expected_version: int, values: dict,
                  upload: Upload | None, storage_dir: str, max_bytes: int, today: dt.date) -> list[dict]:
    """Edit a pledge's dates, scope or document unless someone else saved it first."""
    if pledge.version != expected_version:
        raise StaleEdit("该承诺")
    _check_dates(values.get("signed_on"), values.get("review_on"), today)
    old_document = pledge.document_name
    changes = audit.apply_changes(pledge, {"signed_on": values["signed_on"], "review_on": values.get("review_on"),
                                           "scope_text": as_typed(values.get("scope_text"))})
    if upload is not None:
        _store_document(session, pledge, upload, storage_dir, max_bytes)
        changes.append(audit.change_row("document_name", Pledge.__labels__["document_name"], old_document,
                                        f"{pledge.document_name}（新上传）"))
    if changes:
        session.flush()
        audit.record(session, actor, "update", pledge, changes)
    return changes


def revoke_pledge(session: Session, actor, pledge: Pledge, *, expected_version: int, reason: str,
                  finding_id: int | None, on: dt.date, scope: Scope = Scope.everything()) -> Pledge:
    """Revoke a pledge with the reason and, when it came from one, the finding; a revoked pledge stays as history.

    The finding must be one made at an inspection of the same merchant, in the user's stations.
    """
    if pledge.version != expected_version:
        raise StaleEdit("该承诺")
    if pledge.status == PledgeStatus.REVOKED:
        raise Invalid("该承诺已经撤销")
    reason = as_typed(reason)
    if not reason:
        raise Invalid("请填写撤销原因", field="reason")
    if on is None or on < pledge.signed_on:
        raise Invalid("撤销日期不能早于签署日期", field="revoked_on")
    if finding_id is not None and session.scalar(queries.merchant_finding(finding_id, pledge.merchant_id,
                                                                          scope)) is None:
        raise Invalid("没有该编号的问题，或该问题不是对本经营者检查时发现的", field="finding_id")
    changes = audit.apply_changes(pledge, {"status": PledgeStatus.REVOKED, "revoked_on": on, "revoke_reason": reason,
                                           "revoked_finding_id": finding_id})
    # A revoked pledge is no demonstration unit any more.
    if pledge.is_model_unit:
        changes += audit.apply_changes(pledge, {"is_model_unit": False, "model_unit_on": on,
                                                "model_unit_decision": f"因撤销承诺取消：{reason}"[:300]})
    session.flush()
    audit.record(session, actor, "revoke", pledge, changes, note=reason)
    return pledge


def set_model_unit(session: Session, actor, pledge: Pledge, *, expected_version: int, mark: bool, on: dt.date,
                   decision: str, today: dt.date) -> Pledge:
    """Mark or unmark a pledge's merchant as a demonstration unit, with the date and the decision."""
    if pledge.version != expected_version:
        raise StaleEdit("该承诺")
    decision = as_typed(decision)
    if not decision:
        raise Invalid("请填写认定或取消的决定（文号或说明）", field="decision")
    if on is None:
        raise Invalid("请填写日期", field="on")
    if mark and pledge.effective_status(today) != PledgeStatus.ACTIVE:
        raise Invalid("只有有效的承诺才能认定为示范单位")
    if mark == pledge.is_model_unit:
        raise Invalid("该单位已是示范单位" if mark else "该单位不是示范单位")
    changes = audit.apply_changes(pledge, {"is_model_unit": mark, "model_unit_on": on,
                                           "model_unit_decision": decision[:300]})
    session.flush()
    audit.record(session, actor, "model_unit" if mark else "unmodel_unit", pledge, changes, note=decision)
    return pledge


def get_pledge(session: Session, scope: Scope, pledge_id: int) -> Pledge:
    """A pledge whose merchant is inside the scope, else NotFound."""
    pledge = session.get(Pledge, pledge_id)
    if pledge is None or not scope.allows(pledge.merchant.station_id):
        raise NotFound("诚信计量承诺不存在")
    return pledge


def set_targets(session: Session, actor, targets: dict[tuple[str, int | None], int | None]) -> list[dict]:
    """Save target counts keyed by (kind, station id or None for overall); None or 0 clears a target."""
    existing = {(t.kind.value, t.station_id): t for t in session.scalars(select(IntegrityTarget).where(
        IntegrityTarget.region_id.is_(None)))}
    stations = {s.id: s.name for s in session.scalars(select(Station))}
    changes = []
    for (kind, station_id), value in targets.items():
        if value is not None and value < 0:
            raise Invalid("目标数不能为负数")
        if station_id is not None and station_id not in stations:
            raise Invalid("监管所不存在")
        label = f"{TargetKind(kind).label}目标（{stations[station_id] if station_id else '全局'}）"
        row = existing.get((kind, station_id))
        old = row.target if row else None
        new = value or None
        if (old or None) == new:
            continue
        if row is None:
            row = IntegrityTarget(kind=TargetKind(kind), station_id=station_id,
                                  scope_key=str(station_id) if station_id else "all")
            session.add(row)
        if new is None:
            session.delete(row)
        else:
            row.target = new
        changes.append(audit.change_row(kind, label, old, new))
    if changes:
        session.flush()
        audit.record(session, actor, "update", None, changes, entity_type="integrity_targets",
                     entity_label="诚信计量目标")
    return changes
