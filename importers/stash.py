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
import struct
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from importers.fields import FIELDS
from importers.mapping import ColumnMapping
from importers.parse import ParseOptions
from importers.parsed import ParsedRow, ParsedSheet, RowError

FORMAT = 5  # bump when ParsedRow/ParsedSheet or the parse itself changes what it produces
# The fields of ParsedRow holding the row's own RowErrors (kept as (column, field, message)): a new
# field of that kind is one more name here (and the key below changes with it).
ROW_ERROR_FIELDS = ("errors", "warnings")
# The fields whose values are dates (kept as day numbers): a row's other values are plain.
DATE_FIELDS = tuple(f.name for f in FIELDS if f.type == "date")
_LENGTH = struct.Struct("<Q")  # each part of a stash file is its length, then its bytes; a length 0 ends the file


def stash_key(*, file_hash: str, sheet: str, headers: Iterable[str], mapping: Mapping[str, int],
              kinds: Iterable[tuple[str, str]], options: ParseOptions,
              aliases: Iterable[tuple[str, str]] | None = None) -> str:
    """A name for the parse of `sheet` of the file with `file_hash` under this mapping and catalogue
    (names and aliases: None is the shipped seed aliases)."""
    settings = [sorted(options.required), options.merchant_required, options.default_kind,
                options.header_search_rows, options.header_row, options.group_row, options.max_rows,
                sorted(map(list, options.kind_values))]
    basis = [FORMAT, ROW_ERROR_FIELDS, file_hash, sheet, list(headers), sorted((k, int(v)) for k, v in mapping.items()),
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


def _pack(parsed: ParsedSheet, cells: bool) -> tuple | None:
    """The parse as plain tuples for marshal (None when a row holds what they cannot)."""
    rows = []
    kept = [] if cells else None
    sheet = parsed.sheet
    for r in parsed.rows:
        values = r.values
        dates = tuple(k for k in DATE_FIELDS if k in values)
        if dates:
            values = values.copy()
            for k in dates:
                values[k] = values[k].toordinal()
        packed = [r.row, values, dates]
        for name in ROW_ERROR_FIELDS:
            found = getattr(r, name)
            if not found:
                packed.append(())
                continue
            errors = tuple((e.column, e.field, e.message) for e in found if e.sheet == sheet and e.row == r.row)
            if len(errors) != len(found):
                return None  # not a row this format can hold as it is
            packed.append(errors)
        rows.append(tuple(packed))
        if cells:
            kept.append(r.cells)
    return (FORMAT, sheet, tuple(parsed.header_rows), tuple(parsed.mapping.headers), dict(parsed.mapping.fields),
            dict(parsed.skipped), parsed.default_kind, tuple(parsed.notes), rows, kept)


def _marshal(data: tuple) -> bytes | None:
    try:
        return marshal.dumps(data)
    except ValueError:
        return None  # a value marshal cannot hold


def dumps(parsed: ParsedSheet, *, cells: bool = False) -> bytes | None:
    """The parse as marshal bytes (with each row's cells when `cells`); None when the format cannot hold it."""
    data = _pack(parsed, cells)
    return None if data is None else _marshal(data)


def dumps_both(parsed: ParsedSheet) -> tuple[bytes | None, bytes | None]:
    """`dumps` with the cells and without (for the caller and for the stash), packing the rows once."""
    data = _pack(parsed, True)
    if data is None:
        return None, None
    return _marshal(data), _marshal(data[:-1] + (None,))


class Writer:
    """A stash written part by part as the parse goes (see `parse_sheet`'s `parts`), in place when complete.

    A part that cannot be held, or a file that cannot be written, only means no stash: the apply then
    reads the file again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.part = path.with_name(path.name + f".{os.getpid()}.part")
        self.file = None
        try:
            self.file = open(self.part, "wb")
        except OSError:
            pass

    def add(self, blob: bytes | None) -> None:
        """Append one part, as `dumps` (without cells) gave it."""
        if self.file is None:
            return
        if blob is None:
            self.abandon()
            return
        try:
            self.file.write(_LENGTH.pack(len(blob)))
            self.file.write(blob)
        except OSError:
            self.abandon()

    def finish(self) -> None:
        """Put the stash in place; its last part must have been the one with the whole sheet's skipped counts."""
        if self.file is None:
            return
        try:
            self.file.write(_LENGTH.pack(0))
            self.file.close()
            os.replace(self.part, self.path)
        except OSError:
            self.abandon()
        self.file = None

    def abandon(self) -> None:
        """No stash after all."""
        if self.file is not None:
            self.file.close()
            self.file = None
        self.part.unlink(missing_ok=True)


def save(path: Path, parsed: ParsedSheet) -> None:
    """Write the stash (atomically); a stash that cannot be written is only a missed shortcut."""
    writer = Writer(path)
    writer.add(dumps(parsed))
    writer.finish()


def load(path: Path) -> ParsedSheet | None:
    """The stashed parse, or None when there is none (or it cannot be read)."""
    blobs = load_parts(path)
    if blobs is None:
        return None
    parts = [loads(blob) for blob in blobs]
    if None in parts:
        return None
    whole = parts[0]
    for part in parts[1:]:
        whole.rows += part.rows
    whole.skipped, whole.notes = parts[-1].skipped, parts[-1].notes
    return whole


def load_parts(path: Path) -> list[bytes] | None:
    """The stash's parts, still packed (each one for `loads`; the last one's skipped counts are the whole
    sheet's), or None when there is no complete stash."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    blobs = []
    at, size = 0, len(data)
    while True:
        if at + _LENGTH.size > size:
            return None  # cut short
        (length,) = _LENGTH.unpack_from(data, at)
        at += _LENGTH.size
        if length == 0:
            break
        if at + length > size:
            return None
        blobs.append(data[at:at + length])
        at += length
    return blobs if blobs and at == size else None


def loads(blob: bytes) -> ParsedSheet | None:
    """The parse from `dumps`' bytes, or None when they are not such a parse."""
    try:
        data = marshal.loads(blob)
    except (EOFError, ValueError, TypeError):
        return None
    if not isinstance(data, tuple) or len(data) != 10 or data[0] != FORMAT:
        return None
    _, sheet, header_rows, headers, fields, skipped, default_kind, notes, rows, cells = data
    fromordinal = dt.date.fromordinal
    names = ROW_ERROR_FIELDS
    parsed = []
    append = parsed.append
    for i, (row, values, dates, *found) in enumerate(rows):
        for k in dates:
            values[k] = fromordinal(values[k])
        cell = cells[i] if cells is not None else ()
        if any(found):
            append(ParsedRow(row, cell, values, **{name: tuple(RowError(sheet, row, c, f, m) for c, f, m in problems)
                                                   for name, problems in zip(names, found)}))
        else:
            append(ParsedRow(row, cell, values))
    return ParsedSheet(sheet, header_rows, ColumnMapping(headers, fields), parsed, Counter(skipped), default_kind,
                       list(notes))
