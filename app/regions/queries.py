"""Reading the region tree: what lies under a region, its stations, its path from the top (no Flask)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.accounts.models import Station
from app.regions.models import Region, RegionLevel


def _subtree(region_id: int):
    """A recursive CTE of the ids of the region and every region below it (SQLite and PostgreSQL)."""
    tree = select(Region.id).where(Region.id == region_id).cte("region_tree", recursive=True)
    child = aliased(Region)
    return tree.union_all(select(child.id).where(child.parent_id == tree.c.id))


def station_ids_under(session: Session, region_id: int) -> set[int]:
    """The ids of every station in the region's counties (one query)."""
    tree = _subtree(region_id)
    return set(session.scalars(select(Station.id).where(Station.county_id.in_(select(tree.c.id)))))


def regions_under(session: Session, region_id: int) -> list[Region]:
    """The region and every region below it, by code."""
    tree = _subtree(region_id)
    return list(session.scalars(select(Region).where(Region.id.in_(select(tree.c.id))).order_by(Region.code)))


def counties_under(session: Session, region_id: int | None) -> list[Region]:
    """The counties at or below the region (every county when region_id is None), by code."""
    stmt = select(Region).where(Region.level == RegionLevel.COUNTY).order_by(Region.code)
    if region_id is not None:
        stmt = stmt.where(Region.id.in_(select(_subtree(region_id).c.id)))
    return list(session.scalars(stmt))


def region_path(session: Session, region_id: int) -> list[Region]:
    """The regions from the top of the tree down to this one."""
    up = select(Region.id, Region.parent_id).where(Region.id == region_id).cte("region_up", recursive=True)
    parent = aliased(Region)
    up = up.union_all(select(parent.id, parent.parent_id).where(parent.id == up.c.parent_id))
    found = {r.id: r for r in session.scalars(select(Region).where(Region.id.in_(select(up.c.id))))}
    path: list[Region] = []
    current = found.get(region_id)
    while current is not None:
        path.append(current)
        current = found.get(current.parent_id) if current.parent_id is not None else None
    return list(reversed(path))


def all_regions(session: Session) -> list[Region]:
    """Every region, by code (the tree page and the form choices)."""
    return list(session.scalars(select(Region).order_by(Region.code)))


def get_region(session: Session, region_id: int) -> Region | None:
    """One region by id, or None."""
    return session.get(Region, region_id)


def region_by_code(session: Session, code: str) -> Region | None:
    """One region by its six-digit code, or None."""
    return session.scalar(select(Region).where(Region.code == code))


def is_under(session: Session, region_id: int | None, ancestor_id: int | None) -> bool:
    """True when region_id is ancestor_id or lies below it; an ancestor of None is the whole installation."""
    if ancestor_id is None:
        return True
    if region_id is None:
        return False
    return any(r.id == ancestor_id for r in region_path(session, region_id))
