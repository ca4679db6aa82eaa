"""Instrument kinds as stations spell them, resolved to catalogue codes.

The catalogue (codes and names) comes in as a parameter so it stays data; this module only
ships the spellings. A spelling whose code is not in the catalogue passed in is ignored.
"""
from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from app.text import match_key
from importers.values import CellError

# The spellings ship as seed data beside the catalogue (the app loads them into
# instrument_type_aliases, where admins extend them); callers without a database use the seed file.
ALIASES_CSV = Path(__file__).resolve().parent.parent / "app" / "catalog" / "seed" / "instrument_type_aliases.csv"
SKIP = ""  # a file's kind value mapped to this: "not a mandatory instrument", its rows are skipped


@lru_cache(maxsize=1)
def seed_aliases() -> tuple[tuple[str, str], ...]:
    """(code, alias) pairs of the shipped seed file."""
    with open(ALIASES_CSV, encoding="utf-8", newline="") as fh:
        return tuple((row["code"], row["alias"]) for row in csv.DictReader(fh))


# Water meters: the kind depends on the nominal size (JJG 162-2019), so the plain word needs DN.
WATER_WORDS = ("水表", "冷水水表", "饮用冷水水表", "自来水表", "民用水表", "智能水表", "远传水表",
               "IC卡水表", "旋翼式水表", "机械水表", "户用水表")
WATER_CODES = ("water_meter_le25", "water_meter_25_50", "water_meter_gt50")

_DN = re.compile(r"DN\s*(\d+)", re.IGNORECASE)
_NUMBER = re.compile(r"(\d+)")
_BRACKETS = str.maketrans("", "", "()（）[]【】")
_BRACKET_CHARS = frozenset("()（）[]【】")
_BRACKETED = re.compile(r"[(（\[【][^()（）\[\]【】]*[)）\]】]")
_NEAR = 0.75  # a text this close to another kind's spelling is not read as its qualified suffix


def kind_key(text: str) -> str:
    """A spelling as a lookup key: folded, upper-case, without spaces or brackets."""
    return match_key(text).translate(_BRACKETS)


def water_code(dn: int) -> str:
    """The water-meter kind for a nominal size in millimetres."""
    if dn <= 25:
        return "water_meter_le25"
    if dn <= 50:
        return "water_meter_25_50"
    return "water_meter_gt50"


def nominal_size(size: str | None, *, bare_number: bool) -> int | None:
    """DN from '口径' text (DN15, 15, 15mm) or, with bare_number False, only from 'DN15'."""
    if not size:
        return None
    m = _DN.search(size)
    if m:
        return int(m.group(1))
    if bare_number:
        m = _NUMBER.search(size)
        if m:
            return int(m.group(1))
    return None


def unbracketed(text: str) -> str:
    """The text without bracketed qualifiers: 血压计（台式） -> 血压计."""
    return _BRACKETED.sub("", text) if _BRACKET_CHARS.intersection(text) else text


def _common(a: str, b: str) -> int:
    """The length of the longest run of characters `a` and `b` share."""
    return difflib.SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b)).size


class KindResolver:
    """Maps a ledger's kind text (plus the meter size when it matters) to a catalogue code.

    In order: the catalogue name, code or an alias; the water-meter family by its size; the same
    with bracketed qualifiers left out (血压计（台式）); and last the longest name or alias the text
    ends with (臂式电子血压计 -> 电子血压计: Chinese puts qualifiers before the noun), unless the text
    is as close to another kind's spelling (电子计价器 is 电子计价秤 mistyped as much as a 计价器).
    """

    def __init__(self, kinds: Iterable[tuple[str, str]],
                 aliases: Iterable[tuple[str, str]] | None = None) -> None:
        self.names: dict[str, str] = {k[0]: k[1] for k in kinds}
        self._keys: dict[str, str] = {}
        self._codes: set[str] = set()
        for code, name in self.names.items():
            self._keys[kind_key(name)] = code
            self._codes.add(kind_key(code))
        for code, spelling in (seed_aliases() if aliases is None else aliases):
            if code in self.names and spelling.strip():
                self._keys.setdefault(kind_key(spelling), code)
        # Names and aliases (not codes), longest first, for the suffix rule and suggestions.
        self._words = sorted((k for k in self._keys if len(k) >= 2), key=len, reverse=True)
        for key in self._codes:
            self._keys.setdefault(key, self._code_of(key))
        self._water = {kind_key(w) for w in WATER_WORDS} if all(c in self.names for c in WATER_CODES) else set()
        self._cache: dict[tuple[str, str | None, str | None], tuple[str, str | None] | CellError] = {}

    def _code_of(self, key: str) -> str:
        return next(c for c in self.names if kind_key(c) == key)

    def resolve(self, text: str, *, size: str | None = None, model: str | None = None) -> str:
        """The catalogue code; raises CellError naming the closest kinds when unknown."""
        return self.resolve_noted(text, size=size, model=model)[0]

    def resolve_noted(self, text: str, *, size: str | None = None,
                      model: str | None = None) -> tuple[str, str | None]:
        """(code, note): the note says how a text that is not a known spelling was read, for a row warning."""
        cache_key = (text, size, model)
        hit = self._cache.get(cache_key)
        if hit is None:
            try:
                hit = self._resolve(text, size, model)
            except CellError as error:
                hit = error
            self._cache[cache_key] = hit
        if isinstance(hit, CellError):
            raise hit
        return hit

    def lookup(self, text: str) -> str | None:
        """The code for an exact spelling, or None (water meters need a size: see resolve)."""
        return self._keys.get(kind_key(text))

    def recognises(self, text: str) -> bool:
        """True when the text names a kind, or the water-meter family (resolved by size)."""
        key = kind_key(text)
        return key in self._keys or _DN.sub("", key) in self._water

    def _resolve(self, text: str, size: str | None, model: str | None) -> tuple[str, str | None]:
        key = kind_key(text)
        code = self._exact(key, size, model)
        if code:
            return code, None
        bare = kind_key(unbracketed(text))
        if bare and bare != key:
            code = self._exact(bare, size, model)
            if code:
                return code, None
        suffix = self._suffix(bare or key)
        if suffix is not None:
            word, code = suffix
            return code, f"按“{word}”识别为{self.names[code]}"
        raise CellError(self._unknown(bare or key))

    def _exact(self, key: str, size: str | None, model: str | None) -> str | None:
        """The code of a known spelling, or of a water meter by its size; None when neither."""
        code = self._keys.get(key)
        if code:
            return code
        dn_in_text = nominal_size(key, bare_number=False)
        base = _DN.sub("", key) if dn_in_text is not None else key
        if base not in self._water and not self._water_suffix(base):
            return None
        dn = dn_in_text
        if dn is None:
            dn = nominal_size(size, bare_number=True)
        if dn is None:
            dn = nominal_size(model, bare_number=False)
        if dn is None:
            names = "、".join(self.names[c] for c in WATER_CODES)
            raise CellError(f"需按口径区分为 {names}；请填写口径（如 DN15）或直接写明种类")
        return water_code(dn)

    def _water_suffix(self, key: str) -> bool:
        """True for a water meter with a qualifier before it (旋翼式冷水水表), not a hot-water meter."""
        return bool(self._water) and "热" not in key and any(key.endswith(w) for w in self._water)

    def _suffix(self, key: str) -> tuple[str, str] | None:
        """(spelling, code) of the longest name or alias the text ends with, when nothing else is as near."""
        for word in self._words:
            if len(word) < len(key) and key.endswith(word):
                code = self._keys[word]
                near = difflib.get_close_matches(key, self._words, n=6, cutoff=_NEAR)
                if any(self._keys[k] != code for k in near):
                    return None  # as much a mistyped other kind as a qualified one
                return word, code
        return None

    def _unknown(self, key: str) -> str:
        # Close by spelling and sharing at least three characters in a row: 心电图机 and 充电机 share
        # 电 and 机, 水银体温计 and 水银血压计 share 水银, and neither is a suggestion for the other.
        close = [k for k in difflib.get_close_matches(key, self._words, n=12, cutoff=0.5) if _common(key, k) >= 3]
        names: list[str] = []
        for k in close:
            name = self.names[self._keys[k]]
            if name not in names:
                names.append(name)
        if names:
            return f"不是目录中的器具种类；最接近的是：{'、'.join(names[:3])}"
        return ("不是目录中的器具种类，可能不属于强制检定的计量器具；如属于，请按器具目录中的名称填写，"
                "或在预览中指定它对应的种类")
