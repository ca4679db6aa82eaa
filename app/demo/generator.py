"""Reproducible demo and benchmark data for a county bureau (no Flask).

Stations, merchants of every industry, the instruments each industry uses and their
verification histories. Every instrument's derived dates come from the due-date engine,
so the data follows the verification rules exactly. Rows go in with bulk Core inserts
(``session.execute(insert(table), rows)``) in batches, so the same code builds the
3,000-instrument demo and the 1,000,000-instrument benchmark.

The generator never commits: the caller owns the transaction (``session_scope()`` in the
CLI; the benchmark script commits between batches through ``after_batch``).
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from app.accounts.models import Station
from app.catalog.models import InstrumentType
from app.clock import LOCAL_TZ
from app.db import utcnow
from app.instruments.engine import FAIL, PASS, PERIODIC, SERVICE_LIFE, VerificationFacts, add_months, compute_due_dates
from app.instruments.models import Instrument, Verification
from app.merchants.credit_code import ALPHABET, check_character
from app.merchants.models import Industry, Merchant
from app.models import metadata
from app.search.keys import search_text
from app.text import match_key

DEFAULT_SEED = 20261122

STATIONS = Station.__table__
MERCHANTS = Merchant.__table__
INSTRUMENTS = Instrument.__table__
VERIFICATIONS = Verification.__table__

# Parents before children, so foreign keys hold at every flush.
TABLE_ORDER = (STATIONS, MERCHANTS, INSTRUMENTS, VERIFICATIONS)

# A fictional county: nothing here names a real business.
COUNTY = "青溪县"
CITY = "丽州市"
PLATE_PREFIX = "浙M"
TOWNS = ("城关", "城东", "城西", "江南", "开发区", "白沙", "桥头", "溪口", "石门", "新塘",
         "双溪", "枫林", "大洋", "柳溪", "上河", "湖镇", "梅岭", "清风", "东岙", "西坞")
# "3312" is not a Zhejiang prefecture in use, so the codes look right without being real.
DIVISION_SUFFIXES = ("02", "03", "21", "22", "23", "24", "25", "26", "27", "28",
                     "29", "81", "82", "83", "84", "85", "86", "87", "88", "89")
ROADS = ("解放路", "人民路", "中山路", "建设路", "环城东路", "环城西路", "新华街", "文化路", "府前街",
         "工业大道", "滨江路", "溪东路", "青年路", "学院路", "朝阳路", "胜利街", "和平路", "振兴路")
VILLAGES = ("上王", "下湾", "东山", "西岭", "后塘", "前溪", "新屋", "石桥", "岭头", "横路", "坑口", "塘里")
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
            "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严")
GIVEN = ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
         "超", "秀兰", "霞", "平", "刚", "桂英", "建华", "建国", "志强", "海燕", "春梅", "玉兰", "红梅", "晓东",
         "晓红", "丽华", "文斌", "国平", "小燕", "建军", "美玲", "振华", "德明", "金凤", "永福", "雪琴", "立新")
STALL_GOODS = ("蔬菜", "水果", "猪肉", "牛羊肉", "禽蛋", "水产", "豆制品", "干货", "粮油", "调料", "熟食",
               "海鲜", "冻品", "茶叶", "南北货")
STALL_STYLES = ("{surname}记{goods}", "{person}{goods}摊", "{person}{goods}店", "{surname}氏{goods}", "{person}{goods}")
SHOP_WORDS = ("华联", "惠民", "百佳", "联华", "好又多", "万家", "旺客隆", "优选", "邻里", "家家乐", "乐购", "顺发")
FIRM_WORDS = ("顺达", "恒通", "宏运", "安达", "金桥", "通泰", "鸿运", "新城", "永安", "瑞丰", "华通", "汇通")
EYE_WORDS = ("明视", "亮睛", "博视", "清晰视界", "晶亮", "视康", "宝岛视光", "精准验光", "慧眼", "睛彩")
OTHER_STYLES = ("{word}金店", "{surname}记粮油批发部", "{town}中药房", "{word}茶叶店", "{surname}氏烟酒商行",
                "{word}水产批发部", "{town}农资店")

INSTITUTIONS = (("青溪县计量检定测试所", "QXJ"), ("丽州市计量检定测试院", "LZJ"))
VOID_REASONS = ("有效期录入错误，已按证书重新录入", "证书编号录入错误，已重新录入", "误录入其他器具的检定记录")

# (maker, serial prefix) and (model, measuring range, accuracy) per kind; all makers are fictional.
MAKERS = {
    "scale": (("永康市恒准衡器有限公司", "HZ"), ("上海华衡称重设备有限公司", "HH"), ("厦门精量电子科技有限公司", "JL"),
              ("常州衡达衡器有限公司", "HD")),
    "fuel": (("北京恒油科技股份有限公司", "HY"), ("江苏星油加油设备有限公司", "XY"), ("青岛海正加油机有限公司", "HZ")),
    "gas_disp": (("成都华气加气设备有限公司", "HQ"), ("四川川能加气机有限公司", "CN")),
    "taxi": (("深圳市捷运计价器有限公司", "JY"), ("杭州通达车载电子有限公司", "TD")),
    "charger": (("许昌智充电气有限公司", "ZC"), ("深圳市易充新能源技术有限公司", "YC"),
                ("杭州绿行充电设备有限公司", "LX")),
    "water": (("宁海华流水表有限公司", "HL"), ("湖州清源水表有限公司", "QY"), ("福州精流仪表有限公司", "JL")),
    "gas": (("成都天然气表业有限公司", "TR"), ("浙江安信燃气表有限公司", "AX"), ("金华华燃仪表有限公司", "HR")),
    "elec": (("宁波三鑫电气有限公司", "SX"), ("杭州华电计量仪表有限公司", "HD"), ("江苏智联电表股份有限公司", "ZL")),
    "bp": (("江苏康健医疗器械有限公司", "KJ"), ("上海华安医疗仪器有限公司", "HA"), ("深圳市健测医电有限公司", "JC")),
    "eye": (("上海明视光学仪器有限公司", "MS"), ("苏州亮睛光电科技有限公司", "LJ"), ("重庆视康光学有限公司", "SK")),
}
KINDS = {
    "elec_price_scale": ("scale", (("ACS-15", "(0.04～15) kg", "Ⅲ"), ("ACS-30", "(0.1～30) kg", "Ⅲ"),
                                   ("TCS-150", "(1～150) kg", "Ⅲ"))),
    "fuel_dispenser": ("fuel", (("CS46-2242", "(5～50) L/min", "0.3级"), ("CS46-4484", "(5～50) L/min", "0.3级"))),
    "cng_dispenser": ("gas_disp", (("JQZ-CNG02", "(1～30) kg/min", "1.0级"),)),
    "lpg_dispenser": ("gas_disp", (("YJ-LPG2", "(5～50) L/min", "1.0级"),)),
    "taximeter": ("taxi", (("JJ-3000A", "", ""), ("TD-860", "", ""))),
    "ev_ac_charger": ("charger", (("AC-7kW", "220 V 32 A", "2级"), ("AC-11kW", "380 V 16 A", "2级"))),
    "ev_dc_charger": ("charger", (("DC-60kW", "(200～750) V (0～150) A", "1级"),
                                  ("DC-120kW", "(200～1000) V (0～250) A", "1级"))),
    "water_meter_le25": ("water", (("LXS-15E", "DN15 Q3=2.5 m³/h", "2级"), ("LXS-20E", "DN20 Q3=4 m³/h", "2级"),
                                   ("LXSY-25", "DN25 Q3=6.3 m³/h", "2级"))),
    "water_meter_25_50": ("water", (("LXS-32", "DN32 Q3=10 m³/h", "2级"), ("LXS-40", "DN40 Q3=16 m³/h", "2级"))),
    "water_meter_gt50": ("water", (("LXLC-80", "DN80 Q3=63 m³/h", "2级"), ("LXLC-100", "DN100 Q3=100 m³/h", "2级"))),
    "gas_meter_ng": ("gas", (("G1.6", "(0.016～2.5) m³/h", "1.5级"), ("G2.5", "(0.025～4) m³/h", "1.5级"),
                             ("G4", "(0.04～6) m³/h", "1.5级"))),
    "gas_meter_other": ("gas", (("G2.5", "(0.025～4) m³/h", "1.5级"),)),
    "gas_meter_ultrasonic": ("gas", (("UG-G2.5", "(0.016～4) m³/h", "1.5级"),)),
    "elec_meter": ("elec", (("DDZY71-Z", "220 V 5(60) A", "2级"), ("DDZY102-Z", "220 V 10(60) A", "2级"))),
    "bp_manual": ("bp", (("XJ11D 台式", "(0～300) mmHg", "±0.5 kPa"),)),
    "bp_auto": ("bp", (("BP-8900", "(0～280) mmHg", "±0.4 kPa"), ("BP-6200", "(0～299) mmHg", "±0.4 kPa"))),
    "refractometer": ("eye", (("AR-360", "(-25～+22) m⁻¹", "—"),)),
    "lensmeter": ("eye", (("LM-600", "(-25～+25) m⁻¹", "—"),)),
    "trial_lens_set": ("eye", (("TL-266", "266片", "—"), ("TL-232", "232片", "—"))),
}
# Kinds that only came under verification recently cannot have an older history.
HISTORY_START = {"ev_ac_charger": dt.date(2023, 1, 1), "ev_dc_charger": dt.date(2023, 1, 1)}
MAX_HISTORY = 6  # verifications kept per periodic instrument ("several")

# Shares of instrument states; the overdue share of periodic kinds is derived from the target.
P_NEVER = {PERIODIC: 0.03, SERVICE_LIFE: 0.02}
P_STOPPED = {PERIODIC: 0.03, SERVICE_LIFE: 0.01}
P_SCRAPPED = {PERIODIC: 0.015, SERVICE_LIFE: 0.01}
P_PAST_LIFE = 0.04       # meters still in use after their service life
P_REPLACED = 0.05        # meter slots that hold an old, replaced meter and its successor
P_METER_FAIL = 0.003     # a complaint re-check failed: due now
P_FAILED_OF_OVERDUE = 0.2  # of the overdue periodic instruments, the latest record failed
P_REPAIR = 0.03          # a past verification failed and passed after repair
P_VOIDED = 0.01          # a record was entered wrongly, voided and entered again
P_VALID_UNTIL = 0.65     # the certificate prints a valid-until date
P_METER_VALID_UNTIL = 0.3
UTILITY_SHARE = 0.3      # instruments left for utility meters at least


@dataclass
class KindInfo:
    """What the generator needs from one catalogue entry."""

    id: int
    code: str
    rule: str
    cycle_months: int | None
    service_life_years: int | None


@dataclass
class StationInfo:
    """A generated station."""

    id: int
    name: str
    code: str
    division_code: str
    town: str
    weight: float


@dataclass
class MerchantInfo:
    """A generated merchant and what the instrument step needs to know about it."""

    id: int
    station: StationInfo
    industry: str
    name: str
    kind: str = ""  # hospital / centre / clinic; water / gas / power
    spot: str = ""  # stall number, site name
    plan: list = field(default_factory=list)  # [(codes, weights, count)]
    counter: int = 0


Sink = Callable[[Session, Table, list[dict]], None]


def core_sink(session: Session, table: Table, rows: list[dict]) -> None:
    """Insert rows with one executemany Core statement."""
    session.execute(insert(table), rows)


def wipe_data(session: Session) -> None:
    """Delete every row of every application table (children first); used by `demo load --reset`."""
    for table in reversed(metadata.sorted_tables):
        session.execute(delete(table))


class Generator:
    """Builds a county's ledger into a session, reproducibly from a seed."""

    def __init__(self, session: Session, *, seed: int = DEFAULT_SEED, today: dt.date | None = None,
                 batch_size: int = 5000, sink: Sink = core_sink, overdue_share: float = 0.10,
                 after_batch: Callable[[int], None] | None = None) -> None:
        self.session = session
        self.rng = random.Random(seed)
        self.today = today or dt.datetime.now(LOCAL_TZ).date()
        self.now = utcnow()
        self.batch_size = batch_size
        self.sink = sink
        self.overdue_share = overdue_share
        self.after_batch = after_batch
        # Station id -> user ids recorded as having entered that station's verifications (optional).
        self.users_by_station: dict[int, list[int]] = {}
        self.kinds = self._load_kinds()
        self.counts = {t.name: 0 for t in TABLE_ORDER}
        self._next_id = {t.name: (session.execute(select(func.max(t.c.id))).scalar() or 0) + 1
                         for t in TABLE_ORDER}
        self._buffers: dict[str, list[dict]] = {t.name: [] for t in TABLE_ORDER}
        self._replacements: list[dict] = []
        self._used_codes: set[str] = set(session.scalars(select(Merchant.credit_code)
                                                         .where(Merchant.credit_code.is_not(None))))
        self._serials: dict[str, int] = {}
        self._certificates = 0
        self._plates = 0
        self._accounts: dict[str, int] = {}
        self._instruments_done = 0

    # -- set-up ---------------------------------------------------------------------------

    def _load_kinds(self) -> dict[str, KindInfo]:
        rows = self.session.execute(select(InstrumentType.id, InstrumentType.code, InstrumentType.rule,
                                           InstrumentType.cycle_months, InstrumentType.service_life_years))
        kinds = {r.code: KindInfo(r.id, r.code, r.rule.value, r.cycle_months, r.service_life_years) for r in rows}
        missing = sorted(set(KINDS) - set(kinds))
        if missing:
            raise RuntimeError(f"catalogue not seeded (missing kinds: {', '.join(missing)}); run seed_catalogue first")
        return kinds

    def _id(self, table: Table) -> int:
        value = self._next_id[table.name]
        self._next_id[table.name] = value + 1
        return value

    def _emit(self, table: Table, row: dict) -> None:
        self._buffers[table.name].append(row)
        self.counts[table.name] += 1

    def flush(self) -> None:
        """Write every buffered row, parents first."""
        for table in TABLE_ORDER:
            rows = self._buffers[table.name]
            for start in range(0, len(rows), self.batch_size):
                self.sink(self.session, table, rows[start:start + self.batch_size])
            rows.clear()

    def _maybe_flush(self) -> None:
        if len(self._buffers[VERIFICATIONS.name]) + len(self._buffers[INSTRUMENTS.name]) >= 2 * self.batch_size:
            self.flush()
            if self.after_batch is not None:
                self.after_batch(self._instruments_done)

    # -- names ----------------------------------------------------------------------------

    def person(self) -> str:
        """A plausible Chinese personal name."""
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)

    def phone(self) -> str:
        """A mobile number."""
        return f"1{self.rng.choice('3589')}{self.rng.randrange(10 ** 9):09d}"

    def _street_address(self, town: str) -> str:
        r = self.rng
        if r.random() < 0.3:
            return f"{COUNTY}{_township(town)}{r.choice(VILLAGES)}村{r.randint(1, 300)}号"
        return f"{COUNTY}{r.choice(ROADS)}{r.randint(1, 680)}号"

    def credit_code(self, prefix: str, division: str) -> str:
        """A new, valid unified social credit code (GB 32100-2015) with an organisation code (GB 11714)."""
        r = self.rng
        while True:
            if r.random() < 0.7:
                # Codes issued since 2015 carry "MA" and letters in the organisation part.
                body = "MA" + "".join(r.choice(ALPHABET) for _ in range(6))
            else:
                body = "".join(r.choice("0123456789") for _ in range(8))
            first17 = prefix + division + body + _organisation_check(body)
            code = first17 + check_character(first17)
            if code not in self._used_codes:
                self._used_codes.add(code)
                return code

    # -- stations -------------------------------------------------------------------------

    def add_stations(self, n: int, counties: list[tuple[int, str]] | None = None) -> list[StationInfo]:
        """Insert n field stations (at most 20) and return them; given counties (id, code), the stations are
        shared out among them in order and carry their county's code."""
        if not 1 <= n <= len(TOWNS):
            raise ValueError(f"stations must be between 1 and {len(TOWNS)}")
        stations = []
        for i in range(n):
            town = TOWNS[i]
            county_id, division = None, f"3312{DIVISION_SUFFIXES[i]}"
            if counties:
                county_id, division = counties[i * len(counties) // n]
            # The town-centre station has the most merchants.
            info = StationInfo(self._id(STATIONS), f"{town}市场监管所", f"QX{i + 1:02d}", division, town,
                               2.0 if i == 0 else round(self.rng.uniform(0.6, 1.4), 3))
            self._emit(STATIONS, {"id": info.id, "name": info.name, "code": info.code,
                                  "division_code": info.division_code, "county_id": county_id,
                                  **self._stamps(version=True)})
            stations.append(info)
        self.flush()
        return stations

    # -- merchants ------------------------------------------------------------------------

    def add_merchants(self, n: int, stations: list[StationInfo]) -> list[MerchantInfo]:
        """Insert about n merchants across the stations: three utility branches per station, the rest by industry."""
        r = self.rng
        merchants: list[MerchantInfo] = []
        rest = max(0, n - 3 * len(stations))
        total_weight = sum(s.weight for s in stations)
        shares = _split(rest, [s.weight / total_weight for s in stations])
        mix = [(Industry.MARKET_VENDOR, 0.50), (Industry.RETAIL, 0.08), (Industry.FUEL_STATION, 0.05),
               (Industry.EYEWEAR_SHOP, 0.05), (Industry.MEDICAL, 0.05), (Industry.TAXI_COMPANY, 0.01),
               (Industry.CHARGING_OPERATOR, 0.03), (Industry.OTHER, 0.08)]
        for station, count in zip(stations, shares):
            for kind in ("water", "gas", "power"):
                merchants.append(self._utility(station, kind))
            organisers = max(1, round(count * 0.5 / 35)) if count >= 3 else 0
            sizes = dict(zip([i for i, _ in mix], _split(max(0, count - organisers), [w for _, w in mix]),
                             strict=True))
            markets = [self._organiser(station) for _ in range(organisers)]
            merchants += markets
            for industry, k in sizes.items():
                for _ in range(k):
                    if industry == Industry.MARKET_VENDOR and markets:
                        merchants.append(self._vendor(station, r.choice(markets)))
                    else:
                        merchants.append(self._business(station, industry))
        self.flush()
        return merchants

    def _merchant_row(self, info: MerchantInfo, *, credit_code: str | None, address: str,
                      parent_id: int | None = None, contact: str | None = None) -> None:
        self._emit(MERCHANTS, {
            "id": info.id, "name": info.name, "name_key": match_key(info.name), "credit_code": credit_code,
            "industry": info.industry, "address": address, "contact": contact or self.person(),
            "phone": self.phone(), "notes": "", "station_id": info.station.id, "parent_id": parent_id,
            # Given here, not left to the column's default: bench/generate.py's COPY sink writes rows as they are.
            "search_text": search_text(info.name, address, credit_code),
            **self._stamps(version=True),
        })

    def _utility(self, station: StationInfo, kind: str) -> MerchantInfo:
        name = {"water": f"{COUNTY}自来水有限公司{station.town}营业所",
                "gas": f"{COUNTY}燃气有限公司{station.town}服务站",
                "power": f"{COUNTY}供电公司{station.town}供电所"}[kind]
        info = MerchantInfo(self._id(MERCHANTS), station, Industry.UTILITY.value, name, kind=kind)
        self._merchant_row(info, credit_code=self.credit_code("91", station.division_code),
                           address=self._street_address(station.town))
        return info

    def _organiser(self, station: StationInfo) -> MerchantInfo:
        r = self.rng
        name = r.choice((f"{COUNTY}{station.town}农贸市场有限公司", f"{station.town}{r.choice(ROADS)}菜市场",
                         f"{COUNTY}{station.town}综合市场管理有限公司",
                         f"{station.town}{r.choice(FIRM_WORDS)}农贸市场"))
        info = MerchantInfo(self._id(MERCHANTS), station, Industry.MARKET_ORGANISER.value, name,
                            spot=name.removeprefix(COUNTY))
        self._merchant_row(info, credit_code=self.credit_code("91", station.division_code),
                           address=self._street_address(station.town))
        return info

    def _vendor(self, station: StationInfo, market: MerchantInfo) -> MerchantInfo:
        r = self.rng
        owner = self.person()
        name = r.choice(STALL_STYLES).format(surname=owner[0], person=owner, goods=r.choice(STALL_GOODS))
        stall = f"{r.choice('ABCDEF')}区{r.randint(1, 120)}号摊位"
        info = MerchantInfo(self._id(MERCHANTS), station, Industry.MARKET_VENDOR.value, name, spot=stall)
        # Many stall holders are not registered businesses and have no credit code.
        code = self.credit_code("92", station.division_code) if r.random() < 0.6 else None
        self._merchant_row(info, credit_code=code, address=f"{market.spot}{stall}", parent_id=market.id,
                           contact=owner)
        return info

    def _business(self, station: StationInfo, industry: Industry) -> MerchantInfo:
        r = self.rng
        town, prefix, kind = station.town, "91", ""
        if industry == Industry.RETAIL:
            name = r.choice((f"{r.choice(SHOP_WORDS)}超市（{town}店）",
                             f"{COUNTY}{r.choice(SHOP_WORDS)}购物中心有限公司",
                             f"{town}{r.choice(SHOP_WORDS)}生鲜超市"))
        elif industry == Industry.FUEL_STATION:
            name = r.choice((f"{COUNTY}{town}{r.choice(VILLAGES)}加油站有限公司",
                             f"{CITY}{r.choice(FIRM_WORDS)}能源有限公司{town}加油站",
                             f"{COUNTY}{r.choice(FIRM_WORDS)}石化{town}加油站"))
            kind = "gas" if r.random() < 0.15 else ""  # some also sell CNG or LPG
        elif industry == Industry.EYEWEAR_SHOP:
            name = f"{r.choice(EYE_WORDS)}眼镜{r.choice(('店', '行', '中心'))}（{town}{r.choice(ROADS)}店）"
            prefix = r.choice(("91", "92"))
        elif industry == Industry.MEDICAL:
            kind = r.choices(("hospital", "centre", "clinic"), (0.1, 0.3, 0.6))[0]
            if kind == "hospital":
                name = r.choice((f"{COUNTY}人民医院{town}分院", f"{COUNTY}中医院{town}院区",
                                 f"{COUNTY}{town}妇幼保健院"))
                prefix = "12"
            elif kind == "centre":
                name = r.choice((f"{COUNTY}{town}镇卫生院", f"{COUNTY}{town}社区卫生服务中心"))
                prefix = "12"
            else:
                owner = self.person()
                name = r.choice((f"{COUNTY}{owner}诊所", f"{town}{r.choice(FIRM_WORDS)}口腔门诊部",
                                 f"{town}{owner[0]}氏中医诊所"))
                prefix = r.choice(("52", "92"))
        elif industry == Industry.TAXI_COMPANY:
            name = f"{COUNTY}{r.choice(FIRM_WORDS)}出租汽车有限公司"
        elif industry == Industry.CHARGING_OPERATOR:
            name = r.choice((f"{CITY}{r.choice(FIRM_WORDS)}新能源科技有限公司",
                             f"{COUNTY}{r.choice(FIRM_WORDS)}充电服务有限公司"))
        else:
            owner = self.person()
            name = r.choice(OTHER_STYLES).format(word=r.choice(SHOP_WORDS + FIRM_WORDS), surname=owner[0], town=town)
            prefix = "92"
        info = MerchantInfo(self._id(MERCHANTS), station, industry.value, name, kind=kind,
                            spot=f"{town}{r.choice(ROADS)}")
        self._merchant_row(info, credit_code=self.credit_code(prefix, station.division_code),
                           address=self._street_address(town))
        return info

    # -- instruments ----------------------------------------------------------------------

    def _wanted(self, m: MerchantInfo) -> list[tuple[tuple[str, ...], tuple[float, ...], int]]:
        """What a merchant of this industry typically keeps, before scaling to the target."""
        r = self.rng
        scale = ("elec_price_scale",), (1.0,)
        ind = m.industry
        if ind == Industry.MARKET_VENDOR:
            return [(*scale, r.choices((1, 2, 3), (6, 3, 1))[0])]
        if ind == Industry.MARKET_ORGANISER:
            return [(*scale, r.randint(2, 4))]  # the market's fair scales (公平秤)
        if ind == Industry.RETAIL:
            return [(*scale, r.randint(4, 20))]
        if ind == Industry.FUEL_STATION:
            plan = [(("fuel_dispenser",), (1.0,), r.randint(4, 12))]
            if m.kind == "gas":
                plan.append((("cng_dispenser", "lpg_dispenser"), (0.7, 0.3), r.randint(1, 3)))
            return plan
        if ind == Industry.EYEWEAR_SHOP:
            return [(("refractometer",), (1.0,), r.choices((1, 2), (4, 1))[0]),
                    (("lensmeter",), (1.0,), r.randint(1, 2)), (("trial_lens_set",), (1.0,), 1)]
        if ind == Industry.MEDICAL:
            n = {"hospital": r.randint(30, 120), "centre": r.randint(5, 15), "clinic": r.randint(1, 3)}[m.kind]
            return [(("bp_auto", "bp_manual"), (0.6, 0.4), n)]
        if ind == Industry.TAXI_COMPANY:
            return [(("taximeter",), (1.0,), r.randint(30, 250))]
        if ind == Industry.CHARGING_OPERATOR:
            return [(("ev_ac_charger", "ev_dc_charger"), (0.7, 0.3), r.randint(6, 60))]
        if ind == Industry.UTILITY:
            return []
        return [(*scale, r.randint(1, 5))]

    def plan_instruments(self, total: int, merchants: list[MerchantInfo]) -> None:
        """Decide how many instruments of which kinds each merchant has, adding up to total."""
        r = self.rng
        for m in merchants:
            m.plan = self._wanted(m)
        wanted = sum(n for m in merchants for _, _, n in m.plan)
        limit = total * (1 - UTILITY_SHARE)
        if wanted > limit:
            # Too few instruments for this many merchants: shrink everyone, keep at least one each.
            factor = limit / wanted
            for m in merchants:
                m.plan = [(codes, weights, max(1, int(n * factor + r.random()))) for codes, weights, n in m.plan]
        left = max(0, total - sum(n for m in merchants for _, _, n in m.plan))
        utilities = [m for m in merchants if m.industry == Industry.UTILITY]
        if not utilities:
            return
        share = {"water": 0.40, "power": 0.35, "gas": 0.25}
        weights = [share[m.kind] * m.station.weight for m in utilities]
        total_weight = sum(weights)
        for m, n in zip(utilities, _split(left, [w / total_weight for w in weights]), strict=True):
            m.plan = [{"water": (("water_meter_le25", "water_meter_25_50", "water_meter_gt50"), (0.90, 0.08, 0.02), n),
                       "gas": (("gas_meter_ng", "gas_meter_ultrasonic", "gas_meter_other"), (0.80, 0.15, 0.05), n),
                       "power": (("elec_meter",), (1.0,), n)}[m.kind]]

    def _overdue_rate(self, merchants: list[MerchantInfo]) -> float:
        """The overdue share among verified in-use periodic instruments that gives the overall target."""
        periodic = life = 0.0
        for m in merchants:
            for codes, weights, n in m.plan:
                total_weight = sum(weights)
                for code, w in zip(codes, weights):
                    if self.kinds[code].rule == PERIODIC:
                        periodic += n * w / total_weight
                    else:
                        life += n * w / total_weight
        in_use_periodic = periodic * (1 - P_STOPPED[PERIODIC] - P_SCRAPPED[PERIODIC])
        in_use_life = life * (1 - P_STOPPED[SERVICE_LIFE] - P_SCRAPPED[SERVICE_LIFE] - P_REPLACED)
        verified_periodic = in_use_periodic - periodic * P_NEVER[PERIODIC]
        if verified_periodic <= 0:
            return 0.0
        wanted = self.overdue_share * (in_use_periodic + in_use_life) - life * P_METER_FAIL
        return min(0.6, max(0.0, wanted / verified_periodic))

    def add_instruments(self, total: int, merchants: list[MerchantInfo]) -> None:
        """Insert about total instruments with their verification histories for the merchants."""
        self.plan_instruments(total, merchants)
        overdue_rate = self._overdue_rate(merchants)
        r = self.rng
        for m in merchants:
            for codes, weights, n in m.plan:
                done = 0
                while done < n:
                    code = codes[0] if len(codes) == 1 else r.choices(codes, weights)[0]
                    kind = self.kinds[code]
                    if kind.rule == SERVICE_LIFE and n - done >= 2 and r.random() < P_REPLACED:
                        self._replaced_pair(m, kind)
                        done += 2
                    else:
                        self._instrument(m, kind, self._state(kind, overdue_rate))
                        done += 1
                self._maybe_flush()
        self.flush()

    def _state(self, kind: KindInfo, overdue_rate: float) -> str:
        x = self.rng.random()
        for state, p in (("never", P_NEVER[kind.rule]), ("stopped", P_STOPPED[kind.rule]),
                         ("scrapped", P_SCRAPPED[kind.rule])):
            if x < p:
                return state
            x -= p
        if kind.rule == SERVICE_LIFE:
            if x < P_PAST_LIFE:
                return "past_life"
            return "failed" if x < P_PAST_LIFE + P_METER_FAIL else "current"
        if self.rng.random() < overdue_rate:
            return "failed" if self.rng.random() < P_FAILED_OF_OVERDUE else "overdue"
        return "current"

    def _replaced_pair(self, m: MerchantInfo, kind: KindInfo) -> None:
        """An old meter replaced at the end of its life, and the meter that replaced it."""
        r = self.rng
        life_days = 365 * kind.service_life_years
        first = self.today - dt.timedelta(days=life_days + r.randint(31, 1200))
        swapped = add_months(first, 12 * kind.service_life_years) + dt.timedelta(days=r.randint(-60, 30))
        swapped = min(swapped, self.today - dt.timedelta(days=1))
        location = self._location(m, kind.code)
        old_id = self._instrument(m, kind, "replaced", first_on=first, location=location)
        new_id = self._instrument(m, kind, "current", first_on=swapped, location=location)
        self._replacements.append({"old_id": old_id, "new_id": new_id})

    def _instrument(self, m: MerchantInfo, kind: KindInfo, state: str, *, first_on: dt.date | None = None,
                    location: str | None = None) -> int:
        """Emit one instrument and its records; returns its id."""
        r = self.rng
        group, models = KINDS[kind.code]
        maker, serial_prefix = r.choice(MAKERS[group])
        model, measuring_range, accuracy = r.choice(models)
        serial = self._serials.get(kind.code, 0) + 1
        self._serials[kind.code] = serial
        instrument_id = self._id(INSTRUMENTS)
        if kind.rule == PERIODIC:
            records = self._periodic_records(kind, state)
        else:
            records = self._meter_records(kind, state, first_on)
        made = records[0][0] if records else self.today
        facts = self._emit_records(instrument_id, m, records)
        dates = compute_due_dates(kind.rule, kind.cycle_months, kind.service_life_years, facts)
        status = {"stopped": "stopped", "scrapped": "scrapped", "replaced": "replaced"}.get(state, "in_use")
        nozzles = None
        if kind.code == "fuel_dispenser":
            nozzles = r.choices((2, 4, 6, 8), (2, 5, 2, 1))[0]
        elif kind.code in ("cng_dispenser", "lpg_dispenser"):
            nozzles = r.choice((1, 2))
        serial_no = f"{serial_prefix}{made.year % 100:02d}{serial:07d}"
        location = location or self._location(m, kind.code)
        self._emit(INSTRUMENTS, {
            "id": instrument_id, "type_id": kind.id, "merchant_id": m.id, "station_id": m.station.id,
            # Serials carry the year the instrument was made: about when it was first verified.
            "serial_no": serial_no, "serial_key": match_key(serial_no), "search_text": search_text(serial_no, location),
            "maker": maker, "maker_key": match_key(maker), "model": model, "measuring_range": measuring_range,
            "accuracy_class": accuracy, "location": location,
            "nozzle_count": nozzles, "status": status, "notes": _STATUS_NOTES.get(state, ""),
            "first_verified_on": dates.first_verified_on, "last_verified_on": dates.last_verified_on,
            "last_result": dates.last_result, "next_due_on": dates.next_due_on, "replace_by": dates.replace_by,
            "replaced_by_id": None, **self._stamps(version=True),
        })
        self._instruments_done += 1
        return instrument_id

    def _periodic_records(self, kind: KindInfo, state: str) -> list[tuple[dt.date, str, dt.date | None]]:
        """(verified_on, result, valid_until) of a periodic instrument, built back from its last due date."""
        if state == "never":
            return []
        r, today, cycle = self.rng, self.today, kind.cycle_months
        fail_on = None
        if state == "current":
            due = today + dt.timedelta(days=r.randint(3, cycle * 30))
        elif state == "overdue":
            # Most overdue instruments are a few weeks late; a few have been forgotten for a long time.
            due = today - dt.timedelta(days=1 + min(int(r.expovariate(1 / 120)), 900))
        elif state == "failed":
            fail_on = today - dt.timedelta(days=r.randint(1, 150))
            due = fail_on + dt.timedelta(days=r.randint(0, 20))
        else:  # stopped or scrapped: the history ended when it was taken out of use
            due = today + dt.timedelta(days=r.randint(-1500, 120))
        start = HISTORY_START.get(kind.code, dt.date.min)
        months_back = r.randint(6, 96)
        count = max(1, min(MAX_HISTORY, 1 + months_back // cycle))
        dates: list[dt.date] = []
        for _ in range(count):
            on = min(add_months(due, -cycle), today)
            if dates and on < start:
                break
            dates.append(on)
            # Usually verified a little before the previous certificate ran out; now and then late.
            if r.random() < 0.9:
                due = on + dt.timedelta(days=r.randint(0, 20))
            else:
                due = on - dt.timedelta(days=r.randint(1, 60))
        dates.reverse()
        prints_valid_until = r.random() < P_VALID_UNTIL
        records = []
        for i, on in enumerate(dates):
            if i and r.random() < P_REPAIR:
                records.append((on - dt.timedelta(days=r.randint(2, 14)), FAIL, None))
            valid_until = add_months(on, cycle) - dt.timedelta(days=1) if prints_valid_until else None
            records.append((on, PASS, valid_until))
        if fail_on is not None:
            records.append((fail_on, FAIL, None))
        return records

    def _meter_records(self, kind: KindInfo, state: str, first_on: dt.date | None) -> list[
            tuple[dt.date, str, dt.date | None]]:
        """The one first verification of a service-life meter (and a failed complaint re-check, rarely)."""
        if state == "never":
            return []
        r, today = self.rng, self.today
        life_days = 365 * kind.service_life_years
        if first_on is None:
            if state == "past_life":
                first_on = today - dt.timedelta(days=life_days + r.randint(1, 700))
            elif state in ("stopped", "scrapped"):
                first_on = today - dt.timedelta(days=r.randint(30, life_days + 700))
            else:
                first_on = today - dt.timedelta(days=r.randint(1, life_days - 3))
        valid_until = None
        if r.random() < P_METER_VALID_UNTIL:
            valid_until = add_months(first_on, 12 * kind.service_life_years) - dt.timedelta(days=1)
        records = [(first_on, PASS, valid_until)]
        if state == "failed":
            fail_on = max(first_on + dt.timedelta(days=30), today - dt.timedelta(days=r.randint(1, 90)))
            records.append((min(fail_on, today - dt.timedelta(days=1)), FAIL, None))
        return records

    def _emit_records(self, instrument_id: int, m: MerchantInfo, records) -> list[VerificationFacts]:
        """Insert the records in the order they were entered; returns them as engine facts."""
        r = self.rng
        facts = []
        if records and r.random() < P_VOIDED:
            # A mistyped copy of the latest record, entered first and voided the same day.
            on, result, valid_until = records[-1]
            wrong = valid_until.replace(year=valid_until.year + 1) if valid_until and valid_until.month != 2 else None
            records = records[:-1] + [(on, result, wrong, True), records[-1]]
        users = self.users_by_station.get(m.station.id)
        for record in records:
            on, result, valid_until = record[:3]
            voided = len(record) > 3
            institution, prefix = INSTITUTIONS[0] if r.random() < 0.7 else INSTITUTIONS[1]
            self._certificates += 1
            mark = "" if result == PASS else "T"  # a failed verification gets a result notice, not a certificate
            ver_id = self._id(VERIFICATIONS)
            actor = r.choice(users) if users else None
            voided_at = None
            if voided:
                voided_at = min(self.now, dt.datetime.combine(on, dt.time(17, 0), LOCAL_TZ).astimezone(dt.timezone.utc))
            self._emit(VERIFICATIONS, {
                "id": ver_id, "instrument_id": instrument_id, "verified_on": on, "institution": institution,
                "certificate_no": f"{prefix}{on.year}-{mark}{self._certificates:07d}", "result": result,
                "valid_until": valid_until, "notes": "", "created_by_id": actor,
                "voided_at": voided_at, "voided_by_id": actor if voided else None,
                "void_reason": r.choice(VOID_REASONS) if voided else "", **self._stamps(),
            })
            facts.append(VerificationFacts(on, result, valid_until, voided, ver_id))
        return facts

    def _location(self, m: MerchantInfo, code: str) -> str:
        """Where the instrument is: stall, pump island, plate number, household account, room."""
        r = self.rng
        m.counter += 1
        i = m.counter
        if code == "elec_price_scale":
            if m.industry == Industry.MARKET_VENDOR:
                return m.spot
            if m.industry == Industry.MARKET_ORGANISER:
                return "市场公平秤" if i == 1 else f"市场管理处{i - 1}号秤"
            if m.industry == Industry.RETAIL:
                return f"{r.choice(('生鲜区', '熟食区', '散装称重区', '水产区'))}{i}号秤"
            return "店内收银台"
        if code == "fuel_dispenser":
            return f"{(i + 1) // 2}号加油岛{2 - i % 2}号机"
        if code in ("cng_dispenser", "lpg_dispenser"):
            return f"加气区{i}号机"
        if code == "taximeter":
            self._plates += 1
            return f"{PLATE_PREFIX}{'D' if self._plates % 3 else 'F'}{self._plates:05d}"
        if code in ("ev_ac_charger", "ev_dc_charger"):
            return f"{m.spot}充电站{i}号桩"
        if code in ("bp_auto", "bp_manual"):
            if m.kind == "clinic":
                return "诊室"
            return r.choice(("内科门诊", "外科门诊", "体检中心", "急诊科", "预防保健科",
                             f"住院部{r.randint(1, 9)}病区"))
        if code in ("refractometer", "trial_lens_set"):
            return "验光室"
        if code == "lensmeter":
            return "加工室" if i % 2 else "验光室"
        # Utility meters are identified by the household account they measure.
        account_prefix = {"water": "31", "gas": "52", "power": "33"}.get(m.kind, "39")
        seq = self._accounts.get(account_prefix, 0) + 1
        self._accounts[account_prefix] = seq
        town = m.station.town
        if r.random() < 0.3:
            where = f"{_township(town)}{r.choice(VILLAGES)}村{r.randint(1, 300)}号"
        else:
            where = f"{town}{r.choice(ROADS)}{r.randint(1, 680)}号{r.randint(1, 30)}幢{r.randint(1, 4)}单元" \
                    f"{r.randint(1, 18)}{r.randint(1, 4):02d}室"
        return f"户号{account_prefix}{seq:08d} {where}"

    def _stamps(self, version: bool = False) -> dict:
        # Core inserts: give the NOT NULL bookkeeping columns explicitly, once per row, at load time.
        stamps = {"created_at": self.now, "updated_at": self.now}
        if version:
            stamps["version"] = 1
        return stamps

    # -- finish ---------------------------------------------------------------------------

    def finish(self) -> dict[str, int]:
        """Write what is buffered, link replaced meters, move id sequences on; returns row counts."""
        self.flush()
        for start in range(0, len(self._replacements), self.batch_size):
            self.session.execute(
                update(INSTRUMENTS).where(INSTRUMENTS.c.id == bindparam("old_id"))
                .values(replaced_by_id=bindparam("new_id")),
                self._replacements[start:start + self.batch_size])
        self._replacements.clear()
        if self.session.get_bind().dialect.name == "postgresql":
            # Ids were given explicitly; later inserts through the app must not collide with them.
            for table in TABLE_ORDER:
                top = self.session.execute(select(func.max(table.c.id))).scalar()
                if top:
                    self.session.execute(select(func.setval(func.pg_get_serial_sequence(table.name, "id"), top)))
        return dict(self.counts)


_STATUS_NOTES = {"stopped": "经营户暂停营业，器具停用", "scrapped": "损坏无法修复，已报废",
                 "replaced": "到期轮换，已更换新表"}


def _township(town: str) -> str:
    """The town's full name: the centre and the zone are subdistricts, the rest towns."""
    if town.endswith("区"):
        return town
    return f"{town}街道" if town in TOWNS[:4] else f"{town}镇"


def _organisation_check(body: str) -> str:
    """The check character of an 8-character organisation code (GB 11714)."""
    values = [int(ch) if ch.isdigit() else ord(ch) - 55 for ch in body]
    c = 11 - sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2))) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def _split(total: int, shares: list[float]) -> list[int]:
    """total split by shares (largest remainder), adding up exactly."""
    if not shares:
        return []
    scale = sum(shares) or 1.0
    raw = [total * s / scale for s in shares]
    parts = [int(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - parts[i], reverse=True)
    for i in order[:total - sum(parts)]:
        parts[i] += 1
    return parts


def generate(session: Session, *, stations: int = 4, merchants: int = 300, instruments: int = 3000,
             seed: int = DEFAULT_SEED, today: dt.date | None = None, **options) -> dict[str, int]:
    """Build a whole dataset into the session (catalogue already seeded); returns row counts."""
    gen = Generator(session, seed=seed, today=today, **options)
    station_infos = gen.add_stations(stations)
    merchant_infos = gen.add_merchants(merchants, station_infos)
    gen.add_instruments(instruments, merchant_infos)
    return gen.finish()
