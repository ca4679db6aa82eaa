"""Header names to fields, the 编号 / 序号 ambiguity, overrides and saved mappings."""
from __future__ import annotations

import json

import pytest

from importers.errors import ImportFileError
from importers.fields import FIELDS, header_key
from importers.mapping import ColumnMapping, auto_map, column_letter, shape_signature


def mapped(headers, sample=()):
    keys = [(header_key(h),) if h else () for h in headers]
    return auto_map(headers, keys, sample)


@pytest.mark.parametrize("header, field", [
    ("使用单位名称", "merchant_name"), ("单位名称", "merchant_name"), ("经营者名称", "merchant_name"),
    ("统一社会信用代码", "credit_code"), ("信用代码", "credit_code"), ("社会信用代码", "credit_code"),
    ("器具名称", "kind"), ("计量器具名称", "kind"), ("器具种类", "kind"),
    ("规格型号", "model"), ("型号规格", "model"), ("型号", "model"),
    ("制造单位", "maker"), ("生产厂家", "maker"), ("制造厂", "maker"),
    ("出厂编号", "serial_no"), ("器具编号", "serial_no"),
    ("使用地点", "location"), ("安装地点", "location"), ("安装位置", "location"), ("摊位号", "location"),
    ("有效期至", "valid_until"), ("有效期", "valid_until"), ("下次检定日期", "valid_until"),
    ("检定日期", "verified_on"), ("检定时间", "verified_on"), ("最近检定日期", "verified_on"),
    ("检定结果", "result"), ("检定结论", "result"),
    ("证书编号", "certificate_no"), ("检定证书编号", "certificate_no"),
    ("联系电话", "phone"), ("电话", "phone"), ("联系人", "contact"), ("地址", "address"), ("单位地址", "address"),
    ("测量范围", "measuring_range"), ("准确度等级", "accuracy_class"), ("枪数", "nozzle_count"),
    ("检定机构", "institution"), ("检定单位", "institution"), ("备注", "notes"), ("状态", "status"),
    # utility-meter ledgers
    ("户号", "location"), ("用户号", "location"), ("用户编号", "location"),
    ("用户地址", "install_address"), ("安装地址", "install_address"),
    ("表号", "serial_no"), ("水表编号", "serial_no"), ("表具编号", "serial_no"),
    ("口径", "size"), ("首次检定日期", "verified_on"), ("首检日期", "verified_on"),
    ("到期更换日期", "valid_until"), ("轮换日期", "valid_until"), ("更换日期", "valid_until"),
    # decorated headers
    ("*出厂编号", "serial_no"), ("出厂编号（必填）", "serial_no"), ("检定日期\n(yyyy-mm-dd)", "verified_on"),
    ("有效期至：", "valid_until"), (" 器 具 名 称 ", "kind"), ("口径(DN)", "size"), ("【备注】", None),
])
def test_synonyms(header, field):
    mapping = mapped(["序号", header])
    assert mapping.field_at(1) == field


def test_each_synonym_names_one_field_except_the_row_number_ambiguity():
    owners: dict[str, set[str]] = {}
    for f in FIELDS:
        for s in f.synonyms:
            owners.setdefault(header_key(s), set()).add(f.name)
    shared = {k: v for k, v in owners.items() if len(v) > 1}
    assert shared == {"编号": {"row_no", "serial_no"}}


def test_the_specific_serial_header_wins_and_bianhao_is_the_row_number():
    mapping = mapped(["编号", "单位名称", "器具名称", "器具编号"], [[1, "a", "b", "X1"], [2, "a", "b", "X2"]])
    assert mapping.column("serial_no") == 3
    assert mapping.column("row_no") == 0


def test_bianhao_alone_holding_1_2_3_is_the_row_number():
    mapping = mapped(["编号", "单位名称", "器具名称"], [[1.0, "a", "b"], [2.0, "a", "b"], [3.0, "a", "b"]])
    assert mapping.column("serial_no") is None
    assert mapping.column("row_no") == 0


def test_bianhao_alone_holding_serials_is_the_serial():
    mapping = mapped(["编号", "单位名称", "器具名称"], [["A1", "a", "b"], [2025122294.0, "a", "b"]])
    assert mapping.column("serial_no") == 0
    mapping = mapped(["编号", "单位名称", "器具名称"], [[7, "a", "b"], [3, "a", "b"]])
    assert mapping.column("serial_no") == 0


def test_xuhao_is_the_row_number_next_to_bianhao():
    mapping = mapped(["序号", "编号", "单位名称"], [[1, "SN1", "a"], [2, "SN2", "a"]])
    assert mapping.column("row_no") == 0
    assert mapping.column("serial_no") == 1


def test_more_specific_synonym_wins_a_contested_field():
    mapping = mapped(["单位名称", "使用单位名称", "电话", "联系电话", "有效期", "有效期至"])
    assert mapping.fields == {"merchant_name": 1, "phone": 3, "valid_until": 5}
    assert mapping.unmapped == [(0, "单位名称"), (2, "电话"), (4, "有效期")]


def test_first_of_two_identical_headers_wins():
    mapping = mapped(["出厂编号", "出厂编号"])
    assert mapping.column("serial_no") == 0
    assert mapping.unmapped == [(1, "出厂编号")]


def test_unmapped_columns_and_describe():
    mapping = mapped(["序号", "单位名称", "经营类别", "", "出厂编号"])
    assert mapping.unmapped == [(2, "经营类别")]
    rows = mapping.describe()
    assert [r["letter"] for r in rows] == ["A", "B", "C", "E"]
    assert rows[2] == {"column": 2, "letter": "C", "header": "经营类别", "field": None, "field_label": None}
    assert rows[3]["field_label"] == "出厂编号"


def test_overrides_by_index_by_header_and_unmapping():
    mapping = mapped(["单位名称", "经营类别", "出厂编号", "备注"])
    changed = mapping.override({"kind": "经营类别", "notes": None, "model": 3})
    assert changed.fields == {"merchant_name": 0, "kind": 1, "serial_no": 2, "model": 3}
    assert mapping.column("kind") is None  # the original is unchanged


def test_override_taking_a_used_column_unmaps_its_field():
    mapping = mapped(["单位名称", "器具名称", "出厂编号"])
    changed = mapping.override({"model": 1})
    assert changed.column("model") == 1
    assert changed.column("kind") is None


@pytest.mark.parametrize("changes, message", [
    ({"colour": 1}, "未知的字段"),
    ({"kind": "颜色"}, "没有“颜色”这一列"),
    ({"kind": 9}, "第10列不在表头范围内"),
])
def test_bad_overrides(changes, message):
    with pytest.raises(ImportFileError, match=message):
        mapped(["单位名称", "出厂编号"]).override(changes)


def test_header_text_override_is_folded():
    mapping = mapped(["单位名称", "经营 类别"])
    assert mapping.override({"kind": "经营类别"}).column("kind") == 1


def test_json_round_trip_on_the_same_shape():
    mapping = mapped(["序号", "单位名称", "经营类别", "出厂编号"]).override({"kind": 2})
    text = mapping.to_json()
    data = json.loads(text)
    assert data["signature"] == mapping.signature
    assert data["fields"]["kind"] == {"column": 2, "header": "经营类别"}
    again = ColumnMapping.from_json(text, ["序号", "单位名称", "经营类别", "出厂编号"])
    assert again == mapping


def test_saved_mapping_follows_headers_that_moved():
    mapping = mapped(["单位名称", "经营类别", "出厂编号"]).override({"kind": 1})
    moved = ColumnMapping.from_json(mapping.to_json(), ["出厂编号", "备注", "经营类别", "单位名称"])
    assert moved.fields == {"merchant_name": 3, "kind": 2, "serial_no": 0}


def test_saved_mapping_with_a_missing_column_is_refused():
    mapping = mapped(["单位名称", "经营类别", "出厂编号"]).override({"kind": 1})
    with pytest.raises(ImportFileError, match="找不到“经营类别”列"):
        ColumnMapping.from_json(mapping.to_json(), ["单位名称", "出厂编号"])


def test_unreadable_saved_mapping():
    with pytest.raises(ImportFileError, match="无法读取"):
        ColumnMapping.from_json("not json", ["a"])


def test_shape_signature_ignores_spacing_width_and_trailing_blanks():
    assert shape_signature(["单位名称", "出厂编号"]) == shape_signature([" 单位 名称 ", "出厂编号", "", ""])
    assert shape_signature(["ＡＢ"]) == shape_signature(["ab"])
    assert shape_signature(["单位名称", "出厂编号"]) != shape_signature(["出厂编号", "单位名称"])


def test_column_letters():
    assert [column_letter(i) for i in (0, 25, 26, 27, 701, 702)] == ["A", "Z", "AA", "AB", "ZZ", "AAA"]


def test_label_falls_back_to_the_field_label():
    mapping = mapped(["单位名称", "器具编号"])
    assert mapping.label("serial_no") == "器具编号"
    assert mapping.label("verified_on") == "检定日期"
