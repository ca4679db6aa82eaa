"""Find the header row under title rows, including headers split over two rows."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from importers.fields import header_key
from importers.mapping import assign
from importers.reader import Merge
from importers.values import to_text

# A header must name at least this many fields, one of them identifying the row.
MIN_FIELDS = 3
CORE_FIELDS = frozenset({"kind", "serial_no", "merchant_name", "credit_code"})


@dataclass(frozen=True)
class Header:
    """Where the header is (0-based row indexes) and what each column is called."""

    index: int  # the header row, or the lower of two
    group_index: int | None  # the group row above it (基本信息 / 器具信息 ...), if any
    labels: tuple[str, ...]  # one per column, '' for a column without a header
    keys: tuple[tuple[str, ...], ...]  # lookup keys per column, preferred first

    @property
    def first(self) -> int:
        """Index of the header's first row."""
        return self.index if self.group_index is None else self.group_index

    @property
    def excel_rows(self) -> tuple[int, ...]:
        """The header's row numbers as Excel shows them."""
        return tuple(range(self.first + 1, self.index + 2))


def _text(value: object) -> str:
    return value if value.__class__ is str else ("" if value == "" else to_text(value))  # type: ignore[return-value]


def _single(row: Sequence[object]) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    labels = tuple(_text(v).strip() for v in row)
    return labels, tuple((header_key(label),) if label else () for label in labels)


def _combined(upper: Sequence[object], lower: Sequence[object], upper_index: int,
              merges: list[Merge] | None) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """Labels and keys of a two-row header: the lower row's names under the upper row's groups."""
    width = max(len(upper), len(lower))
    up = [_text(upper[c]).strip() if c < len(upper) else "" for c in range(width)]
    low = [_text(lower[c]).strip() if c < len(lower) else "" for c in range(width)]
    group = _fill_groups(up, low, upper_index, merges)
    labels, keys = [], []
    for c in range(width):
        if low[c]:
            labels.append(low[c])
            # 检定 over 日期 means 检定日期; a group like 基本信息 adds nothing and falls through.
            keys.append((header_key(group[c] + low[c]), header_key(low[c])) if group[c] else (header_key(low[c]),))
        else:
            labels.append(up[c])  # a column merged down over both rows
            keys.append((header_key(up[c]),) if up[c] else ())
    return tuple(labels), tuple(keys)


def _fill_groups(up: list[str], low: list[str], upper_index: int, merges: list[Merge] | None) -> list[str]:
    """The group name over each column: merged cells' value spread over their width."""
    group = list(up)
    if merges is not None:
        for r0, c0, r1, c1 in merges:
            if r0 == upper_index and r1 == upper_index:
                for c in range(c0 + 1, min(c1 + 1, len(group))):
                    group[c] = up[c0]
        return group
    # No merge information (.ods, .csv): a group runs right until the next name above.
    current = ""
    for c, name in enumerate(up):
        if name:
            current = name if low[c] else ""
        group[c] = current
    return group


def _score(keys: Sequence[Sequence[str]]) -> tuple[int, set[str]]:
    fields = set(assign(keys)) - {"row_no"}
    return len(fields), fields


def _looks_like_group_row(upper: Sequence[object], lower: Sequence[object], upper_index: int,
                          merges: list[Merge] | None) -> bool:
    """A row of group names (not a title or a 填报单位：... line) above the header row."""
    texts = [_text(v) for v in upper if v != ""]
    if not texts or any(":" in t or "：" in t for t in texts):
        return False
    width = max((i + 1 for i, v in enumerate(lower) if v != ""), default=0)
    if merges is not None:
        for r0, c0, r1, c1 in merges:
            if r0 != upper_index:
                continue
            if r1 > r0 and c0 < width:
                return True  # a column merged down into the header row
            if r1 == r0 and 0 < c1 - c0 < width - 1:
                return True  # a group spanning some columns, not a title over all of them
        return False
    blanks_below = any(upper[c] != "" and (c >= len(lower) or lower[c] == "") for c in range(min(len(upper), width)))
    return len(texts) >= 2 and blanks_below


def header_at(rows: Sequence[Sequence[object]], index: int, group_index: int | None = None,
              merges: list[Merge] | None = None) -> Header:
    """The header the caller pointed at (0-based row index), with the group row above it if given."""
    if group_index is not None and group_index < index:
        labels, keys = _combined(rows[group_index], rows[index], group_index, merges)
        return Header(index, group_index, labels, keys)
    labels, keys = _single(rows[index])
    return Header(index, None, labels, keys)


def find_header(rows: Sequence[Sequence[object]], merges: list[Merge] | None,
                search: int | None = None) -> Header | None:
    """The header among the first `search` rows (the row after them may complete a two-row
    header), or None when no row names enough known columns."""
    best_index, best_score, best_fields = -1, 0, set()
    for i, row in enumerate(rows[:search]):
        score, fields = _score(_single(row)[1])
        if score > best_score:
            best_index, best_score, best_fields = i, score, fields
    if best_score < MIN_FIELDS or not best_fields & CORE_FIELDS:
        return None
    i = best_index
    labels, keys = _single(rows[i])
    chosen = Header(i, None, labels, keys)
    if i > 0:
        up_labels, up_keys = _combined(rows[i - 1], rows[i], i - 1, merges)
        score = _score(up_keys)[0]
        grouped = _looks_like_group_row(rows[i - 1], rows[i], i - 1, merges)
        if score > best_score or (score == best_score and grouped):
            chosen, best_score = Header(i, i - 1, up_labels, up_keys), score
    if chosen.group_index is None and i + 1 < len(rows):
        below = rows[i + 1]
        if all(v.__class__ is str for v in below if v != ""):
            low_labels, low_keys = _combined(rows[i], below, i, merges)
            if _score(low_keys)[0] > best_score:
                chosen = Header(i + 1, i, low_labels, low_keys)
    return chosen
