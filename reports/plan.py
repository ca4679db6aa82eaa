"""The verification plan workbook (检定计划): instruments to send for verification or to replace in a
period, grouped by merchant and kind, plus a sheet of counts per merchant (no Flask)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import IO

from reports.printed import PAGE_NUMBERS
from reports.xlsx import Book, Column

ACTION_LABELS = {"verify": "送检", "replace": "到期轮换"}

PLAN_COLUMNS = [Column("监管所", 14), Column("使用单位", 30), Column("地址", 28), Column("联系人", 10),
                Column("联系电话", 14), Column("器具种类", 16), Column("出厂编号", 18), Column("规格型号", 12),
                Column("安装位置", 16), Column("最近检定日期", 12, "date"), Column("应检/轮换日期", 13, "date"),
                Column("事项", 9)]
COUNT_COLUMNS = [Column("监管所", 14), Column("使用单位", 30), Column("送检（台）", 10, "number"),
                 Column("到期轮换（台）", 12, "number"), Column("最早期限", 12, "date")]


def _sheet(book: Book, name: str, title: str, columns: list[Column], rows: Iterable) -> int:
    ws = book.sheet(name)
    for index, column in enumerate(columns):
        ws.set_column(index, index, column.width)
    book.write(ws, 0, 0, title)
    count = book.table(ws, 1, columns, rows)
    ws.freeze_panes(2, 0)
    ws.autofilter(1, 0, count + 1, len(columns) - 1)
    ws.repeat_rows(1)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.set_footer("&C" + PAGE_NUMBERS)
    return count


def write_plan_workbook(out: str | IO[bytes], title: str, instruments: Iterable, merchants: Iterable) -> int:
    """Write the plan: the instruments sheet (rows of plan_instruments) and the merchant counts; row count."""
    wb = Book(out)
    rows = ((station, name, address, contact, phone, kind, serial, model, location, last, deadline,
             ACTION_LABELS[action])
            for station, _id, name, address, contact, phone, kind, serial, model, location, last, deadline, action
            in instruments)
    count = _sheet(wb, "检定计划", title, PLAN_COLUMNS, rows)
    _sheet(wb, "按使用单位", title, COUNT_COLUMNS,
           ((station, name, to_verify, to_replace, earliest)
            for _id, name, station, to_verify, to_replace, earliest in merchants))
    wb.close()
    return count
