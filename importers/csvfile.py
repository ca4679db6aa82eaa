"""CSV ledgers: encoding (UTF-8 with or without BOM, UTF-16, GB18030/GBK) and delimiter."""
from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator

from importers.errors import ImportFileError

DELIMITERS = (",", "\t", ";")


def decode(data: bytes) -> str:
    """The text of a CSV file; UTF-8 first, then GB18030 (a superset of GBK and GB2312)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text" export.
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ImportFileError("无法识别CSV文件的编码（支持 UTF-8 与 GBK/GB18030），请在Excel中另存为.xlsx后再导入") from None


def sniff_delimiter(text: str) -> str:
    """The delimiter used most on any of the first lines (title rows have few, headers many)."""
    lines = text[:65536].splitlines()[:30]
    best, best_count = ",", 0
    for delimiter in DELIMITERS:
        count = max((line.count(delimiter) for line in lines), default=0)
        if count > best_count:
            best, best_count = delimiter, count
    return best


def csv_rows(text: str) -> Iterator[list[str]]:
    """Rows of a decoded CSV file as lists of strings."""
    if "\x00" in text[:4096]:
        raise ImportFileError("文件含有二进制内容，不是CSV文本文件")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    try:
        yield from reader
    except csv.Error as error:
        raise ImportFileError(f"CSV文件格式有误（第{reader.line_num}行）：{error}") from None
