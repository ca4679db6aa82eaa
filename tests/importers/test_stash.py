"""The dry run's parse kept for the apply: what comes back is what was parsed, or nothing."""
from __future__ import annotations

import pytest

from importers import ParseOptions, find_table, open_book, parse_sheet, stash
from tests.importers.builders import write_xlsx
from tests.importers.test_parse import MESSY, build, multi_sheet


def test_find_table_gives_the_chosen_or_the_first_table(tmp_path, kinds):
    book = open_book(multi_sheet(tmp_path))
    first = find_table(book, kinds=kinds)
    assert (first.sheet, first.header_rows, first.missing) == ("一所", (2,), ())
    chosen = find_table(book, "二所", kinds=kinds)
    assert (chosen.sheet, chosen.height, chosen.mapping.column("verified_on")) == ("二所", 3, 3)
    assert find_table(book, "没有这个表", kinds=kinds) is None
    empty = open_book(write_xlsx(tmp_path / "e.xlsx", {"说明": [["填表说明"]], "空": []}))
    assert find_table(empty, kinds=kinds) is None


def test_a_stashed_parse_comes_back_as_parsed_without_the_cells(tmp_path, kinds):
    parsed = parse_sheet(open_book(build(tmp_path, "xlsx", MESSY, merges_xlsx=["A1:L1"])), kinds=kinds)
    assert any(r.errors for r in parsed.rows) and any(r.values.get("verified_on") for r in parsed.rows)
    path = tmp_path / "x.parsed"
    stash.save(path, parsed)
    again = stash.load(path)
    assert (again.sheet, again.header_rows, again.default_kind) == (parsed.sheet, parsed.header_rows, None)
    assert again.mapping == parsed.mapping and again.skipped == parsed.skipped
    assert [(r.row, r.values, r.errors) for r in again.rows] == [(r.row, r.values, r.errors) for r in parsed.rows]
    assert all(r.cells == () for r in again.rows)


def test_a_stashed_parse_keeps_each_rows_warnings(tmp_path, kinds):
    rows = [["使用单位名称", "器具名称", "出厂编号", "联系电话"],
            ["李记水产", "电子计价秤", "S-1", "1.38E+10"], ["王记蔬菜", "电子计价秤", "S-2", "13812345678"]]
    parsed = parse_sheet(open_book(write_xlsx(tmp_path / "w.xlsx", {"台账": rows})), kinds=kinds)
    assert [len(r.warnings) for r in parsed.rows] == [1, 0] and not any(r.errors for r in parsed.rows)
    path = tmp_path / "w.parsed"
    stash.save(path, parsed)
    again = stash.load(path)
    assert [(r.values, r.warnings) for r in again.rows] == [(r.values, r.warnings) for r in parsed.rows]


def test_a_damaged_or_missing_stash_is_no_stash(tmp_path, kinds):
    parsed = parse_sheet(open_book(build(tmp_path, "xlsx", MESSY, merges_xlsx=["A1:L1"])), kinds=kinds)
    path = tmp_path / "x.parsed"
    stash.save(path, parsed)
    path.write_bytes(path.read_bytes()[:-50])
    assert stash.load(path) is None
    path.write_bytes(b"not a stash")
    assert stash.load(path) is None
    assert stash.load(tmp_path / "missing.parsed") is None


@pytest.mark.parametrize("change", [
    {"sheet": "二所"}, {"headers": ["A", "B"]}, {"mapping": {"serial_no": 2}}, {"file_hash": "f" * 64},
    {"kinds": [("elec_price_scale", "电子计价秤")]}, {"options": ParseOptions(merchant_required=False)},
    # issue 14 part 4: the database's aliases (an admin added or removed one) and the file's kind values
    {"aliases": [("taximeter", "计价器")]}, {"aliases": [("taximeter", "计价器"), ("taximeter", "打表器")]},
    {"options": ParseOptions(kind_values=(("计价器", "elec_price_scale"),))},
    {"options": ParseOptions(kind_values=(("计价器", ""),))},
])
def test_the_stash_key_covers_everything_the_parse_depends_on(kinds, change):
    basis = {"file_hash": "0" * 64, "sheet": "一所", "headers": ["A", "B", "C"], "mapping": {"serial_no": 1},
             "kinds": kinds, "options": ParseOptions()}
    assert stash.stash_key(**basis) == stash.stash_key(**{**basis, "kinds": list(reversed(kinds))})
    assert stash.stash_key(**basis) != stash.stash_key(**{**basis, **change})
