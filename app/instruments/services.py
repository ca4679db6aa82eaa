"""Registering instruments, recording verifications and keeping due dates (flush, never commit)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.catalog.models import InstrumentType
from app.clock import today
from app.errors import Duplicate, Invalid, NotFound, StaleEdit
from app.instruments.engine import DueDates, VerificationFacts, compute_due_dates
from app.instruments import ecqs, queries
from app.instruments.models import HELD_COPY_MARK, Instrument, InstrumentStatus, Verification, VerificationResult
from app.merchants.models import Merchant
from app.scope import Scope
from app.text import as_typed, identifier, match_key
from app.voiding.services import void_record

FIELDS = ["type_id", "merchant_id", "serial_no", "model", "maker", "measuring_range", "accuracy_class",
          "location", "install_address", "region", "purpose", "origin", "submission", "nozzle_count", "status",
          "notes"]
DATE_FIELDS = ["first_verified_on", "last_verified_on", "last_result", "next_due_on", "replace_by"]
BATCH = 1000


def get_instrument(session: Session, scope: Scope, instrument_id: int) -> Instrument:
    """An instrument inside the scope, else NotFound."""
    instrument = session.get(Instrument, instrument_id)
    if instrument is None or not scope.allows(instrument.station_id):
        raise NotFound("计量器具不存在")
    return instrument


def get_verification(session: Session, scope: Scope, verification_id: int) -> Verification:
    """A verification record whose instrument is inside the scope, else NotFound."""
    ver = session.get(Verification, verification_id)
    if ver is None or not scope.allows(ver.instrument.station_id):
        raise NotFound("检定记录不存在")
    return ver


def normalise_values(values: dict) -> dict:
    """Clean text fields; status as enum; maker_key derived."""
    out = dict(values)
    for key in ("model", "maker", "measuring_range", "accuracy_class", "location", "install_address", "region",
                "purpose", "origin", "submission", "notes"):
        if key in out:
            out[key] = as_typed(out[key])
    if "serial_no" in out:
        out["serial_no"] = identifier(out["serial_no"])
    if "status" in out and out["status"] is not None and not isinstance(out["status"], InstrumentStatus):
        out["status"] = InstrumentStatus(out["status"])
    return out


def find_same_instrument(session: Session, type_id: int, serial_no: str, maker: str,
                         exclude_id: int | None = None) -> Instrument | None:
    """The registered instrument with this kind and serial (and maker, when both know it), compared case-,
    width- and space-insensitively: FM2026120001 and ｆｍ 2026120001 are one serial."""
    stmt = select(Instrument).where(Instrument.type_id == type_id, Instrument.serial_key == match_key(serial_no))
    key = match_key(maker)
    if key:
        stmt = stmt.where(Instrument.maker_key.in_([key, ""]))
    if exclude_id is not None:
        stmt = stmt.where(Instrument.id != exclude_id)
    return session.scalars(stmt.order_by(Instrument.id).limit(1)).first()


def _validate(session: Session, scope: Scope, values: dict, instrument: Instrument | None,
              allow_retired: bool = False) -> tuple[InstrumentType, Merchant]:
    itype = session.get(InstrumentType, values.get("type_id") or 0)
    if itype is None:
        raise Invalid("请选择器具种类", field="type_id")
    # A retired kind takes no new instruments; one already of that kind keeps it through edits and replacement.
    if not itype.is_active and not allow_retired and (instrument is None or instrument.type_id != itype.id):
        raise Invalid(f"器具种类“{itype.name_zh}”已停用，不能登记该种类的新器具", field="type_id")
    merchant = session.get(Merchant, values.get("merchant_id") or 0)
    if merchant is None or not scope.allows(merchant.station_id):
        raise Invalid("请选择您负责的监管所内的使用单位", field="merchant_id")
    if not values.get("serial_no"):
        raise Invalid("请填写出厂编号", field="serial_no")
    nozzles = values.get("nozzle_count")
    if nozzles is not None and nozzles < 1:  # the database refuses it too (ck_instruments_nozzle_count_positive)
        raise Invalid("枪数应为正整数（不清楚可不填）", field="nozzle_count")
    _check_ecqs(values, instrument, merchant)
    same = None
    if instrument is None or _identity_changes(instrument, itype.id, values):
        same = find_same_instrument(session, itype.id, values["serial_no"], values.get("maker", ""),
                                    exclude_id=instrument.id if instrument else None)
    if same is not None:
        where = same.station.name if same.station else ""
        raise Duplicate(
            f"该器具已登记：{same.type.name_zh} 出厂编号 {same.serial_no}"
            f"{'（' + same.maker + '）' if same.maker else ''}，使用单位“{same.merchant.name}”（{where}），"
            "不能重复登记（出厂编号不区分大小写、全角半角和空格）",
            field="serial_no", link=f"/instruments/{same.id}", link_text="查看已登记的器具",
        )
    return itype, merchant


def _check_ecqs(values: dict, instrument: Instrument | None, merchant: Merchant) -> None:
    """用途 and 送检方式 one of e-CQS's values, the region a 6-digit code inside the station's division; a value
    the instrument already has (a legacy or imported text, kept as typed) may stay as it is."""
    def changed(name: str) -> bool:
        value = values.get(name) or ""
        return bool(value) and (instrument is None or value != getattr(instrument, name))

    if changed("purpose") and values["purpose"] not in ecqs.PURPOSES:
        raise Invalid(f"器具用途应为{'、'.join(ecqs.PURPOSES)}之一", field="purpose")
    if changed("submission") and values["submission"] not in ecqs.SUBMISSIONS:
        raise Invalid(f"送检方式应为{'、'.join(ecqs.SUBMISSIONS)}之一", field="submission")
    if changed("region") or (instrument is not None and values.get("region") and merchant.id != instrument.merchant_id):
        problem = ecqs.region_problem(values["region"], merchant.station.division_code if merchant.station else "")
        if problem:
            raise Invalid(problem, field="region")


def _identity_changes(instrument: Instrument, type_id: int, values: dict) -> bool:
    """Whether an edit touches the identity (kind, serial, maker): an edit that does not is never refused
    as a duplicate, so a copy held by migration 0014 can still be edited until a person resolves it."""
    return (type_id != instrument.type_id or values.get("serial_no") != instrument.serial_no
            or match_key(values.get("maker", instrument.maker)) != instrument.maker_key)


def create_instrument(session: Session, actor, scope: Scope, values: dict, allow_retired: bool = False) -> Instrument:
    """Register an instrument after checking that it is not registered already (nor of a retired kind, unless
    it replaces one of that kind)."""
    values = normalise_values(values)
    _, merchant = _validate(session, scope, values, None, allow_retired)
    instrument = Instrument(**{k: values[k] for k in FIELDS if k in values})
    instrument.maker_key = match_key(instrument.maker)
    instrument.station_id = merchant.station_id
    instrument.status = instrument.status or InstrumentStatus.IN_USE
    session.add(instrument)
    session.flush()
    audit.record(session, actor, "create", instrument, audit.snapshot(instrument, [
        "type", "merchant", "serial_no", "model", "maker", "measuring_range", "accuracy_class", "location",
        "install_address", "region", "purpose", "origin", "submission", "nozzle_count", "status", "notes"]))
    return instrument


def update_instrument(session: Session, actor, scope: Scope, instrument: Instrument, *, expected_version: int,
                      values: dict) -> list[dict]:
    """Save an edit unless someone else saved first; dates follow a change of kind."""
    if instrument.version != expected_version:
        raise StaleEdit("该计量器具")
    values = normalise_values(values)
    _, merchant = _validate(session, scope, values, instrument)
    old = {"type_id": instrument.type, "merchant_id": instrument.merchant}
    changes = audit.apply_changes(instrument, {k: values[k] for k in FIELDS if k in values})
    if not changes:
        return []
    instrument.maker_key = match_key(instrument.maker)
    instrument.station_id = merchant.station_id
    session.flush()
    session.refresh(instrument, ["type", "merchant"])
    for row in changes:
        if row["field"] in old:
            row["old"] = audit.display(old[row["field"]])
            row["new"] = audit.display(getattr(instrument, row["field"][:-3]))
    if any(c["field"] == "type_id" for c in changes):
        changes += refresh_due_dates(session, instrument)
    audit.record(session, actor, "update", instrument, changes)
    return changes


def facts_of(verifications) -> list[VerificationFacts]:
    """Engine inputs from verification records."""
    return [VerificationFacts(v.verified_on, v.result.value if hasattr(v.result, "value") else v.result,
                              v.valid_until, v.voided_at is not None, v.id or 0) for v in verifications]


def due_dates_for(itype: InstrumentType, verifications) -> DueDates:
    """Run the engine for one kind and a list of verification records."""
    return compute_due_dates(itype.rule.value, itype.cycle_months, itype.service_life_years,
                             facts_of(verifications))


def date_values(dates: DueDates) -> dict:
    """The engine's result as instrument column values."""
    values = {f: getattr(dates, f) for f in DATE_FIELDS}
    if values["last_result"] is not None:
        values["last_result"] = VerificationResult(values["last_result"])
    return values


def refresh_due_dates(session: Session, instrument: Instrument) -> list[dict]:
    """Re-derive the instrument's dates from its records; returns the changed fields."""
    records = session.scalars(select(Verification).where(Verification.instrument_id == instrument.id)).all()
    values = date_values(due_dates_for(instrument.type, records))
    labels = {"first_verified_on": "首次检定日期", "last_verified_on": "最近检定日期", "last_result": "最近检定结论"}
    changes = audit.apply_changes(instrument, values)
    for row in changes:
        row["label"] = labels.get(row["field"], row["label"])
    session.flush()
    return changes


def _validate_verification(values: dict) -> None:
    verified_on = values.get("verified_on")
    if not isinstance(verified_on, dt.date):
        raise Invalid("请填写检定日期", field="verified_on")
    if verified_on > today():
        raise Invalid("检定日期不能晚于今天", field="verified_on")
    valid_until = values.get("valid_until")
    if valid_until is not None and valid_until <= verified_on:
        raise Invalid("有效期至必须晚于检定日期", field="valid_until")
    if values.get("result") not in (VerificationResult.PASS, VerificationResult.FAIL, "pass", "fail"):
        raise Invalid("请选择检定结论", field="result")


def record_verification(session: Session, actor, instrument: Instrument, values: dict) -> Verification:
    """Add a verification record and move the instrument's dates accordingly."""
    _validate_verification(values)
    from app.bodies.services import body_for

    body = body_for(session, values.get("body_id"), values.get("institution"))
    # A chosen body is recorded under its name; typed text that names a body stays as typed.
    institution = body.name if body is not None and values.get("body_id") else as_typed(values.get("institution"))
    if len(institution) > 120:
        raise Invalid("检定机构不能超过120个字", field="institution")
    ver = Verification(
        instrument_id=instrument.id,
        verified_on=values["verified_on"],
        institution=institution,
        body_id=body.id if body is not None else None,
        certificate_no=identifier(values.get("certificate_no")),
        result=VerificationResult(values["result"]),
        valid_until=values.get("valid_until"),
        notes=as_typed(values.get("notes")),
        created_by_id=getattr(actor, "id", None),
    )
    session.add(ver)
    session.flush()
    changes = audit.snapshot(ver, ["verified_on", "institution", "certificate_no", "result", "valid_until", "notes"])
    changes += refresh_due_dates(session, instrument)
    audit.record(session, actor, "create", ver, changes, entity_label=f"{instrument} 检定记录 {ver.verified_on}")
    return ver


def void_verification(session: Session, actor, ver: Verification, reason: str) -> list[dict]:
    """Void a wrong record with a reason; it stays visible and the dates are recomputed."""
    return void_record(session, actor, ver, reason, what="检定记录",
                       entity_label=f"{ver.instrument} 检定记录 {ver.verified_on}",
                       consequences=lambda: refresh_due_dates(session, ver.instrument))


def replace_instrument(session: Session, actor, scope: Scope, old: Instrument, new_values: dict,
                       first_verification: dict | None) -> Instrument:
    """Retire a meter as replaced and register the one that takes its place, linked to it."""
    if old.status == InstrumentStatus.REPLACED:
        raise Invalid("该器具已更换，不能再次更换")
    values = {"type_id": old.type_id, "merchant_id": old.merchant_id, "location": old.location,
              "install_address": old.install_address, "region": old.region, "purpose": old.purpose,
              "measuring_range": old.measuring_range, "accuracy_class": old.accuracy_class, **new_values}
    new = create_instrument(session, actor, scope, values, allow_retired=values["type_id"] == old.type_id)
    if first_verification:
        record_verification(session, actor, new, first_verification)
    changes = audit.apply_changes(old, {"status": InstrumentStatus.REPLACED, "replaced_by_id": new.id})
    changes[-1]["new"] = str(new)
    session.flush()
    audit.record(session, actor, "replace", old, changes, note=f"由 {new} 替换")
    return new


def recompute_kind(session: Session, itype: InstrumentType) -> int:
    """Re-derive the dates of every instrument of a kind after its rule changed; returns how many moved."""
    changed = 0
    last_id = 0
    while True:
        batch = session.scalars(select(Instrument).where(Instrument.type_id == itype.id, Instrument.id > last_id)
                                .order_by(Instrument.id).limit(BATCH)).all()
        if not batch:
            return changed
        ids = [i.id for i in batch]
        records: dict[int, list[Verification]] = {i: [] for i in ids}
        for ver in session.scalars(select(Verification).where(Verification.instrument_id.in_(ids))):
            records[ver.instrument_id].append(ver)
        for instrument in batch:
            if audit.apply_changes(instrument, date_values(due_dates_for(itype, records[instrument.id]))):
                changed += 1
        session.flush()
        last_id = ids[-1]


def duplicate_groups(session: Session) -> list[list[Instrument]]:
    """Instruments that are one instrument by identity (kind, folded serial, maker when known), in groups of two
    or more for a person to resolve: copies held by migration 0014 with the record they repeat, and instruments
    without a maker beside one of the same kind and serial with a maker. Nothing is changed."""
    keys: set[tuple[int, str]] = set()
    for copy in session.scalars(queries.held_copies()):
        keys.add((copy.type_id, copy.serial_key.split(HELD_COPY_MARK, 1)[0]))
    keys.update((type_id, key) for type_id, key in session.execute(queries.unknown_maker_collisions()))
    groups = []
    for type_id, key in sorted(keys):
        group = list(session.scalars(queries.same_identity(type_id, key)))
        if len(group) > 1:
            groups.append(group)
    return groups
