"""Hostile spreadsheets, built here byte by byte, are refused with a Chinese message naming the problem,
and whatever gets past the size checks takes down only the limited child process that reads it.

Each case runs through `isolated()` for real (a forked child with RLIMIT_AS): without the checks, the
reader's native code would abort or exhaust that child, and the message would not be the one asserted.
"""
from __future__ import annotations

import os
from datetime import date as dt_date
import time

import pytest

from importers import ImportFileError
from importers.limits import MB, ReadLimits
from importers.reader import open_book
from importers.errors import UnmappedTableError
from importers.sandbox import ParseRequest, SandboxLimits, isolated, list_sheets, parse_file, sheet_grid
from tests.importers.builders import (
    catalogue_kinds,
    far_cell_xlsx,
    raw_xlsx,
    tiny_rows_xlsx,
    write_ods,
    write_xls,
    write_xlsx,
    zip_bomb_xlsx,
)

CHILD = SandboxLimits(memory_bytes=1024 * MB, seconds=60)


def refusal(path, job=parse_file) -> str:
    """The Chinese message the sandboxed job gives for the file."""
    args = (str(path), path.name) if job is list_sheets else (ParseRequest(str(path), path.name,
                                                                          kinds=tuple(catalogue_kinds())),)
    with pytest.raises(ImportFileError) as caught:
        isolated(job, *args, limits=CHILD)
    return caught.value.message


def test_an_xls_declaring_four_billion_rows_is_refused_when_opened(tmp_path):
    path = write_xls(tmp_path / "huge.xls", {"台账": [["使用单位名称", "器具名称", "出厂编号"]]},
                     dimensions=(0xFFFFFFF0, 3))
    assert path.stat().st_size < 8 * 1024
    # Uploading lists the sheets: calamine reads every sheet of an .xls as it opens it.
    assert refusal(path, list_sheets) == "工作表“台账”有4294967280行，超过单次导入上限200000行，请拆分后分批导入"


def test_an_xls_whose_used_range_spans_a1_to_iv65536_is_refused(tmp_path):
    path = write_xls(tmp_path / "far.xls", {"台账": [["a"]] + [[]] * 65534 + [[""] * 255 + ["z"]]})
    assert "数据区域为65536行×256列，超过单次导入上限8000000个单元格" in refusal(path, list_sheets)


def test_an_xlsx_with_cells_at_a1_and_xfd1048576_is_refused_before_loading(tmp_path):
    path = far_cell_xlsx(tmp_path / "far.xlsx")
    assert path.stat().st_size < 2048
    assert refusal(path) == "工作表“台账”超过单次导入上限200000行，请拆分后分批导入"


def test_a_declared_dimension_is_checked_before_the_cells(tmp_path):
    path = far_cell_xlsx(tmp_path / "wide.xlsx", "B2", dimension="A1:XFD2")
    assert "声明的数据区域有16384列，超过上限1000列" in refusal(path)


def test_a_cell_far_to_the_right_is_found_while_the_rows_stream(tmp_path):
    path = far_cell_xlsx(tmp_path / "wide.xlsx", "XFD2")
    message = refusal(path)
    assert "数据区域有16384列，超过上限1000列" in message and "声明" not in message


def _ods_repeated(rows: int, columns: int, *, empty: bool = False) -> str:
    """One row of `columns` cells repeated `rows` times (empty cells, or each holding "x")."""
    cell = (f'<table:table-cell table:number-columns-repeated="{columns}"/>' if empty else
            f'<table:table-cell table:number-columns-repeated="{columns}" office:value-type="string">'
            "<text:p>x</text:p></table:table-cell>")
    return f'<table:table-row table:number-rows-repeated="{rows}">{cell}</table:table-row>'


def test_an_ods_repeating_a_row_a_million_times_is_refused_before_it_is_opened(tmp_path):
    # 1 KB that calamine would expand to a billion cells the moment it opens the file.
    path = write_ods(tmp_path / "repeat.ods", {"台账": [["使用单位名称"], _ods_repeated(1_000_000, 1_000)]})
    assert path.stat().st_size < 2048
    assert refusal(path, list_sheets) == "工作表“台账”有1000001行，超过单次导入上限200000行，请拆分后分批导入"


def test_an_ods_repeating_a_cell_far_to_the_right_is_refused(tmp_path):
    path = write_ods(tmp_path / "wide.ods", {"台账": [["使用单位名称"], _ods_repeated(150_000, 600)]})
    assert "数据区域为150001行×600列，超过单次导入上限8000000个单元格" in refusal(path, list_sheets)


def test_the_empty_rows_libreoffice_writes_to_the_end_of_a_sheet_do_not_count(tmp_path):
    # LibreOffice ends every table with an empty row repeated to row 1048576: calamine drops it.
    path = write_ods(tmp_path / "saved.ods", {"台账": [["使用单位名称", "出厂编号"], ["华联超市", "FM1"],
                                                      _ods_repeated(1_048_574, 1_024, empty=True)]})
    assert isolated(list_sheets, str(path), path.name, limits=CHILD) == ["台账"]


def test_an_ods_with_broken_table_xml_is_reported_damaged(tmp_path):
    path = write_ods(tmp_path / "broken.ods", {"台账": [["a"], '<table:table-row table:number-rows-repeated="many">'
                                                            "</table:table-row>"]})
    assert refusal(path, list_sheets).startswith("文件已损坏（表格内容无法读取）")


def test_a_zip_bomb_of_tiny_rows_is_too_large_when_unpacked(tmp_path):
    path = zip_bomb_xlsx(tmp_path / "bomb.xlsx", 24)
    assert path.stat().st_size < 200 * 1024
    assert refusal(path).startswith("文件解开后过大（约 24 MB）")


def test_members_declaring_more_than_the_unpacked_limit_are_refused(tmp_path):
    path = write_xlsx(tmp_path / "ok.xlsx", {"S": [["a"]]})
    with pytest.raises(ImportFileError, match="文件解开后过大"):
        open_book(path, limits=ReadLimits(max_unpacked=2048))


def test_the_row_limit_is_enforced_while_the_sheet_xml_streams(tmp_path):
    path = tiny_rows_xlsx(tmp_path / "long.xlsx", 1_500)
    limits = ReadLimits(max_rows=1_000)
    with open_book(path, limits=limits) as book:
        # Refused when the sheet is asked for: calamine has not loaded a cell of it.
        with pytest.raises(ImportFileError, match="超过单次导入上限1000行"):
            book.sheet("台账")
    with open_book(path, limits=ReadLimits(max_rows=2_000)) as book:
        assert book.sheet("台账").height == 1_500


def test_what_the_checks_miss_takes_down_only_the_child(tmp_path):
    # The cell's r attribute is not written first, so the scan does not see it; calamine then asks
    # for a 1048576 x 16384 range and the child, not this process, runs out of address space.
    rows = b'<row><c r="A1" t="inlineStr"><is><t>a</t></is></c></row><row><c s="0" r="XFD1048576"><v>1</v></c></row>'
    path = raw_xlsx(tmp_path / "hidden.xlsx", rows)
    message = refusal(path)
    assert message.startswith("文件已损坏或解开后过大（读取所需内存超过 1024 MB 的上限）")


# --- the sandbox itself, with jobs that misbehave on purpose ----------------------------------

def _abort(progress=None):
    os.abort()


def _hang(progress=None):
    time.sleep(60)


def _report_and_answer(progress=None):
    progress((1, 2))
    return "答复"


def test_a_child_that_aborts_or_hangs_is_reported_in_chinese():
    with pytest.raises(ImportFileError, match="文件已损坏或解开后过大"):
        isolated(_abort, limits=CHILD)
    with pytest.raises(ImportFileError, match="分析文件超过了 0.5 秒的时限"):
        isolated(_hang, limits=SandboxLimits(seconds=0.5))
    seen = []
    assert isolated(_report_and_answer, limits=CHILD, progress=seen.append) == "答复"
    assert seen == [(1, 2)]


def test_the_first_rows_for_the_mapping_page_are_read_in_the_child(tmp_path):
    rows = [["户表台账"], ["户号", "表身号", "首次检定日期"], ["0100231", "SB-1", dt_date(2024, 3, 15)]]
    rows += [[f"01{n:05d}", f"SB-{n}", ""] for n in range(2, 40)]
    path = write_xlsx(tmp_path / "户表.xlsx", {"说明": [["填表说明"]], "户表": rows})
    grid = isolated(sheet_grid, str(path), path.name, "户表", limits=CHILD)
    assert grid["sheet"] == "户表" and len(grid["rows"]) == 25
    assert grid["rows"][:3] == [["户表台账", "", ""], ["户号", "表身号", "首次检定日期"],
                                ["0100231", "SB-1", "2024-03-15"]]
    # Without a sheet (or one that is not there): the first visible sheet.
    assert isolated(sheet_grid, str(path), path.name, None, limits=CHILD) == {"sheet": "说明", "rows": [["填表说明"]]}


def test_a_table_the_import_cannot_map_crosses_the_pipe_with_its_header(tmp_path):
    path = write_xlsx(tmp_path / "缺列.xlsx", {"S": [["使用单位名称", "器具名称", "检定日期"], ["甲店", "电子计价秤", ""]]})
    with pytest.raises(UnmappedTableError) as caught:
        isolated(parse_file, ParseRequest(str(path), path.name, kinds=tuple(catalogue_kinds())), limits=CHILD)
    assert caught.value.missing == ("serial_no",) and caught.value.sheet == "S"
    assert caught.value.headers == ("使用单位名称", "器具名称", "检定日期")
    assert caught.value.fields == {"merchant_name": 0, "kind": 1, "verified_on": 2}


def _emit_parts(progress=None, emit=None):
    emit("第一部分")
    emit("第二部分")
    return "答复"


def _emit_then_abort(progress=None, emit=None):
    emit("第一部分")
    os.abort()


def test_a_job_hands_over_parts_while_it_runs_and_a_child_dying_after_one_is_still_reported():
    seen = []
    assert isolated(_emit_parts, limits=CHILD, parts=seen.append) == "答复"
    assert seen == ["第一部分", "第二部分"]
    seen.clear()
    with pytest.raises(ImportFileError, match="文件已损坏或解开后过大"):
        isolated(_emit_then_abort, limits=CHILD, parts=seen.append)
    assert seen == ["第一部分"]
    # The caller failing on a part ends the child; the caller's error is what comes out.
    with pytest.raises(ZeroDivisionError):
        isolated(_emit_parts, limits=CHILD, parts=lambda part: 1 / 0)
