"""Text as users typed it, and the folded forms used only to compare (no Flask).

Free text (names, addresses, notes, descriptions, reasons) is stored with `as_typed`: only the blanks
around it are trimmed, so full-width punctuation and line breaks survive. NFKC folding (full-width
letters, digits and brackets to half-width) is for comparison keys (`match_key`) and for identifiers
whose format is defined (`identifier`: serial, certificate and credit-code numbers, user names).
"""
from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def as_typed(value: str | None) -> str:
    """The text as typed, leading and trailing blanks trimmed; None becomes ''. Line breaks are kept as "\n"
    (a browser sends a textarea's as CRLF, which would reach exports as a stray carriage return)."""
    if value is None:
        return ""
    text = str(value).strip()
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def identifier(value: str | None) -> str:
    """An identifier: NFKC-folded, runs of blanks as one space, trimmed (case kept); None becomes ''."""
    if value is None:
        return ""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", str(value))).strip()


def match_key(value: str | None) -> str:
    """A comparison key: folded, upper-case, without any whitespace; never shown or stored as the text."""
    return _SPACES.sub("", identifier(value)).upper()
