"""The rows of an import that have errors, as a workbook to fix and upload again (no Flask).

One sheet: the file's header row, then each error row with its cells as read, the Excel row
number it had and the errors in Chinese. Written in openpyxl's write-only mode, so a file with
many error rows is streamed rather than held as a workbook of cell objects. Text is always
written as text: a cell reading "=1+1" or "@x" stays those characters and never becomes a formula.
"""
from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from reports.xlsx import append, styled

ROW_NO_HEADER = "原表行号"
ERROR_HEADER = "错误说明"
SHEET_TITLE = "错误行"
# Dates were kept as ISO text when the rows were stored (2024-03-01 or 2024-03-01T00:00:00).
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?)?$")
_HEADER_FONT = Font(bold=True)
_ERROR_FONT = Font(color="9C0006")
_ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")
_WRAP = Alignment(wrap_text=True, vertical="top")


def error_text(errors: Sequence[dict]) -> str:
    """A row's errors as one Chinese text: each message, with its column when the message lacks it."""
    parts = []
    for e in errors:
        message, column = e.get("message", ""), e.get("column", "")
        parts.append(message if not column or column in message else f"{column}：{message}")
    return "；".join(parts)


def _cell(ws, value: object) -> object:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if _ISO_DATE.match(value):
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                return styled(ws, value)  # e.g. 2024-13-45: kept exactly as the user typed it
            midnight = moment.time() == dt.time()
            return styled(ws, moment.date() if midnight else moment,
                          fmt="yyyy-mm-dd" if midnight else "yyyy-mm-dd hh:mm")
        return styled(ws, value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return int(value)
    if isinstance(value, (int, float, bool)):
        return value
    return styled(ws, str(value))


def build_errors_workbook(headers: Sequence[str],
                          rows: Iterable[tuple[int, Sequence[object], Sequence[dict]]]) -> bytes:
    """The .xlsx bytes: the header row, then per error row its cells, Excel row number and errors.

    `rows` yields (Excel row number, cells as read, [{"column": header, "message": text}]).
    """
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(SHEET_TITLE)
    width = len(headers)
    for index, header in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(index)].width = max(10, min(30, 2 * len(header or "") + 4))
    ws.column_dimensions[get_column_letter(width + 1)].width = 10
    ws.column_dimensions[get_column_letter(width + 2)].width = 60
    ws.freeze_panes = "A2"

    append(ws, [styled(ws, value or "", font=_HEADER_FONT) for value in (*headers, ROW_NO_HEADER, ERROR_HEADER)])
    for row_no, cells, errors in rows:
        values = list(cells)[:width]
        values += [""] * (width - len(values))
        message = styled(ws, error_text(errors), font=_ERROR_FONT, fill=_ERROR_FILL, alignment=_WRAP)
        append(ws, [_cell(ws, v) for v in values] + [row_no, message])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
