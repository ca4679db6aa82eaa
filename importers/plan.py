"""Plan: match parsed rows against the ledger and decide, per row, what applying would do.

Matching rules (the issue's, in order):
* merchants by credit code, else by normalised name within the batch's station;
* instruments by kind + serial number (+ maker when both sides know it);
* verifications by certificate number, else by instrument and date.
A key that matches more than one record is an error, never a guess. Rows that describe the same
record twice collapse: the later row is planned as unchanged, or is an error when it contradicts.

Lookups are set-based: the keys of the whole file are fetched in chunks of IN (...) queries.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import InstrumentType
from app.instruments.models import Instrument, InstrumentStatus, Verification
from app.merchants.models import Industry, Merchant
from app.text import match_key
from importers.parsed import ParsedRow, ParsedSheet, RowError

CHUNK = 900  # below SQLite's default limit of bound parameters per statement

CREATE, UPDATE, UNCHANGED, ERROR, SKIP = "create", "update", "unchanged", "error", "skip"

MERCHANT_FIELDS = ("name", "credit_code", "phone", "contact", "address")
INSTRUMENT_FIELDS = ("model", "maker", "measuring_range", "accuracy_class", "location", "nozzle_count", "status")

# The industry a new merchant gets from the kind of its first instrument.
INDUSTRY_BY_KIND_PREFIX = (
    ("fuel_", Industry.FUEL_STATION), ("cng_", Industry.FUEL_STATION), ("lpg_", Industry.FUEL_STATION),
    ("taximeter", Industry.TAXI_COMPANY), ("ev_", Industry.CHARGING_OPERATOR), ("water_", Industry.UTILITY),
    ("gas_", Industry.UTILITY), ("elec_meter", Industry.UTILITY), ("bp_", Industry.MEDICAL),
    ("refractometer", Industry.EYEWEAR_SHOP), ("lensmeter", Industry.EYEWEAR_SHOP),
    ("trial_lens", Industry.EYEWEAR_SHOP), ("elec_price_scale", Industry.MARKET_VENDOR),
)


def industry_for_kind(code: str) -> Industry:
    """The industry a merchant registered by import gets from its instrument's kind."""
    for prefix, industry in INDUSTRY_BY_KIND_PREFIX:
        if code.startswith(prefix):
            return industry
    return Industry.OTHER


@dataclass
class MerchantPlan:
    """A merchant the batch creates, updates or only refers to."""

    key: tuple
    action: str
    values: dict
    existing_id: int | None = None
    before: dict = field(default_factory=dict)
    first_row: int = 0
    used: int = 0  # rows without errors that lead to this record
    name_key: str = ""


@dataclass
class InstrumentPlan:
    """An instrument the batch creates, updates or only refers to."""

    key: tuple
    action: str
    values: dict
    merchant: MerchantPlan
    type_id: int
    existing_id: int | None = None
    before: dict = field(default_factory=dict)
    first_row: int = 0
    used: int = 0


@dataclass
class VerificationPlan:
    """A verification record the batch adds."""

    instrument: InstrumentPlan
    values: dict
    row: int


@dataclass
class RowPlan:
    """What applying does for one row, and the row's errors."""

    row: int
    cells: object
    merchant_action: str = SKIP
    instrument_action: str = SKIP
    verification_action: str = SKIP
    errors: list[RowError] = field(default_factory=list)
    summary: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class Plan:
    """The whole batch's plan: one RowPlan per data row plus the records it touches."""

    sheet: str
    station_id: int
    rows: list[RowPlan]
    merchants: list[MerchantPlan]
    instruments: list[InstrumentPlan]
    verifications: list[VerificationPlan]

    def counts(self) -> dict:
        """Rows, error rows, and per record type the number of creates, updates and unchanged."""
        out: dict = {"rows": len(self.rows), "errors": sum(1 for r in self.rows if r.errors)}
        for name, plans in (("merchants", self.merchants), ("instruments", self.instruments)):
            tally = defaultdict(int)
            for p in plans:
                tally[p.action] += 1
            out[name] = {k: tally[k] for k in (CREATE, UPDATE, UNCHANGED)}
        out["verifications"] = {CREATE: len(self.verifications), UPDATE: 0,
                                UNCHANGED: sum(1 for r in self.rows if r.verification_action == UNCHANGED)}
        return out


def _chunks(items: list, size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _error(sheet: str, row: ParsedRow, message: str, column: str = "", field_name: str | None = None) -> RowError:
    return RowError(sheet, row.row, column, field_name, message)


class Planner:
    """Builds a Plan for one parsed sheet and one station."""

    def __init__(self, session: Session, station_id: int, today: dt.date) -> None:
        self.session = session
        self.station_id = station_id
        self.today = today
        self.kinds = {k.code: k for k in session.scalars(select(InstrumentType))}

    # ----- lookups, set-based -------------------------------------------------------------
    def _load_merchants(self, rows: list[ParsedRow]) -> None:
        codes = sorted({r.values["credit_code"] for r in rows if r.values.get("credit_code")})
        names = sorted({match_key(r.values["merchant_name"]) for r in rows if r.values.get("merchant_name")})
        self.by_code: dict[str, Merchant] = {}
        self.by_name: dict[str, list[Merchant]] = defaultdict(list)
        for chunk in _chunks(codes):
            for m in self.session.scalars(select(Merchant).where(Merchant.credit_code.in_(chunk))):
                self.by_code[m.credit_code] = m
        for chunk in _chunks(names):
            stmt = select(Merchant).where(Merchant.station_id == self.station_id, Merchant.name_key.in_(chunk))
            for m in self.session.scalars(stmt):
                self.by_name[m.name_key].append(m)

    def _load_instruments(self, rows: list[ParsedRow]) -> None:
        serials = sorted({r.values["serial_no"] for r in rows if r.values.get("serial_no")})
        self.instruments: dict[tuple[int, str], list[Instrument]] = defaultdict(list)
        for chunk in _chunks(serials):
            for inst in self.session.scalars(select(Instrument).where(Instrument.serial_no.in_(chunk))):
                self.instruments[(inst.type_id, inst.serial_no)].append(inst)
        ids = [i.id for group in self.instruments.values() for i in group]
        self.verifications: dict[int, list[Verification]] = defaultdict(list)
        for chunk in _chunks(ids):
            stmt = select(Verification).where(Verification.instrument_id.in_(chunk), Verification.voided_at.is_(None))
            for ver in self.session.scalars(stmt):
                self.verifications[ver.instrument_id].append(ver)

    # ----- planning -------------------------------------------------------------------------
    def plan(self, parsed: ParsedSheet) -> Plan:
        """Match every row and decide its actions."""
        rows = parsed.rows
        self._load_merchants([r for r in rows if r.ok])
        self._load_instruments([r for r in rows if r.ok])
        merchants: dict[tuple, MerchantPlan] = {}
        instruments: dict[tuple, InstrumentPlan] = {}
        seen_verifications: dict[tuple, tuple[int, dict]] = {}
        verifications: list[VerificationPlan] = []
        out: list[RowPlan] = []
        for row in rows:
            rp = RowPlan(row=row.row, cells=row.cells, errors=list(row.errors))
            out.append(rp)
            if rp.errors:
                rp.merchant_action = rp.instrument_action = rp.verification_action = ERROR
                continue
            v = row.values
            mp = self._merchant(parsed.sheet, row, rp, merchants)
            ip = self._instrument(parsed.sheet, row, rp, mp, instruments) if mp else None
            vp = self._verification(parsed.sheet, row, rp, ip, seen_verifications) if ip else None
            if rp.errors:
                rp.merchant_action = rp.instrument_action = rp.verification_action = ERROR
                continue
            rp.summary = f"{v.get('merchant_name') or v.get('credit_code', '')} / {v.get('serial_no', '')}"[:300]
            if vp is not None:
                verifications.append(vp)
            mp.used += 1
            if ip is not None:
                ip.used += 1
        # A record reached only by rows that turned out to be errors is not written.
        return Plan(parsed.sheet, self.station_id, out, [m for m in merchants.values() if m.used],
                    [i for i in instruments.values() if i.used], verifications)

    def _merchant(self, sheet: str, row: ParsedRow, rp: RowPlan, plans: dict) -> MerchantPlan | None:
        v = row.values
        code = v.get("credit_code")
        name = v.get("merchant_name", "")
        key = ("code", code) if code else ("name", match_key(name))
        values = {"name": name, "credit_code": code, "phone": v.get("phone"), "contact": v.get("contact"),
                  "address": v.get("address")}
        values = {k: x for k, x in values.items() if x not in (None, "")}
        name_key = match_key(name)
        if key not in plans and name_key:
            # The same business written once with and once without its credit code is one merchant.
            twin = plans.get(("name", name_key)) if code else next(
                (p for k, p in plans.items() if k[0] == "code" and p.name_key == name_key), None)
            if code and twin is not None and (twin.action != CREATE or twin.values.get("credit_code")
                                              or code in self.by_code):
                twin = None  # a registered merchant or another code: not provably the same business
            if twin is not None:
                if code:
                    twin.values["credit_code"] = code
                plans[key] = twin
        if key in plans:
            mp = plans[key]
            rp.merchant_action = UNCHANGED
            return mp
        existing: Merchant | None = None
        if code:
            existing = self.by_code.get(code)
            if existing is not None and existing.station_id != self.station_id:
                rp.errors.append(_error(sheet, row, f"统一社会信用代码 {code} 已登记为其他监管所的使用单位"
                                                    f"“{existing.name}”，不能导入到本所", "统一社会信用代码",
                                        "credit_code"))
                return None
        if existing is None:
            candidates = self.by_name.get(match_key(name), []) if name else []
            if code:
                # A name match that carries a different credit code is another business.
                candidates = [m for m in candidates if not m.credit_code or m.credit_code == code]
            if len(candidates) > 1:
                rp.errors.append(_error(sheet, row, f"使用单位“{name}”在本所匹配到 {len(candidates)} 个已登记单位，"
                                                    "无法确定是哪一个，请补充统一社会信用代码", "使用单位名称",
                                        "merchant_name"))
                return None
            existing = candidates[0] if candidates else None
        if existing is None:
            if not name:
                rp.errors.append(_error(sheet, row, "新使用单位缺少名称", "使用单位名称", "merchant_name"))
                return None
            mp = MerchantPlan(key, CREATE, values, first_row=row.row, name_key=name_key)
        else:
            changes = {k: x for k, x in values.items() if (getattr(existing, k) or "") != x}
            mp = MerchantPlan(key, UPDATE if changes else UNCHANGED, changes, existing.id,
                              {k: getattr(existing, k) for k in changes}, first_row=row.row, name_key=name_key)
            mp.values["_version"] = existing.version
        plans[key] = mp
        rp.merchant_action = mp.action
        return mp

    def _instrument(self, sheet: str, row: ParsedRow, rp: RowPlan, mp: MerchantPlan,
                    plans: dict) -> InstrumentPlan | None:
        v = row.values
        kind = self.kinds.get(v["kind"])
        if kind is None:
            rp.errors.append(_error(sheet, row, f"器具种类 {v['kind']} 不在目录中", "器具种类", "kind"))
            return None
        serial = v["serial_no"]
        maker_key = match_key(v.get("maker"))
        key = (kind.id, serial, maker_key)
        values = {k: v[k] for k in INSTRUMENT_FIELDS if k in v and v[k] not in (None, "")}
        if "status" in values:
            values["status"] = InstrumentStatus(values["status"])
        if key in plans or (kind.id, serial, "") in plans:
            ip = plans.get(key) or plans[(kind.id, serial, "")]
            if ip.merchant is not mp:
                rp.errors.append(_error(sheet, row, f"出厂编号 {serial} 在本文件中出现在不同的使用单位下"
                                                    f"（见第{ip.first_row}行）", "出厂编号", "serial_no"))
                return None
            rp.instrument_action = UNCHANGED
            return ip
        candidates = self.instruments.get((kind.id, serial), [])
        if maker_key:
            candidates = [i for i in candidates if i.maker_key in (maker_key, "")]
        if len(candidates) > 1:
            rp.errors.append(_error(sheet, row, f"{kind.name_zh} 出厂编号 {serial} 匹配到 {len(candidates)} 台已登记器具，"
                                                "请补充制造单位以区分", "出厂编号", "serial_no"))
            return None
        existing = candidates[0] if candidates else None
        if existing is None:
            ip = InstrumentPlan(key, CREATE, values, mp, kind.id, first_row=row.row)
        else:
            if existing.station_id != self.station_id:
                rp.errors.append(_error(sheet, row, f"{kind.name_zh} 出厂编号 {serial} 已登记在其他监管所，不能导入到本所",
                                        "出厂编号", "serial_no"))
                return None
            if mp.existing_id is None or existing.merchant_id != mp.existing_id:
                rp.errors.append(_error(sheet, row, f"{kind.name_zh} 出厂编号 {serial} 已登记在使用单位"
                                                    f"“{existing.merchant.name}”名下，与本行的使用单位不符",
                                        "出厂编号", "serial_no"))
                return None
            changes = {k: x for k, x in values.items() if (getattr(existing, k) or "") != x}
            ip = InstrumentPlan(key, UPDATE if changes else UNCHANGED, changes, mp, kind.id, existing.id,
                                {k: getattr(existing, k) for k in changes}, first_row=row.row)
            ip.values["_version"] = existing.version
        plans[key] = ip
        rp.instrument_action = ip.action
        return ip

    def _verification(self, sheet: str, row: ParsedRow, rp: RowPlan, ip: InstrumentPlan,
                      seen: dict) -> VerificationPlan | None:
        v = row.values
        if "verified_on" not in v:
            if "result" in v or "certificate_no" in v:
                rp.errors.append(_error(sheet, row, "有检定结论或证书编号但缺少检定日期", "检定日期", "verified_on"))
            rp.verification_action = SKIP
            return None
        if v["verified_on"] > self.today:
            rp.errors.append(_error(sheet, row, f"检定日期 {v['verified_on']} 晚于今天", "检定日期", "verified_on"))
            return None
        values = {"verified_on": v["verified_on"], "result": v.get("result", "pass"),
                  "valid_until": v.get("valid_until"), "certificate_no": v.get("certificate_no", ""),
                  "institution": v.get("institution", ""), "notes": v.get("notes", "")}
        cert = values["certificate_no"]
        key = (id(ip), ("cert", cert) if cert else ("date", values["verified_on"]))
        if key in seen:
            first_row, first_values = seen[key]
            if first_values != values:
                rp.errors.append(_error(sheet, row, f"与第{first_row}行是同一条检定记录但内容不同", "检定日期",
                                        "verified_on"))
                return None
            rp.verification_action = UNCHANGED
            return None
        seen[key] = (row.row, values)
        if ip.existing_id is not None:
            existing = [x for x in self.verifications.get(ip.existing_id, [])
                        if (x.certificate_no == cert if cert else x.verified_on == values["verified_on"])]
            if len(existing) > 1:
                rp.errors.append(_error(sheet, row, "该器具有多条相同的检定记录，无法确定对应哪一条", "检定日期",
                                        "verified_on"))
                return None
            if existing:
                old = existing[0]
                same = (old.verified_on == values["verified_on"] and old.result.value == values["result"]
                        and old.valid_until == values["valid_until"])
                if not same:
                    rp.errors.append(_error(sheet, row, f"检定记录（{cert or values['verified_on']}）已存在且内容不同；"
                                                        "检定记录不能修改，请在系统中作废后重新录入", "检定日期",
                                            "verified_on"))
                    return None
                rp.verification_action = UNCHANGED
                return None
        rp.verification_action = CREATE
        return VerificationPlan(ip, values, row.row)
