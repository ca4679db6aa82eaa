"""Ledgers as stations keep them (issue 14 parts 2 and 5): merged cells and ditto marks, counts in
Chinese numerals, short dates in the file's own order, formulas saved without a result."""
from __future__ import annotations

import datetime as dt
import zipfile

import pytest

from importers import open_book, parse_sheet, stash
from importers.dates import AmbiguousDate, to_date
from importers.fill import DITTO, MergeFill, column_letter
from importers.limits import ReadLimits, check_ods
from importers.values import CellError, to_count
from tests.importers.builders import (
    FUEL_HEADER,
    FUEL_STATIONS,
    credit_code,
    fuel_ledger,
    fuel_ledger_rows,
    set_cached_value,
    write_ods,
    write_xls,
    write_xlsx,
)

# --- merged cells ------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["xlsx", "xls", "ods"])
def test_the_fuel_station_ledger_fills_its_merged_cells_down(tmp_path, kinds, suffix):
    parsed = parse_sheet(open_book(fuel_ledger(tmp_path / f"加油机.{suffix}")), kinds=kinds)
    assert len(parsed.rows) == 18 and not parsed.error_rows
    expected = []
    for s, (name, count, address) in enumerate(FUEL_STATIONS, start=1):
        expected += [(name, credit_code(700 + s), address, "fuel_dispenser", dt.date(2024, 3, s))] * count
    got = [(r.values["merchant_name"], r.values["credit_code"], r.values["address"], r.values["kind"],
            r.values["verified_on"]) for r in parsed.rows]
    assert got == expected
    # Counts as people write them: 四枪 and 双枪.
    assert [r.values["nozzle_count"] for r in parsed.rows[:4]] == [4, 2, 4, 2]
    # The cells kept for the errors workbook are the ones used.
    assert parsed.rows[1].cells[FUEL_HEADER.index("使用单位名称")] == "城东加油站"
    assert parsed.notes == ["合并单元格已按合并的值向下填充：使用单位名称 14 格、统一社会信用代码 14 格、单位地址 14 格、"
                            "器具名称 14 格、检定日期 14 格"]


def test_without_filling_the_merged_cells_the_rows_under_them_fail(tmp_path, kinds):
    """What the issue saw: the same ledger read cell by cell loses 14 of its 18 rows."""
    rows, _ = fuel_ledger_rows()
    parsed = parse_sheet(open_book(write_xlsx(tmp_path / "plain.xlsx", {"加油机": rows})), kinds=kinds)
    assert len(parsed.error_rows) == 14 and parsed.notes == []


def test_the_ods_reader_finds_merges_that_calamine_does_not_report(tmp_path):
    rows, merges = fuel_ledger_rows()
    path = fuel_ledger(tmp_path / "加油机.ods")
    with zipfile.ZipFile(path) as archive:
        tables = check_ods(archive, ReadLimits())
    vertical = sorted(m for m in merges if m[2] > m[0])
    assert sorted(tables["加油机"].spans) == vertical
    sheet = open_book(path).sheet("加油机")
    assert sheet.merged is None  # calamine says nothing for .ods: header finding keeps its heuristics
    assert sorted(sheet.spans) == vertical


def test_only_merges_under_the_header_that_span_rows_are_filled(tmp_path, kinds):
    header = ["使用单位名称", "器具名称", "出厂编号", "备注"]
    rows = [["台账"], header,
            ["甲站", "加油机", "A1", "注：横向合并的说明不向下填"],
            ["", "加油机", "A2", ""],
            ["乙站", "加油机", "B1", ""]]
    # A1:D1 the title (above the header), A3:A4 the station, D3:D3 only across (one row).
    path = write_xls(tmp_path / "m.xls", {"S": rows}, merges={"S": [(0, 0, 0, 3), (2, 0, 3, 0), (2, 3, 2, 3)]})
    parsed = parse_sheet(open_book(path), kinds=kinds)
    assert [r.values.get("merchant_name") for r in parsed.rows] == ["甲站", "甲站", "乙站"]
    assert "notes" not in parsed.rows[1].values
    assert MergeFill([(0, 0, 5, 0), (3, 1, 3, 4)], 1).starts == {}  # above the data, or one row only
    assert not MergeFill([], 2)  # a sheet without merges is read as it is


# --- ditto marks -----------------------------------------------------------------------------

DITTO_HEADER = ["使用单位名称", "统一社会信用代码", "器具名称", "出厂编号", "检定日期", "联系电话"]


def ditto_rows() -> list[list]:
    code = credit_code(801)
    return [DITTO_HEADER,
            ["城南加油站", code, "燃油加油机", "D-01", dt.date(2024, 4, 1), "0571-1"],
            ["同上", " 〃 ", "〃", "D-02", "同上", "同上"],
            ["同上行", "″", '"', "D-03", "“", "同前"],
            ["城北加油站", credit_code(802), "同上", "D-04", "”", ""]]


@pytest.mark.parametrize("suffix", ["xlsx", "ods"])
def test_ditto_marks_take_the_value_the_row_above_ended_with(tmp_path, kinds, suffix):
    write = write_xlsx if suffix == "xlsx" else write_ods
    parsed = parse_sheet(open_book(write(tmp_path / f"d.{suffix}", {"台账": ditto_rows()})), kinds=kinds)
    assert not parsed.error_rows
    got = [(r.values["merchant_name"], r.values["credit_code"], r.values["kind"], r.values["verified_on"])
           for r in parsed.rows]
    assert got == [("城南加油站", credit_code(801), "fuel_dispenser", dt.date(2024, 4, 1))] * 3 + [
        ("城北加油站", credit_code(802), "fuel_dispenser", dt.date(2024, 4, 1))]
    # Row 4's 同前 repeats what row 3 ended with (itself a 同上): the chain holds.
    assert [r.values.get("phone") for r in parsed.rows] == ["0571-1", "0571-1", "0571-1", None]
    # Each filled mark is said on its row, naming the cell and what was used; the cells show it too.
    messages = [w.message for w in parsed.rows[1].warnings]
    assert "A3（使用单位名称）写作“同上”，已按第2行填为“城南加油站”" in messages
    assert "B3（统一社会信用代码）写作“〃”，已按第2行填为“%s”" % credit_code(801) in messages
    assert "E3（检定日期）写作“同上”，已按第2行填为“2024-04-01”" in messages
    assert parsed.rows[1].cells[:3] == ["城南加油站", credit_code(801), "燃油加油机"]
    assert len(parsed.rows[3].warnings) == 2 and parsed.rows[0].warnings == ()


def test_a_ditto_mark_with_nothing_above_is_an_error_naming_the_cell(tmp_path, kinds):
    rows = [["使用单位名称", "器具名称", "出厂编号", "检定日期"],
            ["同上", "加油机", "E-01", ""],
            ["城西加油站", "加油机", "E-02", ""],
            ["城西加油站", "加油机", "E-03", "同上"]]
    parsed = parse_sheet(open_book(write_xlsx(tmp_path / "e.xlsx", {"台账": rows})), kinds=kinds)
    first, _, last = parsed.rows
    assert [e.message for e in first.errors] == ["A2（使用单位名称）写作“同上”，但上面没有可照填的数据行"]
    assert first.cells[0] == ""  # the mark is not taken for a name
    assert last.errors[0].message == "D4（检定日期）写作“同上”，但上一数据行（第3行）此列为空，无从照填"


def test_ditto_marks_are_a_set_lookup_of_the_usual_forms():
    for mark in ("同上", "同上行", "同前", "〃", "″", '"', " 〃 ", "　同上　", "“"):
        assert mark in DITTO
    for text in ("同上海路", "上", "城东加油站", "0", "〃〃〃〃〃"):
        assert text not in DITTO
    assert [column_letter(i) for i in (0, 25, 26, 701, 702)] == ["A", "Z", "AA", "ZZ", "AAA"]


# --- counts --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, number", [("单枪", 1), ("双枪", 2), ("四枪", 4), ("两把", 2), ("十二枪", 12),
                                          ("二", 2), ("十", 10), ("二十", 20), ("九十九", 99), ("6枪", 6)])
def test_counts_in_chinese_numerals(text, number):
    assert to_count(text) == number


@pytest.mark.parametrize("text", ["双双", "一百", "单十", "十十", "零", "四五"])
def test_what_is_not_a_count_in_chinese_numerals(text):
    with pytest.raises(CellError):
        to_count(text)


# --- short dates in the file's order -------------------------------------------------------------

DATE_HEADER = ["使用单位名称", "器具名称", "出厂编号", "检定日期", "有效期至"]


def dated(tmp_path, kinds, dates: list[tuple[str, str]]):
    rows = [DATE_HEADER] + [["城东加油站", "加油机", f"DT-{i}", a, b] for i, (a, b) in enumerate(dates, start=1)]
    return parse_sheet(open_book(write_xlsx(tmp_path / "dates.xlsx", {"台账": rows})), kinds=kinds)


def values(parsed, name="verified_on"):
    return [r.values.get(name) for r in parsed.rows]


def test_a_short_date_alone_is_left_to_the_file():
    with pytest.raises(AmbiguousDate) as caught:
        to_date("24/3/5")
    assert caught.value.parts == ("24", "3", "5")
    assert to_date("2024/3/5") == dt.date(2024, 3, 5)  # a four-digit year first says it all


def test_two_digit_years_first_are_read_as_chinese_ledgers_write_them(tmp_path, kinds):
    parsed = dated(tmp_path, kinds, [("24/3/5", "25/3/4"), ("24.11.20", "25.11.19")])
    assert not parsed.error_rows
    assert values(parsed) == [dt.date(2024, 3, 5), dt.date(2024, 11, 20)]
    assert values(parsed, "valid_until") == [dt.date(2025, 3, 4), dt.date(2025, 11, 19)]
    assert parsed.notes[0] == "检定日期按 年/月/日 读取（依据：两位数的年份写在前面，按中文习惯）"


def test_day_first_is_detected_from_a_day_above_12_and_applied_to_the_column(tmp_path, kinds):
    parsed = dated(tmp_path, kinds, [("5/3/2024", ""), ("25/3/2024", ""), ("05/03/24", "")])
    assert not parsed.error_rows
    assert values(parsed) == [dt.date(2024, 3, 5), dt.date(2024, 3, 25), dt.date(2024, 3, 5)]
    assert parsed.notes == ["检定日期按 日/月/年 读取（依据：第3行 25/3/2024）"]


def test_month_first_is_detected_the_same_way(tmp_path, kinds):
    parsed = dated(tmp_path, kinds, [("3/25/2024", ""), ("5/3/2024", "")])
    assert values(parsed) == [dt.date(2024, 3, 25), dt.date(2024, 5, 3)]
    assert parsed.notes == ["检定日期按 月/日/年 读取（依据：第2行 3/25/2024）"]


def test_a_column_without_evidence_takes_the_sheets(tmp_path, kinds):
    parsed = dated(tmp_path, kinds, [("25/3/2024", "4/3/2025"), ("5/3/2024", "5/3/2025")])
    assert values(parsed, "valid_until") == [dt.date(2025, 3, 4), dt.date(2025, 3, 5)]
    assert parsed.notes[1] == "有效期至按 日/月/年 读取（依据：检定日期 第2行 25/3/2024）"


def test_a_file_that_gives_no_way_to_decide_day_and_month_is_refused_row_by_row(tmp_path, kinds):
    parsed = dated(tmp_path, kinds, [("5/3/2024", ""), ("6/6/2024", "")])
    first, same = parsed.rows
    assert first.errors[0].message == ("检定日期“5/3/2024”无法判断是 日/月/年 还是 月/日/年（可读作 2024-03-05 或 "
                                       "2024-05-03），文件中没有可判断日、月顺序的日期（如 25/3/2024）；请改写为 2024-03-05 的形式")
    assert same.ok and same.values["verified_on"] == dt.date(2024, 6, 6)  # day and month the same: no question
    assert "无法判断" in parsed.notes[0] or "已标为错误" in parsed.notes[0]


def test_contradicting_short_dates_are_errors_not_guesses(tmp_path, kinds):
    parsed = dated(tmp_path, kinds, [("25/3/2024", ""), ("3/25/2024", ""), ("5/4/2024", "")])
    assert [bool(r.errors) for r in parsed.rows] == [False, False, True]
    assert "日、月两种顺序都有" in parsed.rows[2].errors[0].message


def test_a_short_date_read_late_is_still_checked_against_the_other_date(tmp_path, kinds):
    parsed = dated(tmp_path, kinds, [("24/3/5", "23/3/4"), ("24/2/30", "")])
    assert "早于" in parsed.rows[0].errors[0].message
    assert parsed.rows[1].errors[0].message == "检定日期“24/2/30”不是存在的日期"


# --- formula cells without a stored result ---------------------------------------------------------

def test_a_formula_saved_without_its_result_is_named_in_the_message(tmp_path, kinds):
    rows = [["使用单位名称", "统一社会信用代码", "器具名称", "出厂编号", "联系电话"],
            ["甲站", credit_code(1), "加油机", "F-1", "=A9"],
            ["=A2", "", "加油机", "F-2", ""],
            ["乙站", "", "加油机", '=CONCAT("F","3")', ""]]
    parsed = parse_sheet(open_book(write_xlsx(tmp_path / "f.xlsx", {"台账": rows})), kinds=kinds)
    phone, name, serial = parsed.rows
    assert phone.ok and phone.warnings[0].message.startswith(
        "E2（联系电话）是公式，文件中没有保存计算结果；请在Excel中打开并保存后再导入")
    assert [e.message for e in name.errors] == ["A3（使用单位名称）是公式，文件中没有保存计算结果；请在Excel中打开并保存后再导入"]
    assert [e.message for e in serial.errors] == ["D4（出厂编号）是公式，文件中没有保存计算结果；请在Excel中打开并保存后再导入"]


def test_an_ods_formula_without_a_value_is_named_too(tmp_path, kinds):
    row = ('<table:table-row><table:table-cell table:formula="of:=[.A9]"/>'
           '<table:table-cell office:value-type="string"><text:p>加油机</text:p></table:table-cell>'
           '<table:table-cell office:value-type="string"><text:p>G-1</text:p></table:table-cell></table:table-row>')
    path = write_ods(tmp_path / "f.ods", {"台账": [["使用单位名称", "器具名称", "出厂编号"], row]})
    parsed = parse_sheet(open_book(path), kinds=kinds)
    assert parsed.rows[0].errors[0].message.startswith("A2（使用单位名称）是公式，文件中没有保存计算结果")


def test_the_stash_keeps_the_notes(tmp_path, kinds):
    parsed = parse_sheet(open_book(fuel_ledger(tmp_path / "加油机.xlsx")), kinds=kinds)
    again = stash.loads(stash.dumps(parsed))
    assert again.notes == parsed.notes and again.notes


def test_a_formula_with_its_result_saved_is_read_as_its_result(tmp_path, kinds):
    rows = [["使用单位名称", "器具名称", "出厂编号"], ["甲站", "加油机", "=B1"]]
    path = write_xlsx(tmp_path / "cached.xlsx", {"台账": rows})
    set_cached_value(path, "B1", "H-1")
    book = open_book(path)
    assert book.sheet("台账").formulas == frozenset()
    parsed = parse_sheet(book, kinds=kinds)
    assert parsed.rows[0].ok and parsed.rows[0].values["serial_no"] == "H-1"
