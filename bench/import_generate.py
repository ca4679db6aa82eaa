"""Write a station's legacy ledger for the import benchmark: by default 100,000 rows in 15 columns
for about 10,000 merchants, as .xlsx into bench/data/ (no Flask, no database).

    .venv/bin/python bench/import_generate.py                 # bench/data/import_ledger_100000.xlsx
    .venv/bin/python bench/import_generate.py --rows 20000 --out /tmp/ledger.xlsx

The sheet looks like what stations keep: a title merged over the table and a 填报单位 line above
the header; rows grouped by merchant with a running 序号; dates mostly real Excel dates, some typed
as text (2023.5.6, 2023/05/06, 2023-5-6, 2023年5月6日, 20230506, full-width digits) or as serial
numbers; some serials and phone numbers stored as numbers; kinds spelled the ways stations spell
them; a few blank rows and 小计 rows, and a 合计 row and notes under the table. Every row is valid,
unless --bad-rows asks for some rows with errors. The same seed gives the same file.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from openpyxl import Workbook  # noqa: E402

from app.demo.generator import (  # noqa: E402
    EYE_WORDS,
    FIRM_WORDS,
    GIVEN,
    INSTITUTIONS,
    KINDS,
    MAKERS,
    SHOP_WORDS,
    STALL_GOODS,
    SURNAMES,
    TOWNS,
)
from app.merchants.credit_code import ALPHABET, check_character  # noqa: E402
from app.text import match_key  # noqa: E402

DATA_DIR = ROOT / "bench" / "data"
DEFAULT_SEED = 20261122
DEFAULT_AS_OF = dt.date(2026, 10, 31)  # the ledger's 填报日期: every verification is on or before it
DIVISION = "331202"  # a county code that looks right without being a real one

HEADERS = ("序号", "使用单位名称", "统一社会信用代码", "器具名称", "规格型号", "出厂编号", "制造单位", "安装地点",
           "检定日期", "有效期至", "检定结论", "证书编号", "联系电话", "检定机构", "备注")
WIDTH = len(HEADERS)

# How stations spell each kind in their ledgers, most common first (all resolve to the catalogue).
SPELLINGS = {
    "elec_price_scale": (("电子计价秤", 50), ("计价秤", 20), ("电子秤", 20), ("电子计价称", 5), ("电子台秤", 5)),
    "fuel_dispenser": (("燃油加油机", 60), ("加油机", 35), ("税控燃油加油机", 5)),
    "cng_dispenser": (("CNG加气机", 60), ("压缩天然气加气机", 40)),
    "lpg_dispenser": (("液化石油气加气机", 100),),
    "taximeter": (("出租汽车计价器", 50), ("出租车计价器", 40), ("计价器", 10)),
    "ev_ac_charger": (("交流充电桩", 60), ("电动汽车交流充电桩", 40)),
    "ev_dc_charger": (("直流充电桩", 50), ("电动汽车非车载充电机", 50)),
    "bp_manual": (("血压计", 60), ("血压表", 20), ("台式血压计", 20)),
    "bp_auto": (("电子血压计", 100),),
    "refractometer": (("验光仪", 70), ("电脑验光仪", 30)),
    "lensmeter": (("焦度计", 70), ("电脑焦度计", 30)),
    "trial_lens_set": (("验光镜片组", 60), ("镜片箱", 40)),
}
CYCLE_MONTHS = {"fuel_dispenser": 6, "cng_dispenser": 12, "lpg_dispenser": 12, "ev_ac_charger": 36,
                "ev_dc_charger": 36, "trial_lens_set": 24}  # others: 12

# Merchant types: share of merchants, credit-code prefix, kinds (weights), instruments (low, high).
@dataclass(frozen=True)
class MerchantType:
    name: str
    share: float
    prefix: str
    kinds: tuple[tuple[str, int], ...]
    count: tuple[int, int]


TYPES = (
    MerchantType("stall", 0.50, "92", (("elec_price_scale", 1),), (1, 4)),
    MerchantType("shop", 0.20, "91", (("elec_price_scale", 1),), (3, 24)),
    MerchantType("fuel", 0.07, "91", (("fuel_dispenser", 85), ("cng_dispenser", 8), ("lpg_dispenser", 7)), (4, 24)),
    MerchantType("taxi", 0.02, "91", (("taximeter", 1),), (20, 160)),
    MerchantType("charging", 0.06, "91", (("ev_ac_charger", 70), ("ev_dc_charger", 30)), (4, 60)),
    MerchantType("clinic", 0.07, "12", (("bp_manual", 50), ("bp_auto", 50)), (2, 30)),
    MerchantType("eyewear", 0.05, "92", (("refractometer", 40), ("lensmeter", 40), ("trial_lens_set", 20)), (2, 6)),
    MerchantType("other", 0.03, "92", (("elec_price_scale", 1),), (1, 6)),
)
NOTES = ("新装", "维修后重新检定", "摊位调整", "更换主板后检定", "周期检定", "迁址")
ROOMS = {"shop": ("收银台", "称重台", "生鲜区"), "clinic": ("诊室", "护士站", "体检室"), "eyewear": ("验光室", "柜台")}
CLINIC_WORDS = ("康宁", "仁和", "济民", "同仁", "博爱", "安康", "益寿", "惠民", "德济", "长青")


@dataclass
class Merchant:
    name: str
    credit_code: str  # '' when the ledger leaves it out
    phone: object  # str, int (a number cell) or ''
    type: MerchantType
    instruments: int = 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000, help="data rows (default 100,000)")
    p.add_argument("--merchants", type=int, default=None, help="default: rows / 10")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--as-of", type=dt.date.fromisoformat, default=DEFAULT_AS_OF,
                   help=f"latest verification date (default {DEFAULT_AS_OF})")
    p.add_argument("--bad-rows", type=int, default=0, help="rows with an error each (impossible date, unknown kind...)")
    p.add_argument("--out", type=Path, default=None, help="default: bench/data/import_ledger_<rows>.xlsx")
    return p.parse_args(argv)


def default_path(rows: int) -> Path:
    """Where the generator writes a ledger of `rows` rows, and where bench_import.py looks for it."""
    return DATA_DIR / f"import_ledger_{rows}.xlsx"


class LedgerGenerator:
    """Builds the ledger rows from a seeded random generator."""

    def __init__(self, seed: int, as_of: dt.date) -> None:
        self.rng = random.Random(seed)
        self.as_of = as_of
        self.codes: set[str] = set()
        self.names: set[str] = set()
        self.serials: set[tuple[str, str]] = set()
        self.certificates = 0

    # ----- merchants ------------------------------------------------------------------------
    def credit_code(self, prefix: str) -> str:
        """A new, valid unified social credit code (GB 32100-2015)."""
        r = self.rng
        while True:
            body = "".join(r.choice(ALPHABET) for _ in range(9))
            first17 = prefix + DIVISION + body
            code = first17 + check_character(first17)
            if code not in self.codes:
                self.codes.add(code)
                return code

    def person(self) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)

    def merchant_name(self, kind: MerchantType) -> str:
        r = self.rng
        town = r.choice(TOWNS)
        for attempt in range(50):
            if kind.name == "stall":
                name = f"{town}{self.person()}{r.choice(STALL_GOODS)}{r.choice(('店', '摊', '经营部', '商行'))}"
            elif kind.name == "shop":
                name = f"青溪县{town}{r.choice(SHOP_WORDS)}{r.choice(('超市', '便利店', '生鲜超市', '购物中心'))}"
            elif kind.name == "fuel":
                name = f"青溪县{town}{r.choice(FIRM_WORDS)}{r.choice(('加油站', '石油加油站', '加油加气站'))}"
            elif kind.name == "taxi":
                name = f"青溪县{r.choice(FIRM_WORDS)}{r.choice(('出租汽车有限公司', '客运出租车有限公司'))}"
            elif kind.name == "charging":
                name = f"{town}{r.choice(FIRM_WORDS)}{r.choice(('充电站', '新能源充电服务有限公司'))}"
            elif kind.name == "clinic":
                name = f"青溪县{town}{r.choice(CLINIC_WORDS)}{r.choice(('诊所', '卫生院', '门诊部', '社区卫生服务站'))}"
            elif kind.name == "eyewear":
                name = f"{town}{r.choice(EYE_WORDS)}{r.choice(('眼镜店', '眼镜行', '视光中心'))}"
            else:
                name = f"{town}{self.person()}{r.choice(('金店', '中药房', '茶叶店', '烟酒商行', '粮油批发部'))}"
            if attempt >= 3:
                name = f"{name}（{attempt}号分店）"
            if match_key(name) not in self.names:
                self.names.add(match_key(name))
                return name
        raise RuntimeError("could not find a new merchant name")

    def phone(self) -> object:
        r = self.rng
        x = r.random()
        if x < 0.05:
            return ""
        if x < 0.15:
            return f"0578-{r.randint(2000000, 8999999)}"
        mobile = int(f"1{r.choice('3456789')}{r.randint(0, 999_999_999):09d}")
        return mobile if x < 0.45 else str(mobile)  # a number cell, as Excel keeps a typed mobile

    def merchants(self, n: int, rows: int) -> list[Merchant]:
        """n merchants whose instrument counts add up to `rows`."""
        r = self.rng
        out = []
        for _ in range(n):
            kind = r.choices(TYPES, weights=[t.share for t in TYPES])[0]
            code = self.credit_code(kind.prefix) if r.random() >= 0.03 else ""  # some ledgers leave it out
            out.append(Merchant(self.merchant_name(kind), code, self.phone(), kind,
                                r.randint(*kind.count)))
        # Scale the counts so they add up, every merchant keeping at least one instrument.
        raw = sum(m.instruments for m in out)
        for m in out:
            m.instruments = max(1, round(m.instruments * rows / raw))
        diff = rows - sum(m.instruments for m in out)
        while diff:
            m = r.choice(out)
            if diff > 0:
                m.instruments += 1
                diff -= 1
            elif m.instruments > 1:
                m.instruments -= 1
                diff += 1
        return out

    # ----- rows ------------------------------------------------------------------------------
    def date_cell(self, date: dt.date) -> object:
        """Mostly a real date; otherwise one of the text forms stations type, or a serial number."""
        r = self.rng
        x = r.random()
        if x < 0.78:
            return date
        y, m, d = date.year, date.month, date.day
        forms = (f"{y}.{m}.{d}", f"{y}/{m:02d}/{d:02d}", f"{y}-{m}-{d}", f"{y}年{m}月{d}日", f"{y}{m:02d}{d:02d}",
                 f"{y}/{m}/{d}")
        if x < 0.97:
            return r.choice(forms)
        if x < 0.99:
            return (date - dt.date(1899, 12, 30)).days  # an Excel serial in a number cell
        return f"{y}-{m:02d}-{d:02d}".translate(_FULL_WIDTH)  # full-width digits

    def serial(self, kind: str, prefix: str) -> object:
        r = self.rng
        while True:
            if r.random() < 0.25:
                # Typed into a number cell: calamine reads a float, the importer gives back the digits.
                value: object = int(f"{r.randint(2015, 2026)}{r.randint(0, 999_999):06d}")
            else:
                value = f"{prefix}{r.randint(2015, 2026)}{r.randint(0, 9_999_999):07d}"
            key = (kind, str(value))
            if key not in self.serials:
                self.serials.add(key)
                return value

    def verification(self, kind: str) -> tuple[dt.date, dt.date | None, str]:
        """(verified on, valid until or None, result)."""
        r = self.rng
        months = CYCLE_MONTHS.get(kind, 12)
        days = months * 30
        if r.random() < 0.08:
            verified = self.as_of - dt.timedelta(days=r.randint(days, days + 400))  # overdue
        else:
            verified = self.as_of - dt.timedelta(days=r.randint(0, days - 1))
        if kind.startswith("ev_"):
            verified = max(verified, dt.date(2023, 1, 1))
        result = "不合格" if r.random() < 0.01 else "合格"
        valid = None
        if result == "合格" and r.random() < 0.92:
            valid = _add_months(verified, months) - dt.timedelta(days=1)
        return verified, valid, result

    def instrument_rows(self, m: Merchant, start: int) -> list[list]:
        r = self.rng
        rows = []
        kinds, weights = zip(*m.type.kinds, strict=True)
        for i in range(m.instruments):
            kind = r.choices(kinds, weights=weights)[0]
            makers = MAKERS[KINDS[kind][0]]
            maker, prefix = r.choice(makers)
            model = r.choice(KINDS[kind][1])[0]
            spellings, sw = zip(*SPELLINGS[kind], strict=True)
            verified, valid, result = self.verification(kind)
            institution, inst_code = INSTITUTIONS[0] if r.random() < 0.8 else INSTITUTIONS[1]
            self.certificates += 1
            cert = "" if r.random() < 0.05 else f"{inst_code}{verified.year}-{self.certificates:06d}"
            if kind == "taximeter":
                location = f"浙M·{r.choice('ABDT')}{r.randint(1000, 9999)}"
            elif kind.endswith("dispenser"):
                location = f"{i // 4 + 1}号机{i % 4 + 1}号枪"
            elif kind.startswith("ev_"):
                location = f"{i + 1}号桩"
            elif m.type.name == "stall":
                location = f"{r.choice(TOWNS)}农贸市场{r.randint(1, 300)}号摊位"
            else:
                location = f"{r.choice(ROOMS.get(m.type.name, ('柜台',)))}{i + 1}"
            code = m.credit_code
            if code and r.random() < 0.02:
                code = code.lower()  # typed in lower case: the importer upper-cases it
            name = f" {m.name} " if r.random() < 0.03 else m.name  # stray spaces are trimmed
            notes = r.choice(NOTES) if r.random() < 0.1 else ""
            rows.append([start + i, name, code, r.choices(spellings, weights=sw)[0], model,
                         self.serial(kind, prefix), maker, location, self.date_cell(verified),
                         self.date_cell(valid) if valid else "", result, cert, m.phone, institution, notes])
        return rows


_FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


def _add_months(date: dt.date, months: int) -> dt.date:
    month = date.month - 1 + months
    year, month = date.year + month // 12, month % 12 + 1
    for day in (date.day, 30, 29, 28):
        try:
            return dt.date(year, month, day)
        except ValueError:
            continue
    raise AssertionError


def spoil(rng: random.Random, row: list) -> None:
    """Give a data row one error a station's ledger really has."""
    x = rng.randrange(4)
    if x == 0:
        row[8] = "2025-02-30"  # an impossible date
    elif x == 1:
        row[3] = "电子天平秤"  # not a kind in the catalogue
    elif x == 2:
        row[2] = row[2][:17] + ("0" if row[2][17:] != "0" else "1") if row[2] else "91331202ABC"  # bad check digit
    else:
        row[5] = ""  # no serial number


def write(path: Path, args: argparse.Namespace) -> dict:
    """Generate and write the workbook; returns what it holds."""
    gen = LedgerGenerator(args.seed, args.as_of)
    merchants = gen.merchants(args.merchants or max(1, args.rows // 10), args.rows)
    rng = gen.rng
    # Where the blank and subtotal rows go: after a few merchants' groups.
    breaks = {rng.randrange(len(merchants)) for _ in range(20)}
    subtotals = {rng.randrange(len(merchants)) for _ in range(8)}

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("强检器具台账")
    ws.merged_cells.add(f"A1:{chr(ord('A') + WIDTH - 1)}1")
    ws.append([f"青溪县市场监督管理局城关市场监管所强制检定计量器具台账（{args.as_of.year}年）"] + [None] * (WIDTH - 1))
    second = [None] * WIDTH
    second[0], second[-3] = "填报单位：（盖章）", f"填报日期：{args.as_of.year}年{args.as_of.month}月"
    ws.append(second)
    ws.append(list(HEADERS))
    counts = {"data": 0, "blank": 0, "subtotal": 0, "total": 0, "note": 0, "bad": 0}
    bad = set(rng.sample(range(1, args.rows + 1), min(args.bad_rows, args.rows)))
    number, since_subtotal = 1, 0
    for i, m in enumerate(merchants):
        for row in gen.instrument_rows(m, number):
            if row[0] in bad:
                spoil(rng, row)
                counts["bad"] += 1
            ws.append([None if v == "" else v for v in row])
        number += m.instruments
        since_subtotal += m.instruments
        counts["data"] += m.instruments
        if i in subtotals:
            ws.append([None, f"小计：{since_subtotal}台"] + [None] * (WIDTH - 2))
            counts["subtotal"] += 1
            since_subtotal = 0
        if i in breaks:
            ws.append([None] * WIDTH)
            counts["blank"] += 1
    ws.append([None, f"合计：{counts['data']}台"] + [None] * (WIDTH - 2))
    ws.append([None] * WIDTH)
    ws.append(["注：1. 本台账按使用单位排列；2. 有效期至为空的，以检定证书为准。"] + [None] * (WIDTH - 1))
    ws.append(["填表人：王丽华", None, None, None, None, None, "审核人：陈建国"] + [None] * (WIDTH - 7))
    counts.update(total=1, blank=counts["blank"] + 1, note=2, merchants=len(merchants),
                  merchants_without_code=sum(1 for m in merchants if not m.credit_code))
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return counts


def main(argv: list[str] | None = None) -> None:
    """Write the ledger and print what it holds."""
    args = parse_args(argv)
    path = args.out or default_path(args.rows)
    started = time.perf_counter()
    counts = write(path, args)
    print(f"wrote {path} ({path.stat().st_size / 2 ** 20:.1f} MiB) in {time.perf_counter() - started:.1f} s: "
          f"{counts['data']:,} data rows ({counts['bad']} with errors) for {counts['merchants']:,} merchants "
          f"({counts['merchants_without_code']} without a credit code); skipped rows: 3 above the table, "
          f"{counts['blank']} blank, {counts['subtotal']} subtotal, {counts['total']} total, {counts['note']} notes")


if __name__ == "__main__":
    main()
