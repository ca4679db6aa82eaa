"""Headers from real ledgers (issue 14, part 3): household-meter and fuel-station names, the e-CQS columns,
器具种别 over 器具名称 over 器具项别, 器具数量, and the columns left out listed with the reason."""
from __future__ import annotations

import pytest

from importers import open_book, parse_sheet
from importers.fields import header_key
from importers.header import find_header
from importers.mapping import auto_map
from tests.importers.builders import write_ods, write_xlsx


def mapped(headers, sample=()):
    keys = [(header_key(h),) if h else () for h in headers]
    return auto_map(headers, keys, sample)


@pytest.mark.parametrize("header, field", [
    ("表身号", "serial_no"), ("表身编号", "serial_no"), ("表号", "serial_no"),
    ("生产厂商", "maker"), ("制造厂", "maker"), ("制造单位", "maker"), ("制造厂商", "maker"), ("生产厂家", "maker"),
    ("加油站名称", "merchant_name"), ("站点名称", "merchant_name"), ("网点名称", "merchant_name"),
    ("市场名称", "merchant_name"), ("商户名称", "merchant_name"),
    ("用户地址", "install_address"), ("安装地址", "install_address"), ("使用地址", "install_address"),
    ("到期轮换日期", "valid_until"),
    # the e-CQS ledger's columns
    ("器具名称", "kind"), ("器具项别", "kind"), ("器具种别", "kind"), ("型号规格", "model"),
    ("测量范围", "measuring_range"), ("准确度等级", "accuracy_class"), ("出厂编号", "serial_no"),
    ("器具产地", "origin"), ("安装/使用地点", "location"), ("使用地点行政区划", "region"),
    ("器具数量", "quantity"), ("器具用途", "purpose"), ("送检方式", "submission"),
    ("*器具种别", "kind"), ("安装／使用地点", "location"),
])
def test_real_ledger_headers(header, field):
    assert mapped(["序号", header]).field_at(1) == field


ECQS = ["序号", "使用单位名称", "器具名称", "器具项别", "器具种别", "型号规格", "测量范围", "准确度等级", "出厂编号",
        "生产厂家", "器具产地", "安装/使用地点", "使用地点行政区划", "器具数量", "器具用途", "送检方式", "检定日期"]


def test_an_ecqs_header_maps_every_column_and_the_finer_kind_wins():
    mapping = mapped(ECQS)
    assert mapping.column("kind") == ECQS.index("器具种别")
    assert {name: ECQS[col] for name, col in mapping.fields.items()} == {
        "row_no": "序号", "merchant_name": "使用单位名称", "kind": "器具种别", "model": "型号规格",
        "measuring_range": "测量范围", "accuracy_class": "准确度等级", "serial_no": "出厂编号", "maker": "生产厂家",
        "origin": "器具产地", "location": "安装/使用地点", "region": "使用地点行政区划", "quantity": "器具数量",
        "purpose": "器具用途", "submission": "送检方式", "verified_on": "检定日期"}
    # The two kind columns that lost are listed as not imported, saying where the kind came from.
    assert mapping.not_imported == [(2, "器具名称", "器具种类已取自E列“器具种别”"),
                                    (3, "器具项别", "器具种类已取自E列“器具种别”")]


def test_without_a_finer_column_the_name_then_the_item_gives_the_kind():
    assert mapped(["器具项别", "器具名称", "出厂编号"]).column("kind") == 1
    only_item = mapped(["使用单位名称", "器具项别", "出厂编号"])
    assert only_item.column("kind") == 1 and only_item.not_imported == []


def test_a_market_name_beside_the_stall_holders_name_is_not_imported():
    mapping = mapped(["市场名称", "商户名称", "器具名称", "出厂编号"])
    assert mapping.column("merchant_name") == 1
    assert mapping.not_imported == [(0, "市场名称", "使用单位名称已取自B列“商户名称”")]


def test_a_column_no_field_knows_is_not_imported_without_a_reason():
    assert mapped(["使用单位名称", "器具名称", "出厂编号", "巡查人员"]).not_imported == [(3, "巡查人员", "")]


def test_the_not_imported_list_of_a_two_row_header_names_the_columns_under_the_groups(tmp_path):
    upper = ["序号", "使用单位", "", "器具信息", "", "", "", "检定", "", "其他", ""]
    lower = ["", "名称", "地址", "器具种别", "器具名称", "出厂编号", "器具用途", "日期", "有效期至", "巡查人员", "填表说明"]
    data = [1, "城东加油站", "东环路1号", "燃油加油机", "加油机", "JY-1", "贸易结算", "2024-03-01", "2024-08-31", "张三", ""]
    for fmt in ("xlsx", "ods"):
        rows = [["城东所加油机台账"] + [""] * 10, upper, lower, data]
        if fmt == "xlsx":
            path = write_xlsx(tmp_path / "g.xlsx", {"台账": rows},
                              merges={"台账": ["A1:K1", "A2:A3", "B2:C2", "D2:G2", "H2:I2", "J2:K2"]})
        else:
            path = write_ods(tmp_path / "g.ods", {"台账": rows})
        parsed = parse_sheet(open_book(path), kinds=[("fuel_dispenser", "燃油加油机")])
        assert parsed.header_rows == (2, 3), fmt
        mapping = parsed.mapping
        # 检定 over 日期 is the verification date; the group names themselves are no columns.
        assert mapping.column("verified_on") == 7 and mapping.column("address") == 2, fmt
        assert mapping.not_imported == [(4, "器具名称", "器具种类已取自D列“器具种别”"), (9, "巡查人员", ""),
                                        (10, "填表说明", "")], fmt
        [row] = parsed.rows
        assert (row.values["kind"], row.values["purpose"]) == ("fuel_dispenser", "贸易结算"), fmt


def test_the_header_is_found_from_ecqs_names_alone():
    header = find_header([["某市计量器具台账"], ECQS], None)
    assert header is not None and header.index == 1


KINDS = [("elec_price_scale", "电子计价秤"), ("taximeter", "出租汽车计价器"), ("water_meter_le25", "水表（DN≤25）"),
         ("water_meter_25_50", "水表（25<DN≤50）"), ("water_meter_gt50", "水表（DN>50 或 Q3>16）")]


def _parse(tmp_path, header, rows, **kwargs):
    path = write_xlsx(tmp_path / "q.xlsx", {"台账": [header, *rows]})
    return parse_sheet(open_book(path), kinds=KINDS, **kwargs)


def test_a_row_counting_several_instruments_is_an_error_never_one_record(tmp_path):
    header = ["使用单位名称", "器具名称", "出厂编号", "器具数量"]
    parsed = _parse(tmp_path, header, [
        ["李记水产", "电子计价秤", "", 3],  # three scales, no serials
        ["李记水产", "电子计价秤", "JJC-9", "2台"],  # two scales, one serial
        ["李记水产", "电子计价秤", "JJC-1", 1],
        ["李记水产", "电子计价秤", "JJC-2", ""],
        ["李记水产", "电子计价秤", "JJC-3", "1台"],
        ["李记水产", "电子计价秤", "JJC-4", 0],
        ["李记水产", "电子计价秤", "JJC-5", "若干"],
    ])
    by_row = {r.row: r for r in parsed.rows}
    three = [e.message for e in by_row[2].errors]
    assert "器具数量为3，本行没有出厂编号：台账每行登记一台器具，请按台分行填写，每行写明该台的出厂编号（共3行）" in three
    assert [e.column for e in by_row[2].errors if e.field == "quantity"] == ["器具数量"]
    assert any("器具数量为2，本行只有一个出厂编号" in e.message for e in by_row[3].errors)
    assert all(by_row[n].ok and "quantity" not in by_row[n].values for n in (4, 5, 6))
    assert [e.message for e in by_row[7].errors] == ["器具数量为0：本行没有器具可登记"]
    assert [e.message for e in by_row[8].errors] == ["器具数量“若干”应为整数"]


def test_the_size_beside_a_model_is_kept_in_the_model(tmp_path):
    header = ["使用单位名称", "器具名称", "出厂编号", "型号规格", "口径"]
    parsed = _parse(tmp_path, header, [
        ["自来水公司", "水表", "W-1", "LXS-15E", "DN15"],
        ["自来水公司", "水表", "W-2", "LXS-20E DN20", "DN20"],
        ["自来水公司", "水表", "W-3", "", "DN40"],
    ])
    assert [(r.values["kind"], r.values["model"]) for r in parsed.rows] == [
        ("water_meter_le25", "LXS-15E DN15"), ("water_meter_le25", "LXS-20E DN20"), ("water_meter_25_50", "DN40")]
