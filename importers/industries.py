"""Which lines of business use which kinds of instrument: the one table the import checks a row against.

A row whose kind does not fit its merchant's industry (a taximeter at a market stall, a fuel
dispenser at a grain-and-oil shop) is kept with a warning, as is the industry the import guesses
for a merchant it registers (from the merchant's name, else from the kind of its first instrument).
"""
from __future__ import annotations

from functools import lru_cache

from app.merchants.models import Industry

I = Industry
# Kind code prefix -> the industries that keep such instruments; the first is what a new merchant
# with no telling name gets. A kind not listed (one an admin added) fits every industry.
KIND_INDUSTRIES: tuple[tuple[str, tuple[Industry, ...]], ...] = (
    # Pharmacies weigh herbs; seafood restaurants weigh what they sell by weight; farm-supply shops sell by weight.
    ("elec_price_scale", (I.MARKET_VENDOR, I.MARKET_ORGANISER, I.RETAIL, I.MEDICAL, I.CATERING, I.AGRICULTURE)),
    ("fuel_", (I.FUEL_STATION,)),
    ("cng_", (I.FUEL_STATION,)),
    ("lpg_", (I.FUEL_STATION,)),
    ("taximeter", (I.TAXI_COMPANY,)),
    ("ev_", (I.CHARGING_OPERATOR, I.FUEL_STATION, I.RETAIL, I.UTILITY)),
    ("water_", (I.UTILITY,)),
    ("gas_", (I.UTILITY,)),
    ("elec_meter", (I.UTILITY,)),
    ("bp_", (I.MEDICAL, I.RETAIL)),  # pharmacies in supermarkets keep blood-pressure meters too
    ("refractometer", (I.EYEWEAR_SHOP, I.MEDICAL)),
    ("lensmeter", (I.EYEWEAR_SHOP, I.MEDICAL)),
    ("trial_lens", (I.EYEWEAR_SHOP, I.MEDICAL)),
    # Scales beyond price-computing ones (issue 20): weighbridges at purchasing stations and yards, platform and
    # floor scales in markets, shops and farm purchasing, steelyards at stalls.
    ("truck_scale", (I.AGRICULTURE, I.MARKET_ORGANISER, I.OTHER)),
    ("floor_scale", (I.MARKET_ORGANISER, I.AGRICULTURE, I.RETAIL, I.OTHER)),
    ("platform_scale", (I.MARKET_VENDOR, I.RETAIL, I.AGRICULTURE, I.CATERING, I.OTHER)),
    ("analog_scale", (I.MARKET_VENDOR, I.RETAIL, I.AGRICULTURE, I.OTHER)),
    ("non_self_scale", (I.MARKET_VENDOR, I.AGRICULTURE)),
    ("heat_meter", (I.UTILITY,)),
    ("sound_level_meter", (I.OTHER,)),
    ("ecg", (I.MEDICAL,)),
    ("infusion_pump", (I.MEDICAL,)),
)
# Words in a merchant's name that tell its industry, most specific first.
NAME_HINTS: tuple[tuple[str, Industry], ...] = (
    ("加油站", I.FUEL_STATION), ("加气站", I.FUEL_STATION), ("加油加气", I.FUEL_STATION),
    ("眼镜", I.EYEWEAR_SHOP), ("视光", I.EYEWEAR_SHOP), ("验光", I.EYEWEAR_SHOP),
    ("医院", I.MEDICAL), ("卫生院", I.MEDICAL), ("卫生室", I.MEDICAL), ("卫生服务", I.MEDICAL), ("诊所", I.MEDICAL),
    ("门诊", I.MEDICAL), ("医疗", I.MEDICAL), ("保健院", I.MEDICAL), ("药房", I.MEDICAL), ("药店", I.MEDICAL),
    ("出租汽车", I.TAXI_COMPANY), ("出租车", I.TAXI_COMPANY), ("的士", I.TAXI_COMPANY),
    ("充电", I.CHARGING_OPERATOR),
    ("自来水", I.UTILITY), ("水务", I.UTILITY), ("供水", I.UTILITY), ("燃气", I.UTILITY), ("供电", I.UTILITY),
    ("电力公司", I.UTILITY), ("热力", I.UTILITY),
    ("农资", I.AGRICULTURE), ("化肥", I.AGRICULTURE), ("农药", I.AGRICULTURE), ("种子", I.AGRICULTURE),
    ("粮食收购", I.AGRICULTURE), ("收购站", I.AGRICULTURE), ("粮站", I.AGRICULTURE),
    ("饭店", I.CATERING), ("酒楼", I.CATERING), ("酒家", I.CATERING), ("餐馆", I.CATERING), ("餐厅", I.CATERING),
    ("饭馆", I.CATERING), ("餐饮", I.CATERING), ("火锅", I.CATERING),
    ("超市", I.RETAIL), ("商场", I.RETAIL), ("购物中心", I.RETAIL), ("百货", I.RETAIL),
    ("粮油", I.MARKET_VENDOR), ("水果", I.MARKET_VENDOR), ("果蔬", I.MARKET_VENDOR), ("蔬菜", I.MARKET_VENDOR),
    ("水产", I.MARKET_VENDOR), ("肉铺", I.MARKET_VENDOR), ("猪肉", I.MARKET_VENDOR), ("牛肉", I.MARKET_VENDOR),
    ("副食", I.MARKET_VENDOR), ("干货", I.MARKET_VENDOR), ("摊位", I.MARKET_VENDOR), ("档口", I.MARKET_VENDOR),
    ("农贸市场", I.MARKET_ORGANISER), ("集贸市场", I.MARKET_ORGANISER), ("菜市场", I.MARKET_ORGANISER),
)


@lru_cache(maxsize=None)
def industries_for_kind(code: str) -> tuple[Industry, ...]:
    """The industries that keep instruments of this kind; () when any may."""
    for prefix, industries in KIND_INDUSTRIES:
        if code.startswith(prefix):
            return industries
    return ()


def industry_for_kind(code: str) -> Industry:
    """The industry a merchant registered by import gets from its instrument's kind."""
    industries = industries_for_kind(code)
    return industries[0] if industries else Industry.OTHER


def industry_for_name(name: str) -> Industry | None:
    """The industry a merchant's name tells (张记粮油店: a market vendor), or None."""
    for word, industry in NAME_HINTS:
        if word in name:
            return industry
    return None


@lru_cache(maxsize=None)  # called for every planned row: a few kinds times a few industries
def fits(code: str, industry: Industry | str | None) -> bool:
    """True when a merchant of `industry` may well keep an instrument of this kind ('other' fits all)."""
    if industry is None or industry == Industry.OTHER or industry == Industry.OTHER.value:
        return True
    industries = industries_for_kind(code)
    return not industries or Industry(industry) in industries
