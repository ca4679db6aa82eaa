"""Settings per region (alert lead days, credit weights, pledge targets): what applies where, and saving a
region's own value (services flush, never commit).

Each setting is resolved once per county (app/rollups/inherit.py) and handed to the set-based engines as groups
of stations sharing one value: the sweep's lead times become one CASE over station groups, the credit
recomputation one INSERT ... SELECT per distinct rule. Nothing is resolved row by row.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.catalog.models import InstrumentType
from app.credit.models import CreditRule
from app.errors import Invalid, NotFound
from app.integrity.models import IntegrityTarget, TargetKind
from app.merchants.models import Merchant
from app.rollups.inherit import Resolved, divide, nearest, source_text
from app.rollups.models import RegionLeadDays
from app.rollups.tree import Tree, load_tree

MAX_LEAD_DAYS = 365


# --- alert lead days ------------------------------------------------------------------------------

def catalogue_leads(session: Session) -> dict[int, int]:
    """The installation's lead time of every kind (the catalogue's)."""
    return {t: max(0, d or 0) for t, d in session.execute(select(InstrumentType.id, InstrumentType.lead_days))}


def region_lead_rows(session: Session) -> dict[int, dict[int, int]]:
    """type_id → {region_id: the region's own lead days}."""
    rows: dict[int, dict[int, int]] = defaultdict(dict)
    for region_id, type_id, days in session.execute(
            select(RegionLeadDays.region_id, RegionLeadDays.type_id, RegionLeadDays.lead_days)):
        rows[type_id][region_id] = days
    return rows


def effective_leads(session: Session, region_id: int | None, tree: Tree | None = None) -> dict[int, Resolved[int]]:
    """Each kind's lead time for a region (None: the installation) and where it comes from."""
    tree = tree or load_tree(session)
    rows = region_lead_rows(session)
    return {t: nearest(region_id, tree.parents, rows.get(t, {}), days)
            for t, days in catalogue_leads(session).items()}


def lead_groups(session: Session, tree: Tree | None = None) -> tuple[dict[int, int], list[tuple[tuple[int, ...],
                                                                                                 dict[int, int]]]]:
    """The catalogue's lead times, and the groups of stations whose counties resolve to other lead times (one
    group per distinct set of values): what the sweep turns into one CASE."""
    default = catalogue_leads(session)
    rows = region_lead_rows(session)
    if not rows:
        return default, []
    tree = tree or load_tree(session)
    groups: dict[tuple, list[int]] = defaultdict(list)
    for county, stations in tree.stations_by_county().items():
        leads = {t: nearest(county, tree.parents, rows.get(t, {}), d).value for t, d in default.items()}
        if leads != default:
            groups[tuple(sorted(leads.items()))].extend(stations)
    return default, [(tuple(sorted(ids)), dict(key)) for key, ids in sorted(groups.items(), key=lambda g: g[1])]


def set_region_leads(session: Session, actor, tree: Tree, region_id: int, values: dict[int, int | None]) -> list:
    """Save a region's own lead time per kind; None removes it (the region inherits again). Logged."""
    if region_id not in tree.names:
        raise NotFound("区划不存在")
    kinds = {t.id: t.name_zh for t in session.scalars(select(InstrumentType))}
    existing = {r.type_id: r for r in session.scalars(select(RegionLeadDays)
                                                        .where(RegionLeadDays.region_id == region_id))}
    changes = []
    for type_id, days in sorted(values.items()):
        if type_id not in kinds:
            raise Invalid("器具种类不存在")
        if days is not None and not 0 <= days <= MAX_LEAD_DAYS:
            raise Invalid(f"提前提醒天数应为 0 到 {MAX_LEAD_DAYS} 之间的整数", field=f"lead_{type_id}")
        row = existing.get(type_id)
        old = row.lead_days if row is not None else None
        if old == days:
            continue
        if days is None:
            session.delete(row)
        elif row is None:
            session.add(RegionLeadDays(region_id=region_id, type_id=type_id, lead_days=days))
        else:
            row.lead_days = days
        changes.append(audit.change_row(f"lead_{type_id}", f"{kinds[type_id]}提前提醒天数", old, days))
    if changes:
        session.flush()
        audit.record(session, actor, "update", None, changes, entity_type="region_lead_days",
                     entity_label=f"{tree.names[region_id]}预警提前天数")
    return changes


# --- credit weights -------------------------------------------------------------------------------

def installation_rule(session: Session) -> CreditRule | None:
    """The installation's saved rule (region NULL), if any."""
    return session.scalars(select(CreditRule).where(CreditRule.region_id.is_(None))).first()


def region_rules(session: Session) -> dict[int, CreditRule]:
    """region_id → the region's own rule."""
    return {r.region_id: r for r in session.scalars(select(CreditRule).where(CreditRule.region_id.is_not(None)))}


def effective_rule(session: Session, region_id: int | None, tree: Tree | None = None) -> Resolved[CreditRule]:
    """The rule that applies to a region: its own, else the nearest above, else the installation's (its saved
    rule or the default weights)."""
    from app.credit.services import get_rule

    tree = tree or load_tree(session)
    return nearest(region_id, tree.parents, region_rules(session), get_rule(session))


def rule_groups(session: Session, tree: Tree | None = None) -> list[tuple[CreditRule, tuple[int, ...] | None]]:
    """Each rule in force with the stations it scores; the installation's rule comes first with None (every
    station no region rule reaches). One entry per distinct rule, never per merchant."""
    from app.credit.services import get_rule

    rules = region_rules(session)
    default = get_rule(session)
    if not rules:
        return [(default, None)]
    tree = tree or load_tree(session)
    by_rule: dict[int, list[int]] = defaultdict(list)
    for county, stations in tree.stations_by_county().items():
        found = nearest(county, tree.parents, rules, None)
        if found.value is not None:
            by_rule[found.source].extend(stations)
    return [(default, None)] + [(rules[rid], tuple(sorted(ids))) for rid, ids in sorted(by_rule.items())]


# --- pledge targets -------------------------------------------------------------------------------

@dataclass
class TargetRow:
    """One region's target of a kind and how it was set."""

    region_id: int | None
    target: int | None
    how: str           # 本级设置 / 按使用单位数分配自 XX市 / 未设置
    own: int | None    # the region's own row, if any
    children_sum: int | None = None  # the own targets set below it, when they exceed it (the sum check)


def merchants_by_county(session: Session, tree: Tree) -> dict[int | None, int]:
    """Merchants per county (one grouped query over stations)."""
    counts: dict[int | None, int] = defaultdict(int)
    for station_id, n in session.execute(select(Merchant.station_id, func.count()).group_by(Merchant.station_id)):
        counts[tree.station_county.get(station_id)] += n
    return dict(counts)


def _weights(tree: Tree, by_county: dict[int | None, int]) -> dict[int, int]:
    weights: dict[int, int] = defaultdict(int)
    for county, n in by_county.items():
        if county is None:
            continue
        for rid in [county, *[r for r in tree.parents if tree.is_under(county, r) and r != county]]:
            weights[rid] += n
    return dict(weights)


def divided_targets(session: Session, kind: TargetKind, tree: Tree | None = None) -> dict[int | None, TargetRow]:
    """Every region's target of a kind: its own when set, else its share of its parent's, divided among the
    parent's children by their share of merchants after the children's own targets are taken out (the
    installation's overall target, 全局, is the root's). The sum check: a parent whose children's own targets
    add up to more than its own says so."""
    tree = tree or load_tree(session)
    own = {t.region_id: t.target for t in session.scalars(select(IntegrityTarget).where(
        IntegrityTarget.kind == kind, IntegrityTarget.station_id.is_(None)))
           if t.region_id is not None or t.scope_key == "all"}
    weights = _weights(tree, merchants_by_county(session, tree))
    out: dict[int | None, TargetRow] = {None: TargetRow(None, own.get(None), "本级设置" if None in own else "未设置",
                                                        own.get(None))}

    def walk(parent: int | None) -> None:
        kids = tree.children(parent)
        if not kids:
            return
        fixed = {k: own[k] for k in kids if k in own}
        total = out[parent].target
        if fixed and total is not None and sum(fixed.values()) > total:
            out[parent].children_sum = sum(fixed.values())
        shares = divide(total, {k: weights.get(k, 0) for k in kids}, fixed) if total is not None else fixed
        for k in kids:
            if k in own:
                out[k] = TargetRow(k, own[k], "本级设置", own[k])
            elif k in shares:
                out[k] = TargetRow(k, shares[k], f"按使用单位数分配自 {tree.label(parent)}", None)
            else:
                out[k] = TargetRow(k, None, "未设置", None)
            walk(k)

    walk(None)
    return out


def set_region_target(session: Session, actor, tree: Tree, kind: TargetKind, region_id: int,
                      value: int | None) -> list:
    """Save (or, with None/0, clear) a region's own target of a kind. Logged."""
    if region_id not in tree.names:
        raise NotFound("区划不存在")
    if value is not None and not 0 <= value <= 1_000_000:
        raise Invalid("目标数应为 0 到 1000000 之间的整数")
    row = session.scalars(select(IntegrityTarget).where(IntegrityTarget.kind == kind,
                                                        IntegrityTarget.region_id == region_id)).first()
    old, new = (row.target if row else None), (value or None)
    if old == new:
        return []
    if new is None:
        session.delete(row)
    elif row is None:
        session.add(IntegrityTarget(kind=kind, region_id=region_id, scope_key=f"r{region_id}", target=new))
    else:
        row.target = new
    changes = [audit.change_row(kind.value, f"{kind.label}目标（{tree.names[region_id]}）", old, new)]
    session.flush()
    audit.record(session, actor, "update", None, changes, entity_type="integrity_targets",
                 entity_label="诚信计量目标")
    return changes


def source_of(resolved: Resolved, region_id: int | None, tree: Tree) -> str:
    """本县设置 / 本市设置 / 继承自 XX市 / 系统默认, for a resolved setting of a region."""
    level = tree.levels.get(region_id)
    own = {"county": "本县设置", "city": "本市设置", "province": "本省设置"}.get(getattr(level, "value", ""), "本级设置")
    return source_text(resolved.source, region_id, tree.names, own_label=own)


def settable_regions(tree: Tree, user) -> list[int | None]:
    """The levels whose settings an admin may set: the whole installation (None) for an admin without a region,
    then every region at or below the admin's own, by code."""
    own = getattr(user, "region_id", None)
    regions = sorted((r for r in tree.names if tree.is_under(r, own)), key=lambda r: tree.codes[r])
    return ([None] if own is None else []) + regions


def chosen_region(tree: Tree, user, region_id: int | None) -> int | None:
    """The region an admin's settings page is about: the one asked for when the admin may set it, else the
    admin's own level; NotFound for a region outside it."""
    if region_id is None:
        return getattr(user, "region_id", None)
    if region_id not in tree.names or not tree.is_under(region_id, getattr(user, "region_id", None)):
        raise NotFound("区划不存在或不在您的管辖范围内")
    return region_id
