"""The rows of an import that have errors, as a workbook to fix and upload again (no Flask).

One sheet: the file's header row, then each error row with its cells as read, the Excel row
number it had and the errors in Chinese. Written through reports.xlsx.Book (XlsxWriter's constant-memory mode),
so a file with many error rows is streamed rather than held as cell objects. Text is always written as text: a
cell reading "=1+1" or "@x" stays those characters and never becomes a formula.
"""
from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence

from reports.xlsx import Book

ROW_NO_HEADER = "原表行号"
ERROR_HEADER = "错误说明"
SHEET_TITLE = "错误行"
# Dates were kept as ISO text when the rows were stored (2024-03-01 or 2024-03-01T00:00:00).
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?)?$")
_ERROR = {"font_color": "#9C0006", "bg_color": "#FFC7CE", "pattern": 1, "text_wrap": True, "valign": "top"}


def error_text(errors: Sequence[dict]) -> str:
    """A row's errors as one Chinese text: each message, with its column when the message lacks it."""
    parts = []
    for e in errors:
        message, column = e.get("message", ""), e.get("column", "")
        parts.append(message if not column or column in message else f"{column}：{message}")
    return "；".join(parts)


def _value(value: object) -> object:
    # A date kept as ISO text goes back as a date (a moment with its time); anything else as it was read.
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if _ISO_DATE.match(value):
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                return value  # e.g. 2024-13-45: kept exactly as the user typed it
            return moment.date() if moment.time() == dt.time() else moment
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return int(value)
    if isinstance(value, (int, float, bool)):
        return value
    return str(value)


def build_errors_workbook(headers: Sequence[str],
                          rows: Iterable[tuple[int, Sequence[object], Sequence[dict]]]) -> bytes:
    """The .xlsx bytes: the header row, then per error row its cells, Excel row number and errors.

    `rows` yields (Excel row number, cells as read, [{"column": header, "message": text}]).
    """
    out = io.BytesIO()
    book = Book(out)
    ws = book.sheet(SHEET_TITLE)
    width = len(headers)
    for index, header in enumerate(headers):
        ws.set_column(index, index, max(10, min(30, 2 * len(header or "") + 4)))
    ws.set_column(width, width, 10)
    ws.set_column(width + 1, width + 1, 60)
    ws.freeze_panes(1, 0)
    for col, value in enumerate((*headers, ROW_NO_HEADER, ERROR_HEADER)):
        book.write(ws, 0, col, value or "", bold=True)
    for at, (row_no, cells, errors) in enumerate(rows, start=1):
        values = list(cells)[:width]
        for col, value in enumerate(values):
            book.write(ws, at, col, _value(value))
        book.write(ws, at, width, row_no)
        book.write(ws, at, width + 1, error_text(errors), **_ERROR)
    book.close()
    return out.getvalue()
