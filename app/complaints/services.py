"""Receiving, handling and answering complaints (flush, never commit)."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import images, uploads
from app.accounts.models import User, user_stations
from app.audit import services as audit
from app.complaints import queries
from app.complaints.models import Category, Channel, Complaint, ComplaintOutcome, Outcome, State
from app.db import utcnow
from app.errors import Duplicate, Forbidden, Invalid, NotFound, StaleEdit
from app.inspections.models import Inspection
from app.instruments.models import Instrument
from app.merchants.models import Merchant
from app.scope import Scope
from app.text import as_typed, identifier
from app.voiding.services import void_record
from app.workdays.services import add_working_days

# 《市场监督管理投诉举报处理暂行办法》: a report is checked and decided within 15 working days of receipt.
DEFAULT_DEADLINE_WORKING_DAYS = 15
DESCRIPTION_MAX = 2000
REPLY_MAX = 2000
NOTE_MAX = 2000
# No 0/O, 1/I/L: a reference read out over the phone is not misheard.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
PHONE = re.compile(r"^\+?[0-9][0-9\- ]{4,19}$")
PHOTO_TYPES = {"image/jpeg": ".jpg", "image/png": ".png"}


@dataclass(frozen=True)
class Photo:
    """An uploaded photo: its name as sent and its bytes."""

    name: str
    data: bytes


def new_reference() -> str:
    """A reference the complainant keeps: 12 random characters (about 59 bits), never sequential."""
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(12))
    return f"TS-{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def normalise_reference(text: str) -> str:
    """A typed reference in its stored form (case, blanks and full-width characters forgiven)."""
    text = identifier(text).upper().replace(" ", "").replace("-", "")
    if text.startswith("TS"):
        text = text[2:]
    return f"TS-{text[:4]}-{text[4:8]}-{text[8:]}" if len(text) == 12 else ""


def _text(values: dict, key: str, label: str, maximum: int, *, required: bool = False) -> str:
    text = as_typed(values.get(key))
    if required and not text:
        raise Invalid(f"请填写{label}", field=key)
    if len(text) > maximum:
        raise Invalid(f"{label}不能超过 {maximum} 个字（现有 {len(text)} 个字）", field=key)
    return text


def _category(values: dict) -> Category:
    try:
        return Category(values.get("category"))
    except ValueError:
        raise Invalid("请选择反映的问题", field="category") from None


def _phone(values: dict) -> tuple[str, bool]:
    phone = as_typed(values.get("phone"))
    consent = bool(values.get("phone_consent"))
    if not phone:
        return "", False
    if not PHONE.match(phone):
        raise Invalid("联系电话格式不正确（只填数字，可带区号和“-”）", field="phone")
    if not consent:
        raise Invalid("留下电话请勾选“同意工作人员就此事与我联系”，不同意可不填电话", field="phone_consent")
    return phone, True


def _store_photo(session: Session, complaint: Complaint, photo: Photo, *, storage_dir: str, max_bytes: int,
                 limits: images.ImageLimits) -> None:
    name = as_typed(Path((photo.name or "").replace("\\", "/")).name)[:200] or "照片"
    if len(photo.data) > max_bytes:
        raise Invalid(f"照片过大：超过了 {max_bytes // (1024 * 1024)} MB 的上限", field="photo")
    content_type = uploads.sniff(photo.data, heif=True)
    data = photo.data
    if content_type == uploads.HEIC:
        data, content_type = images.heif_to_jpeg(data, name, limits), "image/jpeg"
    elif content_type in PHOTO_TYPES:
        images.verify_image(data, name, limits)
    else:
        raise Invalid(f"文件“{name}”不是照片：只能上传 JPEG、PNG 或 HEIC 图片（按文件内容识别，不看扩展名）",
                      field="photo")
    stored = f"complaints/{complaint.received_on:%Y/%m}/{uuid.uuid4().hex}{PHOTO_TYPES[content_type]}"
    digest = hashlib.sha256(data).hexdigest()
    uploads.keep(storage_dir, stored, data, sha256=digest, field="photo", session=session)
    complaint.photo_name, complaint.photo_type = stored, content_type
    complaint.photo_size, complaint.photo_sha256 = len(data), digest


def _new(session: Session, actor, *, merchant: Merchant, instrument: Instrument | None, channel: Channel,
         values: dict, received_on: dt.date, deadline_days: int, transfer_no: str = "",
         nonce: str | None = None) -> Complaint:
    category = _category(values)
    description = _text(values, "description", "具体情况", DESCRIPTION_MAX, required=True)
    phone, consent = _phone(values)
    complaint = Complaint(reference=new_reference(), station_id=merchant.station_id, merchant_id=merchant.id,
                          instrument_id=instrument.id if instrument else None, channel=channel,
                          transfer_no=transfer_no, received_on=received_on, category=category,
                          description=description, phone=phone, phone_consent=consent,
                          deadline=add_working_days(session, received_on, deadline_days), state=State.NEW,
                          challenge_nonce=nonce, created_by_id=getattr(actor, "id", None))
    return complaint


def receive_public(session: Session, *, merchant: Merchant, instrument: Instrument | None, values: dict,
                   photo: Photo | None, nonce: str, received_on: dt.date, deadline_days: int, storage_dir: str,
                   max_bytes: int, photo_limits: images.ImageLimits | None = None) -> Complaint:
    """A complaint from the public page (the challenge already passed, its nonce kept against a second use)."""
    if session.scalars(select(Complaint.id).where(Complaint.challenge_nonce == nonce)).first() is not None:
        raise Invalid("这道验证题已经用过，请重新作答后再提交", field="answer")
    complaint = _new(session, None, merchant=merchant, instrument=instrument, channel=Channel.PUBLIC, values=values,
                     received_on=received_on, deadline_days=deadline_days, nonce=nonce)
    if photo is not None and photo.data:
        _store_photo(session, complaint, photo, storage_dir=storage_dir, max_bytes=max_bytes,
                     limits=photo_limits or images.ImageLimits())
    session.add(complaint)
    session.flush()
    audit.record(session, None, "receive", complaint, audit.snapshot(complaint, ["channel", "category", "deadline"]),
                 entity_label=f"{complaint}（{merchant.name}）")
    return complaint


def receive_transfer(session: Session, actor, scope: Scope, merchant: Merchant, values: dict,
                     deadline_days: int, today: dt.date) -> Complaint:
    """A complaint transferred from 12315 or 12345, entered by staff of the merchant's station."""
    if not scope.allows(merchant.station_id):
        raise NotFound("使用单位不存在或不在您的管辖范围内")
    try:
        channel = Channel(values.get("channel"))
    except ValueError:
        raise Invalid("请选择转办来源", field="channel") from None
    if channel == Channel.PUBLIC:
        raise Invalid("请选择 12315 或 12345", field="channel")
    transfer_no = _text(values, "transfer_no", "转办单号", 50, required=True)
    received_on = values.get("received_on")
    if not isinstance(received_on, dt.date):
        raise Invalid("请填写受理日期", field="received_on")
    if received_on > today:
        raise Invalid("受理日期不能晚于今天", field="received_on")
    duplicate = select(Complaint.id).where(Complaint.channel == channel, Complaint.transfer_no == transfer_no,
                                           Complaint.in_force())
    if session.scalars(duplicate).first() is not None:
        raise Duplicate(f"{channel.label}单号 {transfer_no} 已登记", field="transfer_no")
    complaint = _new(session, actor, merchant=merchant, instrument=None, channel=channel, values=values,
                     received_on=received_on, deadline_days=deadline_days, transfer_no=transfer_no)
    session.add(complaint)
    session.flush()
    audit.record(session, actor, "receive", complaint,
                 audit.snapshot(complaint, ["channel", "transfer_no", "received_on", "category", "deadline"]),
                 entity_label=f"{complaint}（{merchant.name}）")
    return complaint


def get_complaint(session: Session, scope: Scope, complaint_id: int) -> Complaint:
    """A complaint inside the scope, else NotFound."""
    found = session.get(Complaint, complaint_id)
    if found is None or not scope.allows(found.station_id):
        raise NotFound("投诉举报不存在或不在您的管辖范围内")
    return found


def _changeable(complaint: Complaint, expected_version: int | None) -> None:
    if complaint.is_voided:
        raise Invalid("该投诉举报已作废，不能再办理")
    if expected_version is not None and complaint.version != expected_version:
        raise StaleEdit("该投诉举报")


def assignees(station_id: int) -> list:
    """Active users assigned to the station: who may be given a complaint of it."""
    return (select(User).join(user_stations, user_stations.c.user_id == User.id)
            .where(user_stations.c.station_id == station_id, User.is_active.is_(True)).order_by(User.display_name))


def assign(session: Session, actor, complaint: Complaint, assignee_id: int | None, *, expected_version: int) -> list:
    """Give the complaint to a user of its station (logged); it is then being handled."""
    _changeable(complaint, expected_version)
    if complaint.state == State.CLOSED:
        raise Invalid("该投诉举报已办结")
    user = session.scalars(assignees(complaint.station_id).where(User.id == assignee_id)).first() \
        if assignee_id else None
    if user is None:
        raise Invalid("请选择本所的承办人", field="assignee_id")
    before = complaint.assignee
    changes = audit.apply_changes(complaint, {"assignee_id": user.id, "state": State.IN_PROGRESS})
    if changes:
        # The log names the people, not their ids.
        changes = [audit.change_row("assignee", "承办人", before, user) if c["field"] == "assignee_id" else c
                   for c in changes]
        session.flush()
        audit.record(session, actor, "assign", complaint, changes)
    return changes


def link_inspection(session: Session, actor, complaint: Complaint, inspection_id: int | None, *,
                    expected_version: int) -> None:
    """Name the inspection of the merchant that checked the complaint (logged)."""
    _changeable(complaint, expected_version)
    inspection = session.get(Inspection, inspection_id) if inspection_id else None
    if inspection is None or inspection.merchant_id != complaint.merchant_id:
        raise Invalid("请选择对该使用单位的一次检查", field="inspection_id")
    old = complaint.inspection
    complaint.inspection_id = inspection.id
    if complaint.state == State.NEW:
        complaint.state = State.IN_PROGRESS
    session.flush()
    audit.record(session, actor, "link_inspection", complaint, [audit.change_row(
        "inspection_id", "核查检查", f"{old.inspected_on} 检查" if old else None, f"{inspection.inspected_on} 检查")])


def record_outcome(session: Session, actor, complaint: Complaint, outcome: str, note: str, *,
                   corrects_id: int | None = None) -> ComplaintOutcome:
    """Record the check's outcome once; a later entry must name the one it corrects (both stay visible)."""
    if complaint.is_voided:
        raise Invalid("该投诉举报已作废，不能再办理")
    try:
        kind = Outcome(outcome)
    except ValueError:
        raise Invalid("请选择核查结论", field="outcome") from None
    note = _text({"note": note}, "note", "核查情况", NOTE_MAX)
    current = complaint.current_outcome
    if current is not None and corrects_id != current.id:
        raise Invalid("已记录核查结论：如需改变，请用“更正”新增一条，原结论保留可查", field="outcome")
    if current is None and corrects_id is not None:
        raise Invalid("要更正的核查结论不存在或已作废", field="outcome")
    if corrects_id is not None and not _text({"note": note}, "note", "更正原因", NOTE_MAX):
        raise Invalid("更正核查结论请在“核查情况”中写明更正原因", field="note")
    entry = ComplaintOutcome(complaint_id=complaint.id, station_id=complaint.station_id, outcome=kind, note=note,
                             corrects_id=corrects_id, created_by_id=getattr(actor, "id", None), recorded_at=utcnow())
    session.add(entry)
    complaint.outcomes.append(entry)
    if complaint.state == State.NEW:
        complaint.state = State.IN_PROGRESS
    session.flush()
    changes = [audit.change_row("outcome", "核查结论", current.outcome if current else None, kind)]
    if note:
        changes.append(audit.change_row("note", "核查情况", None, note))
    audit.record(session, actor, "correct_outcome" if corrects_id else "outcome", complaint, changes)
    return entry


def get_outcome(session: Session, scope: Scope, outcome_id: int) -> ComplaintOutcome:
    """An outcome whose complaint is inside the scope, else NotFound."""
    found = session.get(ComplaintOutcome, outcome_id)
    if found is None or not scope.allows(found.station_id):
        raise NotFound("核查结论不存在")
    return found


def void_outcome(session: Session, actor, entry: ComplaintOutcome, reason: str) -> None:
    """Void an outcome recorded by mistake, with a reason (it stays visible, struck through)."""
    void_record(session, actor, entry, reason, what="核查结论", entity_label=f"{entry.complaint} {entry}")


def close(session: Session, actor, complaint: Complaint, *, reply: str, reward_eligible: bool, on: dt.date,
          expected_version: int) -> None:
    """Close the complaint with the reply the complainant reads (logged); needs an outcome in force."""
    _changeable(complaint, expected_version)
    if complaint.state == State.CLOSED:
        raise Invalid("该投诉举报已办结")
    if complaint.current_outcome is None:
        raise Invalid("请先记录核查结论再办结", field="reply")
    reply = _text({"reply": reply}, "reply", "答复内容", REPLY_MAX, required=True)
    changes = audit.apply_changes(complaint, {"reply": reply, "reward_eligible": bool(reward_eligible),
                                              "state": State.CLOSED, "closed_on": on})
    session.flush()
    audit.record(session, actor, "close", complaint, changes)


def void_complaint(session: Session, actor, complaint: Complaint, reason: str) -> None:
    """Void a complaint entered by mistake (a duplicate, another bureau's): it leaves the counts, never alerts."""
    void_record(session, actor, complaint, reason, what="投诉举报", entity_label=str(complaint))


def may_handle(user, complaint: Complaint) -> bool:
    """Whether the user may change this complaint: the ledger of its station."""
    return bool(user.may_edit_station(complaint.station_id))


def refuse_unless_handler(user, complaint: Complaint) -> None:
    """Forbidden (403) for a user who may only read the complaint."""
    if not may_handle(user, complaint):
        raise Forbidden("您可以查看但不能办理该投诉举报")


def photo_path(storage_dir: str, complaint: Complaint) -> Path:
    """Where the complaint's photo is kept, while it is the one received; else NotFound."""
    if not complaint.photo_name:
        raise NotFound("该投诉举报没有照片")
    return uploads.kept_file(storage_dir, complaint.photo_name, complaint.photo_size or 0,
                             complaint.photo_sha256 or "", "照片")


def public_view(session: Session, reference: str) -> dict | None:
    """What the public sees of a complaint by its reference: the reference, the state and the reply; None when
    there is no such reference."""
    found = session.scalars(queries.by_reference(normalise_reference(reference))).first() if reference else None
    if found is None:
        return None
    if found.is_voided:
        return {"reference": found.reference, "state": "已作废（不予处理）", "reply": "", "closed": False}
    closed = found.state == State.CLOSED
    return {"reference": found.reference, "state": found.state.label, "reply": found.reply if closed else "",
            "closed": closed}
