"""Sheets of a report meant to be printed and sent up (no Flask).

A small sheet (a summary, a comparison) is held in memory until it is written, so every column can be as wide
as its longest text (Chinese characters count two widths) and every header sits over its own figures. Tables
get a thin border on every cell; pages are A4, one page wide, the sheet's title in the page header and the
report's name with page numbers in the footer. A chart goes on a sheet of its own, one printed page, with an
integer value axis. Every cell is still made by reports/xlsx.py, the one safe writer.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from reports.xlsx import (BORDER, HEADER_ALIGNMENT, HEADER_FILL, append as append_row, display_width,
                          header_footer_text, styled)

TITLE_FONT = Font(bold=True, size=14)
HEADER_FONT = Font(bold=True)
TOTAL_FONT = Font(bold=True)
PERCENT = "0.0%"
INTEGER = "#,##0"
NOTE_ALIGNMENT = Alignment(vertical="top", wrap_text=True)
TEXT_ALIGNMENT = Alignment(vertical="center")
PAGE_NUMBERS = "第 &P 页，共 &N 页"
# Column widths are in widths of "0"; a Chinese character takes about two of them (Excel, WPS; LibreOffice less).
WIDE_FACTOR = 1.0
MIN_WIDTH, MAX_WIDTH = 8, 60
# Printable width of an A4 page in portrait at 100 % in column-width units (about 18 cm of 0.19 cm each).
PORTRAIT_UNITS = 95
ROW_POINTS = 15


def text_of(value: Any, fmt: str | None = None) -> str:
    """A value as the printed cell shows it (for measuring widths)."""
    if value is None:
        return ""
    if isinstance(value, float) and fmt in (None, PERCENT):
        return f"{value:.1%}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def fitted_width(texts: Iterable[Any], minimum: float = MIN_WIDTH, maximum: float = MAX_WIDTH) -> float:
    """A column width that shows the longest of the texts on one line (within minimum and maximum)."""
    longest = max((display_width(t) for t in texts), default=0)
    return float(min(max(math.ceil(longest * WIDE_FACTOR) + 2, minimum), maximum))


def header_width(text: str) -> float:
    """The width a bold header needs on one line."""
    return fitted_width([text], minimum=0, maximum=1000) + 1


def split_header(text: str) -> list[str]:
    """A header on two lines before its bracketed unit ("本月检定" / "（台）"); one without a unit stays whole
    (a break in the middle of a Chinese term would split a word)."""
    for bracket in ("（", "("):
        at = text.rfind(bracket)
        if at > 0:
            return [text[:at], text[at:]]
    return [text]


def header_text(text: str, width: float) -> str:
    """The header as printed in a column of that width: on one line when it fits, else on two."""
    if not text or header_width(text) <= width + 0.5:
        return text
    return "\n".join(split_header(text))


@dataclass
class _Row:
    kind: str                      # title, note, caption, header, body, blank
    values: list = field(default_factory=list)
    bold: bool = False
    formats: dict[int, str] = field(default_factory=dict)


def setup_page(ws: Worksheet, title: str, footer: str, total_width: float, title_row: int | None = None) -> None:
    """A4, portrait when the table fits a portrait page and landscape otherwise, one page wide; the sheet's
    title at the top of every page, the report and page numbers at the bottom; the header row repeated only
    when given (tables that run over several pages)."""
    ws.page_setup.orientation = "portrait" if total_width <= PORTRAIT_UNITS else "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.oddHeader.center.text = header_footer_text(title)
    ws.oddFooter.left.text = header_footer_text(footer)
    ws.oddFooter.right.text = PAGE_NUMBERS
    if title_row:
        ws.print_title_rows = f"{title_row}:{title_row}"


class PrintedSheet:
    """A small sheet built row by row in memory, then written with fitted widths, borders and page set-up."""

    def __init__(self, title: str, footer: str) -> None:
        self.title, self.footer = title, footer
        self.rows: list[_Row] = [_Row("title", [title])]
        self.repeat_row: int | None = None

    @property
    def next_row(self) -> int:
        """The sheet row the next added row will take."""
        return len(self.rows) + 1

    def note(self, text: str) -> None:
        """A line of explanation across the table's width (wrapped when longer)."""
        self.rows.append(_Row("note", [text]))

    def blank(self) -> None:
        self.rows.append(_Row("blank"))

    def caption(self, text: str) -> None:
        """A bold heading over a table."""
        self.rows.append(_Row("caption", [text]))

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[Any]], *, total: Sequence[Any] | None = None,
              bold_rows: Iterable[int] = (), formats: dict[int, str] | None = None,
              repeat_header: bool = False) -> tuple[int, int, int]:
        """A bordered table: header row, body rows (those in bold_rows printed bold, e.g. subtotals) and an
        optional bold total row. Whole numbers print with thousands separators and fractions as percentages
        unless formats (column index to number format) says otherwise. Returns the sheet rows of
        the header and of the first and last body rows (for a chart's references)."""
        header_row = self.next_row
        if repeat_header:
            self.repeat_row = header_row
        self.rows.append(_Row("header", list(headers)))
        bold = set(bold_rows)
        for index, values in enumerate(rows):
            self.rows.append(_Row("body", list(values), index in bold, dict(formats or {})))
        if total is not None:
            self.rows.append(_Row("body", list(total), True, dict(formats or {})))
        return header_row, header_row + 1, self.next_row - 1

    def widths(self) -> list[float]:
        """Each column as wide as its longest figure or name; a longer header goes on two lines (see header_text)."""
        count = max((len(r.values) for r in self.rows if r.kind in ("header", "body")), default=1)
        widths = []
        for i in range(count):
            body = [text_of(r.values[i], r.formats.get(i)) for r in self.rows if r.kind == "body" and i < len(r.values)]
            width = fitted_width(body)
            for r in self.rows:
                if r.kind == "header" and i < len(r.values) and r.values[i]:
                    one_line = header_width(r.values[i])
                    if one_line > width:
                        # Wrap only when that saves real width; a header a few widths longer stays on one line.
                        two_lines = max(header_width(part) for part in split_header(r.values[i]))
                        width = one_line if one_line - max(width, two_lines) <= 3 else max(width, two_lines)
            widths.append(min(width, MAX_WIDTH))
        return widths

    def write(self, wb, name: str, freeze_columns: int = 0) -> Worksheet:
        """Write the sheet into a write-only workbook."""
        ws = wb.create_sheet(name)
        widths = self.widths()
        total_width = sum(widths)
        for index, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(index)].width = width
        setup_page(ws, self.title, self.footer, total_width, self.repeat_row)
        if self.repeat_row:
            ws.freeze_panes = f"{get_column_letter(freeze_columns + 1)}{self.repeat_row + 1}"
        last_column = get_column_letter(len(widths))
        for number, row in enumerate(self.rows, start=1):
            if row.kind == "title":
                append_row(ws, [styled(ws, row.values[0], font=TITLE_FONT)])
            elif row.kind == "note":
                lines = max(1, math.ceil(display_width(row.values[0]) * WIDE_FACTOR / max(total_width - 2, 1)))
                ws.row_dimensions[number].height = ROW_POINTS * lines + 3
                ws.merged_cells.add(f"A{number}:{last_column}{number}")
                append_row(ws, [styled(ws, row.values[0], alignment=NOTE_ALIGNMENT)])
            elif row.kind == "caption":
                append_row(ws, [styled(ws, row.values[0], font=HEADER_FONT)])
            elif row.kind == "header":
                texts = [header_text(h, w) for h, w in zip(row.values, widths)]
                if any("\n" in t for t in texts):
                    ws.row_dimensions[number].height = ROW_POINTS * 2 + 3
                append_row(ws, [styled(ws, t, font=HEADER_FONT, fill=HEADER_FILL, alignment=HEADER_ALIGNMENT,
                                       border=BORDER) for t in texts])
            elif row.kind == "body":
                font = TOTAL_FONT if row.bold else None
                append_row(ws, [self._cell(ws, i, value, row, font) for i, value in enumerate(row.values)])
            else:
                append_row(ws, [])
        return ws

    @staticmethod
    def _cell(ws, index: int, value: Any, row: _Row, font: Font | None):
        fmt = row.formats.get(index)
        if fmt is None and isinstance(value, float):
            fmt = PERCENT   # the reports' fractions are rates
        elif fmt is None and isinstance(value, int) and not isinstance(value, bool):
            fmt = INTEGER
        alignment = TEXT_ALIGNMENT if isinstance(value, str) else None
        return styled(ws, value, font=font, fmt=fmt, border=BORDER, alignment=alignment)


def integer_axis(axis, largest: float) -> None:
    """A value axis of whole numbers: from 0 in steps of 1, 2, 5, 10, 20 ... (never 0.5), at most ~8 steps."""
    raw = max(float(largest or 0), 1.0) / 8
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, int(step))
    axis.scaling.min = 0
    axis.scaling.max = step * max(1, math.ceil((largest or 0) / step))
    axis.majorUnit = step
    axis.number_format = "0"
    axis.delete = False


CHART_COLUMNS, CHART_ROWS = 13, 32        # the printed area of a chart sheet: A1:M32
CHART_WIDTH_CM, CHART_HEIGHT_CM = 25.0, 15.0


def chart_sheet(wb, name: str, title: str, footer: str, chart) -> Worksheet:
    """A sheet holding one chart and its title, printed as one landscape A4 page (no repeated header row)."""
    ws = wb.create_sheet(name)
    for index in range(1, CHART_COLUMNS + 1):
        ws.column_dimensions[get_column_letter(index)].width = 10
    setup_page(ws, title, footer, total_width=1000)
    ws.page_setup.fitToHeight = 1
    ws.print_area = f"A1:{get_column_letter(CHART_COLUMNS)}{CHART_ROWS}"
    append_row(ws, [styled(ws, title, font=TITLE_FONT)])
    chart.width, chart.height = CHART_WIDTH_CM, CHART_HEIGHT_CM
    chart.x_axis.delete = False
    ws.add_chart(chart, "A3")
    return ws
