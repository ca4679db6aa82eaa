"""The unified social credit code (统一社会信用代码, GB 32100-2015)."""
from __future__ import annotations

from app.text import match_key

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}


def normalise(code: str | None) -> str:
    """Upper-case, half-width, no spaces."""
    return match_key(code)


def check_character(first17: str) -> str:
    """The 18th character for the first 17."""
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def problem(code: str) -> str | None:
    """Why a normalised code is invalid, in Chinese, or None when it is valid."""
    if len(code) != 18:
        return f"统一社会信用代码应为18位，当前为{len(code)}位"
    bad = sorted({ch for ch in code if ch not in _VALUE})
    if bad:
        return f"统一社会信用代码含有不允许的字符：{''.join(bad)}（不使用 I、O、S、V、Z）"
    if not code[2:8].isdigit():
        return "统一社会信用代码第3至8位应为行政区划代码（6位数字）"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"统一社会信用代码校验位错误：第18位应为 {expected}"
    return None


def is_valid(code: str) -> bool:
    """True when the normalised code passes the GB 32100-2015 check."""
    return problem(normalise(code)) is None
