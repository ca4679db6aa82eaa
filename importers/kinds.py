"""Instrument kinds as stations spell them, resolved to catalogue codes.

The catalogue (codes and names) comes in as a parameter so it stays data; this module only
ships the spellings. A spelling whose code is not in the catalogue passed in is ignored.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

from app.text import match_key
from importers.values import CellError

KIND_SYNONYMS: dict[str, tuple[str, ...]] = {
    "elec_price_scale": ("电子计价秤", "计价秤", "电子秤", "电子计价称", "计价称", "电子称", "电子台秤",
                         "电子计价台秤", "数字指示秤", "台秤", "案秤", "电子案秤"),
    "fuel_dispenser": ("燃油加油机", "加油机", "税控燃油加油机", "税控加油机", "加油枪", "加由机",
                       "燃油加由机", "汽油加油机", "柴油加油机"),
    "cng_dispenser": ("压缩天然气加气机", "CNG加气机", "天然气加气机"),
    "lpg_dispenser": ("液化石油气加气机", "LPG加气机", "液化气加气机"),
    "taximeter": ("出租汽车计价器", "出租车计价器", "计价器", "出租车计价表", "的士计价器", "出租汽车计价表"),
    "ev_ac_charger": ("电动汽车交流充电桩", "交流充电桩", "充电桩(交流)", "交流桩", "交流充电设备"),
    "ev_dc_charger": ("电动汽车非车载充电机", "直流充电桩", "充电机", "非车载充电机", "充电桩(直流)", "直流桩",
                      "直流充电机"),
    "gas_meter_ng": ("膜式燃气表(天然气)", "燃气表", "膜式燃气表", "天然气表", "膜式表"),
    "gas_meter_other": ("膜式燃气表(人工煤气/液化石油气)", "煤气表", "液化气表", "液化石油气表"),
    "gas_meter_ultrasonic": ("超声波燃气表",),
    "elec_meter": ("电能表(居民)", "电能表", "电表", "电子式电能表", "智能电能表", "单相电能表",
                   "三相电能表", "电度表", "智能电表"),
    "bp_manual": ("血压计、血压表", "血压计", "血压表", "水银血压计", "台式血压计"),
    "bp_auto": ("电子血压计", "无创自动测量血压计", "自动血压计", "电子血压表"),
    "refractometer": ("验光仪", "电脑验光仪", "自动验光仪"),
    "lensmeter": ("焦度计", "电脑焦度计", "查片仪", "自动焦度计"),
    "trial_lens_set": ("验光镜片组", "验光镜片箱", "镜片箱", "试镜片箱", "验光镜片"),
}

# Water meters: the kind depends on the nominal size (JJG 162-2019), so the plain word needs DN.
WATER_WORDS = ("水表", "冷水水表", "饮用冷水水表", "自来水表", "民用水表", "智能水表", "远传水表",
               "IC卡水表", "旋翼式水表", "机械水表", "户用水表")
WATER_CODES = ("water_meter_le25", "water_meter_25_50", "water_meter_gt50")

_DN = re.compile(r"DN\s*(\d+)", re.IGNORECASE)
_NUMBER = re.compile(r"(\d+)")
_BRACKETS = str.maketrans("", "", "()（）[]【】")


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


class KindResolver:
    """Maps a ledger's kind text (plus the meter size when it matters) to a catalogue code."""

    def __init__(self, kinds: Iterable[tuple[str, str]],
                 synonyms: Mapping[str, Iterable[str]] = KIND_SYNONYMS) -> None:
        self.names: dict[str, str] = dict(kinds)
        self._keys: dict[str, str] = {}
        for code, name in self.names.items():
            self._keys[kind_key(name)] = code
            self._keys[kind_key(code)] = code
        for code, spellings in synonyms.items():
            if code in self.names:
                for spelling in spellings:
                    self._keys.setdefault(kind_key(spelling), code)
        self._water = {kind_key(w) for w in WATER_WORDS} if all(c in self.names for c in WATER_CODES) else set()
        self._cache: dict[tuple[str, str | None, str | None], str | CellError] = {}

    def resolve(self, text: str, *, size: str | None = None, model: str | None = None) -> str:
        """The catalogue code; raises CellError naming the closest kinds when unknown."""
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

    def _resolve(self, text: str, size: str | None, model: str | None) -> str:
        key = kind_key(text)
        code = self._keys.get(key)
        if code:
            return code
        dn_in_text = nominal_size(key, bare_number=False)
        base = _DN.sub("", key) if dn_in_text is not None else key
        if base in self._water:
            dn = dn_in_text
            if dn is None:
                dn = nominal_size(size, bare_number=True)
            if dn is None:
                dn = nominal_size(model, bare_number=False)
            if dn is None:
                names = "、".join(self.names[c] for c in WATER_CODES)
                raise CellError(f"需按口径区分为 {names}；请填写口径（如 DN15）或直接写明种类")
            return water_code(dn)
        raise CellError(self._unknown(key))

    def _unknown(self, key: str) -> str:
        close = difflib.get_close_matches(key, list(self._keys), n=6, cutoff=0.5)
        names: list[str] = []
        for k in close:
            name = self.names[self._keys[k]]
            if name not in names:
                names.append(name)
        if names:
            return f"不是目录中的器具种类；最接近的是：{'、'.join(names[:3])}"
        return "不是目录中的器具种类；请按器具目录中的名称填写"
