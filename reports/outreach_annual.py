"""The year's outreach summary (计量惠民活动年度汇总) as bureaus send it upward: activities, free verifications,
people served, enterprises visited and materials by kind of activity and by kind of place, with totals; free
verifications by instrument kind; each station's figures; micro-stations and volunteers against their targets.
A write-only workbook (no Flask); voided activities count nowhere."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Station
from app.outreach import queries
from app.outreach.models import ActivityKind, PlaceKind
from app.scope import Scope
from reports.printed import PrintedSheet
from reports.xlsx import Book

FIGURES = ["活动次数", "免费检定（台件）", "服务群众（人次）", "走访企业（家）", "发放资料（份）"]


def _rows(session: Session, stmt, labels: dict[str, str]) -> tuple[list[list], list]:
    """One row per label in its order (zeros where nothing happened), and the total row."""
    found = {row.grp: row for row in session.execute(stmt)}
    rows, total = [], [0] * len(FIGURES)
    for key, label in labels.items():
        row = found.get(key)
        values = [row.activities, row.free, row.people, row.enterprises, row.materials] if row else [0] * 5
        values = [int(v or 0) for v in values]
        total = [a + b for a, b in zip(total, values)]
        rows.append([label, *values])
    return rows, ["合计", *total]


def annual_figures(session: Session, scope: Scope, year: int) -> dict[str, tuple[list[list], list]]:
    """The year's tables: by kind of activity, by kind of place, by station (rows and a total row each)."""
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    kinds = {k.value: k.label for k in ActivityKind}
    places = {p.value: p.label for p in PlaceKind}
    stations = {s.id: s.name for s in session.scalars(scope.apply(select(Station).order_by(Station.code, Station.id),
                                                                  Station.id))}
    return {"kind": _rows(session, queries.activity_figures(scope, first, last, group_by="kind"), kinds),
            "place": _rows(session, queries.activity_figures(scope, first, last, group_by="place_kind"), places),
            "station": _rows(session, queries.activity_figures(scope, first, last, group_by="station"), stations)}


def write_annual_workbook(session: Session, scope: Scope, year: int, out: str | IO[bytes], *, scope_name: str,
                          registry: Sequence = ()) -> dict:
    """Write the summary workbook to `out`; returns the figures it holds (for tests and callers)."""
    figures = annual_figures(session, scope, year)
    footer = f"{year}年计量惠民活动汇总（{scope_name}）"
    wb = Book(out)
    sheet = PrintedSheet(f"{year}年计量惠民活动汇总表（{scope_name}）", footer)
    sheet.note(f"统计 {year}-01-01 至 {year}-12-31 登记的活动；已作废的活动不计入。免费检定按台件计。")
    sheet.caption("按活动类型")
    sheet.table(["活动类型", *FIGURES], figures["kind"][0], total=figures["kind"][1])
    sheet.blank()
    sheet.caption("按活动场所")
    sheet.table(["场所类型", *FIGURES], figures["place"][0], total=figures["place"][1])
    sheet.write(wb, "汇总")

    free = [[name, int(count)] for name, count in session.execute(
        queries.free_by_kind(scope, dt.date(year, 1, 1), dt.date(year, 12, 31)))]
    figures["free_by_kind"] = free
    sheet = PrintedSheet(f"{year}年免费检定计量器具（{scope_name}）", footer)
    sheet.table(["器具种类", "免费检定（台件）"], free, total=["合计", sum(c for _, c in free)])
    sheet.write(wb, "免费检定")

    sheet = PrintedSheet(f"{year}年各监管所计量惠民活动（{scope_name}）", footer)
    sheet.table(["监管所", *FIGURES], figures["station"][0], total=figures["station"][1])
    sheet.write(wb, "各监管所")

    if registry:
        sheet = PrintedSheet(f"民生计量科普宣传服务微站与志愿者（{scope_name}）", footer)
        sheet.note("微站和志愿者按统计截止日在册计数；目标未设置的显示为空。")
        rows = [[r.name, r.micro_stations, r.micro_target.value, r.volunteers, r.volunteer_target.value]
                for r in registry]
        sheet.table(["区县", "微站（个）", "微站目标", "志愿者（人）", "志愿者目标"], rows,
                    total=["合计", sum(r.micro_stations for r in registry), None,
                           sum(r.volunteers for r in registry), None])
        sheet.write(wb, "微站与志愿者")
    wb.close()
    return figures
