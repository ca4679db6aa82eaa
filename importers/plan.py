"""Plan: match parsed rows against the ledger and decide, per row, what applying would do.

Matching rules (the issue's, in order):
* merchants by credit code, else by normalised name within the batch's station;
* instruments by kind + serial number (+ maker when both sides know it);
* verifications by certificate number, else by instrument and date.
A key that matches more than one record is an error, never a guess. Rows that describe the same
record twice collapse: the later row is planned as unchanged, or is an error when it contradicts
(a later row may fill in a merchant's values the earlier rows left empty, e.g. its credit code).
Only rows without errors make or change records: nothing that only error rows lead to is written.

Lookups are set-based: the keys of the whole file are fetched in chunks of IN (...) queries.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict, namedtuple
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

from sqlalchemy import Row, any_, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from app.catalog.models import InstrumentType
from app.instruments.engine import SERVICE_LIFE, add_months
from app.instruments.models import Instrument, InstrumentStatus, Verification
from app.merchants.models import Industry, Merchant
from app.text import match_key
from importers.industries import fits, industry_for_kind, industry_for_name
from importers.parsed import ParsedRow, ParsedSheet, RowError

_CONSUMED = MappingProxyType({})  # a parsed row's values once `plan(consume=True)` planned it

CHUNK = 900  # below SQLite's default limit of bound parameters per statement
ONE_PARAMETER_CHUNK = 10_000  # values per lookup where they are sent as one parameter (see Planner._in)

CREATE, UPDATE, UNCHANGED, ERROR, SKIP = "create", "update", "unchanged", "error", "skip"

MERCHANT_FIELDS = ("name", "credit_code", "phone", "contact", "address")
# Instrument texts a ledger may give that create and update write as they are ('' when the file has none).
TEXT_FIELDS = ("install_address", "region", "purpose", "origin", "submission")
INSTRUMENT_FIELDS = ("model", "maker", "measuring_range", "accuracy_class", "location", "nozzle_count", "status",
                     *TEXT_FIELDS)
# The columns of registered records that matching and comparing read.
MERCHANT_COLUMNS = ("id", "station_id", "name_key", "version", "industry", *MERCHANT_FIELDS)
INSTRUMENT_COLUMNS = ("id", "type_id", "serial_no", "serial_key", "maker_key", "station_id", "merchant_id", "version",
                      *INSTRUMENT_FIELDS)
VERIFICATION_COLUMNS = ("id", "verified_on", "result", "valid_until", "certificate_no")
# A registered instrument or verification record, as the planner keeps it.
_Instrument = namedtuple("_Instrument", INSTRUMENT_COLUMNS)
_Verification = namedtuple("_Verification", VERIFICATION_COLUMNS)
# A catalogue kind, as the planner reads it (the rule and periods give the date a ledger's date is checked against).
_Kind = namedtuple("_Kind", "id code name_zh rule cycle_months service_life_years")

@dataclass(slots=True)
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
    provided: set = field(default_factory=set)  # the fields the rows of this merchant gave so far
    # Its industry: a registered merchant's, or the one guessed for a new one (from its name, else its first kind).
    industry: Industry | None = None


@dataclass(slots=True)
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


@dataclass(slots=True)
class VerificationPlan:
    """A verification record the batch adds."""

    instrument: InstrumentPlan
    values: dict
    row: int


@dataclass(slots=True)
class RowPlan:
    """What applying does for one row, and the row's errors."""

    row: int
    cells: object
    merchant_action: str = SKIP
    instrument_action: str = SKIP
    verification_action: str = SKIP
    errors: list[RowError] = field(default_factory=list)
    # Problems that keep the row (see ParsedRow.warnings); the planner may add its own.
    warnings: list[RowError] = field(default_factory=list)
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
        out: dict = {"rows": len(self.rows), "errors": sum(1 for r in self.rows if r.errors),
                     "warnings": sum(1 for r in self.rows if r.warnings)}
        for name, plans in (("merchants", self.merchants), ("instruments", self.instruments)):
            tally = defaultdict(int)
            for p in plans:
                tally[p.action] += 1
            out[name] = {k: tally[k] for k in (CREATE, UPDATE, UNCHANGED)}
        out["verifications"] = {CREATE: len(self.verifications), UPDATE: 0,
                                UNCHANGED: sum(1 for r in self.rows if r.verification_action == UNCHANGED)}
        return out


def chunks(items: list, size: int = CHUNK):
    """Slices of a list, small enough for one IN (...) statement."""
    for i in range(0, len(items), size):
        yield items[i:i + size]


def in_values(dialect: str, column, values: list):
    """column IN (values). On PostgreSQL one array parameter: psycopg converts a statement's
    placeholders in Python every time it runs, which made 250 lookups of 900 values 2 s. On SQLite
    one JSON array parameter read by json_each (still a search of the index per value): SQLAlchemy's
    handling of 900 parameters per statement cost more than SQLite's lookups."""
    if dialect == "postgresql":
        return column == any_(literal(values, ARRAY(column.type)))
    if dialect == "sqlite":
        return column.in_(select(func.json_each(literal(json.dumps(values))).table_valued("value").c.value))
    return column.in_(values)


def value_chunks(dialect: str, items: list):
    """Slices of `items` for one `in_values` each: larger where the values are one parameter."""
    return chunks(items, CHUNK if dialect not in ("postgresql", "sqlite") else ONE_PARAMETER_CHUNK)


def _error(sheet: str, row: ParsedRow, message: str, column: str = "", field_name: str | None = None) -> RowError:
    return RowError(sheet, row.row, column, field_name, message)


def _changed(merchant: Merchant, values: dict) -> dict:
    """The values that differ from the merchant's; a name spelt with other spaces or widths is the same name."""
    return {k: x for k, x in values.items() if (getattr(merchant, k) or "") != x
            and not (k == "name" and match_key(x) == merchant.name_key)}


class Planner:
    """Builds a Plan for one parsed sheet and one station."""

    def __init__(self, session: Session, station_id: int, today: dt.date,
                 default_merchant_id: int | None = None) -> None:
        self.session = session
        self.station_id = station_id
        self.today = today
        # A utility-meter ledger lists households, not merchants: its meters belong to this company.
        self.default_merchant_id = default_merchant_id
        # Plain tuples: an ORM attribute read costs about 1.5 µs, and each row reads its kind's id several times.
        self._dialect = session.get_bind().dialect.name
        self.kinds = {k.code: _Kind(k.id, k.code, k.name_zh, k.rule, k.cycle_months, k.service_life_years)
                      for k in session.scalars(select(InstrumentType))}
        # Names and makers repeat down a ledger: fold each distinct text once.
        self.key = lru_cache(maxsize=None)(match_key)
        # The date the rule gives by kind and verification date (dates repeat down a ledger too).
        self._expected: dict[tuple[str, dt.date], tuple[dt.date, str] | None] = {}
        self._date_labels = ("有效期至", "检定日期")
        # Registered records found so far, and the keys already looked up.
        self.by_code: dict[str, Row] = {}
        self.by_name: dict[str, list[Row]] = defaultdict(list)
        self.merchant_rows: dict[int, Row] = {}
        self._codes_read: set[str] = set()
        self._names_read: set[str] = set()
        self.instruments: dict[int, dict[str, tuple[_Instrument, ...]]] = defaultdict(dict)
        self.verifications: dict[int, tuple[_Verification, ...]] = {}
        # What the rows planned so far planned.
        self.sheet = ""
        self._rows: list[RowPlan] = []
        self._merchant_plans: dict[tuple, MerchantPlan] = {}
        self._instrument_plans: dict[tuple, InstrumentPlan] = {}
        self._verifications: list[VerificationPlan] = []
        self._seen_verifications: dict[tuple, tuple[int, dict]] = {}
        # Other ways to find a record planned by an earlier row: a new merchant by its name (rows
        # with and without the credit code), an instrument by kind + serial (rows with and without
        # the maker), and a registered record by its id.
        self._merchants_by_name: dict[str, list[MerchantPlan]] = defaultdict(list)
        self._merchants_by_id: dict[int, MerchantPlan] = {}
        self._instruments_by_serial: dict[tuple[int, str], list[InstrumentPlan]] = defaultdict(list)
        self._instruments_by_id: dict[int, InstrumentPlan] = {}

    # ----- lookups, set-based -------------------------------------------------------------
    def _in(self, column, values: list):
        """column IN (values), as `in_values` sends it."""
        return in_values(self._dialect, column, values)

    def _chunks(self, items: list):
        """Slices of `items` for one `_in` each: larger where the values are one parameter."""
        return value_chunks(self._dialect, items)

    # Registered records are read as Core rows (attribute access by column name), not ORM objects:
    # loading 100,000 instruments with their joined merchants and kinds into the session took
    # about 20 s and 300 MB; rows take a fraction of both.
    # A large file is planned a part at a time (see `plan_part`): each part's lookups add to what the
    # earlier parts found, and a key is looked up once.
    def _load_merchants(self, rows: list[ParsedRow]) -> None:
        codes = sorted({r.values["credit_code"] for r in rows if r.values.get("credit_code")} - self._codes_read)
        names = sorted({self.key(n) for n in {r.values.get("merchant_name") for r in rows} if n} - self._names_read)
        self._codes_read.update(codes)
        self._names_read.update(names)
        table = Merchant.__table__
        columns = [table.c[name] for name in MERCHANT_COLUMNS]
        for chunk in self._chunks(codes):
            for m in self.session.execute(select(*columns).where(self._in(table.c.credit_code, chunk))).all():
                self.by_code[m.credit_code] = m
                self.merchant_rows[m.id] = m
        for chunk in self._chunks(names):
            stmt = select(*columns).where(table.c.station_id == self.station_id, self._in(table.c.name_key, chunk))
            for m in self.session.execute(stmt).all():
                self.by_name[m.name_key].append(m)
                self.merchant_rows[m.id] = m

    def _load_instruments(self, rows: list[ParsedRow]) -> None:
        # By kind and serial key (fm2026120001 is FM2026120001): the unique index (type_id, serial_key,
        # maker_key) serves the lookup, which serial_key IN (...) alone cannot use (a full scan per chunk).
        serials: dict[int, set[str]] = defaultdict(set)
        for r in rows:
            kind = self.kinds.get(r.values.get("kind"))
            if kind is not None and r.values.get("serial_no"):
                serials[kind.id].add(self.key(r.values["serial_no"]))
        # Re-importing a ledger reads back as many registered records as it has rows, and they
        # stay until the plan is made: each is kept as a plain named tuple (a Row costs about
        # twice), the values that records repeat (makers, models, dates...) are held once, and the
        # indexes are per kind by serial, and per instrument, to tuples of records.
        share = {}.setdefault
        table = Instrument.__table__
        columns = [table.c[name] for name in INSTRUMENT_COLUMNS]
        shared = [i for i, name in enumerate(INSTRUMENT_COLUMNS) if name not in ("id", "serial_no", "serial_key",
                                                                              "version")]
        ids = []
        for type_id, wanted in sorted(serials.items()):
            by_serial = self.instruments[type_id]
            # Not read again when an earlier part found it (a serial no part found is only asked again).
            wanted = {serial for serial in wanted if serial not in by_serial}
            for chunk in self._chunks(sorted(wanted)):
                stmt = select(*columns).where(table.c.type_id == type_id, self._in(table.c.serial_key, chunk))
                for row in self.session.execute(stmt):
                    values = list(row)
                    for i in shared:
                        values[i] = share(values[i], values[i])
                    inst = _Instrument._make(values)
                    by_serial[inst.serial_key] = by_serial.get(inst.serial_key, ()) + (inst,)
                    ids.append(inst.id)
        vt = Verification.__table__
        columns = [vt.c[name] for name in VERIFICATION_COLUMNS]
        for chunk in self._chunks(ids):
            stmt = select(vt.c.instrument_id, *columns).where(self._in(vt.c.instrument_id, chunk),
                                                              vt.c.voided_at.is_(None))
            for instrument_id, ver_id, verified_on, result, valid_until, certificate_no in self.session.execute(stmt):
                ver = _Verification(ver_id, share(verified_on, verified_on), result, share(valid_until, valid_until),
                                    certificate_no)
                self.verifications[instrument_id] = self.verifications.get(instrument_id, ()) + (ver,)

    def _assign_default_merchant(self, parsed: ParsedSheet) -> None:
        """Rows naming no merchant belong to the batch's company; their address is the household's
        (the instrument's install address), and a household's phone or contact is said to be left out."""
        table = Merchant.__table__
        company = self.session.execute(select(table.c.name, table.c.credit_code)
                                       .where(table.c.id == self.default_merchant_id)).one()
        for row in parsed.rows:
            if row.values.get("merchant_name") or row.values.get("credit_code"):
                continue
            values = {k: x for k, x in row.values.items() if k not in ("address", "phone", "contact")}
            if "address" in row.values and "install_address" not in values:
                values["install_address"] = row.values["address"]
            left = [k for k in ("phone", "contact") if k in row.values]
            if left:
                row.warnings = (*row.warnings, *(RowError(
                    parsed.sheet, row.row, parsed.mapping.label(k), k,
                    f"{parsed.mapping.label(k)}“{row.values[k]}”是住户的，器具登记在“{company.name}”名下，此项未导入")
                    for k in left))
            values["merchant_name"] = company.name
            if company.credit_code:
                values["credit_code"] = company.credit_code
            row.values = values

    def _merchant_name(self, merchant_id: int) -> str:
        return self.session.execute(select(Merchant.__table__.c.name)
                                    .where(Merchant.__table__.c.id == merchant_id)).scalar_one()

    # ----- planning -------------------------------------------------------------------------
    def plan(self, parsed: ParsedSheet, *, consume: bool = False) -> Plan:
        """Match every row and decide its actions.

        With `consume`, each parsed row's values are let go once the row is planned (the plan keeps
        what it needs): a large file's values dicts then do not all stay in memory to the end.
        """
        self.plan_part(parsed, consume=consume)
        return self.finish()

    def plan_part(self, parsed: ParsedSheet, *, consume: bool = False) -> list[RowPlan]:
        """Plan the next rows of the sheet (a part of it, in order; see `parse_sheet`'s `parts`); their RowPlans.

        Parts planned one after the other give the plan that `plan` gives for all their rows at once:
        records are looked up, and rows matched against the earlier rows' plans, the same way.
        A row's RowPlan is final once its part is planned.
        """
        rows = parsed.rows
        self._date_labels = (parsed.mapping.label("valid_until"), parsed.mapping.label("verified_on"))
        if self.default_merchant_id is not None:
            self._assign_default_merchant(parsed)
        valid = [r for r in rows if r.ok]
        self._load_merchants(valid)
        self._load_instruments(valid)
        self.sheet = parsed.sheet
        merchants, instruments = self._merchant_plans, self._instrument_plans
        seen_verifications, verifications = self._seen_verifications, self._verifications
        start = len(self._rows)
        out = self._rows
        for row in rows:
            rp = RowPlan(row=row.row, cells=row.cells, errors=list(row.errors), warnings=list(row.warnings))
            out.append(rp)
            if rp.errors:
                rp.merchant_action = rp.instrument_action = rp.verification_action = ERROR
                continue
            v = row.values
            if consume:
                row.values = _CONSUMED
            mp, extra = self._merchant(parsed.sheet, row, rp, merchants, v)
            ip = self._instrument(parsed.sheet, row, rp, mp, instruments, v) if mp else None
            vp = self._verification(parsed.sheet, row, rp, ip, seen_verifications, v) if ip else None
            if rp.errors:
                rp.merchant_action = rp.instrument_action = rp.verification_action = ERROR
                continue
            # Only rows without errors make or change records: a record, or a value, that only
            # error rows lead to is not written. New plans are kept from their first valid row.
            rp.summary = f"{v.get('merchant_name') or v.get('credit_code', '')} / {v.get('serial_no', '')}"[:300]
            if "valid_until" in v and "verified_on" in v and v.get("result", "pass") == "pass":
                self._check_valid_until(parsed.sheet, row, rp, v["kind"], v["verified_on"], v["valid_until"])
            if vp is not None:
                verifications.append(vp)
            if ip is not None:
                self._industry(parsed.sheet, row, rp, mp, ip, v)
            if mp.used == 0:
                self._keep_merchant(mp, merchants)
            elif extra:
                self._fill_merchant(mp, extra, merchants)
            mp.used += 1
            if ip is not None:
                if ip.used == 0:
                    self._keep_instrument(ip, instruments)
                ip.used += 1
        return out[start:]

    def finish(self) -> Plan:
        """The plan of every row planned so far."""
        # One plan may be kept under several keys (a code and a name).
        kept = list({id(m): m for m in self._merchant_plans.values()}.values())
        return Plan(self.sheet, self.station_id, self._rows, kept, list(self._instrument_plans.values()),
                    self._verifications)

    def _industry(self, sheet: str, row: ParsedRow, rp: RowPlan, mp: MerchantPlan, ip: InstrumentPlan,
                  v: dict) -> None:
        """Warn when the row's kind does not fit its merchant's industry, and say what a new merchant's is guessed."""
        code = v["kind"]
        if mp.industry is None:
            if mp.existing_id is not None:
                mp.industry = Industry(self.merchant_rows[mp.existing_id].industry)
            else:
                name = mp.values.get("name", "")
                by_name = industry_for_name(name)
                mp.industry = by_name or industry_for_kind(code)
                how = "按名称" if by_name else "按器具种类"
                rp.warnings.append(_error(sheet, row, f"新使用单位“{name}”的行业{how}推定为“{mp.industry.label}”，"
                                                      "导入后可在使用单位页面修改", "使用单位名称", "merchant_name"))
        if not fits(code, mp.industry):
            kind = self.kinds[code]
            rp.warnings.append(_error(sheet, row, f"器具种类“{kind.name_zh}”通常不属于{mp.industry.label}"
                                                  f"（使用单位“{mp.values.get('name') or self._merchant_label(mp)}”），"
                                                  "请核对器具种类；如不对，可在预览中为本文件指定", "器具种类", "kind"))

    def _merchant_label(self, mp: MerchantPlan) -> str:
        return self.merchant_rows[mp.existing_id].name if mp.existing_id is not None else ""

    def _keep_merchant(self, mp: MerchantPlan, plans: dict) -> None:
        plans[mp.key] = mp
        if mp.name_key:
            self._merchants_by_name[mp.name_key].append(mp)
        if mp.existing_id is not None:
            self._merchants_by_id[mp.existing_id] = mp

    def _fill_merchant(self, mp: MerchantPlan, extra: dict, plans: dict) -> None:
        """A later valid row gives values the earlier rows of the same merchant left empty."""
        for k, x in extra.items():
            mp.provided.add(k)
            if mp.existing_id is not None:
                mp.before[k] = getattr(self.merchant_rows[mp.existing_id], k)
                mp.action = UPDATE
            mp.values[k] = x
        if extra.get("credit_code"):
            plans.setdefault(("code", extra["credit_code"]), mp)

    def _keep_instrument(self, ip: InstrumentPlan, plans: dict) -> None:
        plans[ip.key] = ip
        self._instruments_by_serial[ip.key[:2]].append(ip)
        if ip.existing_id is not None:
            self._instruments_by_id[ip.existing_id] = ip

    def _code_of(self, mp: MerchantPlan) -> str | None:
        if mp.values.get("credit_code"):
            return mp.values["credit_code"]
        return self.merchant_rows[mp.existing_id].credit_code if mp.existing_id is not None else None

    def _merchant(self, sheet: str, row: ParsedRow, rp: RowPlan, plans: dict,
                  v: dict) -> tuple[MerchantPlan | None, dict]:
        """The row's merchant plan (a new one is kept by `plan` once the row proves valid), and the
        values this row adds to a merchant an earlier row planned."""
        code = v.get("credit_code")
        name = v.get("merchant_name", "")
        name_key = self.key(name)
        key = ("code", code) if code else ("name", name_key)
        values = {"name": name, "credit_code": code, "phone": v.get("phone"), "contact": v.get("contact"),
                  "address": v.get("address")}
        values = {k: x for k, x in values.items() if x not in (None, "")}
        mp = plans.get(key)
        existing: Merchant | None = None
        if mp is None and code:
            existing = self.by_code.get(code)
            if existing is not None and existing.station_id != self.station_id:
                rp.errors.append(_error(sheet, row, f"统一社会信用代码 {code} 已登记为其他监管所的使用单位"
                                                    f"“{existing.name}”，不能导入到本所", "统一社会信用代码",
                                        "credit_code"))
                return None, {}
        if mp is None and existing is None:
            candidates = self.by_name.get(name_key, []) if name else []
            if code:
                # A name match that carries a different credit code is another business.
                candidates = [m for m in candidates if not m.credit_code or m.credit_code == code]
            if len(candidates) > 1:
                rp.errors.append(_error(sheet, row, f"使用单位“{name}”在本所匹配到 {len(candidates)} 个已登记单位，"
                                                    "无法确定是哪一个，请补充统一社会信用代码", "使用单位名称",
                                        "merchant_name"))
                return None, {}
            existing = candidates[0] if candidates else None
            if existing is None and name_key:
                # The same business written once with and once without its credit code is one merchant.
                planned = self._merchants_by_name.get(name_key, [])
                if code:
                    planned = [p for p in planned if not self._code_of(p)]
                if len(planned) > 1:
                    rp.errors.append(_error(sheet, row, f"使用单位“{name}”在本文件中对应 {len(planned)} 个不同的"
                                                        "统一社会信用代码，无法确定是哪一个，请补充统一社会信用代码",
                                            "使用单位名称", "merchant_name"))
                    return None, {}
                mp = planned[0] if planned else None
        if mp is None and existing is not None:
            mp = self._merchants_by_id.get(existing.id)
        if mp is not None:
            # A merchant an earlier row planned: the earlier rows' values stand; values they left
            # empty are taken from this row.
            extra = {k: x for k, x in values.items() if k not in mp.provided}
            if mp.existing_id is not None:
                current = self.merchant_rows[mp.existing_id]
                extra = _changed(current, extra)
            rp.merchant_action = UPDATE if extra and mp.existing_id is not None else UNCHANGED
            return mp, extra
        if existing is None:
            if not name:
                rp.errors.append(_error(sheet, row, "新使用单位缺少名称", "使用单位名称", "merchant_name"))
                return None, {}
            mp = MerchantPlan(key, CREATE, values, first_row=row.row, name_key=name_key)
        else:
            changes = _changed(existing, values)
            mp = MerchantPlan(key, UPDATE if changes else UNCHANGED, changes, existing.id,
                              {k: getattr(existing, k) for k in changes}, first_row=row.row, name_key=name_key)
            mp.values["_version"] = existing.version
        mp.provided = set(values)
        rp.merchant_action = mp.action
        return mp, {}

    def _instrument(self, sheet: str, row: ParsedRow, rp: RowPlan, mp: MerchantPlan,
                    plans: dict, v: dict) -> InstrumentPlan | None:
        kind = self.kinds.get(v["kind"])
        if kind is None:
            rp.errors.append(_error(sheet, row, f"器具种类 {v['kind']} 不在目录中", "器具种类", "kind"))
            return None
        serial = v["serial_no"]
        serial_key = self.key(serial)
        maker_key = self.key(v.get("maker"))
        key = (kind.id, serial_key, maker_key)
        values = {k: v[k] for k in INSTRUMENT_FIELDS if k in v and v[k] not in (None, "")}
        if "status" in values:
            values["status"] = InstrumentStatus(values["status"])
        ip = plans.get(key)
        if ip is None:
            # Planned by an earlier row: a row without the maker is any row of this kind and serial;
            # a row with it may be one that did not know the maker.
            planned = self._instruments_by_serial.get((kind.id, serial_key), [])
            if maker_key:
                planned = [p for p in planned if not p.key[2]]
            if len(planned) > 1:
                rp.errors.append(_error(sheet, row, f"{kind.name_zh} 出厂编号 {serial} 在本文件中对应 {len(planned)} 台"
                                                    "不同制造单位的器具，请补充制造单位以区分", "出厂编号", "serial_no"))
                return None
            ip = planned[0] if planned else None
        existing: _Instrument | None = None
        if ip is None:
            candidates = self.instruments.get(kind.id, {}).get(serial_key, ())
            if maker_key:
                candidates = [i for i in candidates if i.maker_key in (maker_key, "")]
            if len(candidates) > 1:
                rp.errors.append(_error(sheet, row, f"{kind.name_zh} 出厂编号 {serial} 匹配到 {len(candidates)} 台已登记器具，"
                                                    "请补充制造单位以区分", "出厂编号", "serial_no"))
                return None
            existing = candidates[0] if candidates else None
            if existing is not None and existing.serial_no != serial:
                rp.errors.append(_error(sheet, row, f"{kind.name_zh} 出厂编号 {serial} 与已登记的器具 {existing.serial_no}"
                                                    f"（使用单位“{self._merchant_name(existing.merchant_id)}”）是同一台"
                                                    "（出厂编号不区分大小写、全角半角和空格），不能重复登记；如是同一台，"
                                                    "请按已登记的写法填写", "出厂编号", "serial_no"))
                return None
            if existing is not None:
                ip = self._instruments_by_id.get(existing.id)
        if ip is not None:
            if ip.values.get("serial_no", serial) != serial:
                rp.errors.append(_error(sheet, row, f"{kind.name_zh} 出厂编号 {serial} 与第{ip.first_row}行的"
                                                    f"{ip.values['serial_no']} 是同一台器具（出厂编号不区分大小写、全角半角"
                                                    "和空格），请统一写法", "出厂编号", "serial_no"))
                return None
            if ip.merchant is not mp:
                rp.errors.append(_error(sheet, row, f"出厂编号 {serial} 在本文件中出现在不同的使用单位下"
                                                    f"（见第{ip.first_row}行）", "出厂编号", "serial_no"))
                return None
            rp.instrument_action = UNCHANGED
            return ip
        if existing is None:
            ip = InstrumentPlan(key, CREATE, {**values, "serial_no": serial}, mp, kind.id, first_row=row.row)
        else:
            if existing.station_id != self.station_id:
                rp.errors.append(_error(sheet, row, f"{kind.name_zh} 出厂编号 {serial} 已登记在其他监管所，不能导入到本所",
                                        "出厂编号", "serial_no"))
                return None
            if mp.existing_id is None or existing.merchant_id != mp.existing_id:
                rp.errors.append(_error(sheet, row, f"{kind.name_zh} 出厂编号 {serial} 已登记在使用单位"
                                                    f"“{self._merchant_name(existing.merchant_id)}”名下，与本行的使用单位不符",
                                        "出厂编号", "serial_no"))
                return None
            changes = {k: x for k, x in values.items() if (getattr(existing, k) or "") != x}
            ip = InstrumentPlan(key, UPDATE if changes else UNCHANGED, changes, mp, kind.id, existing.id,
                                {k: getattr(existing, k) for k in changes}, first_row=row.row)
            ip.values["_version"] = existing.version
        rp.instrument_action = ip.action
        return ip

    def _verification(self, sheet: str, row: ParsedRow, rp: RowPlan, ip: InstrumentPlan,
                      seen: dict, v: dict) -> VerificationPlan | None:
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
                  "institution": v.get("institution", ""),
                  "notes": "；".join(x for x in (v.get("notes", ""), v.get("fail_reason", "")) if x)}
        cert = values["certificate_no"]
        # Flat keys and the values as a tuple: one entry per record of a 100,000-row file.
        key = (id(ip), "cert", cert) if cert else (id(ip), "date", values["verified_on"])
        compared = tuple(values.values())
        if key in seen:
            first_row, first_values = seen[key]
            if first_values != compared:
                rp.errors.append(_error(sheet, row, f"与第{first_row}行是同一条检定记录但内容不同", "检定日期",
                                        "verified_on"))
                return None
            rp.verification_action = UNCHANGED
            return None
        if ip.existing_id is not None:
            existing = [x for x in self.verifications.get(ip.existing_id, ())
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
                seen[key] = (row.row, compared)
                rp.verification_action = UNCHANGED
                return None
        seen[key] = (row.row, compared)  # only now: a row found to be an error here is not a first row
        rp.verification_action = CREATE
        return VerificationPlan(ip, values, row.row)

    def _check_valid_until(self, sheet: str, row: ParsedRow, rp: RowPlan, code: str, verified_on: dt.date,
                           valid_until: dt.date) -> None:
        """A ledger date (有效期至, 到期轮换日期) that disagrees with the kind's rule is a warning naming both
        dates. The ledger's date is what is stored, as before: the engine takes a certificate's date as
        authoritative. The day before counts as agreeing (有效期至 2025-02-28 for 2024-03-01 + 12 months)."""
        cache_key = (code, verified_on)
        expected = self._expected.get(cache_key, False)
        if expected is False:
            kind = self.kinds[code]
            if kind.rule.value == SERVICE_LIFE and kind.service_life_years:
                expected = (add_months(verified_on, 12 * kind.service_life_years),
                            f"使用期限{kind.service_life_years}年")
            elif kind.rule.value != SERVICE_LIFE and kind.cycle_months:
                expected = (add_months(verified_on, kind.cycle_months), f"检定周期{kind.cycle_months}个月")
            else:
                expected = None
            self._expected[cache_key] = expected
        if expected is None:
            return
        day, basis = expected
        if valid_until == day or valid_until == day - dt.timedelta(days=1):
            return
        valid_label, verified_label = self._date_labels
        rp.warnings.append(_error(sheet, row, f"{valid_label} {valid_until} 与系统按{verified_label} {verified_on}"
                                              f"和{basis}推算的日期 {day} 不一致；已按台账上的 {valid_until} 记录，请核对",
                                  valid_label, "valid_until"))
