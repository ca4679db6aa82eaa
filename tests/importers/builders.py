"""Test files built by hand: .xlsx via openpyxl, .ods and .xls written byte by byte.

openpyxl writes neither .ods nor .xls, and the project adds no dependency to write them:
.ods is a small OpenDocument zip, .xls a minimal BIFF8 workbook inside an OLE compound
file (the same container serves to fake an encrypted .xlsx).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import struct
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl

ROOT = Path(__file__).resolve().parents[2]
# Two real-looking station ledgers (a messy one and a tidy one), kept with the tests.
SAMPLES = Path(__file__).resolve().parent / "samples"


def catalogue_kinds() -> list[tuple[str, str]]:
    """(code, name_zh) from the seed catalogue, as the app would pass them."""
    with open(ROOT / "app" / "catalog" / "seed" / "instrument_types.csv", encoding="utf-8") as f:
        return [(r["code"], r["name_zh"]) for r in csv.DictReader(f)]


# --- .xlsx -----------------------------------------------------------------------------------

def sheet_bytes(title: str, rows: list[list]) -> bytes:
    """An in-memory .xlsx of one sheet named `title`, the rows appended as given (an upload's bytes)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def write_xlsx(path: Path, sheets: dict[str, list[list]], *, merges: dict[str, list[str]] | None = None,
               hidden: tuple[str, ...] = (), text_cells: dict[str, list[str]] | None = None) -> Path:
    """A workbook with one sheet per entry; rows from A1; `text_cells` forces text (e.g. '=abc')."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value is not None and value != "":
                    ws.cell(row=r, column=c, value=value)
        for ref in (merges or {}).get(name, []):
            ws.merge_cells(ref)
        for ref in (text_cells or {}).get(name, []):
            ws[ref].data_type = "s"
        if name in hidden:
            ws.sheet_state = "hidden"
    wb.save(path)
    return path


def set_cached_value(path: Path, formula: str, value: str) -> None:
    """Give a formula the cached value Excel would have stored (openpyxl stores none)."""
    data = io.BytesIO(path.read_bytes())
    out = io.BytesIO()
    with zipfile.ZipFile(data) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                cached = f"<f>{formula}</f><v>{value}</v>".encode()
                for empty in (f"<f>{formula}</f><v />", f"<f>{formula}</f><v></v>"):
                    content = content.replace(empty.encode(), cached)
            dst.writestr(item, content)
    path.write_bytes(out.getvalue())


def add_zip_member(path: Path, name: str, content: bytes) -> None:
    """Add a file to an existing zip (e.g. xl/vbaProject.bin to make an .xlsm)."""
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(name, content)


# --- hostile .xlsx, written by hand ----------------------------------------------------------

_XLSX_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
    'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'spreadsheetml.worksheet+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
    '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="台账" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.'
    'org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
}
_SHEET_HEAD = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
               b'spreadsheetml/2006/main">')


def raw_xlsx(path: Path, rows: bytes | list[bytes], *, dimension: str | None = None) -> Path:
    """An .xlsx with one sheet "台账" whose <sheetData> is `rows` (XML bytes, or chunks of them), as given."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, text in _XLSX_PARTS.items():
            z.writestr(name, text)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(_SHEET_HEAD)
            if dimension:
                sheet.write(f'<dimension ref="{dimension}"/>'.encode())
            sheet.write(b"<sheetData>")
            for chunk in [rows] if isinstance(rows, bytes) else rows:
                sheet.write(chunk)
            sheet.write(b"</sheetData></worksheet>")
    return path


def far_cell_xlsx(path: Path, far: str = "XFD1048576", *, dimension: str | None = None) -> Path:
    """A 1 KB .xlsx with a cell at A1 and one at `far`: calamine would allocate the whole range between."""
    number = "".join(ch for ch in far if ch.isdigit())
    rows = (b'<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row>'
            + f'<row r="{number}"><c r="{far}"><v>1</v></c></row>'.encode())
    return raw_xlsx(path, rows, dimension=dimension)


def tiny_rows_xlsx(path: Path, rows: int) -> Path:
    """Many one-cell rows, numbered: a sheet longer than the row limit that compresses like a real one."""
    row = b'<row r="%d"><c r="A%d"><v>%d</v></c></row>'
    chunks = (b"".join(row % (n, n, n) for n in range(start, min(start + 10_000, rows + 1)))
              for start in range(1, rows + 1, 10_000))
    return raw_xlsx(path, chunks)


def zip_bomb_xlsx(path: Path, megabytes: int) -> Path:
    """Identical tiny rows without numbers: megabytes of sheet XML squeezed a thousand fold."""
    block = b"<row><c><v>1</v></c></row>" * 40_000  # about 1 MB
    return raw_xlsx(path, (block for _ in range(megabytes)))


# --- .ods ------------------------------------------------------------------------------------

class Span:
    """A cell merged over `columns` columns (ODS number-columns-spanned)."""

    def __init__(self, value: object, columns: int) -> None:
        self.value, self.columns = value, columns


def _ods_cell(value: object, rows: int = 1, columns: int = 1) -> str:
    span = ""
    if isinstance(value, Span):
        columns = value.columns
        value = value.value
    if columns > 1:
        span = f' table:number-columns-spanned="{columns}"'
    if rows > 1:
        span += f' table:number-rows-spanned="{rows}"'
    if value is None or value == "":
        return f"<table:table-cell{span}/>"
    if isinstance(value, bool):
        attrs = f'office:value-type="boolean" office:boolean-value="{str(value).lower()}"'
        text = "TRUE" if value else "FALSE"
    elif isinstance(value, (int, float)):
        attrs, text = f'office:value-type="float" office:value="{value!r}"', repr(value)
    elif isinstance(value, dt.date):  # dates and date-times
        attrs, text = f'office:value-type="date" office:date-value="{value.isoformat()}"', value.isoformat()
    else:
        attrs, text = 'office:value-type="string"', str(value)
    return f"<table:table-cell{span} {attrs}><text:p>{escape(text)}</text:p></table:table-cell>"


def _ods_row(row: list | str, r: int = 0, merges: list[tuple[int, int, int, int]] = ()) -> str:
    if isinstance(row, str):  # a row written by hand (repeats, odd cells): as it is
        return row
    cells = []
    for c, value in enumerate(row):
        top = next((m for m in merges if m[0] == r and m[1] == c), None)
        if top is not None:
            cells.append(_ods_cell(value, top[2] - top[0] + 1, top[3] - top[1] + 1))
        elif any(m[0] <= r <= m[2] and m[1] <= c <= m[3] for m in merges):
            cells.append("<table:covered-table-cell/>")  # what LibreOffice writes under a merged cell
        else:
            cells.append(_ods_cell(value))
        if isinstance(value, Span) and value.columns > 1:
            cells.append(f'<table:covered-table-cell table:number-columns-repeated="{value.columns - 1}"/>')
    return "<table:table-row>" + "".join(cells) + "</table:table-row>"


def write_ods(path: Path, sheets: dict[str, list[list | str]], *,
              merges: dict[str, list[tuple[int, int, int, int]]] | None = None) -> Path:
    """A minimal OpenDocument spreadsheet (mimetype stored first, as the standard asks); a row given as a
    string is the row's XML, written as it is. `merges` (first row, first col, last row, last col; 0-based,
    as for write_xls) are written as LibreOffice does: spans on the first cell, covered cells under it."""
    tables = "".join(
        f'<table:table table:name="{escape(name)}">'
        + "".join(_ods_row(row, r, (merges or {}).get(name, [])) for r, row in enumerate(rows)) + "</table:table>"
        for name, rows in sheets.items())
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body></office:document-content>")
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet",
                   compress_type=zipfile.ZIP_STORED)
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
    return path


# --- OLE compound file (MS-CFB, version 3) ---------------------------------------------------

SECTOR = 512
ENDOFCHAIN, FREESECT, FATSECT, NOSTREAM = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF


def _dir_entry(name: str, kind: int, start: int, size: int, right: int = NOSTREAM, child: int = NOSTREAM) -> bytes:
    encoded = (name + "\x00").encode("utf-16-le") if name else b""
    return (encoded.ljust(64, b"\x00") + struct.pack("<HBB", len(encoded), kind, 1)
            + struct.pack("<III", NOSTREAM, right, child) + b"\x00" * 16 + struct.pack("<I", 0)
            + b"\x00" * 16 + struct.pack("<IQ", start, size))


def compound_file(streams: dict[str, bytes]) -> bytes:
    """An OLE compound file holding the streams (each padded to 4096 bytes: no mini stream)."""
    streams = {n: data.ljust(4096, b"\x00") for n, data in streams.items()}
    stream_sectors = [-(-len(d) // SECTOR) for d in streams.values()]
    dir_sectors = -(-(len(streams) + 1) // 4)
    fat_sectors = 1
    while fat_sectors * 128 < fat_sectors + dir_sectors + sum(stream_sectors):
        fat_sectors += 1
    fat = [FATSECT] * fat_sectors
    dir_start = len(fat)
    fat += [len(fat) + i + 1 for i in range(dir_sectors - 1)] + [ENDOFCHAIN]
    starts = []
    for count in stream_sectors:
        starts.append(len(fat))
        fat += [len(fat) + i + 1 for i in range(count - 1)] + [ENDOFCHAIN]
    fat += [FREESECT] * (fat_sectors * 128 - len(fat))
    names = list(streams)
    entries = [_dir_entry("Root Entry", 5, ENDOFCHAIN, 0, child=1 if names else NOSTREAM)]
    for i, name in enumerate(names):
        right = i + 2 if i + 1 < len(names) else NOSTREAM  # a chain of right siblings
        entries.append(_dir_entry(name, 2, starts[i], len(streams[name]), right=right))
    while len(entries) % 4:
        entries.append(_dir_entry("", 0, 0, 0))
    difat = list(range(fat_sectors)) + [FREESECT] * (109 - fat_sectors)
    header = (bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 16
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\x00" * 6
              + struct.pack("<IIIIIIIII", 0, fat_sectors, dir_start, 0, 4096, ENDOFCHAIN, 0, ENDOFCHAIN, 0)
              + struct.pack("<109I", *difat))
    body = struct.pack(f"<{len(fat)}I", *fat) + b"".join(entries)
    body = body.ljust(SECTOR * (fat_sectors + dir_sectors), b"\x00")
    return header + body + b"".join(d.ljust(-(-len(d) // SECTOR) * SECTOR, b"\x00") for d in streams.values())


# --- .xls (BIFF8) ----------------------------------------------------------------------------

class Formula:
    """A formula cell whose cached value is a number (the formula itself is just =2)."""

    def __init__(self, cached: float) -> None:
        self.cached = cached


def _record(kind: int, data: bytes) -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


def _xf(format_index: int) -> bytes:
    return _record(0x00E0, struct.pack("<HH", 0, format_index) + b"\x00" * 16)


def write_xls(path: Path, sheets: dict[str, list[list]], *,
              merges: dict[str, list[tuple[int, int, int, int]]] | None = None, encrypted: bool = False,
              dimensions: tuple[int, int] | None = None) -> Path:
    """An Excel 97-2003 workbook: text via the shared string table, numbers, dates (XF 1 has
    the built-in date format 14), booleans, formulas with a cached number, merged ranges.
    `dimensions` (rows, columns) replaces what each sheet's DIMENSIONS record declares."""
    strings: list[str] = []
    index: dict[str, int] = {}
    epoch = dt.date(1899, 12, 30)
    substreams = []
    for name, rows in sheets.items():
        cells = b""
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None or value == "":
                    continue
                if isinstance(value, bool):
                    cells += _record(0x0205, struct.pack("<HHHBB", r, c, 0, int(value), 0))
                elif isinstance(value, Formula):
                    rgce = bytes([0x1E]) + struct.pack("<H", 2)  # ptgInt 2
                    cells += _record(0x0006, struct.pack("<HHHdHIH", r, c, 0, value.cached, 0, 0, len(rgce)) + rgce)
                elif isinstance(value, (int, float)):
                    cells += _record(0x0203, struct.pack("<HHHd", r, c, 0, float(value)))
                elif isinstance(value, dt.date):
                    serial = (value - epoch).days if not isinstance(value, dt.datetime) else \
                        (value.date() - epoch).days + (value.hour * 3600 + value.minute * 60) / 86400
                    cells += _record(0x0203, struct.pack("<HHHd", r, c, 1, float(serial)))
                else:
                    text = str(value)
                    if text not in index:
                        index[text] = len(strings)
                        strings.append(text)
                    cells += _record(0x00FD, struct.pack("<HHHI", r, c, 0, index[text]))
        width = max((len(row) for row in rows), default=0)
        body = _record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0010, 0x0DBB, 0x07CC, 0, 6))
        declared = dimensions or (len(rows), width)
        body += _record(0x0200, struct.pack("<IIHHH", 0, declared[0], 0, declared[1], 0))
        body += cells
        sheet_merges = (merges or {}).get(name, [])
        if sheet_merges:
            body += _record(0x00E5, struct.pack("<H", len(sheet_merges))
                            + b"".join(struct.pack("<HHHH", r0, r1, c0, c1) for r0, c0, r1, c1 in sheet_merges))
        body += _record(0x000A, b"")
        substreams.append((name, body))

    def unicode_string(text: str) -> bytes:
        return struct.pack("<HB", len(text), 1) + text.encode("utf-16-le")

    sst_data = struct.pack("<II", len(strings), len(strings)) + b"".join(unicode_string(s) for s in strings)
    assert len(sst_data) <= 8224, "test workbook too large for a single SST record"

    def globals_stream(offsets: list[int]) -> bytes:
        g = _record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 6))
        if encrypted:
            g += _record(0x002F, struct.pack("<HHH", 1, 1, 1) + b"\x00" * 48)  # FilePass: RC4
        g += _record(0x0042, struct.pack("<H", 1200))  # CodePage: UTF-16
        g += _xf(0) + _xf(14)
        for (name, _), offset in zip(substreams, offsets):
            g += _record(0x0085, struct.pack("<IBBBB", offset, 0, 0, len(name), 1) + name.encode("utf-16-le"))
        g += _record(0x00FC, sst_data)
        g += _record(0x000A, b"")
        return g

    base = len(globals_stream([0] * len(substreams)))
    offsets, position = [], base
    for _, body in substreams:
        offsets.append(position)
        position += len(body)
    workbook = globals_stream(offsets) + b"".join(body for _, body in substreams)
    path.write_bytes(compound_file({"Workbook": workbook}))
    return path


def encrypted_xlsx(path: Path) -> Path:
    """What Excel writes for a password-protected .xlsx: a compound file, not a zip."""
    path.write_bytes(compound_file({"EncryptionInfo": b"\x04\x00\x04\x00" + b"\x00" * 200,
                                    "EncryptedPackage": b"\x00" * 5000}))
    return path


# --- station ledgers for the plan / apply / CLI tests ----------------------------------------

LEDGER_HEADER = ["序号", "使用单位名称", "统一社会信用代码", "联系电话", "器具名称", "规格型号", "出厂编号", "制造单位",
                 "检定日期", "有效期至", "检定结论", "证书编号"]


def credit_code(n: int, region: str = "330100") -> str:
    """A valid unified social credit code numbered n (GB 32100-2015 check character)."""
    from app.merchants.credit_code import check_character

    first17 = f"91{region}{n:09d}"
    return first17 + check_character(first17)


def ledger_rows(rows: list[dict], header: list[str] = LEDGER_HEADER) -> list[list]:
    """Dicts keyed by header label to sheet rows in header order; 序号 numbered 1, 2, 3 ..."""
    out = []
    for i, row in enumerate(rows, start=1):
        values = {"序号": i, **row} if "序号" in header else dict(row)
        unknown = set(values) - set(header)
        assert not unknown, f"not in the header: {unknown}"
        out.append([values.get(h, "") for h in header])
    return out


def ledger_xlsx(path: Path, rows: list[dict], *, header: list[str] = LEDGER_HEADER, title: str | None = "计量器具台账",
                sheet: str = "台账") -> Path:
    """A station ledger workbook: an optional title row, the header, one row per dict."""
    body = ([[title]] if title else []) + [list(header)] + ledger_rows(rows, header)
    return write_xlsx(path, {sheet: body})


# --- a fuel-station ledger with merged cells (issue 14 part 2) -----------------------------

FUEL_HEADER = ["序号", "使用单位名称", "统一社会信用代码", "单位地址", "器具名称", "规格型号", "出厂编号", "枪数",
               "检定日期", "有效期至", "检定结论"]
FUEL_STATIONS = (("城东加油站", 5, "城东路1号"), ("城西加油站", 5, "城西路2号"),
                 ("南湖加油站", 4, "南湖大道3号"), ("北关加油站", 4, "北关街4号"))
# The columns merged down over each station's dispensers: name, credit code, address, kind, verified on.
FUEL_MERGED_COLUMNS = (1, 2, 3, 4, 8)


def fuel_ledger_rows() -> tuple[list[list], list[tuple[int, int, int, int]]]:
    """The ledger's rows (title, header, 18 dispensers under 4 stations) as a person sees them once
    merged, and the merges (first row, first col, last row, last col; 0-based) that make it so."""
    rows: list[list] = [["加油机台账"], list(FUEL_HEADER)]
    merges: list[tuple[int, int, int, int]] = [(0, 0, 0, len(FUEL_HEADER) - 1)]
    number = 0
    for s, (name, count, address) in enumerate(FUEL_STATIONS, start=1):
        first = len(rows)
        verified = dt.date(2024, 3, s)
        for d in range(1, count + 1):
            number += 1
            top = d == 1
            rows.append([number, name if top else "", credit_code(700 + s) if top else "", address if top else "",
                         "燃油加油机" if top else "", "CS52", f"JYJ{s}0{d}", "四枪" if d % 2 else "双枪",
                         verified if top else "", dt.date(2024, 9, s), "合格"])
        merges += [(first, c, first + count - 1, c) for c in FUEL_MERGED_COLUMNS]
    return rows, merges


def fuel_ledger(path: Path) -> Path:
    """The fuel-station ledger as .xlsx, .xls or .ods, by the path's suffix."""
    rows, merges = fuel_ledger_rows()
    if path.suffix == ".xls":
        return write_xls(path, {"加油机": rows}, merges={"加油机": merges})
    if path.suffix == ".ods":
        return write_ods(path, {"加油机": rows}, merges={"加油机": merges})
    refs = [f"{_letters(c0)}{r0 + 1}:{_letters(c1)}{r1 + 1}" for r0, c0, r1, c1 in merges]
    return write_xlsx(path, {"加油机": rows}, merges={"加油机": refs})


def _letters(col: int) -> str:
    from importers.fill import column_letter

    return column_letter(col)
