"""Field work on a phone (no Flask): the offline packet, and recording an inspection drafted on a phone,
sent once or many times (flush, never commit).

A draft is recorded whole or not at all, in the caller's one transaction, through the services of
app/inspections (record_inspection, add_finding, store_evidence, add_signature), so a phone's inspection
obeys every rule of one recorded at a desk.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.catalog.queries import finding_codes
from app.clock import local
from app.errors import DomainError, Invalid, NotFound
from app.field import queries
from app.images import ImageLimits
from app.inspections import services as inspections
from app.inspections.models import CheckOutcome, Inspection, InspectionInstrument, Measure, SignerRole, VisitOutcome
from app.inspections.queries import inspector_roster
from app.instruments.models import Instrument, InstrumentStatus
from app.merchants.services import get_merchant
from app.scope import Scope
from app.accounts.queries import stations as station_list

# The offline packet's bounds (stated in the API's answer as `limits`).
PACKET_MERCHANTS = 300
PACKET_INSTRUMENTS = 3000
PER_MERCHANT = 200
# Campaigns offered on the phone: those running within the last CAMPAIGN_LOOKBACK_DAYS, at most PACKET_CAMPAIGNS.
PACKET_CAMPAIGNS = 50
CAMPAIGN_LOOKBACK_DAYS = 30

# A draft's bounds: a visit to one merchant.
MAX_CHECKS = 200
MAX_FINDINGS = 100
MAX_PHOTOS = 40
MAX_SIGNATURES = 10
MAX_NOTES = 5000


# --- the offline packet ---------------------------------------------------------------------------

def due_state(row, today: dt.date, days: int) -> tuple[str, str]:
    """(state, label) of an instrument row for the phone: not in use, overdue, past its service life, due soon,
    never verified, or valid."""
    if row.status != InstrumentStatus.IN_USE:
        return "not_in_use", InstrumentStatus(row.status).label
    if row.next_due_on is not None and row.next_due_on < today:
        return "overdue", "已超期"
    if row.replace_by is not None and row.replace_by < today:
        return "past_service_life", "超过使用年限"
    if row.next_due_on is not None and row.next_due_on <= today + dt.timedelta(days=days):
        return "due_soon", "即将到期"
    if row.last_verified_on is None:
        return "never_verified", "从未检定"
    return "valid", "在有效期内"


def instrument_json(row, today: dt.date, days: int) -> dict:
    """One instrument as the phone keeps it (a row of queries.instrument_rows or an Instrument)."""
    state, label = due_state(row, today, days)
    status = InstrumentStatus(row.status)
    kind_name = row.kind_name if hasattr(row, "kind_name") else row.type.name_zh
    return {"id": row.id, "merchant_id": row.merchant_id, "kind_name": kind_name, "serial_no": row.serial_no,
            "model": row.model or "", "status": status.value, "status_label": status.label,
            "next_due_on": _iso(row.next_due_on), "replace_by": _iso(row.replace_by), "due_state": state,
            "due_label": label, "version": row.version}


def merchant_json(row) -> dict:
    """One merchant as the phone keeps it."""
    return {"id": row.id, "name": row.name, "address": row.address or "", "station_id": row.station_id,
            "version": row.version}


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def packet(session: Session, user: User, scope: Scope, today: dt.date, days: int, now: dt.datetime) -> dict:
    """What a phone keeps for a day's offline work, bounded.

    Merchants (at most PACKET_MERCHANTS): those with instruments on today's worklists in the user's stations
    (overdue, or due within `days`; most urgent first), then those planned in a campaign running today and not
    inspected in it yet. Instruments: theirs that are not retired, at most PER_MERCHANT a merchant (the most
    urgent first) and PACKET_INSTRUMENTS in all; a merchant whose instruments would pass that is left out
    whole. `worklist`: the due instruments among them, most urgent first.
    """
    due = session.execute(queries.due_instruments(scope, today, days, PACKET_INSTRUMENTS)).all()
    order: dict[int, None] = {}
    for row in due:
        order.setdefault(row.merchant_id)
    for merchant_id in session.scalars(queries.open_target_merchants(scope, today, PACKET_MERCHANTS)):
        order.setdefault(merchant_id)
    candidates = list(order)[:PACKET_MERCHANTS]
    # Which merchants fit is decided on counts first, so only their instruments are read.
    counts = dict(session.execute(queries.instrument_counts(candidates)).all()) if candidates else {}
    kept, total = [], 0
    for merchant_id in candidates:
        n = min(counts.get(merchant_id, 0), PER_MERCHANT)
        if total + n > PACKET_INSTRUMENTS:
            break
        kept.append(merchant_id)
        total += n
    by_merchant: dict[int, list] = {}
    if kept:
        for row in session.execute(queries.instrument_rows(kept, PER_MERCHANT)):
            by_merchant.setdefault(row.merchant_id, []).append(row)
    instruments = [instrument_json(r, today, days) for m in kept for r in by_merchant.get(m, [])]
    merchants = {r.id: merchant_json(r) for r in session.execute(queries.merchant_rows(kept))} if kept else {}
    in_packet = {i["id"] for i in instruments}
    campaigns = [c for c in session.scalars(queries.recent_campaigns(
        today, today - dt.timedelta(days=CAMPAIGN_LOOKBACK_DAYS), PACKET_CAMPAIGNS))
        if any(scope.allows(s) for s in c.station_ids)]
    planned: dict[int, int] = {}
    for merchant_id, campaign_id in session.execute(queries.open_targets(scope, today, kept)) if kept else ():
        planned.setdefault(merchant_id, campaign_id)  # the campaign that started first
    return {
        "generated_at": now.isoformat(),
        "user": {"id": user.id, "name": str(user)},
        "stations": [{"id": s.id, "name": s.name} for s in session.scalars(station_list(scope))],
        "merchants": [merchants[m] for m in kept],
        "instruments": instruments,
        "worklist": [row.id for row in due if row.id in in_packet],
        "finding_codes": [{"id": c.id, "code": c.code, "name_zh": c.name_zh, "basis": c.legal_basis}
                          for c in session.scalars(finding_codes(active_only=True))],
        "measures": [{"value": m.value, "label": m.label} for m in Measure],
        "visit_outcomes": [{"value": v.value, "label": v.label} for v in VisitOutcome],
        "check_outcomes": [{"value": c.value, "label": c.label} for c in CheckOutcome],
        "signer_roles": [{"value": r.value, "label": r.label} for r in SignerRole],
        "inspectors": [{"id": u.id, "name": str(u)} for u in session.scalars(inspector_roster())],
        # The campaigns a visit may belong to (the server checks station and dates again), and the one each
        # planned merchant is chosen for.
        "campaigns": [{"id": c.id, "name": c.name, "starts_on": c.starts_on.isoformat(),
                       "ends_on": c.ends_on.isoformat(), "station_ids": c.station_ids} for c in campaigns],
        "planned": {str(m): c for m, c in planned.items()},
        "limits": {"merchants": PACKET_MERCHANTS, "instruments": PACKET_INSTRUMENTS, "per_merchant": PER_MERCHANT,
                   "due_within_days": days},
    }


def merchant_detail(session: Session, scope: Scope, merchant_id: int, today: dt.date, days: int) -> dict:
    """One merchant in the scope (NotFound outside it) with its first PER_MERCHANT instruments not retired."""
    merchant = get_merchant(session, scope, merchant_id)
    rows = session.execute(queries.instrument_rows([merchant.id], PER_MERCHANT)).all()
    return {**merchant_json(merchant), "instruments": [instrument_json(r, today, days) for r in rows]}


# --- recording a draft ----------------------------------------------------------------------------

class DraftRefused(Invalid):
    """The draft breaks the rules: nothing of it was written. `errors` lists every reason (Chinese)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("；".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Storage:
    """Where evidence goes and how large a file may be."""

    folder: str
    max_bytes: int
    photo_limits: ImageLimits = field(default_factory=ImageLimits)


@dataclass(frozen=True)
class Outcome:
    """What became of a draft: "sent" (recorded now), "already" (recorded before under its client_id) or
    "conflict" (an instrument changed since the phone saw it; nothing written, `reasons` say why)."""

    state: str
    inspection: Inspection | None = None
    reasons: list[str] = field(default_factory=list)


def record_field_inspection(session: Session, user: User, scope: Scope, draft, files: Mapping[str, bytes],
                            today: dt.date, storage: Storage, now: dt.datetime | None = None) -> Outcome:
    """Record an inspection drafted on a phone, once: a draft whose client_id is already recorded returns that
    inspection and writes nothing (two sends at once: the unique client_id decides, the loser gets the winner's).
    DraftRefused / NotFound when it breaks a rule (nothing written); a conflict when an instrument changed."""
    parsed = parse_draft(draft, files)
    existing = session.scalars(queries.inspection_by_client_id(parsed["client_id"])).first()
    if existing is not None:
        return _already(existing, scope)
    merchant = get_merchant(session, scope, parsed["merchant_id"])
    reasons = conflicts(session, merchant.id, parsed["checks"])
    if reasons:
        return Outcome("conflict", reasons=reasons)
    values = {k: parsed[k] for k in ("inspected_on", "visit_outcome", "campaign_id", "inspector_ids", "notes",
                                     "client_id", "location")}
    values["checks"] = [(c["instrument_id"], c["outcome"]) for c in parsed["checks"]]
    try:
        # Its own savepoint: a second send of the same draft racing this one fails here, on the unique client_id.
        with session.begin_nested():
            inspection = inspections.record_inspection(session, user, scope, merchant, values, today)
    except IntegrityError:
        winner = session.scalars(queries.inspection_by_client_id(parsed["client_id"])).first()
        if winner is None:
            raise
        return _already(winner, scope)
    except DomainError as err:  # a rule of record_inspection (inspectors, dates, campaign ...)
        raise DraftRefused([err.message]) from None
    _record_contents(session, user, inspection, parsed, files, storage, now)
    return Outcome("sent", inspection)


def _already(inspection: Inspection, scope: Scope) -> Outcome:
    if not scope.allows(inspection.station_id):
        raise NotFound("检查记录不存在")
    return Outcome("already", inspection)


def _record_contents(session: Session, user: User, inspection: Inspection, parsed: dict, files: Mapping[str, bytes],
                     storage: Storage, now: dt.datetime | None) -> None:
    check_of = dict(session.execute(select(InspectionInstrument.instrument_id, InspectionInstrument.id)
                                    .where(InspectionInstrument.inspection_id == inspection.id)).all())
    finding_ids: dict[str, int] = {}
    for n, f in enumerate(parsed["findings"], 1):
        try:
            finding = inspections.add_finding(session, user, inspection, {
                "code_id": f["code_id"], "check_id": check_of.get(f["instrument_id"]), "description": f["description"],
                "measure": f["measure"], "case_no": f["case_no"], "deadline": f["deadline"]})
        except DomainError as err:
            raise DraftRefused([f"问题 {n}：{err.message}"]) from None
        finding_ids[f["key"]] = finding.id
    for p in parsed["photos"]:
        try:
            inspections.store_evidence(session, user, inspection, file_name=p["name"], data=files[p["field"]],
                                       storage_dir=storage.folder, max_bytes=storage.max_bytes,
                                       finding_id=finding_ids.get(p["finding_key"]), taken_at=p["taken_at"],
                                       photo_limits=storage.photo_limits)
        except Invalid as err:
            raise DraftRefused([err.message]) from None
    for n, s in enumerate(parsed["signatures"], 1):
        try:
            inspections.add_signature(session, user, inspection, role=s["role"], user_id=s["user_id"],
                                      name=s["name"], signed_at=s["signed_at"], data=files[s["field"]],
                                      storage_dir=storage.folder, now=now)
        except Invalid as err:
            raise DraftRefused([f"签名 {n}：{err.message}"]) from None


def conflicts(session: Session, merchant_id: int, checks: list[dict]) -> list[str]:
    """Why the checks no longer fit the instruments (Chinese): one was edited since the phone saw it
    (version ≠ seen_version), scrapped or replaced, moved to another merchant, or removed."""
    ids = [c["instrument_id"] for c in checks]
    found = {i.id: i for i in session.scalars(select(Instrument).where(Instrument.id.in_(ids)))} if ids else {}
    reasons = []
    for check in checks:
        instrument = found.get(check["instrument_id"])
        if instrument is None:
            reasons.append(f"编号为 {check['instrument_id']} 的计量器具已不存在")
            continue
        label = f"{instrument.type.name_zh} {instrument.serial_no}"
        if instrument.merchant_id != merchant_id:
            reasons.append(f"计量器具“{label}”已转到其他使用单位")
        elif instrument.status in (InstrumentStatus.SCRAPPED, InstrumentStatus.REPLACED):
            reasons.append(f"计量器具“{label}”已{instrument.status.label}，不能再记为本次检查的器具")
        elif instrument.version != check["seen_version"]:
            when = local(instrument.updated_at)
            reasons.append(f"计量器具“{label}”在检查后被修改（{when:%Y-%m-%d %H:%M} 保存），请核对后再发送")
    return reasons


# --- reading a draft ------------------------------------------------------------------------------

def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2 ** 31 else None


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(value, limit: int) -> str | None:
    if value is None:
        return ""
    return value if isinstance(value, str) and len(value) <= limit else None


def _date(value) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


def _moment(value) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) and len(value) <= 40 else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def _choice(value, enum_cls):
    try:
        return enum_cls(value)
    except ValueError:
        return None


def parse_draft(draft, files: Mapping[str, bytes]) -> dict:
    """The draft's values checked for shape and type (not yet for the domain's rules); DraftRefused listing
    every problem in Chinese."""
    errors: list[str] = []
    if not isinstance(draft, dict):
        raise DraftRefused(["检查草稿格式无效"])
    out: dict = {}
    try:
        out["client_id"] = str(uuid.UUID(str(draft.get("client_id"))))
    except ValueError:
        errors.append("草稿缺少有效的编号（client_id）")
    out["merchant_id"] = _int(draft.get("merchant_id"))
    if out["merchant_id"] is None:
        errors.append("请选择使用单位")
    out["inspected_on"] = _date(draft.get("inspected_on"))
    if out["inspected_on"] is None:
        errors.append("检查日期无效")
    out["visit_outcome"] = _choice(draft.get("visit_outcome") or VisitOutcome.CONDUCTED.value, VisitOutcome)
    if out["visit_outcome"] is None:
        errors.append("检查情况无效")
    out["notes"] = _text(draft.get("notes"), MAX_NOTES)
    if out["notes"] is None:
        errors.append(f"检查情况记录不能超过 {MAX_NOTES} 字")
    ids = draft.get("inspector_ids")
    out["inspector_ids"] = [_int(i) for i in ids] if isinstance(ids, list) else [None]
    if None in out["inspector_ids"]:
        errors.append("检查人员无效")
    campaign = draft.get("campaign_id")
    out["campaign_id"] = None if campaign is None else _int(campaign)
    if campaign is not None and out["campaign_id"] is None:
        errors.append("专项检查行动无效")
    out["location"] = _location(draft.get("location"), errors)
    out["checks"] = _checks(draft.get("checks"), errors)
    out["findings"] = _findings(draft.get("findings"), {c["instrument_id"]: c["outcome"] for c in out["checks"]},
                                errors)
    keys = {f["key"] for f in out["findings"]}
    out["photos"] = _photos(draft.get("photos"), files, keys, errors)
    out["signatures"] = _signatures(draft.get("signatures"), files, errors)
    if errors:
        raise DraftRefused(errors)
    return out


def _location(value, errors: list[str]) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        errors.append("定位信息无效")
        return None
    lat, lon = _number(value.get("latitude")), _number(value.get("longitude"))
    accuracy = value.get("accuracy")
    accuracy = None if accuracy is None else _number(accuracy)
    if lat is None or lon is None or not -90 <= lat <= 90 or not -180 <= lon <= 180 or (
            value.get("accuracy") is not None and (accuracy is None or accuracy < 0)):
        errors.append("定位信息无效（纬度、经度或精度不在有效范围内）")
        return None
    return {"latitude": lat, "longitude": lon, "accuracy": accuracy}


def _items(value, name: str, limit: int, errors: list[str]) -> list:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        errors.append(f"{name}的格式无效")
        return []
    if len(value) > limit:
        errors.append(f"一次检查最多记录 {limit} 项{name}")
        return []
    return value


def _checks(value, errors: list[str]) -> list[dict]:
    out, seen = [], set()
    for n, item in enumerate(_items(value, "检查的器具", MAX_CHECKS, errors), 1):
        check = {"instrument_id": _int(item.get("instrument_id")),
                 "outcome": _choice(item.get("outcome"), CheckOutcome), "seen_version": _int(item.get("seen_version"))}
        if None in check.values():
            errors.append(f"检查的器具第 {n} 项无效（器具、检查结论或版本缺失）")
        elif check["instrument_id"] in seen:
            errors.append(f"检查的器具第 {n} 项重复")
        else:
            seen.add(check["instrument_id"])
            out.append(check)
    return out


def _findings(value, checked: dict[int, CheckOutcome], errors: list[str]) -> list[dict]:
    out, keys = [], set()
    for n, item in enumerate(_items(value, "问题", MAX_FINDINGS, errors), 1):
        instrument = item.get("instrument_id")
        deadline = item.get("deadline")
        finding = {"key": item.get("key"), "instrument_id": None if instrument is None else _int(instrument),
                   "code_id": _int(item.get("code_id")), "description": _text(item.get("description"), MAX_NOTES),
                   "measure": _choice(item.get("measure"), Measure),
                   "deadline": None if deadline is None else _date(deadline), "case_no": _text(item.get("case_no"), 60)}
        problems = []
        if not isinstance(finding["key"], str) or not finding["key"] or finding["key"] in keys:
            problems.append("缺少编号或编号重复")
        if finding["code_id"] is None:
            problems.append("请选择问题类型")
        if finding["measure"] is None:
            problems.append("请选择处理措施")
        if finding["description"] is None:
            problems.append(f"问题描述不能超过 {MAX_NOTES} 字")
        if finding["case_no"] is None:
            problems.append("案件编号无效")
        if deadline is not None and finding["deadline"] is None:
            problems.append("整改期限无效")
        if instrument is not None and finding["instrument_id"] not in checked:
            problems.append("涉及的器具不在本次检查的器具中")
        elif instrument is not None and checked[finding["instrument_id"]] == CheckOutcome.OK:
            problems.append("涉及的器具在本次检查中记为“未发现问题”，请先改为“发现问题”")
        if problems:
            errors.append(f"问题 {n}：" + "，".join(problems))
        else:
            keys.add(finding["key"])
            out.append(finding)
    return out


def _photos(value, files: Mapping[str, bytes], keys: set[str], errors: list[str]) -> list[dict]:
    out = []
    for n, item in enumerate(_items(value, "照片", MAX_PHOTOS, errors), 1):
        taken = item.get("taken_at")
        photo = {"field": item.get("field"), "finding_key": item.get("finding_key"), "name": item.get("name"),
                 "taken_at": None if taken is None else _moment(taken)}
        if not isinstance(photo["field"], str) or photo["field"] not in files:
            errors.append(f"照片 {n} 的文件没有随草稿一起发送")
        elif photo["finding_key"] is not None and photo["finding_key"] not in keys:
            errors.append(f"照片 {n} 所属的问题不在本次检查中")
        elif taken is not None and photo["taken_at"] is None:
            errors.append(f"照片 {n} 的拍摄时间无效")
        else:
            photo["name"] = photo["name"] if isinstance(photo["name"], str) else f"照片{n}.jpg"
            out.append(photo)
    return out


def _signatures(value, files: Mapping[str, bytes], errors: list[str]) -> list[dict]:
    out = []
    for n, item in enumerate(_items(value, "签名", MAX_SIGNATURES, errors), 1):
        user_id = item.get("user_id")
        signature = {"field": item.get("field"), "role": item.get("role"), "name": _text(item.get("name"), 50),
                     "user_id": None if user_id is None else _int(user_id), "signed_at": _moment(item.get("signed_at"))}
        if not isinstance(signature["field"], str) or signature["field"] not in files:
            errors.append(f"签名 {n} 的图片没有随草稿一起发送")
        elif _choice(signature["role"], SignerRole) is None:
            errors.append(f"签名 {n}：签名人身份无效")
        elif signature["name"] is None or (user_id is not None and signature["user_id"] is None):
            errors.append(f"签名 {n}：签名人无效")
        elif signature["signed_at"] is None:
            errors.append(f"签名 {n}：签名时间无效")
        else:
            out.append(signature)
    return out
