"""The region tree in memory for one request or job: parents, names, levels and each station's county (two
queries). Roll-ups and inherited settings walk it in Python; a province has about a hundred counties."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Station
from app.regions.models import Region, RegionLevel
from app.rollups.inherit import chain


@dataclass
class Tree:
    """Every region (id → parent, name, level, code) and every station's county."""

    parents: dict[int, int | None] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    levels: dict[int, RegionLevel] = field(default_factory=dict)
    codes: dict[int, str] = field(default_factory=dict)
    station_county: dict[int, int | None] = field(default_factory=dict)

    def children(self, region_id: int | None) -> list[int]:
        """The regions right below one (below None: the top-level regions), by code."""
        return sorted((r for r, p in self.parents.items() if p == region_id), key=lambda r: self.codes[r])

    def is_under(self, region_id: int | None, ancestor: int | None) -> bool:
        """True when the region is the ancestor or below it (everything is under None, the installation)."""
        return ancestor is None or (region_id is not None and ancestor in chain(region_id, self.parents))

    def counties(self, under: int | None = None) -> list[int]:
        """The counties at or below a region (all when None), by code."""
        return sorted((r for r, level in self.levels.items() if level == RegionLevel.COUNTY
                       and self.is_under(r, under)), key=lambda r: self.codes[r])

    def stations_of(self, region_id: int | None) -> set[int]:
        """The stations whose county is the region or lies below it (every station for None)."""
        return {s for s, c in self.station_county.items() if region_id is None or self.is_under(c, region_id)}

    def stations_by_county(self) -> dict[int | None, list[int]]:
        """County id → its station ids (None: stations without a county)."""
        out: dict[int | None, list[int]] = defaultdict(list)
        for s, c in sorted(self.station_county.items()):
            out[c].append(s)
        return dict(out)

    def ancestor_at(self, county_id: int | None, level: RegionLevel) -> int | None:
        """The county's region at a level (its city, its province), or None."""
        for rid in chain(county_id, self.parents):
            if rid is not None and self.levels.get(rid) == level:
                return rid
        return None

    def label(self, region_id: int | None) -> str:
        """A region's name (the installation's: 全部区划)."""
        return self.names.get(region_id, "") if region_id is not None else "全部区划"


def load_tree(session: Session) -> Tree:
    """The whole tree and each station's county."""
    tree = Tree()
    for rid, parent, name, level, code in session.execute(
            select(Region.id, Region.parent_id, Region.name, Region.level, Region.code)):
        tree.parents[rid], tree.names[rid], tree.levels[rid], tree.codes[rid] = parent, name, level, code
    tree.station_county = dict(session.execute(select(Station.id, Station.county_id)).all())
    return tree
