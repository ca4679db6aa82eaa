"""Dates as stations write them: real Excel dates, serial numbers and the usual text forms."""
from __future__ import annotations

import datetime as dt
import re

from app.text import identifier
from importers.values import CellError

EXCEL_EPOCH = dt.date(1899, 12, 30)  # serial 1 = 1900-01-01 (Excel's 1900 leap-year bug included)
FIRST_YEAR, LAST_YEAR = 1950, 2100
# Only numbers that land inside the plausible years are serials: 2023 or 12 are not dates.
SERIAL_MIN = (dt.date(FIRST_YEAR, 1, 1) - EXCEL_EPOCH).days
SERIAL_MAX = (dt.date(LAST_YEAR, 12, 31) - EXCEL_EPOCH).days

FORMS_HINT = "可写作 2023-05-06、2023/5/6、2023.5.6、2023年5月6日 或 20230506"

_TIME_SUFFIX = re.compile(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")
_SPACES = re.compile(r"\s+")
_SEPARATED = re.compile(r"^(\d{4})([-./])(\d{1,2})\2(\d{1,2})$")
_CHINESE = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SERIAL = re.compile(r"^\d{5}(\.\d+)?$")
# 24/3/5, 5/3/2024, 05.03.24: which part is the year, the month and the day is the file's to say.
_SHORT = re.compile(r"^(\d{1,2}|\d{4})([-./])(\d{1,2})\2(\d{1,2}|\d{4})$")


class AmbiguousDate(CellError):
    """A date whose order of year, month and day depends on the file (importers/dateorder.py decides)."""

    def __init__(self, parts: tuple[str, str, str]) -> None:
        super().__init__("的年、月、日顺序无法判断，请改写为 2024-03-05 的形式")
        self.parts = parts

# Ledgers repeat the same few hundred dates; parsing each text once keeps 100k rows fast.
_cache: dict[str, dt.date | CellError] = {}
_CACHE_LIMIT = 50_000


def to_date(value: object) -> dt.date:
    """The date a cell means; raises CellError (never guesses, never returns today)."""
    cls = value.__class__
    if cls is dt.date:
        return _plausible(value)  # type: ignore[arg-type]
    if cls is dt.datetime:
        return _plausible(value.date())  # type: ignore[attr-defined]
    if cls is str:
        return _from_text(value)  # type: ignore[arg-type]
    if cls is bool:
        raise CellError(f"不是日期（{FORMS_HINT}）")
    if cls is int or cls is float:
        return _from_number(value)  # type: ignore[arg-type]
    if isinstance(value, dt.date):  # subclasses (e.g. pandas-like timestamps)
        return _plausible(value if not isinstance(value, dt.datetime) else value.date())
    raise CellError(f"不是日期（{FORMS_HINT}）")


def _from_number(number: float) -> dt.date:
    if SERIAL_MIN <= number <= SERIAL_MAX:
        # An Excel serial (the fraction is the time of day).
        return EXCEL_EPOCH + dt.timedelta(days=int(number))
    if float(number).is_integer() and 10_000_000 <= number <= 99_999_999:
        return _build(*divmod_date(int(number)))
    raise CellError(f"不是可识别的日期（{FORMS_HINT}）")


def divmod_date(number: int) -> tuple[int, int, int]:
    """20230506 -> (2023, 5, 6)."""
    year, rest = divmod(number, 10_000)
    month, day = divmod(rest, 100)
    return year, month, day


def _from_text(text: str) -> dt.date:
    hit = _cache.get(text)
    if hit is None:
        try:
            hit = _parse_text(text)
        except CellError as error:
            hit = error
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        _cache[text] = hit
    if isinstance(hit, CellError):
        raise hit
    return hit


def _parse_text(text: str) -> dt.date:
    s = identifier(text)  # NFKC first: full-width digits and separators become ASCII
    s = _SPACES.sub("", _TIME_SUFFIX.sub("", s))
    for pattern in (_SEPARATED, _CHINESE):
        m = pattern.match(s)
        if m:
            groups = [g for g in m.groups() if g.isdigit()]
            return _build(int(groups[0]), int(groups[1]), int(groups[2]))
    m = _SHORT.match(s)
    if m:
        raise AmbiguousDate((m.group(1), m.group(3), m.group(4)))
    m = _COMPACT.match(s)
    if m:
        return _build(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if _SERIAL.match(s):
        number = float(s)
        if SERIAL_MIN <= number <= SERIAL_MAX:
            return EXCEL_EPOCH + dt.timedelta(days=int(number))
    raise CellError(f"不是可识别的日期（{FORMS_HINT}）")


def build(year: int, month: int, day: int) -> dt.date:
    """The date, or CellError when it does not exist or its year is implausible."""
    return _build(year, month, day)


def _build(year: int, month: int, day: int) -> dt.date:
    try:
        date = dt.date(year, month, day)
    except ValueError:
        raise CellError("不是存在的日期") from None
    return _plausible(date)


def _plausible(date: dt.date) -> dt.date:
    if not FIRST_YEAR <= date.year <= LAST_YEAR:
        raise CellError(f"超出合理的年份范围（{FIRST_YEAR}—{LAST_YEAR}年）")
    return date
