"""Settings a region inherits: the nearest value up county → city → province → the installation's default.

Pure functions over the tree as a dict (id → parent id), loaded in one query: resolving is done once per region
(a hundred counties at most), never per instrument or merchant; the callers turn the result into grouped
statements (a CASE over station groups, one INSERT ... SELECT per distinct credit rule).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Generic, TypeVar

V = TypeVar("V")

# The installation's own value (not a region): the root above every top-level region.
INSTALLATION: None = None


@dataclass(frozen=True)
class Resolved(Generic[V]):
    """A setting's effective value for a region and the region it comes from (None: the installation's)."""

    value: V
    source: int | None


def chain(region_id: int | None, parents: Mapping[int, int | None]) -> list[int | None]:
    """The region, its parent, ... up to the top, then None (the installation)."""
    out: list[int | None] = []
    seen: set[int] = set()
    current = region_id
    while current is not None and current not in seen:
        seen.add(current)
        out.append(current)
        current = parents.get(current)
    out.append(INSTALLATION)
    return out


def nearest(region_id: int | None, parents: Mapping[int, int | None], rows: Mapping[int | None, V],
            default: V) -> Resolved[V]:
    """The value set nearest the region on its way up; the default when no region on the way (nor the
    installation) sets one."""
    for rid in chain(region_id, parents):
        if rid in rows:
            return Resolved(rows[rid], rid)
    return Resolved(default, INSTALLATION)


def source_text(resolved_source: int | None, region_id: int | None, names: Mapping[int, str],
                own_label: str = "本级设置", default_label: str = "系统默认") -> str:
    """Where a value comes from, as the admin pages say it: 本县设置, 继承自 连云港市, 系统默认."""
    if resolved_source == region_id and region_id is not None:
        return own_label
    if resolved_source is None:
        return default_label
    return f"继承自 {names.get(resolved_source, '上级区划')}"


def divide(total: int, weights: Mapping[int, int], fixed: Mapping[int, int] | None = None) -> dict[int, int]:
    """Divide a target among children: a child with its own target keeps it; what remains of `total` goes to the
    others in proportion to their weights (merchants), by largest remainder, so the shares sum to the remainder
    exactly; ties go to the smaller id (the order is reproducible). No weight at all divides equally."""
    fixed = dict(fixed or {})
    out = {k: v for k, v in fixed.items() if k in weights}
    rest = [k for k in sorted(weights) if k not in fixed]
    remaining = max(0, total - sum(out.values()))
    if not rest:
        return out
    w = {k: max(0, weights[k]) for k in rest}
    if sum(w.values()) == 0:
        w = {k: 1 for k in rest}
    whole = sum(w.values())
    exact = {k: Fraction(remaining * w[k], whole) for k in rest}
    shares = {k: int(exact[k]) for k in rest}
    left = remaining - sum(shares.values())
    for k in sorted(rest, key=lambda k: (-(exact[k] - shares[k]), k))[:left]:
        shares[k] += 1
    out.update(shares)
    return out
