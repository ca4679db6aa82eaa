"""The negative deviation a retail sale weighed on the spot may show (no Flask).

Source: 《零售商品称重计量监督管理办法》(国家质量监督检验检疫总局、国家工商行政管理总局令第66号, 2004-08-10,
in force 2004-12-01; revised by 国家市场监督管理总局令第31号, 2020-10-23), 第五条 and 附表1 (食品). 附表2 (金银饰品:
0.01 g / 0.1 g per piece up to 100 g) is left out: a market's fair scale does not weigh jewellery. The figures
were read from secondary copies of the 办法, not the gazette: see docs/decisions.md ("Re-weigh tolerances").

Categories as 附表1 names them (price per kilogram decides when the goods are not named; 活禽、活鱼、水产品
are outside the second row, as the 办法's footnote says). Each row: (upper bound of the claimed weight in
grams, tolerance in grams); a claimed weight above the last bound is outside the table.
"""
from __future__ import annotations

from app.db import LabeledEnum


class GoodsCategory(LabeledEnum):
    """The rows of 附表1."""

    STAPLE = "staple"
    FRESH = "fresh"
    DRIED = "dried"
    PREMIUM = "premium"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"staple": "粮食、蔬菜、水果或不高于6元/千克的食品",
                "fresh": "肉、蛋、禽、海（水）产品、糕点、糖果、调味品或6至30元/千克的食品",
                "dried": "干菜、山（海）珍品或30至100元/千克的食品",
                "premium": "高于100元/千克的食品"}


TOLERANCES: dict[GoodsCategory, tuple[tuple[int, int], ...]] = {
    GoodsCategory.STAPLE: ((1_000, 20), (2_000, 40), (4_000, 80), (25_000, 100)),
    GoodsCategory.FRESH: ((2_500, 5), (10_000, 10), (15_000, 15)),
    GoodsCategory.DRIED: ((1_000, 2), (4_000, 4), (6_000, 6)),
    GoodsCategory.PREMIUM: ((500, 1), (2_000, 2), (5_000, 3)),
}
SOURCE = "《零售商品称重计量监督管理办法》附表1"


def tolerance_g(category: GoodsCategory, claimed_g: int) -> int | None:
    """The negative deviation allowed for goods of a category sold as `claimed_g` grams; None above the table."""
    for upper, tolerance in TOLERANCES[category]:
        if claimed_g <= upper:
            return tolerance
    return None


def table_limit_g(category: GoodsCategory) -> int:
    """The largest claimed weight the table covers for a category, in grams."""
    return TOLERANCES[category][-1][0]
