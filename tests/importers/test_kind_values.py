"""A file's kind values mapped once for the whole file: to a kind, or "not a mandatory instrument, skip"."""
from __future__ import annotations

import datetime as dt

from importers import ParseOptions, open_book, parse_sheet
from importers.kinds import SKIP
from importers.rows import NOT_MANDATORY, SKIP_LABELS
from tests.importers.builders import write_xlsx

HEADER = ["使用单位名称", "器具名称", "出厂编号", "检定日期"]
ROWS = [
    ["李记水果摊", "计价器", "GS-001", dt.date(2024, 3, 1)],
    ["李记水果摊", "计 价 器", "GS-002", dt.date(2024, 3, 1)],  # the same value, spaced
    ["李记水果摊", "温度计", "GS-003", dt.date(2024, 3, 1)],
    ["李记水果摊", "电子秤", "GS-004", dt.date(2024, 3, 1)],
]


def parsed(tmp_path, kinds, **options):
    path = write_xlsx(tmp_path / "f.xlsx", {"台账": [HEADER, *ROWS]})
    return parse_sheet(open_book(path), kinds=kinds, options=ParseOptions(**options))


def test_without_a_choice_the_values_resolve_as_written(tmp_path, kinds):
    sheet = parsed(tmp_path, kinds)
    assert [r.values.get("kind") for r in sheet.rows] == ["taximeter", "taximeter", None, "elec_price_scale"]
    assert "可能不属于强制检定的计量器具" in sheet.rows[2].errors[0].message


def test_a_value_mapped_to_a_kind_counts_for_every_row_of_the_file_and_says_so(tmp_path, kinds):
    sheet = parsed(tmp_path, kinds, kind_values=(("计价器", "elec_price_scale"), ("温度计", SKIP)))
    assert [r.row for r in sheet.rows] == [2, 3, 5]  # the 温度计 row is skipped
    assert [r.values["kind"] for r in sheet.rows] == ["elec_price_scale"] * 3
    assert not any(r.errors for r in sheet.rows)
    assert [w.message for w in sheet.rows[1].warnings] == ["器具名称“计 价 器”按本文件的指定记为电子计价秤"]
    assert not sheet.rows[2].warnings
    assert sheet.skipped[NOT_MANDATORY] == 1
    assert "非强检器具（按指定跳过） 1" in sheet.skipped_summary() and NOT_MANDATORY in SKIP_LABELS
