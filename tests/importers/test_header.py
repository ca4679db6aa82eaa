"""Finding the header: title rows above it, two-row headers under merged group cells."""
from __future__ import annotations

from importers.header import find_header

HEADER = ["序号", "使用单位名称", "器具名称", "出厂编号", "检定日期"]


def test_header_under_title_rows():
    rows = [["某所强制检定计量器具台账"], ["填报单位：某所", "", "", "填报日期：2026年10月"], HEADER, [1, "a", "b", "c", "d"]]
    header = find_header(rows, [(0, 0, 0, 4)])
    assert (header.index, header.group_index, header.excel_rows) == (2, None, (3,))
    assert header.labels == tuple(HEADER)


def test_too_few_known_columns_is_no_header():
    assert find_header([["单位名称", "出厂编号", "颜色"]], None) is None  # two fields
    assert find_header([["检定日期", "有效期至", "检定结论", "备注"]], None) is None  # nothing identifies the row
    assert find_header([], None) is None


def test_an_instructions_sheet_has_no_header():
    rows = [["填表说明"], ["1. 使用单位名称：营业执照上的名称"], ["2. 器具名称：按目录填写"], ["3. 出厂编号：铭牌上的编号"]]
    assert find_header(rows, None) is None


def test_a_list_of_field_names_in_one_column_is_no_header():
    assert find_header([["使用单位名称"], ["器具名称"], ["出厂编号"], ["检定日期"]], None) is None


def test_the_row_naming_most_fields_wins():
    rows = [["单位名称", "出厂编号", "器具名称"], HEADER + ["有效期至"]]
    assert find_header(rows, None).index == 1


UPPER = ["序号", "基本信息", "", "器具信息", "", "", "检定", ""]
LOWER = ["", "单位名称", "信用代码", "器具名称", "出厂编号", "型号", "日期", "结论"]
MERGES = [(0, 0, 1, 0), (0, 1, 0, 2), (0, 3, 0, 5), (0, 6, 0, 7)]


def test_two_row_header_with_merged_groups():
    header = find_header([UPPER, LOWER, [1, "a"]], MERGES)
    assert (header.group_index, header.index, header.excel_rows) == (0, 1, (1, 2))
    assert header.labels == ("序号", "单位名称", "信用代码", "器具名称", "出厂编号", "型号", "日期", "结论")
    # 检定 over 日期 / 结论 reads as 检定日期 / 检定结论
    assert header.keys[6] == ("检定日期", "日期")


def test_two_row_header_without_merge_information():
    """.ods and .csv do not report merges: groups run right until the next group name."""
    header = find_header([UPPER, LOWER], None)
    assert (header.group_index, header.index) == (0, 1)
    assert header.keys[2] == ("基本信息信用代码", "信用代码")
    assert header.keys[7] == ("检定结论", "结论")
    assert header.labels[0] == "序号"


def test_group_row_that_adds_no_field_is_still_the_header_when_merged():
    upper = ["序号", "基本信息", "", "器具信息", ""]
    lower = ["", "单位名称", "信用代码", "器具名称", "出厂编号"]
    header = find_header([["标题"], upper, lower], [(0, 0, 0, 4), (1, 0, 2, 0), (1, 1, 1, 2), (1, 3, 1, 4)])
    assert header.excel_rows == (2, 3)
    assert header.labels[0] == "序号"


def test_a_title_merged_over_all_columns_is_not_a_group_row():
    title = ["某所台账", "", "", "", ""]
    header = find_header([title, HEADER], [(0, 0, 0, 4)])
    assert header.excel_rows == (2,)


def test_a_filled_in_line_is_not_a_group_row():
    line = ["填报单位：某所", "", "", "填报日期：2026年"]
    header = find_header([line, ["", "使用单位名称", "器具名称", "出厂编号"]], None)
    assert header.group_index is None


def test_sub_names_in_the_row_below():
    upper = ["序号", "使用单位", "", "器具名称", "出厂编号"]
    lower = ["", "名称", "地址", "", ""]
    merges = [(0, 1, 0, 2), (0, 0, 1, 0), (0, 3, 1, 3), (0, 4, 1, 4)]
    header = find_header([upper, lower, [1, "a", "b", "c", "d"]], merges)
    assert (header.group_index, header.index) == (0, 1)
    assert header.labels == ("序号", "名称", "地址", "器具名称", "出厂编号")
    assert header.keys[1] == ("使用单位名称", "名称")
    assert header.keys[2] == ("使用单位地址", "地址")


def test_header_cells_that_are_numbers_become_text():
    header = find_header([["使用单位名称", "器具名称", "出厂编号", 2026.0]], None)
    assert header.labels[3] == "2026"


def test_search_stops_at_the_limit_but_may_look_one_row_further_for_sub_names():
    rows = [["x"]] * 2 + [HEADER]
    assert find_header(rows, None, search=2) is None
    assert find_header(rows, None, search=3).index == 2
    upper = ["序号", "使用单位", "", "器具名称", "出厂编号"]
    lower = ["", "名称", "地址", "", ""]
    assert find_header([upper, lower], None, search=1).index == 1
