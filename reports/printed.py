"""Sheets of a report meant to be printed and sent up (no Flask).

A small sheet (a summary, a comparison) is held in memory until it is written, so every column can be as wide
as its longest text (Chinese characters count two widths) and every header sits over its own figures. Tables
get a thin border on every cell; pages are A4, one page wide, the sheet's title in the page header and the
report's name with page numbers in the footer. A chart goes on a sheet of its own, one printed page, with an
integer value axis. Sheets are written into a reports.xlsx.Book (XlsxWriter), which makes every cell.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from reports.xlsx import BORDER, HEADER, Book, display_width, header_footer_text

# XlsxWriter format properties.
TITLE = {"bold": True, "font_size": 14}
BOLD = {"bold": True}
NOTE = {"valign": "top", "text_wrap": True}
PERCENT = "0.0%"
INTEGER = "#,##0"
PAGE_NUMBERS = "第 &P 页，共 &N 页"
A4 = 9
HEADER_FOOTER_LIMIT = 255   # Excel's limit on a page header or footer, codes included
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


def _page_text(code: str, text: str, room: int) -> str:
    # A name long enough to pass Excel's limit is cut (with its "&" doubled, so a cut never splits a code).
    text = header_footer_text(text)
    if len(code) + len(text) > room:
        text = text[:max(room - len(code) - 1, 0)].rstrip("&") + "…"
    return code + text


def setup_page(ws, title: str, footer: str, total_width: float, title_row: int | None = None) -> None:
    """A4, portrait when the table fits a portrait page and landscape otherwise, one page wide; the sheet's
    title at the top of every page, the report and page numbers at the bottom; the header row (1-based) repeated
    only when given (tables that run over several pages)."""
    if total_width <= PORTRAIT_UNITS:
        ws.set_portrait()
    else:
        ws.set_landscape()
    ws.set_paper(A4)
    ws.fit_to_pages(1, 0)
    ws.center_horizontally()
    ws.set_margins(left=0.5, right=0.5)
    ws.set_header(_page_text("&C", title, HEADER_FOOTER_LIMIT))
    numbers = "&R" + PAGE_NUMBERS
    ws.set_footer(_page_text("&L", footer, HEADER_FOOTER_LIMIT - len(numbers)) + numbers)
    if title_row:
        ws.repeat_rows(title_row - 1)


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

    def write(self, book: Book, name: str, freeze_columns: int = 0):
        """Write the sheet into the book; the worksheet."""
        ws = book.sheet(name)
        widths = self.widths()
        total_width = sum(widths)
        for index, width in enumerate(widths):
            ws.set_column(index, index, width)
        setup_page(ws, self.title, self.footer, total_width, self.repeat_row)
        if self.repeat_row:
            ws.freeze_panes(self.repeat_row, freeze_columns)
        for number, row in enumerate(self.rows):
            if row.kind == "title":
                book.write(ws, number, 0, row.values[0], **TITLE)
            elif row.kind == "note":
                lines = max(1, math.ceil(display_width(row.values[0]) * WIDE_FACTOR / max(total_width - 2, 1)))
                ws.set_row(number, ROW_POINTS * lines + 3)
                book.merge(ws, number, 0, len(widths) - 1, row.values[0], **NOTE)
            elif row.kind == "caption":
                book.write(ws, number, 0, row.values[0], **BOLD)
            elif row.kind == "header":
                texts = [header_text(h, w) for h, w in zip(row.values, widths)]
                if any("\n" in t for t in texts):
                    ws.set_row(number, ROW_POINTS * 2 + 3)
                for col, text in enumerate(texts):
                    book.write(ws, number, col, text, **HEADER)
            elif row.kind == "body":
                for col, value in enumerate(row.values):
                    book.write(ws, number, col, value, **self._style(col, value, row))
        return ws

    @staticmethod
    def _style(index: int, value: Any, row: _Row) -> dict:
        style = {**BORDER, "bold": True} if row.bold else dict(BORDER)
        fmt = row.formats.get(index)
        if fmt is None and isinstance(value, float):
            fmt = PERCENT   # the reports' fractions are rates
        elif fmt is None and isinstance(value, int) and not isinstance(value, bool):
            fmt = INTEGER
        if fmt is not None:
            style["num_format"] = fmt
        if isinstance(value, str):
            style["valign"] = "vcenter"
        return style


def integer_axis(largest: float) -> dict:
    """A value axis of whole numbers (XlsxWriter's axis options): from 0 in steps of 1, 2, 5, 10, 20 ... (never
    0.5), at most ~8 steps."""
    raw = max(float(largest or 0), 1.0) / 8
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, int(step))
    return {"min": 0, "max": step * max(1, math.ceil((largest or 0) / step)), "major_unit": step, "num_format": "0"}


CHART_COLUMNS, CHART_ROWS = 13, 32        # the printed area of a chart sheet: A1:M32
CHART_WIDTH_CM, CHART_HEIGHT_CM = 25.0, 15.0
PIXELS_PER_CM = 96 / 2.54


def bar_chart(book: Book, source, header_row: int, first: int, last: int, value_columns: Sequence[int], *,
              title: str, largest: float, legend: bool):
    """Horizontal bars of a PrintedSheet's table written to `source`: its first column names the bars (the first at
    the top), each of value_columns (0-based) is a series named by its header; rows as PrintedSheet.table gives
    them (1-based). The figures run along the bottom on a whole-number axis."""
    chart = book.chart({"type": "bar"})
    for col in value_columns:
        chart.add_series({"name": [source.name, header_row - 1, col],
                          "categories": [source.name, first - 1, 0, last - 1, 0],
                          "values": [source.name, first - 1, col, last - 1, col]})
    chart.set_title({"name": title})
    # For a bar chart XlsxWriter's y axis is the categories' (vertical) one: reversed, with the value axis
    # crossing it at its last category, which is now at the bottom.
    chart.set_y_axis({"reverse": True, "crossing": "max"})
    chart.set_x_axis(integer_axis(largest))
    chart.set_legend({"position": "bottom"} if legend else {"none": True})
    return chart


def chart_sheet(book: Book, name: str, title: str, footer: str, chart):
    """A sheet holding one chart and its title, printed as one landscape A4 page (no repeated header row)."""
    ws = book.sheet(name)
    ws.set_column(0, CHART_COLUMNS - 1, 10)
    setup_page(ws, title, footer, total_width=1000)
    ws.fit_to_pages(1, 1)
    ws.print_area(0, 0, CHART_ROWS - 1, CHART_COLUMNS - 1)
    book.write(ws, 0, 0, title, **TITLE)
    chart.set_size({"width": round(CHART_WIDTH_CM * PIXELS_PER_CM), "height": round(CHART_HEIGHT_CM * PIXELS_PER_CM)})
    ws.insert_chart("A3", chart)
    return ws
