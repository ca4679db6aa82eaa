"""The one safe writer of every workbook the application produces, and the streaming list export (no Flask).

openpyxl's write-only mode (with lxml) writes each row to the sheet's temporary file as it comes, so
100,000 rows never sit in memory as cell objects; the list exports (`write_table`) use XlsxWriter's
constant-memory mode the same way, at a lower cost per cell. Text stays text: a value starting with "=" is written
as a string cell, never as a formula, and characters Excel cannot store are dropped.

Every cell of every workbook goes through this module: `write_rows` for tables, `styled` for a single
cell and `append` for any other row. No other module in reports/ makes cells or appends rows itself
(tests/test_workbooks.py checks the sources and scans each workbook the app builds for formulas).
"""
from __future__ import annotations

import datetime as dt
import decimal
import enum
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

from app.clock import LOCAL_TZ

DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
_HEADER_FONT = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")
_THIN = Side(style="thin", color="808080")
BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
HEADER_ALIGNMENT = Alignment(horizontal="center", vertical="center", wrap_text=True)
WRAP = Alignment(vertical="center", wrap_text=True)
MIDDLE = Alignment(vertical="center")


@dataclass(frozen=True)
class Column:
    """One exported column: its Chinese header, width in characters and kind (text, lines, date, datetime,
    number); "lines" is text that may hold line breaks (notes, descriptions), shown wrapped on its lines."""

    header: str
    width: float = 14
    kind: str = "text"
    wrap: bool = False   # long free text wraps within the width instead of being cut (bordered tables only)


def display_width(text: Any) -> int:
    """How many narrow character widths a value takes in a cell: Chinese (wide) characters count two."""
    text = "" if text is None else str(text)
    wide = sum(1 for ch in text if ord(ch) > 0x2E7F and unicodedata.east_asian_width(ch) in "WF")
    return len(text) + wide


def safe_text(ws, value: str) -> Any:
    """A string as Excel will show it, never as a formula."""
    if ILLEGAL_CHARACTERS_RE.search(value):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value[:1] != "=":
        # openpyxl writes any other string as a plain string cell; "+1", "-1" and "@x" stay text in .xlsx.
        return value
    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"
    return cell


def styled(ws, value: Any, *, font: Font | None = None, fmt: str | None = None, fill=None,
           alignment=None, border: Border | None = None) -> Cell:
    """One cell with optional font, number format, fill, alignment and border; text is always a string cell."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell = WriteOnlyCell(ws, value=value)
    if cell.data_type == "f":
        cell.data_type = "s"  # the value is the user's text, never a formula
    if font is not None:
        cell.font = font
    if fmt is not None:
        cell.number_format = fmt
    if fill is not None:
        cell.fill = fill
    if alignment is not None:
        cell.alignment = alignment
    if border is not None:
        cell.border = border
    return cell


def _text(ws, value: str, _search=ILLEGAL_CHARACTERS_RE.search) -> Any:
    # The common case first: plain text that is neither a formula nor carries control characters.
    return value if value[:1] != "=" and not _search(value) else safe_text(ws, value)


def _safe(ws, value: Any) -> Any:
    if value.__class__ is str:
        return _text(ws, value)
    if isinstance(value, Cell):
        if value.data_type == "f":
            value.data_type = "s"
        return value
    if isinstance(value, str):  # a str subclass (e.g. a str enum) is written as its text
        return safe_text(ws, str(value))
    return value


def append(ws, row: Iterable[Any]) -> None:
    """Append one row to a write-only sheet, every text in it as a string cell (never a formula)."""
    ws.append([_safe(ws, value) for value in row])


def header_footer_text(text: str) -> str:
    """Text for a printed page header or footer, its "&" kept literal rather than read as a code (&P, &D)."""
    return text.replace("&", "&&")


def _as_str(value: Any) -> str:
    # An enum shows its Chinese label; anything else its text.
    if isinstance(value, enum.Enum):
        value = getattr(value, "label", value.value)
    return value if isinstance(value, str) else str(value)


def _converter(ws, kind: str) -> Callable[[Any], Any]:
    def as_text(value):
        if value.__class__ is str:
            return _text(ws, value)
        if value is None:
            return None
        return safe_text(ws, _as_str(value))

    def lines(value):
        # Only a cell that holds a line break is styled: the others stay plain and cheap to write.
        if value.__class__ is str and "\n" in value:
            return styled(ws, value, alignment=_WRAP)
        return as_text(value)

    def datetime(value):
        if value is None or isinstance(value, str):
            return other(value)
        # Excel has no time zones: show the station's wall-clock time.
        cell = WriteOnlyCell(ws, value=value.astimezone(LOCAL_TZ).replace(tzinfo=None) if value.tzinfo else value)
        cell.number_format = DATETIME_FORMAT
        return cell

    def other(value):
        # Dates and numbers go in as they are (openpyxl gives a date the yyyy-mm-dd format itself);
        # text that turns up in such a column is still written as text.
        return safe_text(ws, value) if isinstance(value, str) else value

    return {"text": as_text, "lines": lines, "date": other, "datetime": datetime, "number": other}[kind]


def write_rows(ws, columns: Sequence[Column], rows: Iterable[Sequence[Any]], header_font: Font = _HEADER_FONT,
               bordered: bool = False) -> int:
    """Append a bold header row and the rows to a write-only sheet; the number of rows.

    Bordered: every cell gets a thin border (a printed table's grid), the header is filled and centred, and
    columns marked wrap wrap their text."""
    if not bordered:
        ws.append([styled(ws, column.header, font=header_font) for column in columns])
    else:
        ws.append([styled(ws, column.header, font=header_font, fill=HEADER_FILL, alignment=HEADER_ALIGNMENT,
                          border=BORDER) for column in columns])
    converted = [(i, _converter(ws, c.kind)) for i, c in enumerate(columns)]
    if bordered:
        return _write_bordered(ws, columns, rows, converted)
    count = 0
    for row in rows:
        values = list(row)
        for i, convert in converted:
            values[i] = convert(values[i])
        ws.append(values)
        count += 1
    return count


def _write_bordered(ws, columns: Sequence[Column], rows: Iterable[Sequence[Any]], converted) -> int:
    # One styled cell per column, refilled for every row: the write-only writer serialises a row as soon as it
    # is appended, so the same cells can carry the next row. Styling a fresh cell per value would cost twice
    # the time on the 100,000-row detail sheets.
    cells = []
    for column in columns:
        cell = WriteOnlyCell(ws)
        cell.border = BORDER
        if column.kind == "datetime":
            cell.number_format = DATETIME_FORMAT
        elif column.kind == "date":
            cell.number_format = "yyyy-mm-dd"
        cell.alignment = WRAP if column.wrap else MIDDLE
        cells.append(cell)
    count = 0
    for row in rows:
        values = list(row)
        for i, convert in converted:
            value = convert(values[i])
            cell = cells[i]
            if isinstance(value, Cell):  # text kept as text (a leading "="), or a local wall-clock datetime
                cell.value = value.value
                cell.data_type = value.data_type
            else:
                cell.value = value
        ws.append(cells)
        count += 1
    return count


def write_table(out: str | IO[bytes], columns: Sequence[Column], rows: Iterable[Sequence[Any]],
                sheet_title: str = "数据") -> int:
    """Write a header row and the rows to `out` as .xlsx (frozen header, widths, auto-filter); the row count.

    The list exports are the one workbook of 100,000 rows written inside a request: they go through XlsxWriter's
    constant-memory mode, which writes each finished row to a temporary file as inline strings, at about two
    thirds of openpyxl's cost per cell (bench/bench_export.py). Every value is written by its column's kind with
    a typed call (write_string, write_number, write_datetime), so text is never read as a formula, a number
    or a link; characters Excel cannot store are dropped, as in every other workbook."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(out, {"constant_memory": True, "tmpdir": tempfile.gettempdir(),
                                   "strings_to_numbers": False, "strings_to_formulas": False,
                                   "strings_to_urls": False, "nan_inf_to_errors": True})
    ws = wb.add_worksheet(sheet_title[:31])
    header = wb.add_format({"bold": True})
    for index, column in enumerate(columns):
        ws.set_column(index, index, column.width)
        ws.write_string(0, index, column.header, header)
    ws.freeze_panes(1, 0)
    ws.repeat_rows(0)
    writers = [(index, _cell_writer(wb, ws, column.kind)) for index, column in enumerate(columns)]
    count = 0
    for count, row in enumerate(rows, start=1):
        for index, write in writers:
            value = row[index]
            if value is not None:
                write(count, index, value)
    ws.autofilter(0, 0, count, len(columns) - 1)
    # Only a complete export is assembled into `out`: when reading the rows fails, nothing is written there (the
    # rows written so far sit in temporary files that are removed with the workbook).
    wb.close()
    return count


def _cell_writer(wb, ws, kind: str) -> Callable[[int, int, Any], Any]:
    # One function per column kind, chosen once per export rather than once per cell.
    write_string, write_number, write_datetime = ws.write_string, ws.write_number, ws.write_datetime
    wrapped = wb.add_format({"text_wrap": True, "valign": "top"})
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    moment = wb.add_format({"num_format": DATETIME_FORMAT})

    def string(row, col, value, search=ILLEGAL_CHARACTERS_RE.search):
        if value.__class__ is not str:
            value = _as_str(value)
        if search(value):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        write_string(row, col, value)

    def lines(row, col, value):
        if value.__class__ is str and "\n" in value:
            write_string(row, col, ILLEGAL_CHARACTERS_RE.sub("", value), wrapped)
        else:
            string(row, col, value)

    def when(row, col, value):
        if isinstance(value, dt.datetime):
            # Excel has no time zones: show the station's wall-clock time.
            write_datetime(row, col, value.astimezone(LOCAL_TZ).replace(tzinfo=None) if value.tzinfo else value,
                           moment)
        elif isinstance(value, dt.date):
            write_datetime(row, col, value, day)
        else:
            number(row, col, value)

    def number(row, col, value):
        # Text that turns up in a date or number column is still written as text.
        if isinstance(value, bool):
            ws.write_boolean(row, col, value)
        elif isinstance(value, (int, float, decimal.Decimal)):
            write_number(row, col, value)
        else:
            string(row, col, value)

    return {"text": string, "lines": lines, "date": when, "datetime": when, "number": number}[kind]
