"""The monthly report's 用途 sheet: in-use instruments at the report's build and the month's verification records,
by e-CQS 用途 (贸易结算, 安全防护, 医疗卫生, 环境监测), from one grouped statement (no Flask).

A ledger text that clearly means one 用途 (贸易结算用) counts under it; any other text counts as 其他, an empty
one as 未填写, so the rows add up to the summary sheet's totals.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import Select, case, func, literal, select, union_all
from sqlalchemy.orm import Session

from app.instruments.ecqs import PURPOSES, purpose_of
from app.instruments.models import Instrument, InstrumentStatus, Verification, VerificationResult
from reports.monthly import Figures, report_name
from reports.printed import PrintedSheet
from reports.xlsx import Book

OTHER, UNSET = "其他（台账原文）", "未填写"
COLUMNS = ["器具用途", "在用器具（台）", "本月检定记录", "其中合格"]


def by_purpose(first: dt.date, last: dt.date, station_id: int | None) -> Select:
    """(purpose text, in-use instruments, valid records dated first..last, passed records): one statement, two
    grouped parts (in-use instruments read from ix_instruments_status_purpose alone)."""
    in_use = select(Instrument.purpose.label("purpose"), func.count().label("in_use"), literal(0).label("records"),
                    literal(0).label("passed")).where(Instrument.status == InstrumentStatus.IN_USE)
    records = (select(Instrument.purpose, literal(0), func.count(Verification.id),
                      func.sum(case((Verification.result == VerificationResult.PASS, 1), else_=0)))
               .join(Instrument, Instrument.id == Verification.instrument_id)
               .where(Verification.in_force(), Verification.verified_on.between(first, last)))
    if station_id:
        from reports.monthly_queries import stations_condition

        in_use = in_use.where(stations_condition(Instrument.station_id, station_id))
        records = records.where(stations_condition(Instrument.station_id, station_id))
    return union_all(in_use.group_by(Instrument.purpose), records.group_by(Instrument.purpose))


def purpose_rows(rows) -> list[list]:
    """The sheet's rows in e-CQS order, then 其他 and 未填写: [用途, in use, records, passed]."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for text, in_use, records, passed in rows:
        bucket = UNSET if not text else (purpose_of(text) or OTHER)
        c = counts[bucket]
        c[0], c[1], c[2] = c[0] + in_use, c[1] + records, c[2] + int(passed or 0)
    return [[name, *counts.get(name, [0, 0, 0])] for name in (*PURPOSES, OTHER, UNSET)]


def purpose_section(wb: Book, f: Figures, session: Session, station_id: int | None) -> None:
    """Write the 按用途 sheet."""
    title = f"按器具用途统计 {f.month.label}（{f.scope_name}）"
    sheet = PrintedSheet(title, report_name(f))
    sheet.note("用途按 e-CQS 的四类统计；台账中能明确对应的写法（如“贸易结算用”）计入该类，其他写法计入“其他（台账原文）”。"
               "在用器具按生成报表时的台账，检定记录按本月检定日期（不含作废）。")
    rows = purpose_rows(session.execute(by_purpose(f.month.first, f.month.last, station_id)))
    sheet.table(COLUMNS, rows, total=["合计", *(sum(r[i] for r in rows) for i in (1, 2, 3))])
    sheet.write(wb, "按用途")
