"""The fields a legacy ledger can fill, and the column headers stations use for each."""
from __future__ import annotations

import re
from dataclasses import dataclass

from app.text import match_key


@dataclass(frozen=True)
class Field:
    """One importable field: its Chinese label, header synonyms and value type."""

    name: str
    label: str
    # Most specific first: when two columns claim a field, the earlier synonym wins.
    synonyms: tuple[str, ...]
    # text | code | date | int | quantity | result | status | credit_code | kind | row_no
    type: str
    max_len: int | None = None


# Limits follow the model columns (app/merchants/models.py, app/instruments/models.py).
FIELDS: tuple[Field, ...] = (
    Field("row_no", "序号", ("序号", "行号", "NO", "NO.", "编号"), "row_no"),
    Field("merchant_name", "使用单位名称",
          ("使用单位名称", "使用单位", "经营者名称", "经营者", "单位名称", "商户名称", "经营户名称",
           "经营户", "企业名称", "加油站名称", "加气站名称", "站点名称", "网点名称", "市场名称", "送检单位",
           "送检单位名称"), "text", 200),
    Field("credit_code", "统一社会信用代码",
          ("统一社会信用代码", "社会信用代码", "信用代码", "统一代码"), "credit_code"),
    # e-CQS ledgers give three: 器具种别 (the catalogue's finer kind: 数字指示秤, 燃油加油机) wins, then the
    # free 器具名称, then 器具项别 (the coarse item: 非自动衡器, 加气机); the losers are listed as not imported.
    Field("kind", "器具种类",
          ("器具种别", "计量器具种别", "计量器具名称", "器具名称", "器具种类", "计量器具种类", "器具类别",
           "器具类型", "强检器具名称", "计量器具", "设备名称", "器具项别", "计量器具项别"), "kind"),
    Field("model", "型号规格",
          ("规格型号", "型号规格", "型号/规格", "规格/型号", "型号", "规格"), "text", 80),
    Field("serial_no", "出厂编号",
          ("出厂编号", "器具编号", "出厂号", "机身编号", "设备编号", "表号", "水表编号", "电表编号",
           "燃气表编号", "表具编号", "表计编号", "表身号", "表身编号", "表身码", "编号"), "code", 80),
    Field("maker", "制造单位",
          ("制造单位", "生产厂家", "生产厂商", "制造厂", "制造厂家", "制造厂商", "生产单位", "生产企业", "制造商",
           "生产商", "厂家", "厂商"),
          "text", 120),
    Field("location", "安装位置",
          ("安装位置", "安装地点", "使用地点", "安装/使用地点", "安装使用地点", "使用位置", "摊位号", "摊位", "户号",
           "用户号", "用户编号", "车牌号", "车牌号码", "枪号", "桩号"), "text", 120),
    # A utility meter's household address; kept apart from the merchant's address.
    Field("install_address", "安装地址", ("用户地址", "安装地址", "使用地址", "表具地址", "用户住址", "住户地址"),
          "text", 300),
    # e-CQS ledger columns, stored on the instrument as written (docs/decisions.md, issue 14).
    Field("region", "使用地点行政区划", ("使用地点行政区划", "行政区划", "所属区划", "所在区划"), "text", 60),
    Field("purpose", "器具用途", ("器具用途", "用途", "使用用途"), "text", 60),
    Field("origin", "器具产地", ("器具产地", "产地", "生产地"), "text", 60),
    Field("submission", "送检方式", ("送检方式", "检定方式"), "text", 30),
    # One row, one instrument: a row counting several is an error (importers/normalise.py), never one record.
    Field("quantity", "器具数量", ("器具数量", "数量", "台数", "台件数", "台(件)数"), "quantity"),
    # Nominal size of a utility meter (DN15); decides which water-meter kind applies.
    Field("size", "口径", ("口径", "公称口径", "公称通径"), "text", 30),
    Field("measuring_range", "测量范围", ("测量范围", "量程", "称量范围", "最大秤量", "流量范围"), "text", 80),
    Field("accuracy_class", "准确度等级", ("准确度等级", "准确度", "精度等级", "精度", "等级"), "text", 30),
    Field("nozzle_count", "枪数", ("枪数", "油枪数", "加油枪数", "枪数量"), "int"),
    Field("status", "状态", ("使用状态", "器具状态", "状态"), "status"),
    Field("verified_on", "检定日期",
          ("检定日期", "最近检定日期", "本次检定日期", "上次检定日期", "检定时间", "首次检定日期", "首检日期"),
          "date"),
    # For first-verification-only meters the ledger's replace-by date lands here too.
    Field("valid_until", "有效期至",
          ("有效期至", "有效期", "检定有效期至", "检定有效期", "有效日期", "有效期截止日期", "下次检定日期",
           "到期日期", "到期更换日期", "到期轮换日期", "轮换日期", "更换日期", "应更换日期"), "date"),
    Field("result", "检定结论", ("检定结论", "检定结果", "结论", "结果"), "result"),
    Field("certificate_no", "证书编号", ("证书编号", "检定证书编号", "证书号", "检定证书号"), "code", 60),
    Field("institution", "检定机构", ("检定机构", "检定单位", "检定机构名称"), "text", 120),
    Field("contact", "联系人", ("联系人", "负责人"), "text", 50),
    Field("phone", "联系电话",
          ("联系电话", "电话", "手机", "手机号", "手机号码", "电话号码", "联系方式"), "code", 30),
    Field("address", "地址", ("单位地址", "经营地址", "地址", "经营场所", "住所"), "text", 300),
    Field("notes", "备注", ("备注", "说明"), "text"),
    # A verification body's results file says why an instrument failed; kept with the verification record.
    Field("fail_reason", "不合格原因", ("不合格原因", "不合格项目", "不合格说明"), "text"),
)

FIELD_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}

# A column headed just 编号 is the serial only when no more specific serial column exists
# and its values are not 1, 2, 3 ... (then it is the row number).
GENERIC_SERIAL_HEADERS = frozenset({"编号"})

_DECORATION = re.compile(r"^[*※★#]+|[*※★:]+$")
_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]|【[^】]*】|<[^>]*>")


def header_key(text: object) -> str:
    """A header cell as a lookup key: folded, upper-case, no spaces, no '*' or trailing colon."""
    if not isinstance(text, str):
        return ""
    return _DECORATION.sub("", match_key(text))


def bare_key(key: str) -> str:
    """The key without bracketed notes such as （必填） or (yyyy-mm-dd)."""
    return _BRACKETS.sub("", key)


def _index() -> dict[str, list[tuple[int, str]]]:
    index: dict[str, list[tuple[int, str]]] = {}
    for field in FIELDS:
        for rank, synonym in enumerate(field.synonyms):
            index.setdefault(header_key(synonym), []).append((rank, field.name))
    return index


SYNONYM_INDEX = _index()


def candidates(key: str) -> list[tuple[int, str]]:
    """(rank, field) pairs a header key can mean; the bracket-free key is tried second."""
    found = SYNONYM_INDEX.get(key)
    if found is None and key:
        found = SYNONYM_INDEX.get(bare_key(key))
    return found or []
