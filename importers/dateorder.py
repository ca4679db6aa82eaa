"""The order of year, month and day in a file's short dates: 24/3/5, 5/3/2024, 05/03/24.

Such a date is read once the whole sheet has been read, in the order its column (else the whole
sheet) shows: a part of four digits or above 31 is the year; with the year last, a first part
above 12 is the day (日/月/年), a second part above 12 the day (月/日/年). A column whose two-digit
dates show nothing either way is read year first, as dates are written in China (24/3/5 is
2024-03-05). Day and month are never guessed: with the year last and nothing in the file to tell
5/3/2024 from 3 May, such a date is an error on its row, and so is a date that contradicts its
column's other dates. The order used is a note for the preview.

Only cells that are not already plain dates get here (importers/dates.py raises AmbiguousDate for
them and the normaliser defers them), so a file of real or ISO dates costs nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from importers.dates import build
from importers.parsed import ParsedRow, RowError
from importers.validate import date_order_problem
from importers.values import CellError

FIRST, LAST = "first", "last"  # where the year is
DMY, MDY = "DMY", "MDY"
ORDER_NAMES = {FIRST: "年/月/日", DMY: "日/月/年", MDY: "月/日/年"}


@dataclass(slots=True)
class Pending:
    """A short date left for later: the row it belongs to, the field, and the text's three parts."""

    row: ParsedRow
    field: str
    label: str
    text: str
    parts: tuple[str, str, str]


def _year(parts: tuple[str, str, str]) -> str | None:
    """Where this date alone says its year is, if it says."""
    a, _b, c = parts
    if len(c) == 4 or int(c) > 31:
        return LAST
    if len(a) == 4 or int(a) > 31:
        return FIRST
    return None


def _day_month(parts: tuple[str, str, str]) -> str | None:
    """With the year last: whether this date alone says day or month comes first."""
    a, b = int(parts[0]), int(parts[1])
    if a > 12 >= b:
        return DMY
    if b > 12 >= a:
        return MDY
    return None


def _expand(year: str) -> int:
    """A two-digit year as Python's %y reads it: 00-68 are 2000-2068, 69-99 are 1969-1999."""
    number = int(year)
    if len(year) == 4:
        return number
    return number + (2000 if number <= 68 else 1900)


Evidence = dict[str, Pending]  # what a column (or the sheet) says -> the first date that says it


def _decide(column: Evidence, sheet: Evidence) -> tuple[str | None, Pending | None, bool]:
    """(decision, the date it rests on, conflict) from a column's evidence, else the sheet's."""
    for found in (column, sheet):
        if len(found) == 1:
            (kind, basis), = found.items()
            return kind, basis, False
        if len(found) > 1:
            return None, None, True
    return None, None, False


def _where(p: Pending, field: str) -> str:
    """'第7行 25/3/2024', with the column's name when the date is in another column."""
    return f"{'' if p.field == field else p.label + ' '}第{p.row.row}行 {p.text}"


def _readings(parts: tuple[str, str, str]) -> str:
    a, b, c = parts
    out = []
    for day, month in ((a, b), (b, a)):
        try:
            out.append(build(_expand(c), int(month), int(day)).isoformat())
        except CellError:
            pass
    return " 或 ".join(dict.fromkeys(out))


def resolve(sheet: str, pending: list[Pending], label: Callable[[str], str]) -> list[str]:
    """Read every deferred date in the order its column shows, setting it on its row or adding the row's
    error; the notes for the preview, one per column."""
    if not pending:
        return []
    by_field: dict[str, list[Pending]] = {}
    for p in pending:
        by_field.setdefault(p.field, []).append(p)
    years: dict[str, Evidence] = {f: {} for f in by_field}
    sheet_years: Evidence = {}
    for f, items in by_field.items():
        for p in items:
            kind = _year(p.parts)
            if kind is not None:
                years[f].setdefault(kind, p)
                sheet_years.setdefault(kind, p)
    decided = {f: _decide(years[f], sheet_years) for f in by_field}
    orders: dict[str, Evidence] = {f: {} for f in by_field}
    sheet_orders: Evidence = {}
    for f, items in by_field.items():
        for p in items:
            if (_year(p.parts) or decided[f][0] or FIRST) == LAST:
                kind = _day_month(p.parts)
                if kind is not None:
                    orders[f].setdefault(kind, p)
                    sheet_orders.setdefault(kind, p)
    touched: dict[int, ParsedRow] = {}
    notes = []
    for f, items in by_field.items():
        name = label(f)
        year, year_basis, year_conflict = decided[f]
        order, order_basis, order_conflict = _decide(orders[f], sheet_orders)
        failed = 0
        for p in items:
            problem = _read(p, year, year_conflict, order, order_conflict)
            if problem is None:
                touched[id(p.row)] = p.row
            else:
                failed += 1
                p.row.errors = (*p.row.errors, RowError(sheet, p.row.row, name, f, f"{name}“{p.text}”{problem}"))
        notes.append(_note(f, name, year or FIRST, year_basis, year_conflict, order, order_basis, order_conflict,
                           failed, len(items)))
    for row in touched.values():
        message = date_order_problem(row.values, label)
        if message:
            row.errors = (*row.errors, RowError(sheet, row.row, label("valid_until"), "valid_until", message))
    return notes


def _read(p: Pending, year: str | None, year_conflict: bool, order: str | None, order_conflict: bool) -> str | None:
    """Set the date on its row; the reason it cannot be read otherwise."""
    a, b, c = p.parts
    position = _year(p.parts) or (FIRST if year is None and not year_conflict else year)
    if position is None:
        return "无法判断年份写在前还是写在后：本列（或本表）的日期两种写法都有，请改写为 2024-03-05 的形式"
    try:
        if position == FIRST:
            date = build(_expand(a), int(b), int(c))
        else:
            if a == b:
                kind = DMY
            else:
                kind = _day_month(p.parts) or order
            if kind is None:
                why = "日期中日、月两种顺序都有" if order_conflict else "文件中没有可判断日、月顺序的日期（如 25/3/2024）"
                return f"无法判断是 日/月/年 还是 月/日/年（可读作 {_readings(p.parts)}），{why}；请改写为 2024-03-05 的形式"
            day, month = (a, b) if kind == DMY else (b, a)
            date = build(_expand(c), int(month), int(day))
    except CellError as error:
        return error.reason
    p.row.values[p.field] = date
    return None


def _note(field: str, label: str, year: str, year_basis: Pending | None, year_conflict: bool, order: str | None,
          order_basis: Pending | None, order_conflict: bool, failed: int, total: int) -> str:
    if year_conflict:
        return f"{label}：同一列的日期年份有的在前有的在后，无法判断顺序的 {failed} 个日期已标为错误"
    if year == FIRST:
        basis = _where(year_basis, field) if year_basis else "两位数的年份写在前面，按中文习惯"
        return f"{label}按 年/月/日 读取（依据：{basis}）" + (f"；{failed} 个日期无法读取" if failed else "")
    if order is None:
        why = "日、月两种顺序都有" if order_conflict else "文件中没有可判断日、月顺序的日期"
        return f"{label}的年份写在后面（依据：{_where(year_basis, field) if year_basis else '—'}），{why}，{failed} 个日期已标为错误"
    return (f"{label}按 {ORDER_NAMES[order]} 读取（依据：{_where(order_basis, field) if order_basis else '—'}）"
            + (f"；{failed} 个日期无法读取" if failed else ""))

