"""The e-CQS fields of an instrument (no Flask): 用途 and 送检方式 as the four and two values e-CQS knows, and
使用地点行政区划 as a 6-digit code inside the station's division.

The columns keep text as typed (docs/decisions.md, issue 16): a form offers only these values, a ledger value
that clearly means one (贸易结算用, 医疗) is stored as that value with a warning, and any other value (legacy rows,
an unknown ledger value) is kept as written and warned about, never dropped.
"""
from __future__ import annotations

import re

from app.text import match_key

PURPOSES = ("贸易结算", "安全防护", "医疗卫生", "环境监测")
SUBMISSIONS = ("送检", "现场检定")
REGION = re.compile(r"\d{6}")

# Ledger spellings that clearly mean one value, compared by match_key (width, case, spaces folded).
_PURPOSE_WORDS = {
    "贸易结算": ("贸易结算用", "贸易结算类", "贸易", "结算", "贸易计量", "用于贸易结算"),
    "安全防护": ("安全防护用", "安全", "安全防护类", "安全保护", "用于安全防护"),
    "医疗卫生": ("医疗卫生用", "医疗", "卫生", "医疗卫生类", "医用", "用于医疗卫生"),
    "环境监测": ("环境监测用", "环境", "环保", "环境监测类", "环境保护", "用于环境监测"),
}
_SUBMISSION_WORDS = {
    "送检": ("送检定", "送至检定机构", "实验室检定", "送实验室检定", "固定检定"),
    "现场检定": ("现场", "现场检", "上门检定", "现场检测", "在线检定", "就地检定"),
}


def _index(words: dict[str, tuple[str, ...]]) -> dict[str, str]:
    index = {match_key(value): value for value in words}
    for value, spellings in words.items():
        index.update({match_key(s): value for s in spellings})
    return index


_PURPOSE_INDEX = _index(_PURPOSE_WORDS)
_SUBMISSION_INDEX = _index(_SUBMISSION_WORDS)


def purpose_of(text: str) -> str | None:
    """The 用途 a text clearly means (itself when it is one), else None."""
    return _PURPOSE_INDEX.get(match_key(text or ""))


def submission_of(text: str) -> str | None:
    """The 送检方式 a text clearly means (itself when it is one), else None."""
    return _SUBMISSION_INDEX.get(match_key(text or ""))


def division_prefix(division_code: str) -> str:
    """The leading digits every 6-digit county code inside a station's division starts with: a township's or a
    village's code (9 or 12 digits) lies in the county of its first six; a county code is itself; a prefecture
    (320700) or province (320000) code stands for all codes under it (3207, 32)."""
    code = (division_code or "")[:6]
    while len(code) > 2 and code.endswith("00"):
        code = code[:-2]
    return code


def region_problem(region: str, division_code: str) -> str | None:
    """Why a 使用地点行政区划 is not acceptable for a station with this division (Chinese), or None."""
    if not REGION.fullmatch(region or ""):
        return f"使用地点行政区划“{region}”应为6位数字的行政区划代码（如 320703）"
    prefix = division_prefix(division_code)
    if prefix and not region.startswith(prefix):
        return f"使用地点行政区划“{region}”不在本监管所的行政区划（{division_code}）内"
    return None
