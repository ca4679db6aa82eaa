"""Verification results from the bodies: matched to the ledger and recorded, kept as leads, or refused
(flush, never commit). One path for a body's results file (app/imports) and for the API.

Matching (issue 16 point 2), set-based over a whole batch of results:
* the instrument by kind + serial number (+ maker when both sides know it; an empty maker matches any), as the
  ledger's identity rules (instruments.serial_key / maker_key) say;
* the certificate number: a certificate already recorded for another instrument is refused; one recorded for
  this instrument with the same date, conclusion and validity is `unchanged`, with others refused, as the
  ledger import treats a stored certificate (检定记录不能修改，请在系统中作废后重新录入);
* no certificate: the instrument's record of the same date plays the certificate's part.
A recorded result goes in as the ledger import's do (importers/apply.py): inserted, then the instrument's dates
re-derived by the due-date engine from all its records, so next_due_on, last_result, alerts and public pages
follow at once. A result with no instrument becomes a lead (app/results/models.py), once.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.bodies.models import VerificationBody
from app.bulk import bulk_insert, insert_with_ids
from app.catalog.models import InstrumentType
from app.catalog.queries import kind_aliases
from app.db import utcnow
from app.errors import Invalid, NotFound, StaleEdit
from app.imports.models import ImportedRecord
from app.instruments.models import Instrument, Verification
from app.merchants.models import Merchant
from app.results.models import LeadState, ResultLead
from app.scope import Scope
from app.text import as_typed, identifier, match_key
from app.webhooks.capture import VERIFICATION, capture
from importers.apply import DATES, recompute_dates
from importers.dates import to_date
from importers.kinds import KindResolver
from importers.plan import in_values, value_chunks
from importers.values import CellError, to_result

RECORDED, UNCHANGED, QUEUED, REFUSED = "recorded", "unchanged", "queued", "refused"
OUTCOME_LABELS = {RECORDED: "记录检定结果", UNCHANGED: "已记录，无变化", QUEUED: "转入未备案器具线索", REFUSED: "拒收"}
MAX_ROWS = 1000  # one call's results (the API's batch limit; a file is matched in parts of this size)


@dataclass
class ResultRow:
    """One verification result as a body sends it (text as typed; dates as dates or text)."""

    kind: str  # catalogue code, or the kind as written (器具名称)
    serial_no: str
    verified_on: dt.date | str | None
    result: str = "pass"  # pass / fail, or 合格 / 不合格
    maker: str = ""
    model: str = ""
    certificate_no: str = ""
    valid_until: dt.date | str | None = None
    submitter: str = ""  # 送检单位
    fail_reason: str = ""  # 不合格原因
    institution: str = ""  # 检定机构 as written, used when no body is given
    row: int = 0  # the caller's number for the row (a file's row, a request's index)
    # Problems found while reading it (a file's cells): the row is refused with them.
    errors: tuple[str, ...] = ()


@dataclass
class ResultOutcome:
    """What became of one result."""

    row: int
    outcome: str  # recorded | unchanged | queued | refused
    reason: str = ""  # Chinese: why refused, or which lead it is in
    warnings: list[str] = field(default_factory=list)
    instrument_id: int | None = None
    verification_id: int | None = None
    lead_id: int | None = None

    @property
    def label(self) -> str:
        """The outcome in Chinese."""
        return OUTCOME_LABELS[self.outcome]


@dataclass
class _Decision:
    outcome: ResultOutcome
    verification: dict | None = None
    lead: dict | None = None
    lead_of: _Decision | None = None  # a later row of the same new lead


def _kind_label(kinds: dict, type_id: int) -> str:
    return kinds[type_id].name_zh


class ResultMatcher:
    """Matches batches of results against the ledger (set-based), remembering what earlier batches of the same
    submission decided; `write` records what was decided."""

    def __init__(self, session: Session, *, body: VerificationBody | None, station_id: int | None,
                 today: dt.date, received_from: str = "", batch_id: int | None = None) -> None:
        self.session = session
        self.body = body
        self.station_id = station_id
        self.today = today
        self.received_from = received_from[:200]
        self.batch_id = batch_id
        self.dialect = session.get_bind().dialect.name
        types = session.scalars(select(InstrumentType)).all()
        self.kinds = {k.id: k for k in types}
        self.codes = {k.code: k.id for k in types}
        self.resolver = KindResolver([(k.code, k.name_zh) for k in types],
                                     [tuple(r) for r in session.execute(kind_aliases())])
        self.bodies = {b.name_key: b for b in session.scalars(select(VerificationBody))}
        self.seen: dict[tuple, tuple[int, tuple, _Decision]] = {}
        self.leads: dict[str, _Decision] = {}

    # ----- reading one row -----------------------------------------------------------------
    def _clean(self, r: ResultRow) -> tuple[dict | None, str]:
        """The row's values, checked (None and the reason when it cannot be taken)."""
        if r.errors:
            return None, "；".join(r.errors)
        kind_text = as_typed(r.kind)
        type_id = self.codes.get(kind_text)
        if type_id is not None:  # a catalogue code (an API's): the lead shows the kind's name
            kind_text = self.kinds[type_id].name_zh
        else:
            if not kind_text:
                return None, "缺少器具名称"
            try:
                type_id = self.codes[self.resolver.resolve(kind_text, model=as_typed(r.model) or None)]
            except CellError as err:
                return None, f"器具名称“{kind_text}”{err.reason}"
        serial = identifier(r.serial_no)
        if not serial:
            return None, "缺少出厂编号"
        if len(serial) > 80:
            return None, "出厂编号超过80个字符"
        try:
            verified_on = _date(r.verified_on)
            valid_until = _date(r.valid_until)
            result = to_result(r.result if r.result not in (None, "") else "pass")
        except CellError as err:
            return None, err.reason
        if verified_on is None:
            return None, "缺少检定日期"
        if verified_on > self.today:
            return None, f"检定日期 {verified_on} 晚于今天"
        if valid_until is not None and valid_until <= verified_on:
            return None, f"有效期至 {valid_until} 不晚于检定日期 {verified_on}"
        cert = identifier(r.certificate_no)
        if len(cert) > 60:
            return None, "证书编号超过60个字符"
        maker, model = as_typed(r.maker), as_typed(r.model)
        if len(maker) > 120 or len(model) > 80:
            return None, "制造单位或型号过长（制造单位不超过120字，型号不超过80字）"
        institution = as_typed(r.institution)[:120]
        body = self.body or self.bodies.get(match_key(institution)) if (self.body or institution) else None
        return {"type_id": type_id, "kind_text": kind_text[:200], "serial_no": serial, "serial_key": match_key(serial),
                "maker": maker, "maker_key": match_key(maker), "model": model, "certificate_no": cert,
                "verified_on": verified_on, "valid_until": valid_until, "result": result,
                "submitter": as_typed(r.submitter)[:200], "fail_reason": as_typed(r.fail_reason),
                "institution": body.name if self.body is not None else institution, "body": body}, ""

    # ----- matching a batch ----------------------------------------------------------------
    def match(self, rows: list[ResultRow]) -> list[_Decision]:
        """Decide every row (nothing is written)."""
        cleaned = [self._clean(r) for r in rows]
        valid = [v for v, _ in cleaned if v is not None]
        instruments, records, by_cert = self._lookup(valid)
        decisions = []
        for r, (v, reason) in zip(rows, cleaned, strict=True):
            if v is None:
                decisions.append(_Decision(ResultOutcome(r.row, REFUSED, reason)))
                continue
            decisions.append(self._decide(r.row, v, instruments, records, by_cert))
        self._queue([d for d in decisions if d.lead is not None])
        return decisions

    def _lookup(self, valid: list[dict]) -> tuple[dict, dict, dict]:
        """Registered instruments by (kind, serial key), their records, and records by certificate number."""
        table = Instrument.__table__
        serials: dict[int, set[str]] = defaultdict(set)
        for v in valid:
            serials[v["type_id"]].add(v["serial_key"])
        instruments: dict[tuple[int, str], list] = defaultdict(list)
        for type_id, keys in serials.items():
            for chunk in value_chunks(self.dialect, sorted(keys)):
                stmt = select(table.c.id, table.c.type_id, table.c.serial_key, table.c.maker_key, table.c.serial_no,
                              table.c.station_id, table.c.version).where(
                    table.c.type_id == type_id, in_values(self.dialect, table.c.serial_key, chunk))
                for row in self.session.execute(stmt):
                    instruments[(row.type_id, row.serial_key)].append(row)
        vt = Verification.__table__
        columns = (vt.c.id, vt.c.instrument_id, vt.c.verified_on, vt.c.result, vt.c.valid_until, vt.c.certificate_no)
        records: dict[int, list] = defaultdict(list)
        ids = sorted({i.id for found in instruments.values() for i in found})
        for chunk in value_chunks(self.dialect, ids):
            for row in self.session.execute(select(*columns).where(in_values(self.dialect, vt.c.instrument_id, chunk),
                                                                   vt.c.voided_at.is_(None))):
                records[row.instrument_id].append(row)
        by_cert: dict[str, list] = defaultdict(list)
        certs = sorted({v["certificate_no"] for v in valid if v["certificate_no"]})
        for chunk in value_chunks(self.dialect, certs):
            for row in self.session.execute(select(*columns).where(in_values(self.dialect, vt.c.certificate_no, chunk),
                                                                   vt.c.voided_at.is_(None))):
                by_cert[row.certificate_no].append(row)
        return instruments, records, by_cert

    def _decide(self, row_no: int, v: dict, instruments: dict, records: dict, by_cert: dict) -> _Decision:
        kind = self.kinds[v["type_id"]]
        warnings = []
        body = v["body"]
        if body is not None and not body.authorises(kind.id):
            warnings.append(f"检定机构“{body.name}”未登记为可检定“{kind.name_zh}”的机构，请核对")
        candidates = instruments.get((kind.id, v["serial_key"]), [])
        if v["maker_key"]:
            candidates = [i for i in candidates if i.maker_key in (v["maker_key"], "")]
        if len(candidates) > 1:
            return _Decision(ResultOutcome(row_no, REFUSED, f"{kind.name_zh} 出厂编号 {v['serial_no']} 匹配到 "
                                                            f"{len(candidates)} 台已登记器具，请补充制造单位以区分",
                                           warnings))
        inst = candidates[0] if candidates else None
        cert = v["certificate_no"]
        elsewhere = [x for x in by_cert.get(cert, ()) if inst is None or x.instrument_id != inst.id] if cert else []
        if elsewhere:
            return _Decision(ResultOutcome(row_no, REFUSED, f"证书编号 {cert} 已记录在另一台器具（#{elsewhere[0].instrument_id}）"
                                                            "的检定记录中，与本条结果的器具不符", warnings))
        compared = (v["verified_on"], v["result"], v["valid_until"])
        key = (inst.id if inst else ("new", kind.id, v["serial_key"], v["maker_key"]),
               cert or v["verified_on"].isoformat())
        earlier = self.seen.get(key)
        if earlier is not None:
            first_row, first_values, first = earlier
            if first_values != compared:
                return _Decision(ResultOutcome(row_no, REFUSED, f"与第{first_row}条是同一条检定记录（"
                                                                f"{cert or v['verified_on']}）但内容不同", warnings))
            out = first.outcome
            if out.outcome == QUEUED:
                return _Decision(ResultOutcome(row_no, QUEUED, f"与第{first_row}条是同一条结果，已转入同一条线索",
                                               warnings), lead_of=first)
            return _Decision(ResultOutcome(row_no, UNCHANGED, f"与第{first_row}条是同一条检定记录", warnings,
                                           instrument_id=out.instrument_id, verification_id=out.verification_id))
        if inst is None:
            decision = _Decision(ResultOutcome(row_no, QUEUED, "", warnings), lead=v)
            self.seen[key] = (row_no, compared, decision)
            return decision
        same = [x for x in records.get(inst.id, ()) if (x.certificate_no == cert if cert
                                                      else x.verified_on == v["verified_on"])]
        if same:
            old = same[0]
            if len(same) > 1 or (old.verified_on, old.result.value if hasattr(old.result, "value") else old.result,
                                 old.valid_until) != compared:
                return _Decision(ResultOutcome(row_no, REFUSED, f"检定记录（{cert or v['verified_on']}）已存在且内容不同；"
                                                                "检定记录不能修改，请在系统中作废后重新录入", warnings,
                                               instrument_id=inst.id))
            decision = _Decision(ResultOutcome(row_no, UNCHANGED, "", warnings, instrument_id=inst.id,
                                               verification_id=old.id))
            self.seen[key] = (row_no, compared, decision)
            return decision
        decision = _Decision(ResultOutcome(row_no, RECORDED, "", warnings, instrument_id=inst.id),
                             verification={**v, "instrument_id": inst.id, "instrument_version": inst.version})
        self.seen[key] = (row_no, compared, decision)
        return decision

    def _queue(self, new: list[_Decision]) -> None:
        """Give each queued result its lead: the pending (or dismissed) lead of the same result, else a new one
        with the station of the merchant its 送检单位 names, else the submission's station."""
        if not new:
            return
        for d in new:
            v = d.lead
            v["match_key"] = "|".join((str(v["type_id"]), v["serial_key"], v["maker_key"],
                                       v["certificate_no"] or v["verified_on"].isoformat()))[:400]
        lt = ResultLead.__table__
        keys = sorted({d.lead["match_key"] for d in new})
        known: dict[str, tuple] = {}
        for chunk in value_chunks(self.dialect, keys):
            for row in self.session.execute(select(lt.c.id, lt.c.match_key, lt.c.state).where(
                    in_values(self.dialect, lt.c.match_key, chunk), lt.c.state != LeadState.REGISTERED.value)):
                known.setdefault(row.match_key, row)
        names = sorted({match_key(d.lead["submitter"]) for d in new} - {""})
        merchants: dict[str, list] = defaultdict(list)
        mt = Merchant.__table__
        for chunk in value_chunks(self.dialect, names):
            for row in self.session.execute(select(mt.c.id, mt.c.name_key, mt.c.station_id).where(
                    in_values(self.dialect, mt.c.name_key, chunk))):
                merchants[row.name_key].append(row)
        for d in new:
            v = d.lead
            old = known.get(v["match_key"])
            if old is not None:
                d.lead = None
                d.outcome.lead_id = old.id
                state = LeadState(old.state)
                d.outcome.reason = (f"已在未备案器具线索 #{old.id} 中（{state.label}），未重复登记")
                continue
            found = merchants.get(match_key(v["submitter"]), [])
            here = [m for m in found if m.station_id == self.station_id]
            merchant = (here or found)[0] if len(here or found) == 1 else None
            v["merchant_id"] = merchant.id if merchant else None
            v["station_id"] = merchant.station_id if merchant else self.station_id
            if v["station_id"] is None:
                d.outcome.warnings.append("未能按送检单位确定所属监管所，线索由县局统一处理")

    # ----- writing -------------------------------------------------------------------------
    def write(self, decisions: list[_Decision], *, actor_id: int | None, now: dt.datetime | None = None) -> None:
        """Record what `match` decided: the new verifications (dates re-derived by the engine) and leads."""
        now = now or utcnow()
        records: list[dict] = []
        recorded = [d for d in decisions if d.verification is not None]
        rows = ({"instrument_id": v["instrument_id"], "verified_on": v["verified_on"], "institution": v["institution"],
                 "body_id": v["body"].id if v["body"] is not None else None, "certificate_no": v["certificate_no"],
                 "result": v["result"], "valid_until": v["valid_until"], "notes": v["fail_reason"],
                 "created_by_id": actor_id, "created_at": now, "updated_at": now}
                for v in (d.verification for d in recorded))
        ids = insert_with_ids(self.session, Verification.__table__, len(recorded), rows)
        capture(self.session, VERIFICATION, "verification.recorded", ids, now)
        touched: dict[int, int] = {}
        for d, new_id in zip(recorded, ids, strict=True):
            d.outcome.verification_id = new_id
            touched.setdefault(d.verification["instrument_id"], d.verification["instrument_version"])
            records.append(self._record("verifications", new_id, "create", None, now))
        recompute_dates(self.session, sorted(touched), now)
        # Undo puts the instruments' dates back (importers/apply.py undo_records re-derives them).
        records += [self._record("instruments", i, DATES, version + 1, now, {"_version": version})
                    for i, version in touched.items()]
        queued = [d for d in decisions if d.lead is not None]
        lead_rows = ({"station_id": v["station_id"], "merchant_id": v["merchant_id"],
                      "body_id": v["body"].id if v["body"] is not None else None, "batch_id": self.batch_id,
                      "type_id": v["type_id"], "match_key": v["match_key"], "kind_text": v["kind_text"],
                      "serial_no": v["serial_no"], "maker": v["maker"], "model": v["model"],
                      "certificate_no": v["certificate_no"], "verified_on": v["verified_on"], "result": v["result"],
                      "valid_until": v["valid_until"], "submitter": v["submitter"], "fail_reason": v["fail_reason"],
                      "institution": v["institution"], "received_from": self.received_from,
                      "state": LeadState.PENDING.value, "reason": "", "version": 1, "created_at": now,
                      "updated_at": now} for v in (d.lead for d in queued))
        ids = insert_with_ids(self.session, ResultLead.__table__, len(queued), lead_rows)
        for d, new_id in zip(queued, ids, strict=True):
            d.outcome.lead_id = new_id
            d.outcome.reason = f"器具未在台账中登记，已转入未备案器具线索 #{new_id}"
            records.append(self._record("result_leads", new_id, "create", None, now))
        for d in decisions:
            if d.lead_of is not None:
                d.outcome.lead_id = d.lead_of.outcome.lead_id
        if self.batch_id is not None:
            bulk_insert(self.session, ImportedRecord.__table__, records)

    def _record(self, entity_type: str, entity_id: int, action: str, version_after: int | None, now: dt.datetime,
                before: dict | None = None) -> dict:
        return {"batch_id": self.batch_id, "entity_type": entity_type, "entity_id": entity_id, "action": action,
                "before": before or {}, "version_after": version_after, "at": now}


def _date(value: dt.date | str | None) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return to_date(value)


def tally(outcomes: list[ResultOutcome]) -> dict[str, int]:
    """How many results had each outcome."""
    counts = {RECORDED: 0, UNCHANGED: 0, QUEUED: 0, REFUSED: 0}
    for o in outcomes:
        counts[o.outcome] += 1
    return counts


def describe(counts: dict[str, int]) -> str:
    """The counts as one Chinese sentence (audit notes, messages)."""
    return (f"记录检定结果 {counts[RECORDED]} 条，已记录无变化 {counts[UNCHANGED]} 条，"
            f"转入未备案器具线索 {counts[QUEUED]} 条，拒收 {counts[REFUSED]} 条")


def submit_results(session: Session, rows: list[ResultRow], *, body: VerificationBody | None,
                   station_id: int | None, actor, actor_label: str, today: dt.date) -> list[ResultOutcome]:
    """Match a body's results (up to MAX_ROWS) to the ledger and record them: one outcome per row, in order.

    `body` sent them (None: each row's institution text names its body where it can); `station_id` is where
    leads go when the 送检单位 names no merchant (None: county-wide); `actor` the user (None for an API token,
    named by `actor_label` in the audit log). Re-submitting the same results changes nothing. Flushes, never
    commits: the caller's one transaction makes all of it or none.
    """
    if len(rows) > MAX_ROWS:
        raise Invalid(f"一次最多提交 {MAX_ROWS} 条检定结果，本次 {len(rows)} 条")
    matcher = ResultMatcher(session, body=body, station_id=station_id, today=today, received_from=actor_label)
    decisions = matcher.match(rows)
    matcher.write(decisions, actor_id=getattr(actor, "id", None))
    outcomes = [d.outcome for d in decisions]
    counts = tally(outcomes)
    if counts[RECORDED] or counts[QUEUED]:
        audit.record(session, actor if actor is not None else actor_label, "submit_results", entity_type="verifications",
                     entity_label=f"{body.name if body else '检定机构'} 提交的检定结果", note=describe(counts))
    return outcomes


# ----- the leads ---------------------------------------------------------------------------

def get_lead(session: Session, scope: Scope, lead_id: int) -> ResultLead:
    """A lead of a station inside the scope (county-wide leads: only for those who see every station)."""
    lead = session.get(ResultLead, lead_id)
    if lead is None or not (scope.allows(lead.station_id) if lead.station_id is not None else scope.is_all):
        raise NotFound("线索不存在")
    return lead


def _pending(lead: ResultLead, expected_version: int) -> None:
    if lead.state != LeadState.PENDING:
        raise Invalid(f"该线索已{lead.state.label}，不能再处理")
    if lead.version != expected_version:
        raise StaleEdit("该线索")


def lead_row(lead: ResultLead) -> ResultRow:
    """The lead's result as it was received, to be submitted again once its instrument is registered."""
    return ResultRow(kind=lead.type.code if lead.type else lead.kind_text, serial_no=lead.serial_no,
                     verified_on=lead.verified_on, result=lead.result.value, maker=lead.maker, model=lead.model,
                     certificate_no=lead.certificate_no, valid_until=lead.valid_until, submitter=lead.submitter,
                     fail_reason=lead.fail_reason, institution=lead.institution, row=1)


def register_lead(session: Session, actor, scope: Scope, lead: ResultLead, *, expected_version: int,
                  merchant_id: int | None, merchant_values: dict | None, instrument_values: dict,
                  today: dt.date) -> Instrument:
    """Register the lead's instrument (and its merchant, when new) and record its result through
    `submit_results`, in one step; the lead becomes 已登记."""
    from app.instruments.services import create_instrument
    from app.merchants.services import create_merchant

    _pending(lead, expected_version)
    if merchant_id is None:
        if not merchant_values:
            raise Invalid("请选择使用单位，或填写新使用单位的名称", field="merchant_id")
        merchant = create_merchant(session, actor, scope, merchant_values)
    else:
        merchant = session.get(Merchant, merchant_id)
        if merchant is None or not scope.allows(merchant.station_id):
            raise Invalid("请选择您负责的监管所内的使用单位", field="merchant_id")
    instrument = create_instrument(session, actor, scope, {**instrument_values, "merchant_id": merchant.id})
    outcome = submit_results(session, [lead_row(lead)], body=lead.body, station_id=merchant.station_id, actor=actor,
                             actor_label=audit.actor_name(actor), today=today)[0]
    if outcome.outcome == REFUSED or outcome.instrument_id != instrument.id:
        reason = outcome.reason or "登记的器具与线索的器具种类、出厂编号或制造单位不符"
        raise Invalid(f"检定结果未能记录到新登记的器具：{reason}")
    changes = audit.apply_changes(lead, {"state": LeadState.REGISTERED, "instrument_id": instrument.id,
                                         "handled_by_id": getattr(actor, "id", None), "handled_at": utcnow()})
    session.flush()
    audit.record(session, actor, "update", lead, changes, note=f"由线索登记器具 {instrument}")
    return instrument


def dismiss_lead(session: Session, actor, lead: ResultLead, *, expected_version: int, reason: str) -> None:
    """Dismiss a lead with a reason; it is kept (never deleted)."""
    _pending(lead, expected_version)
    reason = as_typed(reason)
    if not reason:
        raise Invalid("请填写忽略的原因", field="reason")
    changes = audit.apply_changes(lead, {"state": LeadState.DISMISSED, "reason": reason,
                                         "handled_by_id": getattr(actor, "id", None), "handled_at": utcnow()})
    session.flush()
    audit.record(session, actor, "update", lead, changes, note="忽略未备案器具线索")
