"""Size checks on a spreadsheet before its cells are loaded: unpacked size, declared and real extent.

python-calamine loads a whole sheet into one dense range sized by the sheet's extent (for .xls
even by the extent the DIMENSIONS record declares), so a 1 KB file naming cell XFD1048576, or a
5 KB .xls claiming 4 billion rows, asks for more memory than any machine has. These checks read
what the file says about its size, cheaply, and refuse it with a Chinese message before calamine
is asked to load anything. They are the first line; the child process's memory limit
(importers/sandbox.py) catches what they miss.
"""
from __future__ import annotations

import re
import struct
import zipfile
from dataclasses import dataclass, field
from posixpath import dirname, join, normpath

from lxml import etree

from importers.errors import ImportFileError

MB = 1024 * 1024
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ReadLimits:
    """How large a workbook may be once unpacked, and how large a sheet may be."""

    max_rows: int = 200_000
    max_columns: int = 1_000
    # A sheet is loaded as rows x columns cells whatever is empty: 200,000 rows of 40 columns.
    max_cells: int = 8_000_000
    max_unpacked: int = 1024 * MB
    # Real ledgers compress 5-20 fold; a bomb of tiny rows a thousand fold.
    max_ratio: int = 200


def too_many_rows(sheet: str, limit: int, rows: int | None = None) -> ImportFileError:
    """The refusal of a sheet longer than the import limit (`rows` when it is known)."""
    counted = f"有{rows}行，" if rows is not None else ""
    return ImportFileError(f"工作表“{sheet}”{counted}超过单次导入上限{limit}行，请拆分后分批导入", sheet=sheet)


def check_extent(sheet: str, rows: int, columns: int, limits: ReadLimits, *, declared: bool = False) -> None:
    """Refuse a sheet whose rows, columns or area exceed the limits."""
    if rows > limits.max_rows:
        raise too_many_rows(sheet, limits.max_rows, rows)
    said = "声明的" if declared else ""
    if columns > limits.max_columns:
        raise ImportFileError(f"工作表“{sheet}”{said}数据区域有{columns}列，超过上限{limits.max_columns}列。"
                              "常见原因是远处的单元格有内容或格式；请删除多余的列后再导入", sheet=sheet)
    if rows * columns > limits.max_cells:
        raise ImportFileError(f"工作表“{sheet}”{said}数据区域为{rows}行×{columns}列，超过单次导入上限"
                              f"{limits.max_cells}个单元格。常见原因是远处的单元格有内容或格式；"
                              "请删除多余的行列或拆分后再导入", sheet=sheet)


def unpacked_too_large(size: int) -> ImportFileError:
    """The refusal of a zip whose contents would be too large once unpacked."""
    return ImportFileError(f"文件解开后过大（约 {size / MB:,.0f} MB），可能是异常或恶意构造的文件，未能导入。"
                           "请在Excel中打开并另存为.xlsx后再导入")


def check_unpacked(archive: zipfile.ZipFile, limits: ReadLimits) -> None:
    """Refuse a zip whose members declare too much data, or too much for their compressed size."""
    total = 0
    for info in archive.infolist():
        total += info.file_size
        if info.file_size > 10 * MB and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise unpacked_too_large(info.file_size)
    if total > limits.max_unpacked:
        raise unpacked_too_large(total)


# ----- .xlsx: the sheet's XML, streamed -------------------------------------------------------

_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="\$?([A-Z]{1,3})\$?(\d{1,10})(?::\$?([A-Z]{1,3})\$?(\d{1,10}))?"')
_SHEET_DATA = re.compile(rb"<(\w+:)?sheetData[\s/>]")
_ROW_NUMBER = re.compile(rb'\br="(\d{1,10})"')


def column_number(letters: bytes | str) -> int:
    """1 for A, 27 for AA, 16384 for XFD."""
    n = 0
    for ch in letters.encode() if isinstance(letters, str) else letters:
        n = n * 26 + ch - 64
    return n


def xlsx_sheet_members(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> the zip member holding its XML (from xl/workbook.xml and its relationships)."""
    try:
        book = etree.fromstring(archive.read("xl/workbook.xml"))
        rels = etree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, etree.XMLSyntaxError, zipfile.BadZipFile, OSError):
        return {}
    targets = {r.get("Id"): r.get("Target", "") for r in rels if r.get("Id")}
    members = {}
    for sheet in book.iter("{*}sheet"):
        target = targets.get(sheet.get(_NS_REL), "")
        if target:
            members[sheet.get("name", "")] = target.lstrip("/") if target.startswith("/") \
                else normpath(join(dirname("xl/workbook.xml"), target))
    return members


class _SheetScan:
    """The extent of a sheet's XML, from chunks of it: rows counted and numbered, the widest cell.

    Literal searches (bytes.count, a regex that starts with the tag) keep it near the speed of
    unpacking: a 100,000-row ledger is 100 MB of XML. Cells are found by their `r` attribute
    written first, as every writer does; a file that hides it gets past this scan only to meet
    the child process's memory limit.
    """

    def __init__(self, sheet: str, limits: ReadLimits) -> None:
        self.sheet, self.limits = sheet, limits
        self.rows = self.count = self.columns = 0
        self.prefix: bytes | None = None
        self._head = b""
        # (row, column), 0-based: formula cells saved without their computed value (see `_formulas`).
        self.formulas: set[tuple[int, int]] = set()

    def start(self, text: bytes) -> None:
        """Read the declared dimension and the tags' namespace prefix, once <sheetData> is in sight."""
        found = _DIMENSION.search(text)
        if found:
            last_col, last_row = found.group(3, 4) if found.group(3) else found.group(1, 2)
            check_extent(self.sheet, int(last_row), column_number(last_col), self.limits, declared=True)
        data = _SHEET_DATA.search(text)
        self.prefix = data.group(1) or b"" if data else b""
        self._row_tags = (b"<" + self.prefix + b"row ", b"<" + self.prefix + b"row>")
        # Columns past Z have two or more letters: only those can widen a sheet past 26 columns.
        p = re.escape(self.prefix)
        # ... and a formula tag, found by the same pass (an empty group): a second search of 100 MB cost more.
        self._wide = re.compile(b"<" + p + rb'(?:c r="([A-Z]{2,4})\d|f[ >])')
        # A cell holding a formula and no value: <c r="C5"><f>…</f></c>, <f …/>, or an empty <v/>.
        self._no_value = re.compile(b"<" + p + rb'c r="([A-Z]{1,3})(\d{1,7})"[^>]*>(?:<' + p + rb"f[^>]*/>|<" + p
                                    + rb"f[^>]*>[^<]*</" + p + rb"f>)(?:<" + p + rb"v\s*/>|<" + p + rb"v></" + p
                                    + rb"v>)?</" + p + b"c>")
        self.columns = 1

    def feed(self, text: bytes) -> None:
        """Count and number the rows of a chunk (ending at a tag boundary) and find its widest cell."""
        if self.prefix is None:
            self._head += text
            if _SHEET_DATA.search(self._head) is None and len(self._head) < 4 * _CHUNK:
                return  # not there yet: wait for more
            text, self._head = self._head, b""
            self.start(text)
        self.count += sum(text.count(tag) for tag in self._row_tags)
        last = max(text.rfind(tag) for tag in self._row_tags)
        if last >= 0:
            number = _ROW_NUMBER.search(text, last, text.find(b">", last) + 1 or len(text))
            if number:
                self.rows = max(self.rows, int(number.group(1)))
        self.rows = max(self.rows, self.count)
        if self.rows > self.limits.max_rows:
            raise too_many_rows(self.sheet, self.limits.max_rows)
        wide = set(self._wide.findall(text))
        if b"" in wide:
            wide.discard(b"")
            self._formulas(text)
        if wide:
            self.columns = max(self.columns, max(column_number(w) for w in wide))
        # Single-letter columns can be at most 26 wide: count them so, for the area.
        check_extent(self.sheet, self.rows, max(self.columns, 26 if self.count else 1), self.limits)

    def _formulas(self, text: bytes) -> None:
        """Note formula cells without a stored result: calamine reads them as empty, and a message
        should say why. Only chunks holding a formula tag get here; a cell split between two
        chunks is missed (its row then gets the usual message)."""
        for letters, number in self._no_value.findall(text):
            self.formulas.add((int(number) - 1, column_number(letters) - 1))


def check_xlsx_sheet(archive: zipfile.ZipFile, member: str, sheet: str,
                     limits: ReadLimits) -> frozenset[tuple[int, int]]:
    """Stream the sheet's XML: its declared dimension, then each chunk of rows, refusing once a limit is passed.

    Returns the formula cells (row, column; 0-based) that have no stored result, read on the way."""
    scan = _SheetScan(sheet, limits)
    tail = b""
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(_CHUNK):
                buffer = tail + chunk
                cut = buffer.rfind(b"<")
                if cut <= 0:
                    cut = len(buffer)
                text, tail = buffer[:cut], buffer[cut:]
                scan.feed(text)
            if tail:
                scan.feed(tail)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError) as error:
        raise ImportFileError(f"工作表“{sheet}”已损坏，无法读取", sheet=sheet) from error
    return frozenset(scan.formulas)


# ----- .ods: content.xml, streamed ---------------------------------------------------------------

_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_VALUE_TYPE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}value-type"
_ROWS_SPANNED = _TABLE + "number-rows-spanned"
_FORMULA = _TABLE + "formula"


@dataclass
class OdsTable:
    """What calamine does not say about an .ods table, read while its size is checked."""

    # Cells merged down over more than one row: (first row, first col, last row, last col), 0-based.
    spans: list[tuple[int, int, int, int]] = field(default_factory=list)
    # (row, column), 0-based: formula cells saved without a computed value.
    formulas: set[tuple[int, int]] = field(default_factory=set)


def _repeats(element, attribute: str) -> int:
    value = element.get(_TABLE + attribute)
    return 1 if value is None else max(int(value), 1)


def check_ods(archive: zipfile.ZipFile, limits: ReadLimits) -> dict[str, OdsTable]:
    """Stream content.xml and refuse a table whose extent (repeats counted) passes a limit, before calamine opens it.

    calamine reads every table of an .ods when it opens the file, each as a dense range as large as
    its last non-empty cell, repeated rows and columns expanded: one row repeated a million times
    with a cell repeated a thousand times is a 1 KB file asking for a billion cells. LibreOffice ends
    every table with an empty row repeated to the sheet's end, which calamine drops, so only rows
    and columns up to the last cell holding something count.

    On the way it notes, per table, the cells merged down over rows and the formulas without a
    value (see OdsTable): one attribute lookup per cell, none per covered cell beyond that.
    """
    table, rows, extent = "", 0, (0, 0)
    tables: dict[str, OdsTable] = {}
    current = OdsTable()
    try:
        with archive.open("content.xml") as stream:
            for event, element in etree.iterparse(stream, events=("start", "end"), tag=(_TABLE + "table",
                                                  _TABLE + "table-row"), resolve_entities=False, no_network=True):
                if element.tag == _TABLE + "table":
                    if event == "start":
                        table, rows, extent = element.get(_TABLE + "name", ""), 0, (0, 0)
                        current = tables[table] = OdsTable()
                    continue
                if event == "start":
                    continue
                columns = last = 0
                for cell in element:
                    at = columns
                    columns += _repeats(cell, "number-columns-repeated")
                    if cell.get(_VALUE_TYPE) is not None or len(cell):
                        last = columns
                    elif cell.get(_FORMULA) is not None:
                        current.formulas.add((rows, at))
                    spanned = cell.get(_ROWS_SPANNED)
                    if spanned is not None and spanned.isdigit() and int(spanned) > 1:
                        width = _repeats(cell, "number-columns-spanned")
                        current.spans.append((rows, at, rows + int(spanned) - 1, at + width - 1))
                rows += _repeats(element, "number-rows-repeated")
                if last:
                    extent = (rows, max(extent[1], last))
                    check_extent(table, *extent, limits)
                element.clear()  # rows already counted are not kept: memory stays flat on a long sheet
                while element.getprevious() is not None:
                    del element.getparent()[0]
    except (KeyError, ValueError, etree.XMLSyntaxError, zipfile.BadZipFile, OSError, EOFError) as error:
        raise ImportFileError("文件已损坏（表格内容无法读取），请在Excel或WPS中打开并另存为.xlsx后再导入") from error
    return tables


# ----- .xls: the BIFF8 DIMENSIONS record of each worksheet ------------------------------------

def xls_dimensions(workbook: bytes) -> dict[str, tuple[int, int]]:
    """Sheet name -> (rows, columns) as each worksheet's DIMENSIONS record declares them."""
    sheets: list[tuple[str, int]] = []
    at = 0
    while at + 4 <= len(workbook):
        kind, size = struct.unpack_from("<HH", workbook, at)
        body = workbook[at + 4:at + 4 + size]
        at += 4 + size
        if kind == 0x0085 and len(body) >= 8:  # BOUNDSHEET8: offset, state, type, name
            offset, _state, typ, length, flags = struct.unpack_from("<IBBBB", body)
            raw = body[8:8 + length * (2 if flags & 1 else 1)]
            name = raw.decode("utf-16-le" if flags & 1 else "latin-1", errors="replace")
            if typ == 0:  # a worksheet (not a chart or macro sheet)
                sheets.append((name, offset))
        elif kind == 0x000A:  # EOF of the workbook globals
            break
    found = {}
    for name, offset in sheets:
        at = offset
        for _ in range(1000):  # DIMENSIONS comes before the cells, among the first records
            if at + 4 > len(workbook):
                break
            kind, size = struct.unpack_from("<HH", workbook, at)
            if kind == 0x0200 and size >= 14:
                _first_row, last_row, _first_col, last_col = struct.unpack_from("<IIHH", workbook, at + 4)
                found[name] = (last_row, last_col)  # both one past the last used (0-based), i.e. counts
                break
            if kind == 0x000A:
                break
            at += 4 + size
    return found
