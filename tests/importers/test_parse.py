"""End to end over real files: find the table, map, normalise, validate, count what was skipped."""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from app.merchants.credit_code import check_character
from importers import (
    ColumnMapping,
    ImportFileError,
    ParseOptions,
    find_tables,
    open_book,
    parse_sheet,
)
from importers.errors import UnmappedTableError
from importers.normalise import SOFT_FIELDS
from tests.importers.builders import (
    Formula,
    Span,
    set_cached_value,
    write_ods,
    write_xls,
    write_xlsx,
)


def code(n: int) -> str:
    """A valid unified social credit code, different for each n."""
    first17 = f"91320703MA1MAB{n:03d}"
    return first17 + check_character(first17)


HEADER = ["序号", "使用单位名称", "统一社会信用代码", "器具名称", "规格型号", "出厂编号", "制造单位", "安装地点",
          "检定日期", "有效期至", "检定结论", "备注"]
WIDTH = len(HEADER)


def pad(row: list) -> list:
    return row + [""] * (WIDTH - len(row))


# A station's ledger as stations keep them: a merged title, a 填报单位 line, blank and sum rows,
# notes under the table, names with spaces, lower-case credit codes, every date form.
MESSY = [
    pad(["海州区市场监管所强制检定计量器具台账（2026年）"]),
    pad(["填报单位：（盖章）", "", "", "", "", "", "", "", "", "", "填报日期：2026年10月"]),
    HEADER,
    [1, " 连云区  金源粮油店 ", code(1).lower(), "电子计价称", "ＡＣＳ－１５", 2025122294, "凯丰集团有限公司",
     "47号摊位", dt.date(2025, 5, 6), "2026.5.6", "合格", ""],
    [2, "赣榆区康宁肉类店", code(2), "加油机", "JYB-15", "SN2018402777", "正星科技股份有限公司", "1号枪",
     "2025/05/06", "2025年11月6日", "√", "=不是公式"],
    pad([]),
    [3, "新浦区惠民鲜果店", "", "出租车计价器", "BRD-600", 123456789012345, "杭州三宇", "苏G12345",
     45052, "20240506", "×", ""],
    pad(["小计", "", "", "", "", "3台"]),
    [4, "东海县顺发水产有限公司", code(4), "充电桩（交流）", "AC7-S", "A2019503419", "许继电气", "8号桩",
     "45678", "２０２８－０１－２１", "通过", "复检"],
    [5, "", "92320703HF98QU5EU5", "电子称重仪", "", "", "", "", "2023-02-30", "明年", "待检", ""],
    pad(["合计", "", "", "", "", "5台"]),
    pad(["注：本表由各所每月填报"]),
    pad(["填表人：张三", "", "", "审核人：李四"]),
]

EXPECTED = {
    # Free text as typed (trimmed only): the double space and the full-width model stay; the code is folded.
    4: {"merchant_name": "连云区  金源粮油店", "credit_code": code(1), "kind": "elec_price_scale", "model": "ＡＣＳ－１５",
        "serial_no": "2025122294", "maker": "凯丰集团有限公司", "location": "47号摊位",
        "verified_on": dt.date(2025, 5, 6), "valid_until": dt.date(2026, 5, 6), "result": "pass"},
    5: {"merchant_name": "赣榆区康宁肉类店", "credit_code": code(2), "kind": "fuel_dispenser", "model": "JYB-15",
        "serial_no": "SN2018402777", "maker": "正星科技股份有限公司", "location": "1号枪",
        "verified_on": dt.date(2025, 5, 6), "valid_until": dt.date(2025, 11, 6), "result": "pass",
        "notes": "=不是公式"},
    7: {"merchant_name": "新浦区惠民鲜果店", "kind": "taximeter", "model": "BRD-600", "serial_no": "123456789012345",
        "maker": "杭州三宇", "location": "苏G12345", "verified_on": dt.date(2023, 5, 6),
        "valid_until": dt.date(2024, 5, 6), "result": "fail"},
    9: {"merchant_name": "东海县顺发水产有限公司", "credit_code": code(4), "kind": "ev_ac_charger", "model": "AC7-S",
        "serial_no": "A2019503419", "maker": "许继电气", "location": "8号桩", "verified_on": dt.date(2025, 1, 21),
        "valid_until": dt.date(2028, 1, 21), "result": "pass", "notes": "复检"},
}
EXPECTED_SKIPPED = {"title": 2, "header": 1, "blank": 1, "subtotal": 1, "total": 1, "note": 2}


def as_csv_text(rows: list[list]) -> list[list[str]]:
    def text(v):
        if isinstance(v, dt.date):
            return v.isoformat()
        return str(v)
    return [[text(v) for v in row] for row in rows]


def build(tmp_path: Path, fmt: str, rows: list[list], name: str = "台账", merges_xlsx=None, merges_xls=None) -> Path:
    path = tmp_path / f"ledger.{fmt}"
    if fmt == "xlsx":
        return write_xlsx(path, {name: rows}, merges={name: merges_xlsx or []},
                          text_cells={name: ["L5"]} if rows is MESSY else None)
    if fmt == "xls":
        return write_xls(path, {name: rows}, merges={name: merges_xls or []})
    if fmt == "ods":
        return write_ods(path, {name: rows})
    encoding = {"csv": "utf-8", "gbk.csv": "gbk", "bom.csv": "utf-8-sig"}[fmt]
    path = tmp_path / f"{name}.csv"
    with open(path, "w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(as_csv_text(rows))
    return path


FORMATS = ["xlsx", "xls", "ods", "csv", "gbk.csv", "bom.csv"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_messy_station_ledger(tmp_path, kinds, fmt):
    path = build(tmp_path, fmt, MESSY, merges_xlsx=["A1:L1"], merges_xls=[(0, 0, 0, 11)])
    parsed = parse_sheet(open_book(path), kinds=kinds)

    assert parsed.header_rows == (3,)
    assert [r.row for r in parsed.rows] == [4, 5, 7, 9, 10]
    assert dict(parsed.skipped) == EXPECTED_SKIPPED
    assert sum(parsed.skipped.values()) + len(parsed.rows) == len(MESSY)
    for row in parsed.rows[:4]:
        assert row.ok, row.errors
        assert row.values == EXPECTED[row.row]
    assert parsed.mapping.column("row_no") == 0
    assert parsed.skipped_summary() == "标题行 2、表头行 1、空行 1、小计行 1、合计/总计行 1、表尾说明行 2"


def test_messy_row_errors_name_sheet_row_column_and_value(tmp_path, kinds):
    parsed = parse_sheet(open_book(build(tmp_path, "xlsx", MESSY, merges_xlsx=["A1:L1"])), kinds=kinds)
    bad = parsed.rows[-1]
    assert bad.row == 10 and not bad.ok
    by_column = {e.column: e for e in bad.errors}
    assert {e.sheet for e in bad.errors} == {"台账"}
    assert {e.row for e in bad.errors} == {10}
    assert by_column["器具名称"].message == "器具名称“电子称重仪”不是目录中的器具种类；最接近的是：电子计价秤"
    assert by_column["检定日期"].message == "检定日期“2023-02-30”不是存在的日期"
    assert by_column["有效期至"].message.startswith("有效期至“明年”不是可识别的日期")
    assert by_column["检定结论"].message.startswith("检定结论“待检”不是可识别的检定结论")
    assert by_column["统一社会信用代码"].message.startswith("统一社会信用代码“92320703HF98QU5EU5”有误：")
    assert by_column["出厂编号"].message == "缺少出厂编号"
    assert by_column["出厂编号"].field == "serial_no"
    # a bad cell is never replaced by a guess: the value is simply absent
    assert "verified_on" not in bad.values and "kind" not in bad.values
    assert str(by_column["检定日期"]) == "台账 第10行：检定日期“2023-02-30”不是存在的日期"
    assert bad.cells[8] == "2023-02-30"  # the original cells stay for an error workbook
    assert [r.row for r in parsed.error_rows] == [10]
    assert len(parsed.ok_rows) == 4
    assert len(list(parsed.errors())) == len(bad.errors)


def test_original_cells_are_kept_as_read(tmp_path, kinds):
    parsed = parse_sheet(open_book(build(tmp_path, "xlsx", MESSY, merges_xlsx=["A1:L1"])), kinds=kinds)
    first = parsed.rows[0]
    assert first.cells[5] == 2025122294.0 and first.cells[1] == " 连云区  金源粮油店 "
    assert first.cells[8] == dt.date(2025, 5, 6)


# --- headers split over two rows under merged group cells -----------------------------------

GROUPED = [
    ["某所计量器具台账", "", "", "", "", "", "", ""],
    ["序号", "基本信息", "", "器具信息", "", "", "检定", ""],
    ["", "单位名称", "信用代码", "器具名称", "出厂编号", "型号", "日期", "结论"],
    [1, "连云区金源粮油店", code(1), "电子秤", "A1", "ACS-15", "2025-05-06", "合格"],
    [2, "连云区金源粮油店", code(1), "电子秤", "A2", "ACS-15", "2025-05-07", "不合格"],
]


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods", "csv"])
def test_two_row_header_under_merged_groups(tmp_path, kinds, fmt):
    merges_xlsx = ["A1:H1", "A2:A3", "B2:C2", "D2:F2", "G2:H2"]
    merges_xls = [(0, 0, 0, 7), (1, 0, 2, 0), (1, 1, 1, 2), (1, 3, 1, 5), (1, 6, 1, 7)]
    rows = GROUPED
    if fmt == "ods":
        rows = [[Span(GROUPED[0][0], 8)], ["序号", Span("基本信息", 2), Span("器具信息", 3), Span("检定", 2)]] + GROUPED[2:]
    parsed = parse_sheet(open_book(build(tmp_path, fmt, rows, merges_xlsx=merges_xlsx, merges_xls=merges_xls)),
                         kinds=kinds)
    assert parsed.header_rows == (2, 3)
    assert parsed.headers == ("序号", "单位名称", "信用代码", "器具名称", "出厂编号", "型号", "日期", "结论")
    assert parsed.mapping.fields == {"row_no": 0, "merchant_name": 1, "credit_code": 2, "kind": 3, "serial_no": 4,
                                     "model": 5, "verified_on": 6, "result": 7}
    assert dict(parsed.skipped) == {"title": 1, "header": 2}
    assert [r.row for r in parsed.rows] == [4, 5]
    assert parsed.rows[1].values["verified_on"] == dt.date(2025, 5, 7)
    assert parsed.rows[1].values["result"] == "fail"
    assert all(r.ok for r in parsed.rows)


# --- identifiers, formulas and limits -------------------------------------------------------

def simple(rows: list[list], header=("使用单位名称", "器具名称", "出厂编号", "规格型号", "检定日期", "备注")) -> list[list]:
    return [list(header)] + rows


def test_numeric_serials_come_back_as_typed(tmp_path, kinds):
    rows = simple([["a", "电子秤", 2025122294, "", "", ""], ["a", "电子秤", 999999999999999, "", "", ""],
                   ["a", "电子秤", 12345678901234567, "", "", ""], ["a", "电子秤", "00123", "", "", ""]])
    parsed = parse_sheet(open_book(write_xlsx(tmp_path / "s.xlsx", {"S": rows})), kinds=kinds)
    assert [r.values.get("serial_no") for r in parsed.rows] == ["2025122294", "999999999999999", None, "00123"]
    assert "超过15位的数字" in parsed.rows[2].errors[0].message


def test_formula_cells_give_their_stored_value(tmp_path, kinds):
    path = write_xlsx(tmp_path / "f.xlsx", {"S": simple([["a", "电子秤", "=1000+1", "=abc", "", ""]])},
                      text_cells={"S": ["D2"]})
    set_cached_value(path, "1000+1", "1001")
    row = parse_sheet(open_book(path), kinds=kinds).rows[0]
    assert row.values["serial_no"] == "1001"
    assert row.values["model"] == "=abc"


def test_formula_in_xls_gives_its_stored_value(tmp_path, kinds):
    path = write_xls(tmp_path / "f.xls", {"S": simple([["a", "电子秤", Formula(2.0), "", "", ""]])})
    assert parse_sheet(open_book(path), kinds=kinds).rows[0].values["serial_no"] == "2"


LIMITS = [("使用单位名称", "merchant_name", 200), ("出厂编号", "serial_no", 80), ("规格型号", "model", 80),
          ("制造单位", "maker", 120), ("安装地点", "location", 120), ("证书编号", "certificate_no", 60),
          ("联系电话", "phone", 30), ("地址", "address", 300), ("联系人", "contact", 50)]


@pytest.mark.parametrize("header, field, limit", LIMITS)
def test_over_long_values_are_row_errors(tmp_path, kinds, header, field, limit):
    base = {"使用单位名称": "某店", "器具名称": "电子秤", "出厂编号": "A1"}
    headers = ["使用单位名称", "器具名称", "出厂编号"] + ([header] if header not in base else [])
    col = headers.index(header)

    def row(text):
        cells = [base.get(h, "") for h in headers]
        cells[col] = text
        return cells

    rows = [headers, row("长" * limit), row("长" * (limit + 1))]
    parsed = parse_sheet(open_book(write_xlsx(tmp_path / "l.xlsx", {"S": rows})), kinds=kinds)
    ok, long = parsed.rows
    assert ok.ok and ok.values[field] == "长" * limit
    message = f"{header}过长（{limit + 1}字，最多{limit}字）"
    if field in SOFT_FIELDS:
        # A field that identifies nothing: the row is kept without the value, and says so.
        assert long.ok and field not in long.values
        assert [w.message for w in long.warnings] == [message + "；此项未导入，本行其余内容照常导入"]
        assert long.warnings[0].column == header
    else:
        assert [e.message for e in long.errors] == [message]
        assert long.errors[0].column == header


def test_valid_until_before_verified_on_is_an_error(tmp_path, kinds):
    rows = [["使用单位名称", "器具名称", "出厂编号", "检定日期", "有效期至"],
            ["a", "电子秤", "A1", "2025-05-06", "2024-05-06"]]
    row = parse_sheet(open_book(write_xlsx(tmp_path / "d.xlsx", {"S": rows})), kinds=kinds).rows[0]
    assert [e.message for e in row.errors] == ["有效期至（2024-05-06）早于检定日期（2025-05-06）"]


def test_merchant_is_required_by_name_or_credit_code(tmp_path, kinds):
    rows = [["使用单位名称", "统一社会信用代码", "器具名称", "出厂编号"],
            ["", code(9), "电子秤", "A1"], ["某店", "", "电子秤", "A2"], ["", "", "电子秤", "A3"]]
    parsed = parse_sheet(open_book(write_xlsx(tmp_path / "m.xlsx", {"S": rows})), kinds=kinds)
    assert [r.ok for r in parsed.rows] == [True, True, False]
    assert parsed.rows[2].errors[0].message == "缺少使用单位名称（或统一社会信用代码）"


def test_other_fields(tmp_path, kinds):
    rows = [["使用单位名称", "器具名称", "出厂编号", "枪数", "状态", "测量范围", "准确度等级", "检定机构", "证书编号",
             "联系人", "联系电话", "地址"],
            ["某加油站", "加油机", "A1", 4, "在用", "(5-60)L/min", "0.3级", "市计量所", "JD2025-1", "张三",
             13800138000, "某路1号"],
            ["某加油站", "加油机", "A2", "许多", "借出", "", "", "", "", "", "", ""]]
    parsed = parse_sheet(open_book(write_xlsx(tmp_path / "o.xlsx", {"S": rows})), kinds=kinds)
    assert parsed.rows[0].values == {
        "merchant_name": "某加油站", "kind": "fuel_dispenser", "serial_no": "A1", "nozzle_count": 4, "status": "in_use",
        "measuring_range": "(5-60)L/min", "accuracy_class": "0.3级", "institution": "市计量所",
        "certificate_no": "JD2025-1", "contact": "张三", "phone": "13800138000", "address": "某路1号"}
    assert [e.column for e in parsed.rows[1].errors] == ["枪数", "状态"]


# --- kinds without a kind column, and utility-meter ledgers ---------------------------------

def test_a_sheet_per_kind_takes_the_kind_from_its_name(tmp_path, kinds):
    path = write_xlsx(tmp_path / "k.xlsx", {"加油机台账": [["使用单位名称", "出厂编号", "枪数"], ["某站", "A1", 4]]})
    parsed = parse_sheet(open_book(path), kinds=kinds)
    assert parsed.default_kind == "加油机"
    assert parsed.rows[0].values["kind"] == "fuel_dispenser"


def test_default_kind_from_the_caller_fills_empty_cells(tmp_path, kinds):
    rows = [["使用单位名称", "器具名称", "出厂编号"], ["某店", "", "A1"], ["某店", "加油机", "A2"]]
    path = write_xlsx(tmp_path / "k.xlsx", {"S": rows})
    parsed = parse_sheet(open_book(path), kinds=kinds, options=ParseOptions(default_kind="elec_price_scale"))
    assert [r.values["kind"] for r in parsed.rows] == ["elec_price_scale", "fuel_dispenser"]
    without = parse_sheet(open_book(path), kinds=kinds)
    assert without.rows[0].errors[0].message == "缺少器具名称"


WATER = [["某市自来水公司户表台账"],
         ["户号", "用户地址", "表号", "口径", "首检日期", "到期更换日期"],
         ["0100234", "幸福路1号101室", 20231234, "DN15", "2023-05-06", "2029-05-06"],
         ["0100235", "幸福路1号102室", "W-20231235", "40", "2023.5.6", "2027.5.6"],
         ["0100236", "幸福路1号103室", "W-20231236", "", "2023.5.6", "2029.5.6"]]


def test_utility_meter_ledger(tmp_path, kinds):
    path = write_xlsx(tmp_path / "w.xlsx", {"水表台账": WATER})
    parsed = parse_sheet(open_book(path), kinds=kinds, options=ParseOptions(merchant_required=False))
    assert parsed.mapping.fields == {"location": 0, "install_address": 1, "serial_no": 2, "size": 3,
                                     "verified_on": 4, "valid_until": 5}
    first, second, third = parsed.rows
    assert first.values == {"location": "0100234", "install_address": "幸福路1号101室", "serial_no": "20231234",
                            "size": "DN15", "model": "DN15", "kind": "water_meter_le25",
                            "verified_on": dt.date(2023, 5, 6), "valid_until": dt.date(2029, 5, 6)}
    assert second.values["kind"] == "water_meter_25_50"
    assert [e.message for e in third.errors] == [
        ("器具种类（取自工作表名“水表台账”）“水表”需按口径区分为 水表（DN≤25）、水表（25<DN≤50）、"
         "水表（DN>50 或 Q3>16）；请填写口径（如 DN15）或直接写明种类")]


def test_utility_ledger_without_a_merchant_column_needs_the_option(tmp_path, kinds):
    path = write_xlsx(tmp_path / "w.xlsx", {"水表台账": WATER})
    with pytest.raises(ImportFileError, match="缺少必需的列：使用单位名称"):
        parse_sheet(open_book(path), kinds=kinds)


# --- sheets, mapping choices and whole-file problems ----------------------------------------

def multi_sheet(tmp_path: Path) -> Path:
    return write_xlsx(tmp_path / "multi.xlsx", {
        "填表说明": [["填表说明"], ["1. 使用单位名称：营业执照上的名称"], ["2. 器具名称：按目录填写"]],
        "一所": [["一所台账"], ["使用单位名称", "器具名称", "出厂编号"], ["甲店", "电子秤", "A1"]],
        "二所": [["使用单位名称", "器具名称", "出厂编号", "检定日期"], ["乙店", "加油机", "B1", "2025-01-02"],
                 ["丙店", "加油机", "B2", "2025-01-03"]],
        "代码表": [["使用单位名称", "器具名称", "出厂编号"]],
    }, hidden=("代码表",))


def test_find_tables_lists_the_data_sheets(tmp_path, kinds):
    tables = find_tables(open_book(multi_sheet(tmp_path)), kinds=kinds)
    assert [(t.sheet, t.header_rows, t.missing) for t in tables] == [("一所", (2,), ()), ("二所", (1,), ())]
    assert tables[1].mapping.column("verified_on") == 3
    assert tables[1].height == 3


def test_the_caller_chooses_the_sheet(tmp_path, kinds):
    book = open_book(multi_sheet(tmp_path))
    assert parse_sheet(book, kinds=kinds).sheet == "一所"  # the first with a table
    chosen = parse_sheet(book, "二所", kinds=kinds)
    assert [r.values["serial_no"] for r in chosen.rows] == ["B1", "B2"]
    assert [r.row for r in chosen.rows] == [2, 3]


def test_find_tables_reports_missing_required_columns(tmp_path, kinds):
    path = write_xlsx(tmp_path / "m.xlsx", {"S": [["使用单位名称", "器具名称", "规格型号", "检定日期"]]})
    assert find_tables(open_book(path), kinds=kinds)[0].missing == ("serial_no",)


@pytest.mark.parametrize("sheets, sheet, message", [
    ({"说明": [["填表说明"]], "空": []}, None, "没有可识别的台账表格（已查看工作表：“说明”、“空”）"),
    ({"说明": [["填表说明"]]}, "说明", "工作表“说明”中找不到表头"),
    ({"S": [["颜色", "大小"], ["红", "大"]]}, "S", "找不到表头"),
    ({"空": [], "S": [["a"]]}, "空", "工作表“空”是空的"),
    ({"S": [["使用单位名称", "器具名称", "规格型号"], ["a", "b", "c"]]}, "S", "缺少必需的列：出厂编号"),
    ({"S": [["器具名称", "出厂编号", "规格型号"], ["a", "b", "c"]]}, "S", "缺少必需的列：使用单位名称"),
])
def test_sheets_that_cannot_be_imported(tmp_path, kinds, sheets, sheet, message):
    book = open_book(write_xlsx(tmp_path / "bad.xlsx", sheets))
    with pytest.raises(ImportFileError) as caught:
        parse_sheet(book, sheet, kinds=kinds)
    assert message in caught.value.message


def test_missing_column_message_lists_the_headers_found(tmp_path, kinds):
    book = open_book(write_xlsx(tmp_path / "bad.xlsx", {"S": [["使用单位名称", "器具名称", "型号", "编码"]]}))
    with pytest.raises(UnmappedTableError) as caught:
        parse_sheet(book, kinds=kinds)
    assert caught.value.message == ("工作表“S”缺少必需的列：出厂编号；可指定各列对应的字段。"
                                    "表头中的列：使用单位名称、器具名称、型号、编码")
    assert caught.value.headers == ("使用单位名称", "器具名称", "型号", "编码") and caught.value.missing == ("serial_no",)


def test_missing_kind_and_merchant_say_they_can_be_chosen_for_the_whole_file(tmp_path, kinds):
    book = open_book(write_xlsx(tmp_path / "bad.xlsx", {"S": [["甲列", "出厂编号", "型号"], ["x", "1", "m"]]}))
    with pytest.raises(UnmappedTableError, match="缺少必需的列：使用单位名称、器具种类；可指定各列对应的字段，"
                                                 "或为整个文件指定器具种类，或为整个文件指定使用单位"):
        parse_sheet(book, kinds=kinds, options=ParseOptions(header_row=1))


def test_a_header_of_two_rows_can_be_pointed_at(tmp_path, kinds):
    rows = [["台账"], ["基本信息", "", "检定"], ["使用单位名称", "出厂编号", "日期"], ["甲店", "S-1", "2025-01-02"]]
    book = open_book(write_xlsx(tmp_path / "two.xlsx", {"S": rows}))
    parsed = parse_sheet(book, kinds=kinds, options=ParseOptions(header_row=3, group_row=2, default_kind="电子计价秤"))
    assert parsed.header_rows == (2, 3)
    assert parsed.mapping.fields == {"merchant_name": 0, "serial_no": 1, "verified_on": 2}
    assert [(r.row, r.values["serial_no"], str(r.values["verified_on"])) for r in parsed.rows] == [(4, "S-1", "2025-01-02")]


def test_header_below_the_search_window_is_not_found(tmp_path, kinds):
    rows = [[f"说明第{i}行"] for i in range(35)] + [["使用单位名称", "器具名称", "出厂编号"]]
    book = open_book(write_xlsx(tmp_path / "deep.xlsx", {"S": rows}))
    with pytest.raises(ImportFileError, match="前30行"):
        parse_sheet(book, "S", kinds=kinds)
    parsed = parse_sheet(book, kinds=kinds, options=ParseOptions(header_search_rows=40))
    assert parsed.header_rows == (36,)


def test_overrides_map_an_unrecognised_column(tmp_path, kinds):
    rows = [["使用单位名称", "经营类别", "编码", "检定日期"], ["某店", "电子秤", "A1", "2025-1-2"]]
    book = open_book(write_xlsx(tmp_path / "o.xlsx", {"S": rows}))
    with pytest.raises(ImportFileError, match="找不到表头"):
        parse_sheet(book, "S", kinds=kinds)
    # the caller points at the header row, then maps what was not recognised
    with pytest.raises(ImportFileError, match="缺少必需的列：器具种类、出厂编号"):
        parse_sheet(book, "S", kinds=kinds, options=ParseOptions(header_row=1))
    parsed = parse_sheet(book, "S", kinds=kinds, options=ParseOptions(header_row=1),
                         overrides={"kind": "经营类别", "serial_no": 2})
    assert parsed.rows[0].values == {"merchant_name": "某店", "kind": "elec_price_scale", "serial_no": "A1",
                                     "verified_on": dt.date(2025, 1, 2)}
    with pytest.raises(ImportFileError, match="没有第9行"):
        parse_sheet(book, "S", kinds=kinds, options=ParseOptions(header_row=9))


SHAPE = ["使用单位名称", "经营类别", "编码", "规格型号", "检定日期"]


def test_a_saved_mapping_is_reused_for_the_next_file_of_the_same_shape(tmp_path, kinds):
    first = open_book(write_xlsx(tmp_path / "1.xlsx", {"S": [SHAPE, ["甲", "电子秤", "A1", "", ""]]}))
    table = find_tables(first, kinds=kinds)[0]
    assert table.missing == ("kind", "serial_no")
    saved = table.mapping.override({"kind": 1, "serial_no": 2}).to_json()

    second = open_book(write_xlsx(tmp_path / "2.xlsx", {"T": [["标题"], [" 使用单位 名称"] + SHAPE[1:],
                                                              ["乙", "加油机", "B1", "", ""]]}))
    located = find_tables(second, kinds=kinds)[0]
    assert located.mapping.signature == table.mapping.signature
    mapping = ColumnMapping.from_json(saved, located.mapping.headers)
    parsed = parse_sheet(second, kinds=kinds, mapping=mapping)
    assert parsed.rows[0].values == {"merchant_name": "乙", "kind": "fuel_dispenser", "serial_no": "B1"}


def test_a_mapping_for_another_shape_is_refused(tmp_path, kinds):
    book = open_book(write_xlsx(tmp_path / "1.xlsx", {"S": [["使用单位名称", "器具名称", "出厂编号"]]}))
    other = ColumnMapping(("出厂编号", "器具名称", "使用单位名称"), {"serial_no": 0})
    with pytest.raises(ImportFileError, match="列对应与工作表“S”的表头不一致"):
        parse_sheet(book, kinds=kinds, mapping=other)


def test_template_rows_numbered_in_advance_and_repeated_headers_are_skipped(tmp_path, kinds):
    header = ["序号", "使用单位名称", "器具名称", "出厂编号"]
    rows = [header, ["(1)", "(2)", "(3)", "(4)"], [1, "甲", "电子秤", "A1"], header, [2, "乙", "电子秤", "A2"],
            [3, "", "", ""], [4, "", "", ""]]
    parsed = parse_sheet(open_book(write_xlsx(tmp_path / "t.xlsx", {"S": rows})), kinds=kinds)
    assert [r.row for r in parsed.rows] == [3, 5]
    assert dict(parsed.skipped) == {"header": 3, "blank": 2}


def test_progress_and_row_limit(tmp_path, kinds):
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["使用单位名称", "器具名称", "出厂编号"])
        writer.writerows(["某店", "电子秤", f"A{i}"] for i in range(11_000))
    seen: list[int] = []
    parsed = parse_sheet(open_book(path), kinds=kinds, progress=seen.append)
    assert len(parsed.rows) == 11_000 and parsed.rows[-1].row == 11_001
    assert seen == [5000, 10000]
    with pytest.raises(ImportFileError, match="超过单次导入上限10000行"):
        parse_sheet(open_book(path), kinds=kinds, options=ParseOptions(max_rows=10_000))


def test_data_starting_away_from_a1_keeps_excel_positions(tmp_path, kinds):
    rows = [[], [], ["", "", "使用单位名称", "器具名称", "出厂编号"], ["", "", "甲", "电子秤", "A1"]]
    parsed = parse_sheet(open_book(write_xlsx(tmp_path / "c.xlsx", {"S": rows})), kinds=kinds)
    assert parsed.header_rows == (3,)
    assert parsed.rows[0].row == 4
    assert parsed.mapping.fields == {"merchant_name": 2, "kind": 3, "serial_no": 4}
    assert parsed.mapping.describe()[0]["letter"] == "C"
    assert dict(parsed.skipped) == {"blank": 2, "header": 1}


def test_a_bianhao_sequence_under_a_column_number_row_is_still_the_row_number(tmp_path, kinds):
    rows = [["编号", "使用单位名称", "器具名称", "器具编号"], ["(1)", "(2)", "(3)", "(4)"],
            [1, "甲", "电子秤", "A1"], [2, "乙", "电子秤", "A2"], [3, "丙", "电子秤", "A3"]]
    parsed = parse_sheet(open_book(write_xlsx(tmp_path / "n.xlsx", {"S": rows})), kinds=kinds)
    assert parsed.mapping.column("row_no") == 0 and parsed.mapping.column("serial_no") == 3
    rows = [["编号", "使用单位名称", "器具名称", "型号"], ["(1)", "(2)", "(3)", "(4)"],
            [1, "甲", "电子秤", "A1"], [2, "乙", "电子秤", "A2"], [3, "丙", "电子秤", "A3"]]
    book = open_book(write_xlsx(tmp_path / "m.xlsx", {"S": rows}))
    [table] = find_tables(book, kinds=kinds)
    assert table.mapping.column("row_no") == 0 and table.missing == ("serial_no",)
