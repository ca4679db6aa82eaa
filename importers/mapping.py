"""Which column holds which field: found from the header, overridable, saved as JSON."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from importers.errors import ImportFileError
from importers.fields import (
    FIELD_BY_NAME,
    GENERIC_SERIAL_HEADERS,
    bare_key,
    candidates,
    header_key,
)

MAPPING_VERSION = 1


def column_letter(index: int) -> str:
    """0 -> 'A', 26 -> 'AA' (as Excel names columns)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def shape_signature(headers: Sequence[str]) -> str:
    """A short hash of the normalised header row: files with the same columns share it."""
    keys = [header_key(h) for h in headers]
    while keys and not keys[-1]:
        keys.pop()
    return hashlib.sha1("\x1f".join(keys).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class ColumnMapping:
    """Field -> column index (0-based) over a header row; one column feeds at most one field."""

    headers: tuple[str, ...]
    fields: Mapping[str, int] = field(default_factory=dict)

    def column(self, name: str) -> int | None:
        """The column index of a field, or None when no column feeds it."""
        return self.fields.get(name)

    def field_at(self, column: int) -> str | None:
        """The field a column feeds, or None."""
        for name, col in self.fields.items():
            if col == column:
                return name
        return None

    def label(self, name: str) -> str:
        """The column header feeding a field, else the field's own Chinese label."""
        col = self.fields.get(name)
        if col is not None and col < len(self.headers) and self.headers[col]:
            return self.headers[col]
        return FIELD_BY_NAME[name].label

    @property
    def unmapped(self) -> list[tuple[int, str]]:
        """(column index, header) of the headed columns no field uses."""
        used = set(self.fields.values())
        return [(i, h) for i, h in enumerate(self.headers) if h and i not in used]

    @property
    def not_imported(self) -> list[tuple[int, str, str]]:
        """(column index, header, why) of the headed columns no field uses: `why` names the column a field
        was taken from instead when the header is another name of that field (器具名称 beside 器具种别), else ''."""
        out = []
        for i, h in self.unmapped:
            why = ""
            for _, name in candidates(header_key(h)):
                col = self.fields.get(name)
                if col is not None and name != "row_no":
                    why = f"{FIELD_BY_NAME[name].label}已取自{column_letter(col)}列“{self.headers[col]}”"
                    break
            out.append((i, h, why))
        return out

    @property
    def signature(self) -> str:
        """The shape signature of the header row this mapping belongs to."""
        return shape_signature(self.headers)

    def describe(self) -> list[dict]:
        """One entry per headed column, for showing the mapping to a person."""
        rows = []
        for i, header in enumerate(self.headers):
            name = self.field_at(i)
            if header or name:
                rows.append({"column": i, "letter": column_letter(i), "header": header, "field": name,
                             "field_label": FIELD_BY_NAME[name].label if name else None})
        return rows

    def override(self, changes: Mapping[str, int | str | None]) -> ColumnMapping:
        """A copy with fields moved to a column (index or header text) or unmapped (None).

        A column taken over from another field leaves that field unmapped.
        """
        fields = dict(self.fields)
        for name, target in changes.items():
            if name not in FIELD_BY_NAME:
                raise ImportFileError(f"未知的字段“{name}”")
            fields.pop(name, None)
            if target is None:
                continue
            col = self._find_column(target)
            for other, other_col in list(fields.items()):
                if other_col == col:
                    del fields[other]
            fields[name] = col
        return ColumnMapping(self.headers, fields)

    def _find_column(self, target: int | str) -> int:
        if isinstance(target, int):
            if not 0 <= target < len(self.headers):
                raise ImportFileError(f"第{target + 1}列不在表头范围内")
            return target
        key = header_key(target)
        for i, header in enumerate(self.headers):
            if key and header_key(header) == key:
                return i
        raise ImportFileError(f"表头中没有“{target}”这一列")

    def to_json(self) -> str:
        """The mapping as JSON, keyed by the header's shape signature, for reuse."""
        return json.dumps({
            "version": MAPPING_VERSION,
            "signature": self.signature,
            "headers": list(self.headers),
            "fields": {name: {"column": col, "header": self.headers[col] if col < len(self.headers) else ""}
                       for name, col in sorted(self.fields.items(), key=lambda kv: kv[1])},
        }, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, headers: Sequence[str]) -> ColumnMapping:
        """A saved mapping applied to a header row: by position when the shape is the same,
        else by header text; ImportFileError when a saved column is missing."""
        try:
            saved = json.loads(text)
            entries = saved["fields"]
        except (ValueError, KeyError, TypeError) as error:
            raise ImportFileError("保存的列对应无法读取") from error
        headers = tuple(headers)
        same_shape = saved.get("signature") == shape_signature(headers)
        fields: dict[str, int] = {}
        for name, entry in entries.items():
            if name not in FIELD_BY_NAME:
                continue  # a field this version no longer has
            if same_shape and 0 <= entry["column"] < len(headers):
                fields[name] = entry["column"]
                continue
            key = header_key(entry.get("header", ""))
            matches = [i for i, h in enumerate(headers) if key and header_key(h) == key]
            if not matches:
                raise ImportFileError(f"保存的列对应与本文件的表头不一致：找不到“{entry.get('header', '')}”列")
            fields[name] = matches[0]
        return cls(headers, fields)


def assign(keys: Sequence[Sequence[str]]) -> dict[str, int]:
    """Fields for columns given each column's lookup keys (preferred first).

    The most specific synonym wins a contested field (出厂编号 beats 编号); the row-number
    column (序号, or a 编号 that lost the serial) is assigned last.
    """
    pairs = []
    row_no_columns = []
    for col, column_keys in enumerate(keys):
        for key in column_keys:
            found = candidates(key)
            if found:
                for rank, name in found:
                    if name == "row_no":
                        row_no_columns.append((rank, col))
                    else:
                        pairs.append((rank, col, name))
                break
    fields: dict[str, int] = {}
    used: set[int] = set()
    for _, col, name in sorted(pairs):
        if name not in fields and col not in used:
            fields[name] = col
            used.add(col)
    for _, col in sorted(row_no_columns):
        if col not in used:
            fields["row_no"] = col
            break
    return fields


def auto_map(headers: Sequence[str], keys: Sequence[Sequence[str]],
             sample: Sequence[Sequence[object]] = ()) -> ColumnMapping:
    """The mapping found from the header; `sample` rows tell a 编号 of 1, 2, 3 from a serial."""
    fields = assign(keys)
    col = fields.get("serial_no")
    if col is not None and bare_key(header_key(headers[col])) in GENERIC_SERIAL_HEADERS:
        values = [row[col] for row in sample if col < len(row) and row[col] != ""]
        if _is_sequence(values):
            del fields["serial_no"]
            fields.setdefault("row_no", col)
    return ColumnMapping(tuple(headers), fields)


def _is_sequence(values: Sequence[object]) -> bool:
    """True for 1, 2, 3 ... (numbers or digit text), at least two of them."""
    numbers = []
    for v in values:
        if isinstance(v, bool):
            return False
        if isinstance(v, (int, float)) and float(v).is_integer():
            numbers.append(int(v))
        elif isinstance(v, str) and v.strip().isdigit():
            numbers.append(int(v.strip()))
        else:
            return False
    return len(numbers) >= 2 and all(b == a + 1 for a, b in pairwise(numbers))
