"""Streaming .xlsx tables for list exports (no Flask).

openpyxl's write-only mode (with lxml) writes each row to the sheet's temporary file as it comes, so
100,000 rows never sit in memory as cell objects. Text stays text: a value starting with "=" is written
as a string cell, never as a formula, and characters Excel cannot store are dropped.
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from app.clock import LOCAL_TZ

DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
_HEADER_FONT = Font(bold=True)


@dataclass(frozen=True)
class Column:
    """One exported column: its Chinese header, width in characters and kind (text, date, datetime, number)."""

    header: str
    width: float = 14
    kind: str = "text"


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


def _converter(ws, kind: str) -> Callable[[Any], Any] | None:
    search = ILLEGAL_CHARACTERS_RE.search

    def text(value):
        if value.__class__ is str:
            # The common case first: plain text that is neither a formula nor carries control characters.
            return value if value[:1] != "=" and not search(value) else safe_text(ws, value)
        if value is None:
            return None
        if isinstance(value, enum.Enum):
            value = getattr(value, "label", value.value)
        return safe_text(ws, value if isinstance(value, str) else str(value))

    def datetime(value):
        if value is None:
            return None
        # Excel has no time zones: show the station's wall-clock time.
        cell = WriteOnlyCell(ws, value=value.astimezone(LOCAL_TZ).replace(tzinfo=None) if value.tzinfo else value)
        cell.number_format = DATETIME_FORMAT
        return cell

    # Dates and numbers go in as they are: openpyxl gives a date the yyyy-mm-dd format itself.
    return {"text": text, "date": None, "datetime": datetime, "number": None}[kind]


def write_rows(ws, columns: Sequence[Column], rows: Iterable[Sequence[Any]], header_font: Font = _HEADER_FONT) -> int:
    """Append a bold header row and the rows to a write-only sheet; the number of rows."""
    header = []
    for column in columns:
        cell = WriteOnlyCell(ws, value=column.header)
        cell.font = header_font
        header.append(cell)
    ws.append(header)
    converted = [(i, convert) for i, c in enumerate(columns) if (convert := _converter(ws, c.kind)) is not None]
    count = 0
    for row in rows:
        values = list(row)
        for i, convert in converted:
            values[i] = convert(values[i])
        ws.append(values)
        count += 1
    return count


def write_table(out: str | IO[bytes], columns: Sequence[Column], rows: Iterable[Sequence[Any]],
                sheet_title: str = "数据") -> int:
    """Write a header row and the rows to `out` as .xlsx (frozen header, widths, auto-filter); the row count."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet_title[:31])
    for index, column in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = column.width
    ws.freeze_panes = "A2"
    count = write_rows(ws, columns, rows)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
    ws.print_title_rows = "1:1"
    wb.save(out)
    return count
