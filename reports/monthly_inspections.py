"""The monthly report's inspections sheet (检查情况): the month's special-inspection work by station,
findings by type with a chart on its own sheet, and the change from the previous month (no Flask)."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy.orm import Session

from app.inspections import queries as iq
from app.scope import Scope
from reports.monthly import Figures, Month, report_name
from reports.printed import PrintedSheet, bar_chart, chart_sheet
from reports.xlsx import Book

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


def inspections_section(wb: Book, f: Figures, session: Session, station_id: int | None) -> None:
    """Write the 检查情况 sheet after the summary, and its chart of findings on a sheet of its own."""
    scope = (Scope(frozenset(station_id) if isinstance(station_id, frozenset) else frozenset({station_id}))
             if station_id else Scope.everything())
    title = f"专项检查情况 {f.month.label}（{f.scope_name}）"
    sheet = PrintedSheet(title, report_name(f))
    sheet.note(f"按本月检查日期统计；整改情况计至 {f.month.last.isoformat()}。")
    current = _by_station(session, scope, f.month)
    zero = dict.fromkeys(FIELDS, 0)
    total = _total(current)
    sheet.table(COLUMNS, [[name, *(current.get(sid, zero)[k] for k in FIELDS)] for sid, name in f.stations.items()],
                total=["合计", *(total[k] for k in FIELDS)])
    sheet.blank()

    previous = _total(_by_station(session, scope, f.month.shift(-1)))
    sheet.caption(f"与上月（{f.month.shift(-1).label}）比较")
    sheet.table(["指标", f.month.label, f.month.shift(-1).label, "增减"],
                [[label, total[key], previous[key], total[key] - previous[key]]
                 for label, key in (("检查（次）", "inspections"), ("检查单位（家）", "merchants"),
                                    ("发现问题（条）", "findings"), ("责令改正", "rectifications"), ("立案", "cases"))])
    sheet.blank()

    # Findings by their Chinese name (the catalogue's codes are for the system, not for the reader).
    codes = session.execute(iq.findings_by_code(scope, date_from=f.month.first, date_to=f.month.last)).all()
    sheet.caption("按问题类型（图表见“问题图表”）" if codes else "按问题类型（本月未发现问题）")
    header_row, first, last = sheet.table(["问题类型", "本月（条）"], [[name, n] for _code, name, n in codes])
    ws = sheet.write(wb, "检查情况")
    if codes:
        chart = bar_chart(wb, ws, header_row, first, last, (1,), title="本月发现问题（按问题类型，条）",
                          largest=max(n for _, _, n in codes), legend=False)   # the most frequent at the top
        chart_sheet(wb, "问题图表", f"本月发现问题 {f.month.label}（{f.scope_name}）", report_name(f), chart)
