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
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

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


def _text(ws, value: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("", value))
    cell.data_type = "s"  # never a formula, whatever the first character
    return cell


def _cell(ws, value: object) -> object:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if _ISO_DATE.match(value):
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                return _text(ws, value)  # e.g. 2024-13-45: kept exactly as the user typed it
            cell = WriteOnlyCell(ws, value=moment.date() if moment.time() == dt.time() else moment)
            cell.number_format = "yyyy-mm-dd" if moment.time() == dt.time() else "yyyy-mm-dd hh:mm"
            return cell
        return _text(ws, value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return int(value)
    if isinstance(value, (int, float, bool)):
        return value
    return _text(ws, str(value))


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

    head = []
    for value in (*headers, ROW_NO_HEADER, ERROR_HEADER):
        cell = _text(ws, value or "")
        cell.font = _HEADER_FONT
        head.append(cell)
    ws.append(head)
    for row_no, cells, errors in rows:
        values = list(cells)[:width]
        values += [""] * (width - len(values))
        message = _text(ws, error_text(errors))
        message.font = _ERROR_FONT
        message.fill = _ERROR_FILL
        message.alignment = _WRAP
        ws.append([_cell(ws, v) for v in values] + [row_no, message])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
