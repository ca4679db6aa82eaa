"""The front half of the pipeline: find the table, map its columns, normalise and validate rows."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain, islice

from importers.errors import ImportFileError, UnmappedTableError
from importers.fields import FIELD_BY_NAME
from importers.fill import DITTO, DittoFill, MergeFill
from importers.header import Header, find_header, header_at
from importers.kinds import KindResolver
from importers.limits import too_many_rows
from importers.mapping import ColumnMapping, auto_map
from importers.normalise import RowNormaliser
from importers.parsed import ParsedRow, ParsedSheet, TableInfo
from importers.reader import Book, Sheet
from importers.rows import BLANK, HEADER, NOT_MANDATORY, TITLE, RowClassifier

SAMPLE_ROWS = 20  # rows under the header looked at to tell a 1, 2, 3 编号 from a serial
PROGRESS_EVERY = 5000
# What the person importing can do about a table that was not recognised (the batch page and the
# command line both offer it).
CHOOSE_HEADER = "可指定表头所在的行和各列对应的字段"
CHOOSE_SHEET = "可选择其他工作表"
PART_ROWS = 5000  # rows per part handed to `parse_sheet`'s `parts`
_SHEET_SUFFIX = re.compile(r"(台账|明细表|明细|清单|登记表|一览表|统计表|汇总表)$")


@dataclass(frozen=True)
class ParseOptions:
    """What a row needs to be importable, and where to look for the header."""

    required: frozenset[str] = frozenset({"kind", "serial_no"})
    # Off when the caller supplies the merchant (a utility's meter ledger has only households).
    merchant_required: bool = True
    # A catalogue code or name for rows without a kind (a sheet per kind, or an empty cell).
    default_kind: str | None = None
    header_search_rows: int = 30
    # The header's Excel row number, when the caller knows better than the search.
    header_row: int | None = None
    # With header_row: the Excel row number of the group row above it (a two-row header).
    group_row: int | None = None
    max_rows: int = 200_000
    # The user's choice for kind values of this file, (value as typed, catalogue code or kinds.SKIP):
    # a value mapped to SKIP is not a mandatory instrument and its rows are skipped.
    kind_values: tuple[tuple[str, str], ...] = ()


@dataclass
class _Located:
    sheet: Sheet
    header: Header
    mapping: ColumnMapping
    head: list[list]  # rows read so far, from Excel row 1
    rest: Iterator[list]  # the rows not read yet


def _locate(book: Book, name: str, options: ParseOptions, *, required: bool) -> _Located | None:
    sheet = book.sheet(name)
    rows = sheet.rows()
    head = list(islice(rows, max(options.header_search_rows, options.header_row or 0) + 1))
    if not any(v != "" for row in head for v in row):
        if required:
            raise UnmappedTableError(f"工作表“{name}”是空的；{CHOOSE_SHEET}", sheet=name)
        return None
    if options.header_row is not None:
        if not 1 <= options.header_row <= len(head):
            raise UnmappedTableError(f"工作表“{name}”没有第{options.header_row}行；{CHOOSE_HEADER}", sheet=name)
        group = options.group_row - 1 if options.group_row and options.group_row < options.header_row else None
        header = header_at(head, options.header_row - 1, group, sheet.merged)
    else:
        header = find_header(head, sheet.merged, options.header_search_rows)
    if header is None:
        if required:
            raise UnmappedTableError(
                f"工作表“{name}”中找不到表头：前{options.header_search_rows}行里没有一行包含至少3个可识别的列名"
                f"（如 使用单位名称、器具名称、出厂编号、检定日期）；{CHOOSE_HEADER}", sheet=name)
        return None
    want = header.index + 1 + SAMPLE_ROWS
    if len(head) < want:
        head.extend(islice(rows, want - len(head)))
    classify = RowClassifier(header.labels, None).classify
    sample = [row for row in head[header.index + 1:] if classify(row) is None]
    mapping = auto_map(header.labels, header.keys, sample)
    return _Located(sheet, header, mapping, head, rows)


def _default_kind(options: ParseOptions, mapping: ColumnMapping, sheet: str,
                  resolver: KindResolver | None) -> tuple[str | None, str]:
    """The kind text for rows without one, and how to name its source in messages."""
    if options.default_kind:
        return options.default_kind, "默认器具种类"
    if mapping.column("kind") is None and resolver is not None:
        text = _SHEET_SUFFIX.sub("", sheet.strip())
        if text and resolver.recognises(text):
            return text, f"器具种类（取自工作表名“{sheet}”）"
    return None, ""


def _missing(mapping: ColumnMapping, options: ParseOptions, has_default_kind: bool) -> tuple[str, ...]:
    missing = [f for f in sorted(options.required, key=list(FIELD_BY_NAME).index)
               if mapping.column(f) is None and not (f == "kind" and has_default_kind)]
    if options.merchant_required and mapping.column("merchant_name") is None and mapping.column("credit_code") is None:
        missing.insert(0, "merchant_name")
    return tuple(missing)


def _table(book: Book, name: str, options: ParseOptions, resolver: KindResolver | None) -> TableInfo | None:
    located = _locate(book, name, options, required=False)
    if located is None:
        return None
    default, _ = _default_kind(options, located.mapping, name, resolver)
    return TableInfo(name, located.header.excel_rows, located.mapping, located.sheet.height,
                     _missing(located.mapping, options, default is not None))


def find_tables(book: Book, *, kinds: Iterable[tuple[str, str]] | None = None,
                options: ParseOptions = ParseOptions(),
                aliases: Iterable[tuple[str, str]] | None = None) -> list[TableInfo]:
    """The visible sheets that hold a ledger table (an instructions sheet has none)."""
    resolver = KindResolver(kinds, aliases) if kinds is not None else None
    return [table for name in book.visible_sheet_names if (table := _table(book, name, options, resolver))]


def find_table(book: Book, sheet: str | None = None, *, kinds: Iterable[tuple[str, str]] | None = None,
               options: ParseOptions = ParseOptions(),
               aliases: Iterable[tuple[str, str]] | None = None) -> TableInfo | None:
    """The table of `sheet`, or of the first visible sheet that holds one; None when there is none.

    Unlike `find_tables`, it loads only the sheets it looks at: loading a sheet costs about as
    much as reading it, and a workbook's other sheets may be large.
    """
    resolver = KindResolver(kinds, aliases) if kinds is not None else None
    for name in [sheet] if sheet is not None else book.visible_sheet_names:
        if name not in book.sheet_names:
            return None
        table = _table(book, name, options, resolver)
        if table is not None:
            return table
    return None


def parse_sheet(book: Book, sheet: str | None = None, *, kinds: Iterable[tuple[str, str]],
                mapping: ColumnMapping | None = None, overrides: Mapping[str, int | str | None] | None = None,
                options: ParseOptions = ParseOptions(),
                progress: Callable[[int], None] | None = None,
                keep_cells: Callable[[list], object] | None = None,
                aliases: Iterable[tuple[str, str]] | None = None,
                parts: Callable[[ParsedSheet], None] | None = None) -> ParsedSheet:
    """Read one sheet (the first with a table when `sheet` is None) into parsed rows.

    `kinds` is the catalogue as (code, name_zh) pairs and `aliases` its other spellings as (code, alias)
    pairs (None: the shipped seed aliases; the app passes the database's). `mapping` (e.g. a saved one, see
    ColumnMapping.from_json) replaces the mapping found from the header; `overrides` then
    moves single fields (field -> column index or header text, None to unmap).
    `progress` is called with the number of rows read every few thousand rows.
    `keep_cells` turns a data row's cells into what its ParsedRow keeps (default: the list as
    read), e.g. a compact form of what the caller stores: a large file's cells are most of the
    parsed rows' memory.
    `parts`, when given, receives the rows as they are parsed, PART_ROWS at a time (each as a sheet
    of those rows, with the skipped rows counted so far), and the sheet returned holds only the rows
    after the last part: the caller can work on a large file's first rows while the rest are read.
    Raises ImportFileError when the sheet is empty, has no header or lacks required columns.
    """
    located = _pick(book, sheet, options)
    name = located.sheet.name
    if located.sheet.height > options.max_rows:
        raise too_many_rows(name, options.max_rows, located.sheet.height)
    header = located.header
    chosen = located.mapping
    if mapping is not None:
        if mapping.signature != chosen.signature:
            raise ImportFileError(f"指定的列对应与工作表“{name}”的表头不一致，请重新核对列对应", sheet=name)
        chosen = ColumnMapping(chosen.headers, dict(mapping.fields))
    if overrides:
        chosen = chosen.override(overrides)
    resolver = KindResolver(kinds, aliases)
    default_kind, default_label = _default_kind(options, chosen, name, resolver)
    missing = _missing(chosen, options, default_kind is not None)
    if missing:
        raise _missing_error(name, chosen, missing)

    skipped: Counter[str] = Counter()
    for row in located.head[: header.first]:
        skipped[BLANK if all(v == "" for v in row) else TITLE] += 1
    skipped[HEADER] += header.index - header.first + 1

    normalise = RowNormaliser(name, chosen, resolver, required=options.required,
                              merchant_required=options.merchant_required, default_kind=default_kind,
                              default_kind_label=default_label, formulas=located.sheet.formulas,
                              kind_values=options.kind_values)
    classify = RowClassifier(chosen.headers, chosen.column("row_no")).classify
    parsed: list[ParsedRow] = []
    number = header.index + 1  # Excel number of the header's last row
    rows: Iterable[list] = chain(located.head[header.index + 1:], located.rest)
    merged = MergeFill(located.sheet.spans, header.index + 1)
    if merged:  # a sheet without merges under its header reads its rows as they are
        rows = merged.rows(rows)
    ditto = DittoFill(name, [(col, chosen.label(f), f) for f, col in chosen.fields.items()])
    previous: list | None = None  # the data row above, as filled: what a ditto mark repeats
    previous_row = 0  # its Excel row number
    for cells in rows:
        number += 1
        if number > options.max_rows:  # a format that cannot tell its height before it is read (.csv)
            raise too_many_rows(name, options.max_rows)
        reason = classify(cells)
        if reason is None and normalise.skips(cells):
            reason = NOT_MANDATORY
        if reason is None:
            marks = None if DITTO.isdisjoint(cells) else ditto(number, cells, previous, previous_row)
            row = normalise(number, cells)
            if marks is not None:
                # A mark with nothing to repeat is the reason the field is missing: say it once.
                unfilled = {e.field for e in marks[0]}
                row.errors = (*marks[0], *(e for e in row.errors
                                           if e.field not in unfilled or not e.message.startswith("缺少")))
                row.warnings = (*marks[1], *row.warnings)
            previous, previous_row = cells, number
            if keep_cells is not None:
                row.cells = keep_cells(cells)
            parsed.append(row)
            # Rows with short dates wait for the end of the sheet, which decides their order: a part
            # handed over could no longer be changed, so none is handed over while such rows wait.
            if parts is not None and len(parsed) >= PART_ROWS and not normalise.waiting:
                parts(ParsedSheet(name, header.excel_rows, chosen, parsed, skipped.copy(), default_kind))
                parsed = []
        else:
            skipped[reason] += 1
        if progress is not None and number % PROGRESS_EVERY == 0:
            progress(number)
    notes = [note for note in (merged.note(chosen.headers), *normalise.finish()) if note]
    return ParsedSheet(name, header.excel_rows, chosen, parsed, skipped, default_kind, notes)


def _missing_error(sheet: str, mapping: ColumnMapping, missing: tuple[str, ...]) -> UnmappedTableError:
    """The refusal of a table without a required column: it names the columns and what can be done."""
    found = "、".join(h for h in mapping.headers if h) or "无"
    ways = ["可指定各列对应的字段"]
    if "kind" in missing:
        ways.append("为整个文件指定器具种类")
    if "merchant_name" in missing:
        ways.append("为整个文件指定使用单位（如供水企业）")
    return UnmappedTableError(
        f"工作表“{sheet}”缺少必需的列：{'、'.join(FIELD_BY_NAME[f].label for f in missing)}；{'，或'.join(ways)}。"
        f"表头中的列：{found}", sheet=sheet, headers=mapping.headers, fields=mapping.fields, missing=missing)


def _pick(book: Book, sheet: str | None, options: ParseOptions) -> _Located:
    if sheet is not None:
        located = _locate(book, sheet, options, required=True)
        assert located is not None
        return located
    for name in book.visible_sheet_names:
        located = _locate(book, name, options, required=False)
        if located is not None:
            return located
    names = "、".join(f"“{n}”" for n in book.visible_sheet_names) or "无"
    raise UnmappedTableError(f"文件中没有可识别的台账表格（已查看工作表：{names}）："
                             "表头需包含至少3个可识别的列名，如 使用单位名称、器具名称、出厂编号、检定日期；"
                             f"{CHOOSE_HEADER}")
