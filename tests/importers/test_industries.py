"""Which industries keep which kinds: one table; the industry a name tells."""
from __future__ import annotations

import pytest

from app.merchants.models import Industry
from importers.industries import KIND_INDUSTRIES, fits, industry_for_kind, industry_for_name
from tests.importers.builders import catalogue_kinds


@pytest.mark.parametrize("name, industry", [
    ("张记粮油店", Industry.MARKET_VENDOR), ("城南农贸市场12号摊位", Industry.MARKET_VENDOR),
    ("李记水果店", Industry.MARKET_VENDOR), ("城南农贸市场", Industry.MARKET_ORGANISER),
    ("中石化城东加油站", Industry.FUEL_STATION), ("明亮眼镜店", Industry.EYEWEAR_SHOP),
    ("城东社区卫生服务中心", Industry.MEDICAL), ("仁和诊所", Industry.MEDICAL),
    ("顺达出租汽车有限公司", Industry.TAXI_COMPANY), ("城东自来水公司", Industry.UTILITY),
    ("华联超市", Industry.RETAIL), ("张三", None), ("城东贸易有限公司", None),
])
def test_the_industry_a_name_tells(name, industry):
    assert industry_for_name(name) == industry


@pytest.mark.parametrize("code, industry, fit", [
    ("taximeter", Industry.MARKET_VENDOR, False), ("fuel_dispenser", Industry.MARKET_VENDOR, False),
    ("elec_price_scale", Industry.MARKET_VENDOR, True), ("elec_price_scale", Industry.FUEL_STATION, False),
    ("bp_auto", Industry.MEDICAL, True), ("lensmeter", Industry.MEDICAL, True), ("lensmeter", Industry.RETAIL, False),
    ("fuel_dispenser", Industry.OTHER, True),  # nothing is known of an "other" merchant
    ("some_new_kind", Industry.MARKET_VENDOR, True),  # a kind an admin added fits every industry
])
def test_fits(code, industry, fit):
    assert fits(code, industry) is fit


def test_every_catalogue_kind_has_its_industries_and_a_new_merchant_gets_the_first():
    for code, _ in catalogue_kinds():
        industries = next(i for prefix, i in KIND_INDUSTRIES if code.startswith(prefix))
        assert industry_for_kind(code) == industries[0]
