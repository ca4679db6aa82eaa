"""Open an uploaded ledger (.xlsx .xlsm .xls .ods .csv) and hand out its sheets row by row.

Spreadsheets are read by python-calamine: it is fast, reads formula cells as their stored
values without evaluating anything, and keeps text that starts with '=' as text. It loads a whole
sheet at once, sized by the sheet's extent, so what a file says about its size is checked first
(importers/limits.py); the web app opens files only in a limited child process (importers/sandbox.py).
"""
from __future__ import annotations

import io
import os
import struct
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Self

import olefile
import python_calamine as calamine

from importers import limits as sizes
from importers.csvfile import csv_rows, decode
from importers.errors import ImportFileError
from importers.limits import ReadLimits

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
ZIP_MAGIC = b"PK\x03\x04"
CFB_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")  # OLE compound file: .xls, or an encrypted .xlsx


def _utf16(name: str) -> bytes:
    return name.encode("utf-16-le")


Source = str | os.PathLike | bytes | BinaryIO
Merge = tuple[int, int, int, int]  # first row, first col, last row, last col; 0-based, inclusive


@dataclass
class Sheet:
    """One worksheet: its name, size and merged ranges, and its rows from Excel row 1."""

    name: str
    height: int
    # None when the format does not say (.ods, .csv): header finding then falls back to heuristics.
    merged: list[Merge] | None
    _rows: Callable[[], Iterator[list]] = field(repr=False)
    # Cells merged down over rows, for filling them down: `merged`, or what content.xml says (.ods).
    spans: list[Merge] = field(default_factory=list)
    # (row, column), 0-based: formula cells saved without their computed value (read as empty).
    formulas: frozenset[tuple[int, int]] = frozenset()

    def rows(self) -> Iterator[list]:
        """Each row's cell values ('' for empty), the first one being Excel row 1."""
        return self._rows()


class Book:
    """An opened ledger file; `sheet(name)` gives a worksheet (cached until `close`)."""

    def __init__(self, filename: str, format: str, workbook: calamine.CalamineWorkbook | None = None,
                 csv_text: str | None = None, data: bytes = b"", limits: ReadLimits = ReadLimits(),
                 ods: dict[str, sizes.OdsTable] | None = None) -> None:
        self.filename = filename
        self.format = format
        self.limits = limits
        self._workbook = workbook
        self._csv_text = csv_text
        self._data = data  # the file, for the size checks made before calamine loads a sheet
        self._sheets: dict[str, Sheet] = {}
        self._ods = ods or {}
        if workbook is not None:
            worksheets = [m for m in workbook.sheets_metadata if m.typ == calamine.SheetTypeEnum.WorkSheet]
            self.sheet_names = [m.name for m in worksheets]
            self.hidden = frozenset(m.name for m in worksheets if m.visible != calamine.SheetVisibleEnum.Visible)
        else:
            self.sheet_names = [Path(filename).stem or "CSV"]
            self.hidden = frozenset()

    @property
    def visible_sheet_names(self) -> list[str]:
        """Worksheets a person sees in Excel (hidden ones often hold drop-down lists)."""
        return [n for n in self.sheet_names if n not in self.hidden]

    def sheet(self, name: str) -> Sheet:
        """The worksheet called `name`; ImportFileError when there is none or it is damaged."""
        if name not in self.sheet_names:
            raise ImportFileError(f"文件中没有名为“{name}”的工作表", sheet=name)
        if name not in self._sheets:
            self._sheets[name] = self._load(name)
        return self._sheets[name]

    def close(self) -> None:
        """Free the workbook and any loaded sheets."""
        self._sheets.clear()
        if self._workbook is not None:
            self._workbook.close()
            self._workbook = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _load(self, name: str) -> Sheet:
        if self._csv_text is not None:
            text = self._csv_text
            return Sheet(name, text.count("\n") + 1, None, lambda: csv_rows(text))
        assert self._workbook is not None, "book is closed"
        formulas = self._check_size(name)
        try:
            sheet = self._workbook.get_sheet_by_name(name)
            merged = sheet.merged_cell_ranges
        except calamine.CalamineError as error:
            raise ImportFileError(f"工作表“{name}”已损坏，无法读取", sheet=name) from error
        merges = None if merged is None else [(a[0], a[1], b[0], b[1]) for a, b in merged]
        height = 0 if sheet.end is None else sheet.end[0] + 1
        ods = self._ods.get(name)
        if ods is not None:
            spans, formulas = ods.spans, frozenset(ods.formulas)
        else:
            spans = [m for m in merges or () if m[2] > m[0]]
        return Sheet(name, height, merges, lambda: _calamine_rows(sheet), spans, formulas)

    def _check_size(self, name: str) -> frozenset[tuple[int, int]]:
        """Refuse a sheet too large to load, from what the file says, before calamine allocates it (.xlsx);
        the formula cells without a stored value, read on the way."""
        if self.format in ("xlsx", "xlsm"):
            with zipfile.ZipFile(io.BytesIO(self._data)) as archive:
                member = sizes.xlsx_sheet_members(archive).get(name)
                if member is not None:
                    return sizes.check_xlsx_sheet(archive, member, name, self.limits)
        return frozenset()


def _xls_dimensions(data: bytes) -> dict[str, tuple[int, int]]:
    try:
        with olefile.OleFileIO(data) as ole:
            stream = "Workbook" if ole.exists("Workbook") else "Book"
            return sizes.xls_dimensions(ole.openstream(stream).read())
    except (OSError, ValueError, struct.error):  # olefile's errors are OSErrors; calamine then says "damaged"
        return {}


def _calamine_rows(sheet: calamine.CalamineSheet) -> Iterator[list]:
    """Rows from Excel row 1 and column A, whatever empty area calamine trims."""
    if sheet.start is None:
        return
    (top, left), (_, right) = sheet.start, sheet.end
    rows = iter(sheet.iter_rows())
    first = next(rows, None)
    if first is None:
        return
    # python-calamine 0.9 yields rows from row 1 but columns from the first used column;
    # check rather than trust, so a change in either direction keeps the row numbers right.
    if top and any(v != "" for v in first):
        for _ in range(top):
            yield [""] * (right + 1)
    pad = left if left and len(first) == right - left + 1 else 0
    if pad:
        blank = [""] * pad
        yield blank + first
        for row in rows:
            yield blank + row
    else:
        yield first
        yield from rows


def open_book(source: Source, *, filename: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
              limits: ReadLimits = ReadLimits()) -> Book:
    """Open a ledger from a path, bytes or a binary file object; ImportFileError if unusable or too large."""
    data, name = _read(source, filename, max_bytes)
    if not data:
        raise ImportFileError("文件是空的")
    if data.startswith(ZIP_MAGIC):
        return _open_workbook(data, name, _zip_format(data, limits), limits)
    if data.startswith(CFB_MAGIC):
        return _open_workbook(data, name, _cfb_format(data), limits)
    return _open_text(data, name)


def _read(source: Source, filename: str | None, max_bytes: int) -> tuple[bytes, str]:
    limit_mb = max_bytes / 1024 / 1024
    too_big = f"文件超过大小上限（{limit_mb:g} MB），请拆分后分批导入"
    if isinstance(source, (bytes, bytearray)):
        if len(source) > max_bytes:
            raise ImportFileError(too_big)
        return bytes(source), filename or ""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            if path.stat().st_size > max_bytes:
                raise ImportFileError(too_big)
            return path.read_bytes(), filename or path.name
        except OSError as error:
            raise ImportFileError(f"无法读取文件“{path.name}”") from error
    # A file object (e.g. an upload stream): read one byte past the limit to detect overflow.
    data = source.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImportFileError(too_big)
    return data, filename or Path(getattr(source, "name", "") or "").name


def _zip_format(data: bytes, limits: ReadLimits) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            sizes.check_unpacked(archive, limits)
            names = set(archive.namelist())
            if "mimetype" in names and b"spreadsheet" in archive.read("mimetype"):
                manifest = archive.read("META-INF/manifest.xml") if "META-INF/manifest.xml" in names else b""
                if b"encryption-data" in manifest:
                    raise ImportFileError(_ENCRYPTED)
                return "ods"
            if "xl/workbook.xml" in names:
                return "xlsm" if "xl/vbaProject.bin" in names else "xlsx"
            if "xl/workbook.bin" in names:
                return "xlsb"
    except zipfile.BadZipFile as error:
        raise ImportFileError("文件已损坏（压缩结构不完整），请在Excel中打开并重新保存后再导入") from error
    raise ImportFileError(_NOT_A_SPREADSHEET)


def _cfb_format(data: bytes) -> str:
    if _utf16("EncryptedPackage") in data or _utf16("EncryptionInfo") in data:
        raise ImportFileError(_ENCRYPTED)
    if _utf16("Workbook") in data or _utf16("Book") in data:
        return "xls"
    raise ImportFileError(_NOT_A_SPREADSHEET)


def _xls_encrypted(data: bytes) -> bool:
    """True when a BIFF8 workbook-globals BOF is directly followed by a FilePass record."""
    bof = b"\x09\x08\x10\x00\x00\x06\x05\x00"  # BOF, 16 bytes, BIFF8, workbook globals
    at = data.find(bof)
    while at != -1:
        following = at + 4 + 16
        if data[following:following + 2] == b"\x2f\x00":
            return True
        at = data.find(bof, at + 1)
    return False


def _open_workbook(data: bytes, name: str, format: str, limits: ReadLimits) -> Book:
    ods = None
    if format == "xls":
        # calamine reads every sheet of an .xls when it opens it, sized as DIMENSIONS declares.
        for sheet, extent in _xls_dimensions(data).items():
            sizes.check_extent(sheet, *extent, limits, declared=True)
    elif format == "ods":
        # calamine reads every table of an .ods when it opens it, repeated rows and cells expanded.
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            ods = sizes.check_ods(archive, limits)
    try:
        workbook = calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except calamine.PasswordError as error:
        raise ImportFileError(_ENCRYPTED) from error
    except calamine.CalamineError as error:
        # Reading from memory, calamine reports a password-protected .xls only as "cannot
        # detect file format", so look for the FilePass record ourselves.
        if format == "xls" and _xls_encrypted(data):
            raise ImportFileError(_ENCRYPTED) from error
        raise ImportFileError("文件已损坏或不是有效的电子表格，请在Excel中打开并重新保存后再导入") from error
    return Book(name, format, workbook=workbook, data=data, limits=limits, ods=ods)


def _open_text(data: bytes, name: str) -> Book:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<", b"\xff\xfe<")):
        raise ImportFileError("这是网页（HTML/XML）格式的“假xls”文件，请在Excel中打开后另存为.xlsx再导入")
    if Path(name).suffix.lower() not in (".csv", ".txt"):
        raise ImportFileError(_NOT_A_SPREADSHEET)
    return Book(name, "csv", csv_text=decode(data))


_ENCRYPTED = "文件已加密（设置了打开密码），请在Excel中取消密码后再导入"
_NOT_A_SPREADSHEET = "不是可导入的电子表格；支持的格式：.xlsx、.xlsm、.xls、.ods 与 .csv"
