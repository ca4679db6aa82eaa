"""Apply: write a Plan with bulk statements, and undo what a batch wrote.

Everything happens in the caller's transaction (the caller commits once). New instruments get
their dates from the due-date engine before they are inserted; existing instruments that gain
verification records are recomputed from all their records afterwards. Each record written is
remembered in `imported_records`, so the batch can be undone while nothing later depends on it.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict, namedtuple
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from itertools import chain

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from app.bodies.models import VerificationBody
from app.bulk import Stored, bulk_insert, insert_with_ids
from app.catalog.models import InstrumentType
from app.counts.services import counts_changed_for, verifications_changed_for
from app.imports.models import ImportedRecord
from app.instruments.engine import VerificationFacts, compute_due_dates
from app.instruments.models import (
    Instrument,
    InstrumentStatus,
    Verification,
    VerificationResult,
)
from app.integrity.models import Pledge
from app.merchants.models import Merchant
from app.results.models import ResultLead
from app.search.keys import refresh_search_text
from app.text import match_key
from app.webhooks.capture import INSTRUMENT, VERIFICATION, capture
from importers.plan import (
    CREATE,
    UPDATE,
    InstrumentPlan,
    MerchantPlan,
    TEXT_FIELDS,
    Plan,
    chunks,
    industry_for_kind,
)

DATES = "dates"  # an existing instrument whose dates this batch moved by adding records
DATE_COLUMNS = ("first_verified_on", "last_verified_on", "last_result", "next_due_on", "replace_by")
Progress = Callable[[int, int], None]


_Kind = namedtuple("_Kind", "code rule cycle_months service_life_years")


def _kinds(session: Session) -> dict[int, _Kind]:
    """The catalogue's kinds by id, as plain tuples (read once per instrument written)."""
    return {k.id: _Kind(k.code, k.rule, k.cycle_months, k.service_life_years)
            for k in session.scalars(select(InstrumentType))}


def _dates(kind: _Kind, facts: list[VerificationFacts]) -> dict:
    d = compute_due_dates(kind.rule.value, kind.cycle_months, kind.service_life_years, facts)
    return {"first_verified_on": d.first_verified_on, "last_verified_on": d.last_verified_on,
            "last_result": VerificationResult(d.last_result) if d.last_result else None,
            "next_due_on": d.next_due_on, "replace_by": d.replace_by}


def _grouped_updates(session: Session, model, plans, now: dt.datetime) -> None:
    """UPDATE ... WHERE id = ? for each changed record, grouped by the set of changed columns."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for p in plans:
        changes = {k: v for k, v in p.values.items() if not k.startswith("_")}
        groups[tuple(sorted(changes))].append({**{f"v_{k}": v for k, v in changes.items()}, "b_id": p.existing_id,
                                               "v_version": p.values["_version"] + 1, "v_updated_at": now})
    table = model.__table__
    for cols, params in groups.items():
        values = {c: bindparam(f"v_{c}") for c in (*cols, "version", "updated_at")}
        stmt = update(table).where(table.c.id == bindparam("b_id")).values(**values)
        for chunk in chunks(params, 5000):
            session.execute(stmt, chunk)


def apply_plan(session: Session, plan: Plan, *, batch_id: int, actor_id: int | None, now: dt.datetime,
               progress: Progress | None = None) -> dict:
    """Write the plan's creates and updates; returns the counts written."""
    kinds = _kinds(session)
    step = (lambda done, total: progress(done, total)) if progress else (lambda done, total: None)
    total = len(plan.merchants) + len(plan.instruments) + len(plan.verifications)
    # What the batch wrote, for undo; written last. Rows are built as they are inserted, so the
    # rows of a large file are not all in memory at once.
    records: list[Iterable[dict]] = []
    # The "before" of every created record, as the JSON the column stores: COPY would otherwise
    # serialise it again for each of 200,000 rows.
    nothing = Stored("{}")

    def record(entity_type: str, entity_id: int, action: str, version_after: int | None,
               before: dict | None = None) -> dict:
        return {"batch_id": batch_id, "entity_type": entity_type, "entity_id": entity_id, "action": action,
                "before": nothing if before is None else before, "version_after": version_after, "at": now}

    def created(entity_type: str, ids: list[int], version_after: int | None) -> Iterable[dict]:
        return (record(entity_type, i, CREATE, version_after) for i in ids)

    # Merchants: a new one takes the industry the plan guessed (from its name, else its first instrument's kind).
    first_kind: dict[int, str] = {}
    for ip in plan.instruments:
        first_kind.setdefault(id(ip.merchant), kinds[ip.type_id].code)
    new_merchants = [m for m in plan.merchants if m.action == CREATE]
    rows = ({"name": m.values["name"], "name_key": match_key(m.values["name"]),
             "credit_code": m.values.get("credit_code"),
             "industry": (m.industry or industry_for_kind(first_kind.get(id(m), ""))).value,
             "phone": m.values.get("phone", ""), "contact": m.values.get("contact", ""),
             "address": m.values.get("address", ""), "station_id": plan.station_id,
             "created_at": now, "updated_at": now} for m in new_merchants)
    ids = insert_with_ids(session, Merchant.__table__, len(new_merchants), rows)
    merchant_ids: dict[int, int] = dict(zip(map(id, new_merchants), ids, strict=True))
    records.append(created("merchants", ids, 1))
    updated_merchants = [m for m in plan.merchants if m.action == UPDATE]
    for m in updated_merchants:
        if "name" in m.values:
            m.values["name_key"] = match_key(m.values["name"])
    _grouped_updates(session, Merchant, updated_merchants, now)
    refresh_search_text(session, Merchant.__table__, [m.existing_id for m in updated_merchants])
    # `_version` in `before` is the version the record had: an undo puts it back with the values.
    records.append([record("merchants", m.existing_id, UPDATE, m.values["_version"] + 1,
                           {**_jsonable(m.before), "_version": m.values["_version"]}) for m in updated_merchants])
    step(len(plan.merchants), total)

    def merchant_id(mp: MerchantPlan) -> int:
        return mp.existing_id if mp.existing_id is not None else merchant_ids[id(mp)]

    # New instruments: their records are all in this file, so their dates are known before insert.
    facts: dict[int, list[VerificationFacts]] = defaultdict(list)
    for seq, vp in enumerate(plan.verifications):
        facts[id(vp.instrument)].append(VerificationFacts(vp.values["verified_on"], vp.values["result"],
                                                          vp.values["valid_until"], False, seq))
    new_instruments = [i for i in plan.instruments if i.action == CREATE]
    maker_key = lru_cache(maxsize=None)(match_key)

    def instrument_rows() -> Iterator[dict]:
        for ip in new_instruments:
            maker = ip.values.get("maker", "")
            yield {"type_id": ip.type_id, "merchant_id": merchant_id(ip.merchant), "station_id": plan.station_id,
                   "serial_no": ip.values["serial_no"], "serial_key": ip.key[1], "maker": maker,
                   "maker_key": maker_key(maker),
                   "model": ip.values.get("model", ""), "measuring_range": ip.values.get("measuring_range", ""),
                   "accuracy_class": ip.values.get("accuracy_class", ""), "location": ip.values.get("location", ""),
                   "nozzle_count": ip.values.get("nozzle_count"),
                   **{k: ip.values.get(k, "") for k in TEXT_FIELDS},
                   "status": ip.values.get("status", InstrumentStatus.IN_USE).value,
                   "created_at": now, "updated_at": now,
                   **{k: (v.value if hasattr(v, "value") else v)
                      for k, v in _dates(kinds[ip.type_id], facts[id(ip)]).items()}}

    ids = insert_with_ids(session, Instrument.__table__, len(new_instruments), instrument_rows())
    instrument_ids: dict[int, int] = dict(zip(map(id, new_instruments), ids, strict=True))
    counts_changed_for(session, ids)
    records.append(created("instruments", ids, 1))
    # Change notifications in this transaction (set-based; nothing when no webhook is subscribed).
    capture(session, INSTRUMENT, "instrument.created", ids, now)
    updated_instruments = [i for i in plan.instruments if i.action == UPDATE]
    for ip in updated_instruments:
        if "status" in ip.values:
            ip.values["status"] = ip.values["status"].value
        if "maker" in ip.values:
            ip.values["maker_key"] = match_key(ip.values["maker"])
        if "serial_no" in ip.values:
            ip.values["serial_key"] = match_key(ip.values["serial_no"])
    # Before and after: an update may move an instrument to another station or kind.
    counts_changed_for(session, [i.existing_id for i in updated_instruments])
    _grouped_updates(session, Instrument, updated_instruments, now)
    counts_changed_for(session, [i.existing_id for i in updated_instruments])
    refresh_search_text(session, Instrument.__table__, [i.existing_id for i in updated_instruments])
    retired = {i.existing_id for i in updated_instruments
               if i.values.get("status", InstrumentStatus.IN_USE.value) != InstrumentStatus.IN_USE.value}
    capture(session, INSTRUMENT, "instrument.retired", retired, now)
    capture(session, INSTRUMENT, "instrument.updated",
            [i.existing_id for i in updated_instruments if i.existing_id not in retired], now)
    # Existing instruments that gain records here are recomputed below, which moves their version once more.
    touched = sorted({vp.instrument.existing_id for vp in plan.verifications if vp.instrument.existing_id})
    touched_set = set(touched)
    records.append([record("instruments", i.existing_id, UPDATE,
                           i.values["_version"] + 1 + (i.existing_id in touched_set),
                           {**_jsonable(i.before), "_version": i.values["_version"]}) for i in updated_instruments])
    # Instruments that only gain records: their dates (and version) move, undo puts them back.
    updated_ids = {i.existing_id for i in updated_instruments}
    dated = {vp.instrument.existing_id: vp.instrument for vp in plan.verifications
             if vp.instrument.existing_id and vp.instrument.existing_id not in updated_ids}
    records.append([record("instruments", inst_id, DATES, ip.values["_version"] + 1,
                           {"_version": ip.values["_version"]}) for inst_id, ip in dated.items()])
    step(len(plan.merchants) + len(plan.instruments), total)

    def instrument_id(ip: InstrumentPlan) -> int:
        return ip.existing_id if ip.existing_id is not None else instrument_ids[id(ip)]

    # The institution text names a registered body when its match key is a body's (the text stays as typed).
    body_ids = dict(session.execute(select(VerificationBody.name_key, VerificationBody.id)).all())
    rows = ({"instrument_id": instrument_id(vp.instrument), "verified_on": vp.values["verified_on"],
             "institution": vp.values["institution"],
             "body_id": body_ids.get(match_key(vp.values["institution"])) if body_ids else None, "certificate_no": vp.values["certificate_no"],
             "result": vp.values["result"], "valid_until": vp.values["valid_until"], "notes": vp.values["notes"],
             "created_by_id": actor_id, "created_at": now, "updated_at": now} for vp in plan.verifications)
    ids = insert_with_ids(session, Verification.__table__, len(plan.verifications), rows)
    verifications_changed_for(session, ids)
    records.append(created("verifications", ids, None))
    capture(session, VERIFICATION, "verification.recorded", ids, now)
    step(total, total)

    # Existing instruments that gained records: recompute from everything they now have.
    recompute_dates(session, touched, now)

    bulk_insert(session, ImportedRecord.__table__, chain.from_iterable(records))
    return {"merchants": {CREATE: len(new_merchants), UPDATE: len(updated_merchants)},
            "instruments": {CREATE: len(new_instruments), UPDATE: len(updated_instruments)},
            "verifications": {CREATE: len(plan.verifications)}}


def recompute_dates(session: Session, instrument_ids: list[int], now: dt.datetime) -> None:
    """Re-derive the dates of existing instruments from their records (bulk, bumps versions)."""
    kinds = _kinds(session)
    table = Instrument.__table__
    stmt = (update(table).where(table.c.id == bindparam("b_id"))
            .values(version=table.c.version + 1, updated_at=bindparam("v_updated_at"),
                    **{c: bindparam(f"v_{c}") for c in DATE_COLUMNS}))
    for chunk in chunks(instrument_ids):
        type_of = dict(session.execute(select(table.c.id, table.c.type_id).where(table.c.id.in_(chunk))).all())
        facts: dict[int, list[VerificationFacts]] = defaultdict(list)
        vt = Verification.__table__
        for row in session.execute(select(vt.c.instrument_id, vt.c.verified_on, vt.c.result, vt.c.valid_until,
                                          vt.c.voided_at, vt.c.id).where(vt.c.instrument_id.in_(chunk))):
            facts[row.instrument_id].append(VerificationFacts(row.verified_on, row.result, row.valid_until,
                                                              row.voided_at is not None, row.id))
        params = []
        for inst_id in chunk:
            dates = _dates(kinds[type_of[inst_id]], facts[inst_id])
            params.append({"b_id": inst_id, "v_updated_at": now,
                           **{f"v_{k}": (v.value if hasattr(v, "value") else v) for k, v in dates.items()}})
        if params:
            session.execute(stmt, params)
    counts_changed_for(session, instrument_ids)
    capture(session, INSTRUMENT, "instrument.updated", instrument_ids, now)


def _jsonable(values: dict) -> dict:
    out = {}
    for k, v in values.items():
        if hasattr(v, "value"):
            v = v.value
        elif isinstance(v, dt.date):
            v = v.isoformat()
        out[k] = v
    return out


def undo_blockers(session: Session, batch_id: int) -> list[str]:
    """Why the batch cannot be undone (in Chinese), or [] when nothing later depends on it."""
    recs = session.scalars(select(ImportedRecord).where(ImportedRecord.batch_id == batch_id)).all()
    by_type: dict[str, dict[int, ImportedRecord]] = defaultdict(dict)
    for r in recs:
        by_type[r.entity_type][r.entity_id] = r
    problems: list[str] = []
    mine_ver = set(by_type["verifications"])
    mine_inst = {i for i, r in by_type["instruments"].items() if r.action == CREATE}
    mine_merch = {i for i, r in by_type["merchants"].items() if r.action == CREATE}
    for ids, model, label in ((list(by_type["merchants"]), Merchant, "使用单位"),
                              (list(by_type["instruments"]), Instrument, "计量器具")):
        for chunk in chunks(ids):
            for obj_id, version in session.execute(select(model.id, model.version).where(model.id.in_(chunk))):
                if version != by_type[model.__tablename__][obj_id].version_after:
                    problems.append(f"{label} #{obj_id} 在导入后又被修改过")
    for chunk in chunks(list(mine_ver)):
        for vid, voided in session.execute(select(Verification.id, Verification.voided_at)
                                           .where(Verification.id.in_(chunk))):
            if voided is not None:
                problems.append(f"检定记录 #{vid} 在导入后已被作废")
    for chunk in chunks(list(mine_inst)):
        for vid, inst in session.execute(select(Verification.id, Verification.instrument_id)
                                         .where(Verification.instrument_id.in_(chunk))):
            if vid not in mine_ver:
                problems.append(f"计量器具 #{inst} 在导入后又录入了检定记录")
        for (other,) in session.execute(select(Instrument.id).where(Instrument.replaced_by_id.in_(chunk))):
            problems.append(f"计量器具 #{other} 已更换为本批导入的器具")
    for chunk in chunks(list(mine_merch)):
        for inst_id, merch in session.execute(select(Instrument.id, Instrument.merchant_id)
                                              .where(Instrument.merchant_id.in_(chunk))):
            if inst_id not in mine_inst:
                problems.append(f"使用单位 #{merch} 在导入后又登记了计量器具")
        for (vendor,) in session.execute(select(Merchant.id).where(Merchant.parent_id.in_(chunk))):
            problems.append(f"使用单位 #{vendor} 已挂靠到本批导入的市场")
        for (merch,) in session.execute(select(Pledge.merchant_id).where(Pledge.merchant_id.in_(chunk)).distinct()):
            problems.append(f"使用单位 #{merch} 在导入后登记了诚信计量承诺")
    for chunk in chunks(list(mine_inst)):
        # A printed QR label points at the instrument's token: undoing would break a label already stuck on it.
        for (inst,) in session.execute(select(Instrument.id).where(Instrument.id.in_(chunk),
                                                                   Instrument.public_token.is_not(None))):
            problems.append(f"计量器具 #{inst} 已生成公开查询码（可能已打印二维码标签）")
    for chunk in chunks(list(by_type.get("result_leads", ()))):
        # A results batch's leads (app/results): one a person has handled is theirs now.
        lt = ResultLead.__table__
        for lead_id, state in session.execute(select(lt.c.id, lt.c.state).where(lt.c.id.in_(chunk))):
            if state != "pending":
                problems.append(f"未备案器具线索 #{lead_id} 已处理")
    return problems


def undo_records(session: Session, batch_id: int, now: dt.datetime) -> dict:
    """Remove what the batch created and restore what it changed (caller checked undo_blockers)."""
    recs = session.scalars(select(ImportedRecord).where(ImportedRecord.batch_id == batch_id)).all()
    created = defaultdict(list)
    updated = defaultdict(list)
    for r in recs:
        (created if r.action == CREATE else updated)[r.entity_type].append(r)
    ver_ids = [r.entity_id for r in created["verifications"]]
    touched = set()
    for chunk in chunks(ver_ids):
        touched |= set(session.scalars(select(Verification.instrument_id).where(Verification.id.in_(chunk))))
    touched -= {r.entity_id for r in created["instruments"]}
    verifications_changed_for(session, ver_ids)
    # Told before the rows go (the events carry the records' last fields).
    capture(session, VERIFICATION, "verification.deleted", ver_ids, now)
    capture(session, INSTRUMENT, "instrument.deleted", [r.entity_id for r in created["instruments"]], now)
    for chunk in chunks(ver_ids):
        # Core statements: the records an undone import brought in were never evidence of a visit.
        session.execute(delete(Verification.__table__).where(Verification.__table__.c.id.in_(chunk)))
    counts_changed_for(session, [r.entity_id for r in created["instruments"]]
                       + [r.entity_id for r in updated["instruments"]])
    for entity, model in (("result_leads", ResultLead), ("instruments", Instrument), ("merchants", Merchant)):
        ids = [r.entity_id for r in created.get(entity, ())]
        for chunk in chunks(ids):
            session.execute(delete(model.__table__).where(model.__table__.c.id.in_(chunk)))
    recompute_dates(session, sorted(touched), now)
    for entity, model in (("instruments", Instrument), ("merchants", Merchant)):
        for r in updated[entity]:
            before = dict(r.before)
            # Back to the version it had before the batch: the record is as it was then, so
            # earlier batches still see it as theirs (and their undo stays possible).
            version = before.pop("_version", None)
            for key in ("next_due_on", "replace_by", "first_verified_on", "last_verified_on"):
                if before.get(key):
                    before[key] = dt.date.fromisoformat(before[key])
            if "name" in before:
                before["name_key"] = match_key(before["name"])
            if "maker" in before:
                before["maker_key"] = match_key(before["maker"])
            if "serial_no" in before:
                before["serial_key"] = match_key(before["serial_no"])
            table = model.__table__
            session.execute(update(table).where(table.c.id == r.entity_id)
                            .values(**before, version=table.c.version + 1 if version is None else version,
                                    updated_at=now))
        # Core updates: the restored records' search text is recomputed once they are all back.
        refresh_search_text(session, model.__table__, [r.entity_id for r in updated[entity]])
    counts_changed_for(session, [r.entity_id for r in updated["instruments"]])
    capture(session, INSTRUMENT, "instrument.updated", [r.entity_id for r in updated["instruments"]], now)
    return {k: len(v) for k, v in created.items()} | {f"{k}_restored": len(v) for k, v in updated.items()}

