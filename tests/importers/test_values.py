"""Cell values: text, identifiers typed as numbers, credit codes, results, statuses, counts."""
from __future__ import annotations

import datetime as dt

import pytest

from importers.values import (
    CellError,
    display,
    number_text,
    to_code,
    to_count,
    to_credit_code,
    to_result,
    to_status,
    to_text,
)


def valid_code() -> str:
    from app.merchants.credit_code import check_character
    first17 = "91320100MA1MABCD1"
    return first17 + check_character(first17)


@pytest.mark.parametrize("value, text", [
    ("  连云区 金源粮油店  ", "连云区 金源粮油店"),
    ("连云区\u3000金源\t\t粮油店", "连云区\u3000金源\t\t粮油店"),
    ("ＡＣＳ－１５", "ＡＣＳ－１５"),
    ("欧姆龙（大连）有限公司", "欧姆龙（大连）有限公司"),
    ("欧姆龙(大连)有限公司", "欧姆龙(大连)有限公司"),
    ("铅封破损，\n铅封编号无法辨认；", "铅封破损，\n铅封编号无法辨认；"),
    ("\u3000 行首行尾的空白 \n", "行首行尾的空白"),
    ("SN2018402777", "SN2018402777"),
    ("  SN 2018  ", "SN 2018"),
    ("=SUM(A1)", "=SUM(A1)"),
    (15.0, "15"),
    (0.5, "0.5"),
    (3, "3"),
    (True, "是"),
    (dt.date(2023, 5, 6), "2023-05-06"),
    (dt.datetime(2023, 5, 6), "2023-05-06"),
])
def test_text_is_kept_as_typed_and_trimmed(value, text):
    assert to_text(value) == text


@pytest.mark.parametrize("value, code", [
    (2025122294.0, "2025122294"),
    (2025122294, "2025122294"),
    (123456789012345.0, "123456789012345"),  # 15 digits: exact in Excel and in a float
    (999999999999999.0, "999999999999999"),
    (13800138000.0, "13800138000"),
    ("A2023351875", "A2023351875"),
    ("'0012345", "0012345"),  # Excel's text marker kept by some CSV exports
    ("００１２３", "00123"),
    (" 2025122294 ", "2025122294"),
    ("ＦＭ　２０２６", "FM 2026"),
])
def test_identifiers_come_back_as_typed(value, code):
    assert to_code(value) == code
    assert "." not in to_code(value) and "e" not in to_code(value).lower()


@pytest.mark.parametrize("value", [1234567890123456.0, 1.2345678901234567e17, "2.02512E+09", "2.0251E+9", "1E+15"])
def test_identifiers_excel_already_mangled_are_errors(value):
    with pytest.raises(CellError) as caught:
        to_code(value)
    assert "文本格式" in caught.value.reason


def test_number_text():
    assert number_text(1e20) == "100000000000000000000"
    assert number_text(-3.0) == "-3"
    assert number_text(12.25) == "12.25"


def test_display_of_raw_values():
    assert display(2025122294.0) == "2025122294"
    assert display(dt.date(2023, 2, 1)) == "2023-02-01"
    assert display(True) == "TRUE"


def test_credit_codes_are_upper_cased_and_checked():
    code = valid_code()
    assert to_credit_code(code.lower()) == code
    assert to_credit_code(" " + code[:9] + " " + code[9:] + " ") == code
    assert to_credit_code("９" + code[1:]) == code
    assert to_credit_code("") == ""


@pytest.mark.parametrize("bad, reason", [
    ("91320100MA1MABCD", "应为18位"),
    ("91320100MA1MABCDIO", "不允许的字符"),
    ("9132AB00MA1MABCD1X", "行政区划代码"),
])
def test_invalid_credit_codes_say_why(bad, reason):
    with pytest.raises(CellError) as caught:
        to_credit_code(bad)
    assert reason in caught.value.reason


def test_wrong_check_character_names_the_expected_one():
    code = valid_code()
    wrong = code[:17] + ("0" if code[17] != "0" else "1")
    with pytest.raises(CellError) as caught:
        to_credit_code(wrong)
    assert f"第18位应为 {code[17]}" in caught.value.reason


@pytest.mark.parametrize("mark", ["合格", " 合格 ", "✓", "✔", "√", "是", "通过", "pass", "PASS", "Y", "y", "yes", "OK", True])
def test_pass_marks(mark):
    assert to_result(mark) == "pass"


@pytest.mark.parametrize("mark", ["不合格", "✗", "×", "x", "X", "否", "不通过", "fail", "Fail", "N", "n", "no", False])
def test_fail_marks(mark):
    assert to_result(mark) == "fail"


@pytest.mark.parametrize("mark", ["待检", "?", "合格?", "1"])
def test_unknown_results_are_errors(mark):
    with pytest.raises(CellError) as caught:
        to_result(mark)
    assert "合格 或 不合格" in caught.value.reason


@pytest.mark.parametrize("text, status", [("在用", "in_use"), ("使用中", "in_use"), ("停用", "stopped"),
                                          ("报废", "scrapped"), ("已更换", "replaced"), (" 正常 ", "in_use")])
def test_statuses(text, status):
    assert to_status(text) == status


def test_unknown_status_is_an_error():
    with pytest.raises(CellError):
        to_status("借出")


@pytest.mark.parametrize("value, number", [(4, 4), (4.0, 4), ("4", 4), ("４", 4), ("4把", 4), (" 12 ", 12)])
def test_counts(value, number):
    assert to_count(value) == number


@pytest.mark.parametrize("value", [4.5, "四百", "0", 0, 120, "-1", "4-6"])
def test_bad_counts(value):
    with pytest.raises(CellError):
        to_count(value)
