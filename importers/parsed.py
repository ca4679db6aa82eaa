"""What the front half of the import hands to plan/apply: parsed rows, their errors, skip counts."""
from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from importers.mapping import ColumnMapping
from importers.rows import SKIP_LABELS

# Typed values by field: str for text and codes, datetime.date for dates, int for counts,
# 'pass' | 'fail' for results, a status code for status, a catalogue code for kind.
Value = str | int | dt.date


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem with one row, located as Excel shows it."""

    sheet: str
    row: int  # 1-based, counting title rows, as Excel numbers it
    column: str  # the column's header ('' when the problem is the row as a whole)
    field: str | None
    message: str  # Chinese, names the column and the value

    def __str__(self) -> str:
        return f"{self.sheet} 第{self.row}行：{self.message}"


@dataclass(slots=True)
class ParsedRow:
    """One data row: where it is, the cells as read (for an error workbook) and what they mean.

    `values` holds only the fields with a value: an empty cell is absent, not None.
    """

    row: int
    cells: Sequence[object]
    values: dict[str, Value]
    errors: tuple[RowError, ...] = ()
    # Problems that keep the row: it is imported, and the preview shows them beside it.
    warnings: tuple[RowError, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the row has no errors."""
        return not self.errors


@dataclass
class ParsedSheet:
    """A sheet read, mapped, normalised and validated, row by row."""

    sheet: str
    header_rows: tuple[int, ...]  # Excel row numbers of the header (two when split under groups)
    mapping: ColumnMapping
    rows: list[ParsedRow]
    skipped: Counter[str] = field(default_factory=Counter)  # reason (see rows.SKIP_LABELS) -> count
    # Where the kind comes from when the sheet has no kind column (caller's default or sheet name).
    default_kind: str | None = None
    # How the sheet was read where the file left it open, for the preview: the order of short
    # dates per column, merged cells filled down (Chinese sentences).
    notes: list[str] = field(default_factory=list)

    @property
    def headers(self) -> tuple[str, ...]:
        """The column headers, one per column."""
        return self.mapping.headers

    @property
    def error_rows(self) -> list[ParsedRow]:
        """Rows with at least one error."""
        return [r for r in self.rows if r.errors]

    @property
    def ok_rows(self) -> list[ParsedRow]:
        """Rows without errors."""
        return [r for r in self.rows if not r.errors]

    def errors(self) -> Iterator[RowError]:
        """Every row error, in row order."""
        for r in self.rows:
            yield from r.errors

    def skipped_summary(self) -> str:
        """The skipped rows in Chinese, e.g. '标题行 2、空行 3、合计/总计行 1'."""
        return "、".join(f"{SKIP_LABELS[k]} {n}" for k, n in self.skipped.items() if n) or "无"


@dataclass(frozen=True)
class TableInfo:
    """A sheet that holds a ledger table: where its header is and how its columns map."""

    sheet: str
    header_rows: tuple[int, ...]
    mapping: ColumnMapping
    height: int  # rows in the sheet's used range, for a progress bar
    missing: tuple[str, ...]  # required fields no column feeds (the caller must map them)


PLAIN = frozenset({str, float, int, bool, type(None)})  # cells stored in JSON as they are


def plain_cell(value) -> object:
    """A cell as JSON holds it: dates as ISO text, anything unusual as its text."""
    if value.__class__ in PLAIN:
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return str(value)


def cells_json(cells: list) -> bytes:
    """A row's cells as import_rows stores them, as UTF-8 JSON: under a third of the memory of the list."""
    return json.dumps([c if c.__class__ in PLAIN else plain_cell(c) for c in cells], ensure_ascii=False).encode()
