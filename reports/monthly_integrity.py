"""The monthly report's pledges sheet (诚信计量): pledges in force and demonstration units at the month's
end by station, new and revoked in the month, progress against the admin's targets, and the change from
the previous month (no Flask)."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.integrity import queries as pq
from app.integrity.models import Pledge, TargetKind
from app.merchants.models import Merchant
from app.scope import Scope
from reports.monthly import Figures, Month, report_name
from reports.printed import PrintedSheet
from reports.xlsx import Book

COLUMNS = ["监管所", "本月新签", "本月撤销", "月末有效承诺", "承诺目标（家）", "承诺完成率", "月末示范单位",
           "示范单位目标（家）", "示范单位完成率"]
COUNTY_COLUMNS = ["县（区）", "月末有效承诺", "承诺目标（家）", "承诺完成率", "月末示范单位", "示范单位目标（家）",
                  "示范单位完成率"]


def _in_force(session: Session, scope: Scope, month: Month) -> dict[int, tuple[int, int]]:
    """station -> (pledges in force, demonstration units in force) at the month's last day."""
    return {station: (active, model) for station, active, model, _revoked, _expired
            in session.execute(pq.counts_by("station", scope, month.last))}


def _signed_and_revoked(session: Session, scope: Scope, month: Month) -> dict[int, tuple[int, int]]:
    """station -> (pledges signed in the month, pledges revoked in the month)."""
    stmt = (select(Merchant.station_id,
                   func.count().filter(Pledge.signed_on.between(month.first, month.last)),
                   func.count().filter(Pledge.revoked_on.between(month.first, month.last)))
            .select_from(Pledge).join(Merchant, Merchant.id == Pledge.merchant_id).group_by(Merchant.station_id))
    return {station: (signed, revoked) for station, signed, revoked
            in session.execute(scope.apply(stmt, Merchant.station_id))}


def _targets(session: Session) -> dict[tuple[str, int | None], int]:
    return {(t.kind.value, t.station_id): t.target for t in session.scalars(pq.targets())}


def _region_targets(session: Session, tree) -> tuple[dict[int, int | None], dict[int, int | None]]:
    """Every region's pledge and demonstration-unit targets, as divided down the tree (app/rollups)."""
    from app.rollups.settings import divided_targets

    return tuple({r: row.target for r, row in divided_targets(session, kind, tree).items()}
                 for kind in (TargetKind.PLEDGES, TargetKind.MODEL_UNITS))


def _county_rows(tree, f: Figures, in_force: dict[int, tuple[int, int]],
                 regional: tuple[dict[int, int | None], dict[int, int | None]]) -> list[list]:
    """One row per county of a city's (or province's) edition: in force against the county's target."""
    rows = []
    for county in tree.counties(f.region_id):
        ids = f.counties.get(tree.label(county), [])
        active = sum(in_force.get(s, (0, 0))[0] for s in ids)
        model = sum(in_force.get(s, (0, 0))[1] for s in ids)
        target, model_target = regional[0].get(county), regional[1].get(county)
        rows.append([tree.label(county), active, target, _rate(active, target), model, model_target,
                     _rate(model, model_target)])
    return rows


def _rate(done: int, target: int | None):
    return done / target if target else None


def integrity_section(wb: Book, f: Figures, session: Session, station_id: int | None) -> None:
    """Write the 诚信计量 sheet."""
    scope = (Scope(frozenset(station_id) if isinstance(station_id, frozenset) else frozenset({station_id}))
             if station_id else Scope.everything())
    title = f"诚信计量自我承诺情况 {f.month.label}（{f.scope_name}）"
    sheet = PrintedSheet(title, report_name(f))
    sheet.note(f"有效承诺和示范单位计至 {f.month.last.isoformat()}；已过复核日期的承诺不计为有效。")
    in_force, flows, targets = (_in_force(session, scope, f.month), _signed_and_revoked(session, scope, f.month),
                                _targets(session))
    pledges, models = TargetKind.PLEDGES.value, TargetKind.MODEL_UNITS.value
    totals = defaultdict(int)
    rows = []
    for sid, name in f.stations.items():
        active, model = in_force.get(sid, (0, 0))
        signed, revoked = flows.get(sid, (0, 0))
        target, model_target = targets.get((pledges, sid)), targets.get((models, sid))
        for key, value in (("signed", signed), ("revoked", revoked), ("active", active), ("model", model)):
            totals[key] += value
        rows.append([name, signed, revoked, active, target, _rate(active, target), model, model_target,
                     _rate(model, model_target)])
    # The overall target is the admin's "all stations" figure (not the sum of station targets); a region's
    # edition measures against the region's target, its own or its share of its parent's (app/rollups).
    from app.rollups.tree import load_tree

    tree = load_tree(session) if f.region_id is not None else None
    regional = _region_targets(session, tree) if tree is not None else None
    if regional is not None:
        target, model_target = regional[0].get(f.region_id), regional[1].get(f.region_id)
    else:
        target = targets.get((pledges, None)) if not station_id else targets.get((pledges, station_id))
        model_target = targets.get((models, None)) if not station_id else targets.get((models, station_id))
    sheet.table(COLUMNS, rows, total=["合计", totals["signed"], totals["revoked"], totals["active"], target,
                                      _rate(totals["active"], target), totals["model"], model_target,
                                      _rate(totals["model"], model_target)])
    if regional is not None and f.counties:
        sheet.blank()
        sheet.caption("各县（区）目标完成情况（县级目标未单独设置的，按使用单位数由上级目标分配）")
        sheet.table(COUNTY_COLUMNS, _county_rows(tree, f, in_force, regional))
    sheet.blank()

    before = _in_force(session, scope, f.month.shift(-1))
    prev_active = sum(a for a, _ in before.values())
    prev_model = sum(m for _, m in before.values())
    sheet.caption(f"与上月（{f.month.shift(-1).label}）比较")
    sheet.table(["指标", f.month.label, f.month.shift(-1).label, "增减"],
                [["月末有效承诺", totals["active"], prev_active, totals["active"] - prev_active],
                 ["月末示范单位", totals["model"], prev_model, totals["model"] - prev_model]])
    sheet.write(wb, "诚信计量")
