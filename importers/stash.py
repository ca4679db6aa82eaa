"""Keep a parsed sheet between the dry run and the apply, so the apply does not read the file again.

The dry run parses the file once and stores what planning needs (each row's number, values and
errors; not the cells, which the preview already stored) next to the upload. The apply loads it
instead of reading and parsing the file again, and plans it against the database as it is then.

The stash is named by a key over everything the parse depends on (file, sheet, header, mapping,
catalogue, options and this format), so a stash is only ever used for the parse it came from.
It is written with `marshal`, which holds plain values only (no code runs when it is loaded):
dates are stored as day numbers.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import marshal
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from importers.mapping import ColumnMapping
from importers.parse import ParseOptions
from importers.parsed import ParsedRow, ParsedSheet, RowError

FORMAT = 4  # bump when ParsedRow/ParsedSheet or the parse itself changes what it produces


def stash_key(*, file_hash: str, sheet: str, headers: Iterable[str], mapping: Mapping[str, int],
              kinds: Iterable[tuple[str, str]], options: ParseOptions,
              aliases: Iterable[tuple[str, str]] | None = None) -> str:
    """A name for the parse of `sheet` of the file with `file_hash` under this mapping and catalogue
    (names and aliases: None is the shipped seed aliases)."""
    settings = [sorted(options.required), options.merchant_required, options.default_kind,
                options.header_search_rows, options.header_row, options.group_row, options.max_rows,
                sorted(map(list, options.kind_values))]
    basis = [FORMAT, file_hash, sheet, list(headers), sorted((k, int(v)) for k, v in mapping.items()),
             sorted(map(list, kinds)), "seed" if aliases is None else sorted(map(list, aliases)), settings]
    return hashlib.sha256(json.dumps(basis, ensure_ascii=False).encode()).hexdigest()[:32]


def stash_path(folder: str | os.PathLike, file_hash: str, key: str) -> Path:
    return Path(folder) / f"{file_hash}.{key}.parsed"


def parse_path(folder: str | os.PathLike, file_hash: str, *, sheet: str, headers: Iterable[str],
               mapping: Mapping[str, int], kinds: Iterable[tuple[str, str]], options: ParseOptions,
               aliases: Iterable[tuple[str, str]] | None = None) -> Path:
    """Where the parse of `sheet` of the upload `file_hash` in `folder` is stashed."""
    key = stash_key(file_hash=file_hash, sheet=sheet, headers=headers, mapping=mapping, kinds=kinds, options=options,
                    aliases=aliases)
    return stash_path(folder, file_hash, key)


def dumps(parsed: ParsedSheet, *, cells: bool = False) -> bytes | None:
    """The parse as marshal bytes (with each row's cells when `cells`); None when the format cannot hold it."""
    rows = []
    for r in parsed.rows:
        values = r.values
        dates = tuple(k for k, x in values.items() if x.__class__ is dt.date)
        if dates:
            values = {k: (x.toordinal() if x.__class__ is dt.date else x) for k, x in values.items()}
        errors = _problems(parsed.sheet, r.row, r.errors)
        warnings = _problems(parsed.sheet, r.row, r.warnings)
        if errors is None or warnings is None:
            return None  # not a row this format can hold as it is
        rows.append((r.row, values, dates, errors, warnings, r.cells) if cells
                    else (r.row, values, dates, errors, warnings))
    data = (FORMAT, parsed.sheet, tuple(parsed.header_rows), tuple(parsed.mapping.headers),
            dict(parsed.mapping.fields), dict(parsed.skipped), parsed.default_kind, tuple(parsed.notes), rows)
    try:
        return marshal.dumps(data)
    except ValueError:
        return None  # a value marshal cannot hold


def _problems(sheet: str, row: int, problems: tuple[RowError, ...]) -> tuple | None:
    """A row's errors or warnings as plain tuples; None when one belongs to another sheet or row."""
    out = tuple((e.column, e.field, e.message) for e in problems if e.sheet == sheet and e.row == row)
    return out if len(out) == len(problems) else None


def save(path: Path, parsed: ParsedSheet) -> None:
    """Write the stash (atomically); a stash that cannot be written is only a missed shortcut."""
    blob = dumps(parsed)
    if blob is None:
        return  # no stash, the apply reads the file
    part = path.with_name(path.name + f".{os.getpid()}.part")
    try:
        part.write_bytes(blob)
        os.replace(part, path)
    except OSError:
        part.unlink(missing_ok=True)


def load(path: Path) -> ParsedSheet | None:
    """The stashed parse, or None when there is none (or it cannot be read)."""
    try:
        return loads(path.read_bytes())
    except OSError:
        return None


def loads(blob: bytes) -> ParsedSheet | None:
    """The parse from `dumps`' bytes, or None when they are not such a parse."""
    try:
        data = marshal.loads(blob)
    except (EOFError, ValueError, TypeError):
        return None
    if not isinstance(data, tuple) or len(data) != 9 or data[0] != FORMAT:
        return None
    _, sheet, header_rows, headers, fields, skipped, default_kind, notes, rows = data
    fromordinal = dt.date.fromordinal
    parsed = []
    for row, values, dates, errors, warnings, *cells in rows:
        for k in dates:
            values[k] = fromordinal(values[k])
        parsed.append(ParsedRow(row, cells[0] if cells else (), values,
                                tuple(RowError(sheet, row, c, f, m) for c, f, m in errors),
                                tuple(RowError(sheet, row, c, f, m) for c, f, m in warnings) if warnings else ()))
    return ParsedSheet(sheet, header_rows, ColumnMapping(headers, fields), parsed, Counter(skipped), default_kind,
                       list(notes))
