"""The one safe writer of every workbook the application produces, and the streaming list export (no Flask).

Every workbook is written by XlsxWriter in constant-memory mode (`Book`): each finished row goes to a temporary
file as inline strings, so 100,000 rows never sit in memory, at about a fifth of openpyxl's cost per cell (the
monthly report's detail sheets, bench/bench_monthly.py) and two thirds of it for plain rows (the list exports,
bench/bench_export.py). Text stays text: every value is written by a typed call, so a value starting with "="
is a string cell, never a formula, and characters Excel cannot store are dropped. openpyxl only reads.

Every cell of every workbook goes through this module: `Book.table` (and `write_table`) for tables and
`Book.write`/`Book.merge` for a single cell. No other module in reports/ writes cells itself
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

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from app.clock import LOCAL_TZ

DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
# XlsxWriter format properties of a printed table: a thin grey border on every cell, the header filled and centred.
BORDER = {"border": 1, "border_color": "#808080"}
HEADER = {**BORDER, "bold": True, "bg_color": "#DDEBF7", "pattern": 1, "align": "center", "valign": "vcenter",
          "text_wrap": True}
_OPTIONS = {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
            "strings_to_urls": False, "nan_inf_to_errors": True}


@dataclass(frozen=True)
class Column:
    """One exported column: its Chinese header, width in characters and kind (text, lines, date, datetime,
    number); "lines" is text that may hold line breaks (notes, descriptions), shown wrapped on its lines."""

    header: str
    width: float = 14
    kind: str = "text"
    wrap: bool = False   # long free text wraps within the width instead of being cut (Book.table only)


def display_width(text: Any) -> int:
    """How many narrow character widths a value takes in a cell: Chinese (wide) characters count two."""
    text = "" if text is None else str(text)
    wide = sum(1 for ch in text if ord(ch) > 0x2E7F and unicodedata.east_asian_width(ch) in "WF")
    return len(text) + wide


def header_footer_text(text: str) -> str:
    """Text for a printed page header or footer, its "&" kept literal rather than read as a code (&P, &D)."""
    return text.replace("&", "&&")


def _as_str(value: Any) -> str:
    # An enum shows its Chinese label; anything else its text.
    if isinstance(value, enum.Enum):
        value = getattr(value, "label", value.value)
    return value if isinstance(value, str) else str(value)


def write_table(out: str | IO[bytes], columns: Sequence[Column], rows: Iterable[Sequence[Any]],
                sheet_title: str = "数据") -> int:
    """Write a header row and the rows to `out` as .xlsx (frozen header, widths, auto-filter); the row count.

    The list exports are the one workbook of 100,000 rows written inside a request (bench/bench_export.py)."""
    book = Book(out)
    ws = book.sheet(sheet_title[:31])
    for index, column in enumerate(columns):
        ws.set_column(index, index, column.width)
    count = book.table(ws, 0, columns, rows)
    ws.freeze_panes(1, 0)
    ws.repeat_rows(0)
    ws.autofilter(0, 0, count, len(columns) - 1)
    # Only a complete workbook is assembled into `out`: when reading the rows fails, nothing is written there (the
    # rows written so far sit in temporary files that are removed with the workbook).
    book.close()
    return count


def _wall_clock(value: dt.date) -> dt.date:
    # Excel has no time zones: a moment shows as the station's wall-clock time.
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(LOCAL_TZ).replace(tzinfo=None)
    return value


class Book:
    """An XlsxWriter workbook in constant-memory mode: sheets are written top to bottom, each finished row goes to
    a temporary file, and `out` is written only by `close()`, so a build that fails leaves nothing there.

    Every value is written by a typed call (write_string, write_number, write_datetime), so text is never read as
    a formula, a number or a link; characters Excel cannot store are dropped. Formats are given as XlsxWriter's
    format properties and made once per distinct set."""

    def __init__(self, out: str | IO[bytes]) -> None:
        import xlsxwriter

        self.workbook = xlsxwriter.Workbook(out, {**_OPTIONS, "tmpdir": tempfile.gettempdir()})
        self._formats: dict[tuple, Any] = {}

    def format(self, **properties: Any):
        """The workbook's format with these properties (None for none)."""
        if not properties:
            return None
        key = tuple(sorted(properties.items()))
        made = self._formats.get(key)
        if made is None:
            made = self._formats[key] = self.workbook.add_format(properties)
        return made

    def close(self) -> None:
        """Assemble the workbook into `out` (the only moment it is written); OSError when it cannot be written."""
        from xlsxwriter.exceptions import FileCreateError

        try:
            self.workbook.close()
        except FileCreateError as err:
            # XlsxWriter wraps the OSError (a full disk, a missing folder): callers handle that one.
            cause = err.args[0] if err.args else None
            raise cause if isinstance(cause, OSError) else OSError(str(err)) from None

    def sheet(self, name: str):
        """A new worksheet at the end of the workbook."""
        return self.workbook.add_worksheet(name)

    def chart(self, options: dict):
        """A new chart (XlsxWriter's add_chart) to fill and insert into a sheet."""
        return self.workbook.add_chart(options)

    def write(self, ws, row: int, col: int, value: Any, **style: Any) -> None:
        """One cell (0-based row and column) in a format made of the style's properties; None writes an empty cell
        only when it has a format (a table's border); a date or datetime gets a date format unless one is given."""
        if isinstance(value, dt.date):
            style.setdefault("num_format", DATETIME_FORMAT if isinstance(value, dt.datetime) else "yyyy-mm-dd")
        elif value is not None and not isinstance(value, (bool, int, float, decimal.Decimal)):
            value = ILLEGAL_CHARACTERS_RE.sub("", _as_str(value))   # text: an enum by its label
        fmt = self.format(**style)
        if value is None or value == "":
            # An empty cell, not a cell holding "" (which Excel would count as filled).
            if fmt is not None:
                ws.write_blank(row, col, None, fmt)
        elif isinstance(value, bool):
            ws.write_boolean(row, col, value, fmt)
        elif isinstance(value, (int, float, decimal.Decimal)):
            ws.write_number(row, col, value, fmt)
        elif isinstance(value, dt.date):
            ws.write_datetime(row, col, _wall_clock(value), fmt)
        else:
            ws.write_string(row, col, value, fmt)

    def merge(self, ws, row: int, first_col: int, last_col: int, value: Any, **style: Any) -> None:
        """One value across the cells first_col..last_col of a row (a single cell when they are the same)."""
        if last_col > first_col:
            ws.merge_range(row, first_col, row, last_col, "", self.format(**style))
        self.write(ws, row, first_col, value, **style)

    def table(self, ws, header_row: int, columns: Sequence[Column], rows: Iterable[Sequence[Any]], *,
              bordered: bool = False) -> int:
        """A header row at header_row (0-based) and the rows under it, each value written by its column's kind;
        the number of rows. Bordered (a printed table's grid): every cell gets a thin border, empty ones too, the
        header is filled and centred, and the columns marked wrap wrap their text."""
        for index, column in enumerate(columns):
            self.write(ws, header_row, index, column.header, **(HEADER if bordered else {"bold": True}))
        writers = [(index, self._cell_writer(ws, column, bordered)) for index, column in enumerate(columns)]
        count = 0
        for count, row in enumerate(rows, start=1):
            at = header_row + count
            for index, write in writers:
                write(at, index, row[index])
        return count

    def _cell_writer(self, ws, column: Column, bordered: bool) -> Callable[[int, int, Any], Any]:
        # One function per column, chosen once per table rather than once per cell.
        write_string, write_number, write_datetime = ws.write_string, ws.write_number, ws.write_datetime
        frame = {**BORDER, "valign": "vcenter", "text_wrap": column.wrap} if bordered else {}
        plain = self.format(**frame)
        wrapped = self.format(**{**frame, "text_wrap": True, "valign": "top"})
        day = self.format(**frame, num_format="yyyy-mm-dd")
        moment = self.format(**frame, num_format=DATETIME_FORMAT)

        def string(row, col, value, search=ILLEGAL_CHARACTERS_RE.search):
            if value.__class__ is not str:
                if value is None:
                    return blank(row, col)
                value = _as_str(value)
            if search(value):
                value = ILLEGAL_CHARACTERS_RE.sub("", value)
            if value:
                write_string(row, col, value, plain)
            else:
                blank(row, col)

        def blank(row, col):
            if bordered:
                ws.write_blank(row, col, None, plain)

        def lines(row, col, value):
            if value.__class__ is str and "\n" in value:
                write_string(row, col, ILLEGAL_CHARACTERS_RE.sub("", value), wrapped)
            else:
                string(row, col, value)

        def when(row, col, value):
            if isinstance(value, dt.datetime):
                write_datetime(row, col, _wall_clock(value), moment)
            elif isinstance(value, dt.date):
                write_datetime(row, col, value, day)
            else:
                number(row, col, value)

        def number(row, col, value):
            # Text that turns up in a date or number column is still written as text.
            if isinstance(value, bool):
                ws.write_boolean(row, col, value, plain)
            elif isinstance(value, (int, float, decimal.Decimal)):
                write_number(row, col, value, plain)
            else:
                string(row, col, value)

        return {"text": string, "lines": lines, "date": when, "datetime": when, "number": number}[column.kind]
