"""The monthly report's cases sheet (案件办理): by station, the cases in force during the month at each stage they
are at now, opened and closed in the month, the month's decisions and its fines and confiscations (罚没款) (no
Flask)."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy.orm import Session

from app.cases.models import Stage
from app.cases.queries import month_figures, stage_counts
from app.scope import Scope
from reports.monthly import Figures, report_name
from reports.printed import PrintedSheet
from reports.xlsx import Book

STAGE_COLUMNS = [f"当前{s.label}" if s != Stage.CLOSED else "已结案" for s in Stage]
COLUMNS = ["监管所", "本月立案", "本月结案", *STAGE_COLUMNS, "本月处罚决定", "本月不予处罚", "罚款（元）",
           "没收违法所得（元）", "罚没款合计（元）"]


def _scope(station_id) -> Scope:
    if not station_id:
        return Scope.everything()
    return Scope(station_id if isinstance(station_id, frozenset) else frozenset({station_id}))


def cases_section(wb: Book, f: Figures, session: Session, station_id: int | None) -> None:
    """Write the 案件办理 sheet."""
    scope = _scope(station_id)
    first, last = f.month.first, f.month.last
    stages: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for sid, stage, n, opened, closed in session.execute(stage_counts(scope, first, last)):
        stage = Stage(stage)
        row = stages[sid]
        row[stage.value] += n
        row["opened"] += opened
        row["closed"] += closed
    money = {sid: (penalties, spared, Decimal(fines or 0), Decimal(conf or 0))
             for sid, penalties, spared, fines, conf in session.execute(month_figures(scope, first, last))}
    sheet = PrintedSheet(f"案件办理情况 {f.month.label}（{f.scope_name}）", report_name(f))
    sheet.note("阶段为案件目前所处阶段，计入月末前立案、且未在本月之前结案的案件；已作废的案件不计。"
               "罚没款为本月作出的处罚决定（以更正后的决定为准）所列金额。")
    rows, totals = [], defaultdict(Decimal)
    for sid, name in f.stations.items():
        st = stages.get(sid, {})
        penalties, spared, fines, conf = money.get(sid, (0, 0, Decimal(0), Decimal(0)))
        values = [st.get("opened", 0), st.get("closed", 0), *(st.get(s.value, 0) for s in Stage), penalties, spared,
                  fines, conf, fines + conf]
        for i, v in enumerate(values):
            totals[i] += v
        rows.append([name, *values])
    count = 2 + len(Stage) + 2
    total = ["合计", *[int(totals[i]) if i < count else totals[i] for i in range(len(COLUMNS) - 1)]]
    # Yuan to the fen, never as a percentage (the sheet's default for fractions).
    formats = {i: "#,##0.00" for i in range(len(COLUMNS) - 3, len(COLUMNS))}
    sheet.table(COLUMNS, rows, total=total, formats=formats)
    sheet.write(wb, "案件办理")
