"""The monthly report's inspections sheet (检查情况): the month's special-inspection work by station,
findings by code with a chart, and the change from the previous month (no Flask)."""
from __future__ import annotations

from collections import defaultdict

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from sqlalchemy.orm import Session

from app.inspections import queries as iq
from app.scope import Scope
from reports.monthly import (HEADER_FONT, TITLE_FONT, TOTAL_FONT, Figures, Month, RowCounter, cell, header,
                             print_setup)

COLUMNS = ["监管所", "检查（次）", "检查单位（家）", "实际开展经营", "检查器具（台）", "有问题器具", "发现问题（条）",
           "有问题单位", "责令改正", "按期整改", "逾期整改", "整改中", "逾期未改", "立案"]
FIELDS = ["inspections", "merchants", "conducted", "instruments", "with_problem", "findings",
          "merchants_with_findings", "rectifications", "closed_on_time", "closed_late", "open", "late", "cases"]


def _by_station(session: Session, scope: Scope, month: Month) -> dict[int, dict[str, int]]:
    """Per station: the month's inspections, instruments checked and findings, rectification as at month end."""
    result: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIELDS, 0))
    span = {"date_from": month.first, "date_to": month.last, "by_station": True}
    at_month_end = month.shift(1).first
    for statement in (iq.inspection_figures(scope, **span), iq.instrument_figures(scope, **span),
                      iq.finding_figures(scope, at_month_end, **span)):
        for row in session.execute(statement).mappings():
            result[row["station_id"]].update({k: int(v or 0) for k, v in row.items() if k in FIELDS})
    return result


def _total(rows: dict[int, dict[str, int]]) -> dict[str, int]:
    return {k: sum(r[k] for r in rows.values()) for k in FIELDS}


def inspections_section(wb: Workbook, f: Figures, session: Session, station_id: int | None) -> None:
    """Write the 检查情况 sheet after the summary."""
    scope = Scope(frozenset({station_id})) if station_id else Scope.everything()
    ws = wb.create_sheet("检查情况")
    title = f"专项检查情况 {f.month.label}（{f.scope_name}）"
    print_setup(ws, title, 3, len(COLUMNS))
    append = RowCounter(ws)
    append([cell(ws, title, font=TITLE_FONT)])
    append([f"按本月检查日期统计；整改情况计至 {f.month.last.isoformat()}。"])
    append(header(ws, COLUMNS))
    current = _by_station(session, scope, f.month)
    for sid, name in f.stations.items():
        append([name, *(current[sid][k] for k in FIELDS)] if sid in current else [name, *([0] * len(FIELDS))])
    total = _total(current)
    append([cell(ws, "合计", font=TOTAL_FONT), *(total[k] for k in FIELDS)])
    append([])

    previous = _total(_by_station(session, scope, f.month.shift(-1)))
    append([cell(ws, f"与上月（{f.month.shift(-1).label}）比较", font=HEADER_FONT)])
    append(header(ws, ["指标", f.month.label, f.month.shift(-1).label, "增减"]))
    for label, key in (("检查（次）", "inspections"), ("检查单位（家）", "merchants"), ("发现问题（条）", "findings"),
                       ("责令改正", "rectifications"), ("立案", "cases")):
        append([label, total[key], previous[key], total[key] - previous[key]])
    append([])

    append([cell(ws, "按问题代码", font=HEADER_FONT)])
    append(header(ws, ["代码", "问题", "本月（条）"]))
    start = append.rows + 1
    codes = session.execute(iq.findings_by_code(scope, date_from=f.month.first, date_to=f.month.last)).all()
    for code, name, n in codes:
        append([code, name, n])
    if codes:
        chart = BarChart()
        chart.type = "bar"
        chart.title = "本月发现问题（按代码）"
        chart.height, chart.width = 8, 18
        chart.add_data(Reference(ws, min_col=3, min_row=start - 1, max_row=start + len(codes) - 1),
                       titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=2, min_row=start, max_row=start + len(codes) - 1))
        ws.add_chart(chart, f"F{start}")
