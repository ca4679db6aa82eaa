"""Rows that are not data."""
from __future__ import annotations

import pytest

from importers.rows import BLANK, HEADER, NOTE, SUBTOTAL, TOTAL, RowClassifier

HEADERS = ["序号", "使用单位名称", "器具名称", "出厂编号", "检定日期", "备注"]
DATA = [1, "连云区金源粮油店", "电子计价秤", "2025122294", "2025-05-06", ""]


def classifier():
    return RowClassifier(HEADERS, row_no_column=0)


@pytest.mark.parametrize("row, reason", [
    (["", "", "", "", "", ""], BLANK),
    (["  ", "\u3000", "", "", "", ""], BLANK),
    ([7, "", "", "", "", ""], BLANK),  # a template row numbered in advance
    (["小计", "", "", "", "", ""], SUBTOTAL),
    (["", "小 计：", "", "", "", ""], SUBTOTAL),
    (["合计", "", "", "", "", ""], TOTAL),
    (["总计", "", "", 150, "", ""], TOTAL),
    (["本页合计", "", "", "", "", ""], TOTAL),
    (["合计：150台", "", "", "", "", ""], TOTAL),
    (["合计(台)", "", "", "", "", ""], TOTAL),
    (["注：本表由各所填报", "", "", "", "", ""], NOTE),
    (["注1. 器具名称按目录填写", "", "", "", "", ""], NOTE),
    (["备注：无", "", "", "", "", ""], NOTE),
    (["填表人：张三", "", "审核人：李四", "", "填表日期：2026年10月", ""], NOTE),
    (["说明：以上数据截至10月底", "", "", "", "", ""], NOTE),
])
def test_skipped_rows(row, reason):
    assert classifier().classify(row) == reason


@pytest.mark.parametrize("row", [
    DATA,
    [1, "合计超市", "电子计价秤", "1", "", ""],  # a name that starts like a total
    [1, "注册会计师事务所", "电子计价秤", "1", "", ""],
    ["", "", "", "2025122294", "", ""],  # only a serial: a data row (it will have errors)
    [1, "连云区金源粮油店", "", "", "", ""],  # a row number and a name: data, not blank
])
def test_data_rows(row):
    assert classifier().classify(row) is None


def test_lines_after_a_note_are_notes_but_full_rows_are_still_data():
    c = classifier()
    assert c.classify(["注：", "", "", "", "", ""]) == NOTE
    assert c.classify(["2. 有效期至按证书填写", "", "", "", "", ""]) == NOTE
    assert c.classify(DATA) is None


def test_a_short_row_before_any_note_is_data():
    assert classifier().classify(["2. 有效期至按证书填写", "", "", "", "", ""]) is None


def test_repeated_header_row():
    c = classifier()
    assert c.classify(DATA) is None
    assert c.classify(list(HEADERS)) == HEADER
    assert c.classify([" 序号", "使用单位名称", "器具名称 ", "出厂编号", "", ""]) == HEADER


def test_column_numbers_directly_under_the_header():
    assert classifier().classify([1, 2, 3, 4, 5, 6]) == HEADER
    assert classifier().classify(["(1)", "(2)", "(3)", "(4)", "(5)", "(6)"]) == HEADER
    c = classifier()
    assert c.classify(DATA) is None
    assert c.classify([1, 2, 3, 4, 5, 6]) is None  # further down it is data (and will have errors)
