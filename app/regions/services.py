"""Changing the region tree and which county a station belongs to; loading the tree from a file (no Flask)."""
from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy.orm import Session

from app.accounts.models import Station
from app.audit import services as audit
from app.errors import Duplicate, Invalid, NotFound, StaleEdit
from app.regions import queries
from app.regions.models import Region, RegionLevel
from app.text import as_typed, identifier

_SIX_DIGITS = re.compile(r"[0-9]{6}")
# A parent sits strictly above its child: province over city over county (a county straight under a province
# is a 省直辖县级行政区划).
_RANK = {RegionLevel.PROVINCE: 0, RegionLevel.CITY: 1, RegionLevel.COUNTY: 2}


def level_of_code(code: str) -> RegionLevel:
    """The level a GB/T 2260 code reads as: XX0000 a province, XXXX00 a city, anything else a county."""
    if code.endswith("0000"):
        return RegionLevel.PROVINCE
    if code.endswith("00"):
        return RegionLevel.CITY
    return RegionLevel.COUNTY


def _code(value: str | None) -> str:
    code = identifier(value)
    if not _SIX_DIGITS.fullmatch(code):
        raise Invalid("行政区划代码应为6位数字（GB/T 2260）", field="code")
    return code


def _name(value: str | None) -> str:
    name = as_typed(value)
    if not name.strip():
        raise Invalid("请填写区划名称", field="name")
    if len(name) > 50:
        raise Invalid("区划名称不能超过50个字", field="name")
    return name


def _check_code_free(session: Session, code: str, region: Region | None) -> None:
    other = queries.region_by_code(session, code)
    if other is not None and other is not region:
        raise Duplicate(f"行政区划代码“{code}”已被“{other.name}”使用", field="code")


def _parent(session: Session, parent_id: int | None, level: RegionLevel) -> Region | None:
    if parent_id is None:
        return None
    parent = session.get(Region, parent_id)
    if parent is None:
        raise Invalid("上级区划不存在", field="parent_id")
    if _RANK[parent.level] >= _RANK[level]:
        raise Invalid(f"{level.label}的上级区划应高于{level.label}一级（现为{parent.level.label}“{parent.name}”）",
                      field="parent_id")
    return parent


def create_region(session: Session, actor, *, code: str, name: str, level: RegionLevel | str | None = None,
                  parent_id: int | None = None) -> Region:
    """Add a province, city or county (the level read from the code when not given)."""
    code, name = _code(code), _name(name)
    level = RegionLevel(level) if level else level_of_code(code)
    _check_code_free(session, code, None)
    region = Region(code=code, name=name, level=level, parent=_parent(session, parent_id, level))
    session.add(region)
    session.flush()
    audit.record(session, actor, "create", region, audit.snapshot(region, ["code", "name", "level", "parent"]))
    return region


def update_region(session: Session, actor, region: Region, *, expected_version: int, code: str, name: str,
                  parent_id: int | None) -> list[dict]:
    """Rename or recode a region, or put it under another parent (its level stays)."""
    if region.version != expected_version:
        raise StaleEdit("该区划")
    code, name = _code(code), _name(name)
    _check_code_free(session, code, region)
    parent = _parent(session, parent_id, region.level)
    changes = audit.apply_changes(region, {"code": code, "name": name})
    if parent is not region.parent:
        changes.append(audit.change_row("parent_id", Region.__labels__["parent_id"], region.parent, parent))
        region.parent = parent
    if changes:
        session.flush()
        audit.record(session, actor, "update", region, changes)
    return changes


def delete_region(session: Session, actor, region: Region, *, expected_version: int) -> None:
    """Delete a region that nothing lies under, no user is assigned to and no archived report belongs to; its own
    settings (lead days, credit rule, targets) go with it, named in the audit entry."""
    from sqlalchemy import delete, exists, select

    from app.accounts.models import User
    from app.credit.models import CreditRule
    from app.integrity.models import IntegrityTarget
    from app.monthly.models import MonthlyReport
    from app.rollups.models import RegionLeadDays

    if region.version != expected_version:
        raise StaleEdit("该区划")
    blockers = [(Region.parent_id, "还有下级区划，请先删除或调整到其他上级"),
                (Station.county_id, "还有监管所，请先把监管所调整到其他县（区）"),
                (User.region_id, "还有用户属于该区划，请先调整这些用户"),
                (MonthlyReport.region_id, "已有该区划的月报存档，不能删除")]
    for column, message in blockers:
        if session.scalar(select(exists().where(column == region.id))):
            raise Invalid(f"“{region.name}”{message}")
    settings = {"预警提前天数": RegionLeadDays, "信用评价规则": CreditRule, "诚信计量目标": IntegrityTarget}
    dropped = [label for label, model in settings.items()
               if session.execute(delete(model).where(model.region_id == region.id)).rowcount]
    note = f"同时删除本级设置：{'、'.join(dropped)}" if dropped else ""
    audit.record(session, actor, "delete", region, audit.snapshot(region, ["code", "name", "level"]), note=note)
    session.delete(region)
    session.flush()


def county(session: Session, county_id: int | None) -> Region:
    """The county with this id; Invalid when it is missing or not a county."""
    region = session.get(Region, county_id) if county_id is not None else None
    if region is None or region.level != RegionLevel.COUNTY:
        raise Invalid("请选择监管所所属的县（区）", field="county_id")
    return region


def move_station(session: Session, actor, station: Station, *, expected_version: int,
                 county_id: int | None) -> list[dict]:
    """Put a station in another county (its records follow it: they belong to the station)."""
    if station.version != expected_version:
        raise StaleEdit("该监管所")
    target = county(session, county_id)
    if station.county_id == target.id:
        return []
    changes = [audit.change_row("county_id", Station.__labels__["county_id"], station.county, target)]
    station.county = target
    session.flush()
    audit.record(session, actor, "update", station, changes, note="调整所属县（区）")
    return changes


def get_region(session: Session, region_id: int) -> Region:
    """A region by id, else NotFound."""
    region = session.get(Region, region_id)
    if region is None:
        raise NotFound("区划不存在")
    return region


def load_regions(session: Session, actor, rows: Iterable[tuple[object, object, object]],
                 first_line: int = 1) -> dict[str, int]:
    """Add or rename regions from (code, name, parent code) rows; a missing parent code is read from the code
    (a county under its city, else its province; a city under its province) when that region is known.

    Every row is checked before anything changes: a bad row raises Invalid naming its line, and nothing is saved.
    """
    wanted: dict[str, tuple[str, str, int]] = {}
    for line, (raw_code, raw_name, raw_parent) in enumerate(rows, start=first_line):
        if not any(str(v or "").strip() for v in (raw_code, raw_name, raw_parent)):
            continue
        try:
            code, name = _code(_text(raw_code)), _name(_text(raw_name))
            parent = _text(raw_parent)
            if parent:
                parent = _code(parent)
        except Invalid as error:
            raise Invalid(f"第{line}行：{error.message}") from None
        if code in wanted:
            raise Invalid(f"第{line}行：行政区划代码“{code}”重复（已在第{wanted[code][2]}行）")
        wanted[code] = (name, parent, line)

    known = {r.code: r for r in queries.all_regions(session)}
    codes = set(known) | set(wanted)

    def parent_code(code: str, given: str) -> str | None:
        if given:
            return given
        level = known[code].level if code in known else level_of_code(code)
        if level == RegionLevel.COUNTY and code[:4] + "00" in codes:
            return code[:4] + "00"
        if level != RegionLevel.PROVINCE and code[:2] + "0000" in codes and code[:2] + "0000" != code:
            return code[:2] + "0000"
        return known[code].parent.code if code in known and known[code].parent is not None else None

    counts = {"created": 0, "renamed": 0, "moved": 0}
    # Parents first, so a county's city exists when the county is placed under it.
    for code in sorted(wanted, key=lambda c: (_RANK[known[c].level if c in known else level_of_code(c)], c)):
        name, given_parent, line = wanted[code]
        parent = parent_code(code, given_parent)
        if parent is not None and parent not in codes:
            raise Invalid(f"第{line}行：上级区划代码“{parent}”既不在文件中也不在系统中")
        try:
            parent_id = known[parent].id if parent is not None else None
            region = known.get(code)
            if region is None:
                known[code] = create_region(session, actor, code=code, name=name, parent_id=parent_id)
                counts["created"] += 1
            else:
                before = (region.name, region.parent_id)
                update_region(session, actor, region, expected_version=region.version, code=code, name=name,
                              parent_id=parent_id)
                counts["renamed"] += region.name != before[0]
                counts["moved"] += region.parent_id != before[1]
        except Invalid as error:
            raise Invalid(f"第{line}行：{error.message}") from None
    return counts


def _text(value: object) -> str:
    # Spreadsheet cells holding codes may come back as numbers (320700.0).
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value if value is not None else "").strip()

