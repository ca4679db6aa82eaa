"""Cell values to typed field values: text, codes, credit codes, results, statuses, counts."""
from __future__ import annotations

import datetime as dt
import re

from app.merchants import credit_code as credit
from app.text import as_typed, identifier, match_key

# Excel keeps 15 significant digits: a longer number typed into a numeric cell has already
# lost its last digits, so it cannot be turned back into what the user typed.
EXACT_DIGITS_LIMIT = 10**15

_SCIENTIFIC = re.compile(r"^[+-]?\d+(\.\d+)?E[+-]?\d+$", re.IGNORECASE)
_COUNT = re.compile(r"^(\d+|[零〇一二两三四五六七八九十单双]{1,3})(把|支|条|个|枪|只)?$")
_DIGITS = {"零": 0, "〇": 0, "一": 1, "单": 1, "二": 2, "两": 2, "双": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
           "八": 8, "九": 9}


def chinese_number(text: str) -> int | None:
    """一 .. 九十九 as written in counts (单枪 1, 双枪 2, 两把 2, 十二枪 12, 二十 20); None otherwise."""
    if text.isdigit() and text.isascii():
        return int(text)
    if "十" not in text:
        return _DIGITS.get(text) if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if "十" in ones or (tens and len(tens) != 1) or len(ones) > 1:
        return None
    high = _DIGITS.get(tens, -1) if tens else 1
    low = _DIGITS.get(ones, -1) if ones else 0
    if high < 1 or low < 0 or tens in ("单", "双") or ones in ("单", "双"):
        return None
    return high * 10 + low


class CellError(Exception):
    """One cell's value cannot be used; `reason` reads after the column name and the value."""

    def __init__(self, reason: str, *, show_value: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.show_value = show_value


def number_text(number: float, *, exact: bool = False) -> str:
    """A number as the digits the user typed: 2025122294.0 -> '2025122294', 0.5 -> '0.5'."""
    if number.__class__ is int:
        return str(number)
    if number.is_integer():  # type: ignore[union-attr]
        if exact and abs(number) >= EXACT_DIGITS_LIMIT:
            raise CellError("是超过15位的数字，Excel已丢失末尾的数字；请把该列设为文本格式后按原件重新填写")
        return str(int(number))
    return repr(number)


def display(value: object) -> str:
    """A raw cell value as a person would read it in a message."""
    cls = value.__class__
    if cls is str:
        return value  # type: ignore[return-value]
    if cls is float or cls is int:
        return number_text(value)  # type: ignore[arg-type]
    if cls is bool:
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


# Serials, certificate numbers and phones repeat down a ledger: fold each distinct identifier once.
_CACHE_LIMIT = 100_000
_codes: dict[str, str] = {}
_credit_codes: dict[str, str | None] = {}


def _fold(text: str) -> str:
    """app.text.identifier, remembered; printable ASCII without double spaces takes a shortcut
    that gives the same result (NFKC leaves ASCII alone), as unique serials are mostly that."""
    if text.isascii() and text.isprintable():
        stripped = text.strip()
        if "  " not in stripped:
            return stripped
    folded = _codes.get(text)
    if folded is None:
        if len(_codes) >= _CACHE_LIMIT:
            _codes.clear()
        folded = _codes[text] = identifier(text)
    return folded


def to_text(value: object) -> str:
    """Free text as typed (trimmed only: full-width punctuation and line breaks kept); numbers as
    their digits; dates as ISO dates."""
    cls = value.__class__
    if cls is str:
        return value.strip()  # type: ignore[attr-defined]
    if cls is float or cls is int:
        return number_text(value)  # type: ignore[arg-type]
    if cls is bool:
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return as_typed(str(value))


def to_code(value: object) -> str:
    """An identifier (serial, certificate, phone): like text, but numbers must be exact."""
    cls = value.__class__
    if cls is float or cls is int:
        return number_text(value, exact=True)  # type: ignore[arg-type]
    text = _fold(to_text(value))
    # CSV exports sometimes keep Excel's text marker in front of long numbers.
    if text.startswith("'"):
        text = text[1:].strip()
    if _SCIENTIFIC.match(text):
        raise CellError("像是被Excel改成了科学计数法，原编号已无法还原；请把该列设为文本格式后按原件重新填写")
    return text


def to_credit_code(value: object) -> str:
    """A unified social credit code, upper-case half-width, checked per GB 32100-2015."""
    text = to_code(value)
    # A code typed as it should be (18 upper-case ASCII letters and digits) is its own normal form.
    code = text if len(text) == 18 and text.isascii() and text.isalnum() and not text.islower() and text.upper() == text \
        else credit.normalise(text)
    if not code:
        return ""
    if code in _credit_codes:
        problem = _credit_codes[code]
    else:
        if len(_credit_codes) >= _CACHE_LIMIT:
            _credit_codes.clear()
        problem = _credit_codes[code] = credit.problem(code)
    if problem:
        raise CellError(f"有误：{problem}")
    return code


_PASS = ("合格", "✓", "✔", "√", "☑", "是", "通过", "PASS", "PASSED", "Y", "YES", "OK", "准用", "TRUE")
_FAIL = ("不合格", "✗", "✘", "×", "X", "☒", "否", "不通过", "未通过", "FAIL", "FAILED", "N", "NO",
         "FALSE", "禁用")
RESULTS = {**{k: "pass" for k in _PASS}, **{k: "fail" for k in _FAIL}}


def to_result(value: object) -> str:
    """'pass' or 'fail' from 合格/不合格 and the usual marks (✓ √ 是 通过 Y / ✗ × 否 不通过 N)."""
    if value.__class__ is bool:
        return "pass" if value else "fail"
    if value.__class__ is str:
        result = RESULTS.get(value)  # 合格 / 不合格 as typed: most cells of a ledger
        if result is not None:
            return result
    key = match_key(to_text(value))
    result = RESULTS.get(key)
    if result is None:
        raise CellError("不是可识别的检定结论（应为 合格 或 不合格）")
    return result


STATUSES = {
    "在用": "in_use", "使用": "in_use", "使用中": "in_use", "正常": "in_use", "正常使用": "in_use",
    "启用": "in_use",
    "停用": "stopped", "暂停使用": "stopped", "停止使用": "stopped", "暂停": "stopped",
    "报废": "scrapped", "已报废": "scrapped",
    "已更换": "replaced", "更换": "replaced", "已换表": "replaced", "已轮换": "replaced",
}


def to_status(value: object) -> str:
    """An instrument status code from 在用 / 停用 / 报废 / 已更换 and common variants."""
    key = match_key(to_text(value))
    status = STATUSES.get(key)
    if status is None:
        raise CellError("不是可识别的状态（应为 在用、停用、报废 或 已更换）")
    return status


def to_count(value: object) -> int:
    """A small whole number such as a dispenser's nozzle count (4, '4', '4把', '四枪', '双枪', '十二枪')."""
    cls = value.__class__
    if cls is float or cls is int:
        if not float(value).is_integer():  # type: ignore[arg-type]
            raise CellError("应为整数")
        number = int(value)  # type: ignore[call-overload]
    else:
        m = _COUNT.match(match_key(to_text(value)))
        number = chinese_number(m.group(1)) if m else None
        if number is None:
            raise CellError("应为整数")
    if not 1 <= number <= 99:
        raise CellError("应在1至99之间")
    return number
