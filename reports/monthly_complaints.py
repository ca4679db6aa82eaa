"""The monthly report's complaints sheet (投诉举报): by station, complaints received in the month (online and
transferred from 12315 / 12345), closed in it and on time, open and late at its end, upheld and reward-eligible
among those received, with the change from the previous month (no Flask)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.complaints.queries import month_figures
from reports.monthly import Figures, Month, report_name
from reports.printed import PrintedSheet
from reports.xlsx import Book

COLUMNS = ["监管所", "本月受理", "群众在线反映", "12315/12345 转办", "本月办结", "按期办结", "月末未办结", "月末逾期未办结",
           "属实或部分属实", "符合举报奖励条件"]
FIELDS = ["received", "public", "transferred", "closed", "on_time", "open_at_end", "late_at_end", "upheld", "reward"]


def complaint_counts(session: Session, month: Month, stations) -> dict[int, dict[str, int]]:
    """station -> the month's complaint figures (voided complaints left out)."""
    return {row["station_id"]: {k: int(row[k] or 0) for k in FIELDS}
            for row in session.execute(month_figures(month.first, month.last, stations)).mappings()}


def _total(rows: dict[int, dict[str, int]]) -> dict[str, int]:
    return {k: sum(r[k] for r in rows.values()) for k in FIELDS}


def complaints_section(wb: Book, f: Figures, session: Session, station_id) -> None:
    """Write the 投诉举报 sheet."""
    sheet = PrintedSheet(f"投诉举报办理情况 {f.month.label}（{f.scope_name}）", report_name(f))
    sheet.note(f"按受理日期统计本月受理；办结、未办结和逾期计至 {f.month.last.isoformat()}；办理期限按工作日计算；"
               "核查结论以最新有效的一条为准。")
    current = complaint_counts(session, f.month, station_id)
    zero = dict.fromkeys(FIELDS, 0)
    total = _total({sid: current.get(sid, zero) for sid in f.stations})
    sheet.table(COLUMNS, [[name, *(current.get(sid, zero)[k] for k in FIELDS)] for sid, name in f.stations.items()],
                total=["合计", *(total[k] for k in FIELDS)])
    sheet.blank()
    before = complaint_counts(session, f.month.shift(-1), station_id)
    previous = _total({sid: before.get(sid, zero) for sid in f.stations})
    sheet.caption(f"与上月（{f.month.shift(-1).label}）比较")
    sheet.table(["指标", f.month.label, f.month.shift(-1).label, "增减"],
                [[label, total[key], previous[key], total[key] - previous[key]]
                 for label, key in (("本月受理", "received"), ("本月办结", "closed"), ("属实或部分属实", "upheld"))])
    sheet.write(wb, "投诉举报")
