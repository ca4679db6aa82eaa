"""Opening files: every supported format, row positions, and every kind of unusable file."""
from __future__ import annotations

import codecs
import datetime as dt
import io
import zipfile

import pytest

from importers.errors import ImportFileError
from importers.reader import open_book
from tests.importers.builders import (
    Formula,
    Span,
    add_zip_member,
    compound_file,
    encrypted_xlsx,
    set_cached_value,
    write_ods,
    write_xls,
    write_xlsx,
)


def rows_of(book, name=None):
    return list(book.sheet(name or book.sheet_names[0]).rows())


def test_xlsx_sheets_values_and_merges(tmp_path):
    path = write_xlsx(tmp_path / "a.xlsx", {
        "说明": [["填表说明"]],
        "台账": [["标题"], ["出厂编号", "检定日期", "数"], [2025122294, dt.date(2023, 5, 6), 0.5]],
        "下拉": [["计价秤"]],
    }, merges={"台账": ["A1:C1"]}, hidden=("下拉",))
    with open_book(path) as book:
        assert book.format == "xlsx"
        assert book.filename == "a.xlsx"
        assert book.sheet_names == ["说明", "台账", "下拉"]
        assert book.visible_sheet_names == ["说明", "台账"]
        sheet = book.sheet("台账")
        assert sheet.merged == [(0, 0, 0, 2)]
        assert sheet.height == 3
        assert rows_of(book, "台账") == [["标题", "", ""], ["出厂编号", "检定日期", "数"],
                                         [2025122294.0, dt.date(2023, 5, 6), 0.5]]


def test_rows_start_at_excel_row_1_and_column_a(tmp_path):
    """Calamine trims the empty area; the reader puts it back so positions match Excel."""
    path = write_xlsx(tmp_path / "a.xlsx", {"S": [[], [], ["", "", "x"], [], ["", "", "", "y"]]})
    rows = rows_of(open_book(path))
    assert len(rows) == 5
    assert rows[2][2] == "x" and rows[4][3] == "y"
    assert all(v == "" for v in rows[0])


def test_formula_cells_are_their_stored_value_and_formula_like_text_stays_text(tmp_path):
    path = write_xlsx(tmp_path / "f.xlsx", {"S": [["=1+1", "=abc", "=2*3"]]}, text_cells={"S": ["B1"]})
    set_cached_value(path, "1+1", "2")
    # =2*3 has no stored value (never calculated): it reads as nothing, it is never evaluated.
    assert rows_of(open_book(path)) == [[2.0, "=abc"]]


def test_xlsm(tmp_path):
    path = write_xlsx(tmp_path / "m.xlsm", {"S": [["a"]]})
    add_zip_member(path, "xl/vbaProject.bin", b"\x00" * 64)
    book = open_book(path)
    assert book.format == "xlsm"
    assert rows_of(book) == [["a"]]


def test_xls(tmp_path):
    path = write_xls(tmp_path / "old.xls", {
        "说明": [["填表说明"]],
        "台账": [["标题"], [], ["出厂编号", "检定日期", "合格", "数"],
                 [2025122294, dt.date(2023, 5, 6), True, Formula(2.0)], ["中文", "2023.5.6", False, 0.5]],
    }, merges={"台账": [(0, 0, 0, 3)]})
    book = open_book(path)
    assert book.format == "xls"
    assert book.sheet_names == ["说明", "台账"]
    assert book.sheet("台账").merged == [(0, 0, 0, 3)]
    assert rows_of(book, "台账") == [
        ["标题", "", "", ""], ["", "", "", ""], ["出厂编号", "检定日期", "合格", "数"],
        [2025122294.0, dt.date(2023, 5, 6), True, 2.0], ["中文", "2023.5.6", False, 0.5]]


def test_ods(tmp_path):
    path = write_ods(tmp_path / "a.ods", {
        "说明": [["填表说明"]],
        "台账": [[Span("标题", 3)], [], ["出厂编号", "检定日期", "数"],
                 [2025122294, dt.date(2023, 5, 6), 0.5], ["中文", dt.datetime(2023, 5, 6, 10, 0), True]],
    })
    book = open_book(path)
    assert book.format == "ods"
    assert book.sheet("台账").merged is None  # the format's merges are not reported
    assert rows_of(book, "台账") == [
        ["标题", "", ""], ["", "", ""], ["出厂编号", "检定日期", "数"],
        [2025122294.0, dt.date(2023, 5, 6), 0.5], ["中文", dt.datetime(2023, 5, 6, 10, 0), True]]


CSV_TEXT = "标题,,\n出厂编号,单位名称,检定日期\n2025122294,\"连云区, 金源粮油店\",2023.5.6\n"
CSV_ROWS = [["标题", "", ""], ["出厂编号", "单位名称", "检定日期"], ["2025122294", "连云区, 金源粮油店", "2023.5.6"]]


@pytest.mark.parametrize("encoded", [
    CSV_TEXT.encode("utf-8"),
    codecs.BOM_UTF8 + CSV_TEXT.encode("utf-8"),
    CSV_TEXT.encode("gbk"),
    CSV_TEXT.encode("gb18030"),
    CSV_TEXT.replace("\n", "\r\n").encode("gbk"),
    CSV_TEXT.encode("utf-16"),
], ids=["utf8", "utf8-bom", "gbk", "gb18030", "gbk-crlf", "utf16"])
def test_csv_encodings(tmp_path, encoded):
    path = tmp_path / "台账.csv"
    path.write_bytes(encoded)
    book = open_book(path)
    assert book.format == "csv"
    assert book.sheet_names == ["台账"]
    assert rows_of(book) == CSV_ROWS


def test_gb18030_only_characters(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("单位名称,出厂编号\n㐀㐁商行,1\n".encode("gb18030"))  # CJK extension A: not in GBK
    assert rows_of(open_book(path))[1] == ["㐀㐁商行", "1"]


@pytest.mark.parametrize("delimiter", ["\t", ";"])
def test_csv_delimiters(tmp_path, delimiter):
    path = tmp_path / "a.csv"
    path.write_text(f"标题\n出厂编号{delimiter}单位名称{delimiter}检定日期\n1{delimiter}a{delimiter}b\n", encoding="utf-8")
    assert rows_of(open_book(path))[1:] == [["出厂编号", "单位名称", "检定日期"], ["1", "a", "b"]]


def test_csv_multiline_cell_keeps_one_row(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('a,b\n"line1\nline2",c\nd,e\n', encoding="utf-8")
    assert rows_of(open_book(path)) == [["a", "b"], ["line1\nline2", "c"], ["d", "e"]]


def test_open_from_bytes_and_file_objects(tmp_path):
    path = write_xlsx(tmp_path / "a.xlsx", {"S": [["a"]]})
    data = path.read_bytes()
    assert rows_of(open_book(data, filename="up.xlsx")) == [["a"]]
    book = open_book(io.BytesIO(data), filename="up.xlsx")
    assert book.filename == "up.xlsx" and rows_of(book) == [["a"]]
    with open(path, "rb") as f:
        assert open_book(f).filename == "a.xlsx"


def test_format_is_taken_from_the_content_not_the_name(tmp_path):
    xlsx = write_xlsx(tmp_path / "a.xlsx", {"S": [["a"]]})
    renamed = tmp_path / "really-xlsx.xls"
    renamed.write_bytes(xlsx.read_bytes())
    assert open_book(renamed).format == "xlsx"
    ods = write_ods(tmp_path / "b.ods", {"S": [["a"]]})
    renamed = tmp_path / "really-ods.xlsx"
    renamed.write_bytes(ods.read_bytes())
    assert rows_of(open_book(renamed)) == [["a"]]


def test_missing_sheet(tmp_path):
    book = open_book(write_xlsx(tmp_path / "a.xlsx", {"S": [["a"]]}))
    with pytest.raises(ImportFileError, match="没有名为“T”的工作表"):
        book.sheet("T")


def test_size_limit(tmp_path):
    path = write_xlsx(tmp_path / "a.xlsx", {"S": [["a" * 100] for _ in range(50)]})
    size = path.stat().st_size
    with pytest.raises(ImportFileError, match="超过大小上限"):
        open_book(path, max_bytes=size - 1)
    with pytest.raises(ImportFileError, match="超过大小上限"):
        open_book(path.read_bytes(), filename="a.xlsx", max_bytes=size - 1)
    with pytest.raises(ImportFileError, match="超过大小上限"):
        open_book(io.BytesIO(path.read_bytes()), filename="a.xlsx", max_bytes=size - 1)
    assert open_book(path, max_bytes=size).format == "xlsx"


def test_default_size_limit_is_50_mb():
    from importers.reader import DEFAULT_MAX_BYTES
    assert DEFAULT_MAX_BYTES == 50 * 1024 * 1024


def _docx(path):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return path


def _truncated(path):
    xlsx = write_xlsx(path.with_suffix(".full.xlsx"), {"S": [["a"] * 10 for _ in range(200)]})
    data = xlsx.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _broken_xml(path):
    xlsx = write_xlsx(path.with_suffix(".full.xlsx"), {"S": [["a"]]})
    out = io.BytesIO()
    with zipfile.ZipFile(xlsx) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == "xl/workbook.xml":
                content = content[:40]
            dst.writestr(item, content)
    path.write_bytes(out.getvalue())
    return path


@pytest.mark.parametrize("name, make, message", [
    ("empty.xlsx", lambda p: p.write_bytes(b""), "文件是空的"),
    ("junk.xlsx", lambda p: p.write_bytes(b"this is not a spreadsheet at all"), "不是可导入的电子表格"),
    ("scan.pdf", lambda p: p.write_bytes(b"%PDF-1.4 ..."), "不是可导入的电子表格"),
    ("notes.txt.xls", lambda p: p.write_bytes("出厂编号,单位\n".encode()), "不是可导入的电子表格"),
    ("report.docx", _docx, "不是可导入的电子表格"),
    ("export.xls", lambda p: p.write_bytes(b"<html><table><tr><td>a</td></tr></table></html>"), "网页"),
    ("export2.xls", lambda p: p.write_bytes(b'\xef\xbb\xbf<?xml version="1.0"?><Workbook/>'), "网页"),
    ("half.xlsx", _truncated, "已损坏"),
    ("broken.xlsx", _broken_xml, "已损坏"),
    ("secret.xlsx", encrypted_xlsx, "已加密"),
    ("secret.xls", lambda p: write_xls(p, {"S": [["a"]]}, encrypted=True), "已加密"),
    ("word.doc", lambda p: p.write_bytes(compound_file({"WordDocument": b"\x00" * 100})), "不是可导入的电子表格"),
])
def test_unusable_files_raise_one_error_class_in_chinese(tmp_path, name, make, message):
    path = tmp_path / name
    make(path)
    with pytest.raises(ImportFileError) as caught:
        book = open_book(path)
        for sheet in book.sheet_names:  # a workbook damaged inside may fail only on reading a sheet
            list(book.sheet(sheet).rows())
    assert message in caught.value.message


def test_encrypted_ods(tmp_path):
    path = tmp_path / "secret.ods"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml", "<manifest:encryption-data/>")
        z.writestr("content.xml", b"\x00\x01")
    with pytest.raises(ImportFileError, match="已加密"):
        open_book(path)


def test_import_file_error_is_a_domain_error():
    from app.errors import DomainError
    error = ImportFileError("文件是空的", sheet="S")
    assert isinstance(error, DomainError)
    assert error.message == "文件是空的" and error.sheet == "S" and error.status_code == 400
