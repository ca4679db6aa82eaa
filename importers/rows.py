"""Rows that are not data: blank rows, subtotals and totals, notes under the table, repeated headers."""
from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

from app.text import match_key
from importers.fields import header_key

TITLE = "title"
HEADER = "header"
BLANK = "blank"
SUBTOTAL = "subtotal"
TOTAL = "total"
NOTE = "note"
NOT_MANDATORY = "not_mandatory"  # a kind the user marked as not a mandatory instrument (see ParseOptions.kind_values)

SKIP_LABELS = {
    TITLE: "标题行",
    HEADER: "表头行",
    BLANK: "空行",
    SUBTOTAL: "小计行",
    TOTAL: "合计/总计行",
    NOTE: "表尾说明行",
    NOT_MANDATORY: "非强检器具（按指定跳过）",
}

# 小计 / 合计：150台 / 本页合计 / 总计(台); not 合计超市 (a name that happens to start so).
_SUM = re.compile(r"^(?:本页|本表|全部|累计|以上)?(小计|合计|总计)(?:[:(\d].*)?$")
# 注：... 注1. 填表人：... 审核人 ... at the start of a short row under the table.
_NOTE = re.compile(
    r"^(?:注[:：\d.、①-⑩(]|备注[:：]|说明[:：]|附注|填表人|填报人|制表人|制表[:：]|审核人|审核[:：]|"
    r"负责人[:：]|单位负责人|经办人|统计人|复核人|填表日期|填报日期|制表日期|签字|盖章|以上)")
_SUM_SCAN = 4  # the label of a sum row sits in one of the first few cells
# Cheap gates before the regexes, which run on every row of a 100,000-row file.
_NOTE_STARTS = frozenset("注备说附填制审负单经统复签盖以")
_NOTE_MAX_CELLS = 6
_COLUMN_NUMBER = re.compile(r"^[(（]?(\d{1,2})[)）]?$")


def _filled(cells: Sequence[object]) -> list[object]:
    return [v for v in cells if v != "" and not (v.__class__ is str and v.isspace())]  # type: ignore[attr-defined]


class RowClassifier:
    """Tells data rows from the rest, remembering when the notes under the table have begun."""

    def __init__(self, header_labels: Sequence[str], row_no_column: int | None) -> None:
        self._header_keys = [header_key(h) for h in header_labels]
        # The most distinctive header cell: a row repeating the header repeats it exactly.
        longest = max(range(len(header_labels)), key=lambda i: len(header_labels[i]), default=None)
        self._probe = (longest, header_labels[longest]) if longest is not None and header_labels[longest] else None
        self._row_no_column = row_no_column
        self._in_notes = False
        self._first = True

    def classify(self, cells: Sequence[object]) -> str | None:
        """The reason to skip a row, or None for a data row."""
        first, self._first = self._first, False
        count = len(cells) - cells.count("")  # type: ignore[attr-defined]
        filled: list[object] | None = None
        if count <= _NOTE_MAX_CELLS:
            # Only short rows can be blank or notes; look at them closely (spaces-only cells).
            filled = _filled(cells)
            count = len(filled)
            if not count:
                return BLANK
            if count == 1 and self._only_row_number(cells):
                return BLANK  # templates number their empty rows in advance
        lead_cells = filled[:_SUM_SCAN] if filled is not None else _filled(cells[:3 * _SUM_SCAN])[:_SUM_SCAN]
        for v in lead_cells:
            if v.__class__ is str and "计" in v:  # type: ignore[operator]
                m = _SUM.match(match_key(v))  # type: ignore[arg-type]
                if m:
                    return SUBTOTAL if m.group(1) == "小计" else TOTAL
        if filled is not None:
            lead = filled[0]
            if (lead.__class__ is str and lead.lstrip()[:1] in _NOTE_STARTS  # type: ignore[attr-defined]
                    and _NOTE.match(match_key(lead))):  # type: ignore[arg-type]
                self._in_notes = True
                return NOTE
            if self._in_notes and count <= 2 and all(v.__class__ is str for v in filled):
                return NOTE  # the note's next lines ("2. ...")
        if first and self._column_numbers(filled if filled is not None else _filled(cells)):
            return HEADER  # a row of column numbers (1)(2)(3) under the header
        if self._repeats_header(cells, count):
            return HEADER
        return None

    def _only_row_number(self, cells: Sequence[object]) -> bool:
        col = self._row_no_column
        if col is None or col >= len(cells):
            return False
        v = cells[col]
        if v.__class__ is str:
            return v.strip().isdigit()  # type: ignore[attr-defined]
        return v.__class__ in (int, float)

    def _repeats_header(self, cells: Sequence[object], filled: int) -> bool:
        if self._probe is None:
            return False
        col, label = self._probe
        probe = cells[col] if col < len(cells) else ""
        if probe.__class__ is not str or probe.strip() != label:  # type: ignore[attr-defined]
            return False
        same = sum(1 for v, key in zip(cells, self._header_keys)
                   if key and v.__class__ is str and header_key(v) == key)
        return same >= 3 and same * 2 >= filled

    @staticmethod
    def _column_numbers(filled: list[object]) -> bool:
        numbers = []
        for v in filled:
            if isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer():
                numbers.append(int(v))
            elif v.__class__ is str and _COLUMN_NUMBER.match(v.strip()):  # type: ignore[attr-defined]
                numbers.append(int(_COLUMN_NUMBER.match(v.strip()).group(1)))  # type: ignore[union-attr,attr-defined]
            else:
                return False
        return len(numbers) >= 3 and numbers[0] in (0, 1) and all(b == a + 1 for a, b in pairwise(numbers))
