"""The monthly report's outreach sheet (计量惠民): each station's activities, free verifications and people served
in the month, and the year so far (no Flask); voided activities count nowhere."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from app.outreach import queries
from app.scope import Scope
from reports.monthly import Figures, report_name
from reports.printed import PrintedSheet
from reports.xlsx import Book

COLUMNS = ["监管所", "本月活动（次）", "本月免费检定（台件）", "本月服务群众（人次）", "本年累计活动（次）",
           "本年累计免费检定（台件）", "本年累计服务群众（人次）"]


def outreach_counts(session: Session, scope: Scope, first: dt.date, last: dt.date) -> dict[int, tuple[int, int, int]]:
    """station -> (activities, free verifications, people served) of the activities in force in the period."""
    return {row.grp: (int(row.activities), int(row.free), int(row.people))
            for row in session.execute(queries.activity_figures(scope, first, last, group_by="station"))}


def outreach_section(wb: Book, f: Figures, session: Session, station_id) -> None:
    """Write the 计量惠民 sheet."""
    scope = (Scope(station_id if isinstance(station_id, frozenset) else frozenset({station_id}))
             if station_id else Scope.everything())
    month = outreach_counts(session, scope, f.month.first, f.month.last)
    year = outreach_counts(session, scope, dt.date(f.month.year, 1, 1), f.month.last)
    sheet = PrintedSheet(f"计量惠民活动 {f.month.label}（{f.scope_name}）", report_name(f))
    sheet.note("活动按活动日期计；已作废的活动不计入。免费检定按台件计。")
    rows, totals = [], [0] * 6
    for sid, name in f.stations.items():
        values = [*month.get(sid, (0, 0, 0)), *year.get(sid, (0, 0, 0))]
        totals = [a + b for a, b in zip(totals, values)]
        rows.append([name, *values])
    sheet.table(COLUMNS, rows, total=["合计", *totals])
    sheet.write(wb, "计量惠民")
