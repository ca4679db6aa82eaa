"""The random draw (双随机) as a pure function: same seed, inputs, pool and roster give the same result."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from fractions import Fraction

from app.inspections.models import CREDIT_CLASSES, UNCLASSED

# The order classes are drawn in is part of the algorithm: changing it changes every result.
CLASS_ORDER = (*CREDIT_CLASSES, UNCLASSED)


class DrawError(ValueError):
    """The draw cannot be made with these inputs (message in Chinese)."""


@dataclass(frozen=True)
class PoolMerchant:
    """A merchant the draw may pick."""

    id: int
    station_id: int
    credit_class: str | None


@dataclass(frozen=True)
class RosterInspector:
    """An inspector the draw may assign, with the stations they belong to."""

    id: int
    station_ids: tuple[int, ...]


def class_key(credit_class: str | None) -> str:
    """The rate key of a merchant: its class, or the unclassed key."""
    return credit_class if credit_class in CREDIT_CLASSES else UNCLASSED


def sample_size(population: int, rate_percent) -> int:
    """How many of a class to draw: the rate rounded up, so a non-zero rate draws at least one."""
    # Fractions, not floats: 30 % of 10 must be exactly 3, never 3.0000000000000004 rounded up to 4.
    return min(population, math.ceil(Fraction(str(rate_percent)) * population / 100))


def draw(seed: int, rates: dict, inspectors_per_target: int, exclude_own_station: bool,
         pool: list[PoolMerchant], roster: list[RosterInspector]) -> list[dict]:
    """Pick merchants per credit class at its rate, then inspectors for each, reproducibly from the seed."""
    if inspectors_per_target < 2:
        raise DrawError("每个检查对象至少需要两名检查人员")
    rng = random.Random(seed)
    ordered = sorted(pool, key=lambda m: m.id)
    chosen: list[PoolMerchant] = []
    for key in CLASS_ORDER:
        members = [m for m in ordered if class_key(m.credit_class) == key]
        k = sample_size(len(members), rates.get(key, 0) or 0)
        if k:
            chosen += rng.sample(members, k)
    chosen.sort(key=lambda m: m.id)
    staff = sorted(roster, key=lambda u: u.id)
    targets = []
    for merchant in chosen:
        eligible = [u for u in staff if not (exclude_own_station and merchant.station_id in u.station_ids)]
        if len(eligible) < inspectors_per_target:
            raise DrawError(f"检查人员名录中可派往该监管所的人员不足{inspectors_per_target}名"
                            f"{'（已排除本所人员）' if exclude_own_station else ''}，请扩大名录")
        picked = sorted(u.id for u in rng.sample(eligible, inspectors_per_target))
        targets.append({"merchant_id": merchant.id, "station_id": merchant.station_id,
                        "credit_class": class_key(merchant.credit_class), "inspector_ids": picked})
    return targets


def rerun(seed: int, inputs: dict) -> list[dict]:
    """Re-run a recorded draw from its stored inputs (pool and roster included)."""
    pool = [PoolMerchant(*row) for row in inputs["pool"]]
    roster = [RosterInspector(row[0], tuple(row[1])) for row in inputs["roster"]]
    return draw(seed, inputs["rates"], inputs["inspectors_per_target"], inputs["exclude_own_station"], pool, roster)
