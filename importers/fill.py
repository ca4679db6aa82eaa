"""Cells a ledger leaves to its reader: values merged down over the rows below, and 同上 (ditto) marks.

A station writes its name, credit code and address once, merged down over its dispensers, or
writes 同上 / 〃 under them. Both mean "the value above": merged cells are filled down before a
row is looked at; ditto marks in mapped columns take the value the previous data row ended with,
and each one filled is said on the row (a warning), so the preview shows what was used.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence

from importers.parsed import RowError
from importers.reader import Merge
from importers.mapping import column_letter
from importers.values import display

_MARKS = ("同上", "同上行", "同上栏", "同 上", "同　上", "同前", "同左上", "〃", "〃〃", "″", "″″", '"', '""', "＂",
          "〝", "〞", "“", "”", "“”", "''")
_PADS = ("", " ", "  ", "　", "　　", "\t")
# Every mark with the spaces people put round it: a ditto check is one set lookup per text cell.
DITTO = frozenset(left + mark + right for mark in _MARKS for left in _PADS for right in _PADS)
_SHOWN_MAX = 30


class MergeFill:
    """Fills vertically merged cells down, counting the cells filled per column."""

    def __init__(self, spans: Iterable[Merge], first: int) -> None:
        # Merges that start at or below `first` (0-based, the first row under the header) and span rows.
        self.starts: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for r0, c0, r1, _c1 in spans:
            if r1 > r0 and r0 >= first:
                self.starts[r0].append((c0, r1))
        self.first = first
        self.filled: Counter[int] = Counter()  # column -> cells filled

    def __bool__(self) -> bool:
        return bool(self.starts)

    def rows(self, rows: Iterable[list]) -> Iterator[list]:
        """The rows (the first being row `first`), each merged cell's value copied into the cells it covers."""
        starts, filled = self.starts, self.filled
        active: list[tuple[int, int, object]] = []  # (column, last row, value)
        for i, cells in enumerate(rows, self.first):
            if active:
                active = [a for a in active if a[1] >= i]
                for col, _last, value in active:
                    if col >= len(cells):
                        cells.extend([""] * (col + 1 - len(cells)))
                    if cells[col] == "":
                        cells[col] = value
                        filled[col] += 1
            for col, last in starts.get(i, ()):
                if col < len(cells) and cells[col] != "":
                    active.append((col, last, cells[col]))
            yield cells

    def note(self, headers: Sequence[str]) -> str:
        """'合并单元格已向下填充：加油站名称 15 格、…' or '' when nothing was filled."""
        if not self.filled:
            return ""
        parts = [f"{headers[c] if c < len(headers) and headers[c] else column_letter(c) + '列'} {n} 格"
                 for c, n in sorted(self.filled.items())]
        return "合并单元格已按合并的值向下填充：" + "、".join(parts)


class DittoFill:
    """Replaces ditto marks in the mapped columns of a data row with the previous data row's values.

    The caller calls it only for rows holding a mark (`DITTO.isdisjoint(cells)` is one C-level
    pass over the row), and keeps the previous data row itself.
    """

    def __init__(self, sheet: str, columns: Iterable[tuple[int, str, str]]) -> None:
        self.sheet = sheet
        self.columns = sorted(set(columns))  # (column, header, field)

    def __call__(self, row: int, cells: list, previous: Sequence[object] | None,
                 previous_row: int) -> tuple[list[RowError], list[RowError]]:
        """Fill row `row` (Excel number) in place from `previous` (row `previous_row`); (errors, warnings)."""
        errors: list[RowError] = []
        warnings: list[RowError] = []
        n = len(cells)
        for col, label, name in self.columns:
            if col >= n:
                continue
            mark = cells[col]
            if mark.__class__ is not str or mark not in DITTO:
                continue
            where = f"{column_letter(col)}{row}（{label}）写作“{mark.strip()}”"
            above = previous[col] if previous is not None and col < len(previous) else ""
            if previous is None:
                cells[col] = ""
                errors.append(RowError(self.sheet, row, label, name, f"{where}，但上面没有可照填的数据行"))
            elif above == "":
                cells[col] = ""
                errors.append(RowError(self.sheet, row, label, name,
                                       f"{where}，但上一数据行（第{previous_row}行）此列为空，无从照填"))
            else:
                cells[col] = above
                shown = display(above).strip()
                if len(shown) > _SHOWN_MAX:
                    shown = shown[:_SHOWN_MAX] + "…"
                warnings.append(RowError(self.sheet, row, label, name, f"{where}，已按第{previous_row}行填为“{shown}”"))
        return errors, warnings
