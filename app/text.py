"""Text normalisation shared by forms, services and importers (no Flask)."""
from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def clean(value: str | None) -> str:
    """NFKC-fold (full-width letters, digits, brackets) and trim; None becomes ''."""
    if value is None:
        return ""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", str(value))).strip()


def match_key(value: str | None) -> str:
    """A key for matching names: folded, upper-case, without any whitespace."""
    return _SPACES.sub("", clean(value)).upper()
