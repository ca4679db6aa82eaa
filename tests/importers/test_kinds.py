"""Kinds: the spellings stations use resolve to catalogue codes; unknown ones name the closest."""
from __future__ import annotations

import pytest

from importers.kinds import KindResolver, seed_aliases
from importers.values import CellError


@pytest.mark.parametrize("text, code", [
    ("计价秤", "elec_price_scale"), ("电子秤", "elec_price_scale"), ("电子计价秤", "elec_price_scale"),
    ("电子计价称", "elec_price_scale"), ("电子 计价秤", "elec_price_scale"),
    ("加油机", "fuel_dispenser"), ("燃油加油机", "fuel_dispenser"), ("加由机", "fuel_dispenser"),
    ("税控燃油加油机", "fuel_dispenser"),
    ("计价器", "taximeter"), ("出租车计价器", "taximeter"), ("出租汽车计价器", "taximeter"),
    ("交流充电桩", "ev_ac_charger"), ("电动汽车交流充电桩", "ev_ac_charger"), ("充电桩（交流）", "ev_ac_charger"),
    ("充电桩(交流)", "ev_ac_charger"),
    ("直流充电桩", "ev_dc_charger"), ("充电机", "ev_dc_charger"), ("电动汽车非车载充电机", "ev_dc_charger"),
    ("血压计", "bp_manual"), ("血压表", "bp_manual"), ("电子血压计", "bp_auto"),
    ("燃气表", "gas_meter_ng"), ("膜式燃气表", "gas_meter_ng"), ("超声波燃气表", "gas_meter_ultrasonic"),
    ("电能表", "elec_meter"), ("电表", "elec_meter"),
    ("验光仪", "refractometer"), ("焦度计", "lensmeter"), ("验光镜片组", "trial_lens_set"), ("镜片箱", "trial_lens_set"),
    ("压缩天然气加气机", "cng_dispenser"), ("液化石油气加气机", "lpg_dispenser"),
    # catalogue names as written in the catalogue, full-width or not, and the codes themselves
    ("水表（DN≤25）", "water_meter_le25"), ("膜式燃气表（人工煤气/液化石油气）", "gas_meter_other"),
    ("fuel_dispenser", "fuel_dispenser"), ("ＥＬＥＣ_ＰＲＩＣＥ_ＳＣＡＬＥ", "elec_price_scale"),
])
def test_spellings(resolver, text, code):
    assert resolver.resolve(text) == code


def test_every_catalogue_name_resolves_to_itself(resolver, kinds):
    for code, name in kinds:
        assert resolver.resolve(name) == code


@pytest.mark.parametrize("size, code", [
    ("DN15", "water_meter_le25"), ("DN25", "water_meter_le25"), ("dn 20", "water_meter_le25"),
    ("26", "water_meter_25_50"), ("DN40", "water_meter_25_50"), ("50mm", "water_meter_25_50"),
    ("DN51", "water_meter_gt50"), ("DN100", "water_meter_gt50"), ("ＤＮ８０", "water_meter_gt50"),
])
def test_water_meters_by_size(resolver, size, code):
    from app.text import identifier
    assert resolver.resolve("水表", size=identifier(size)) == code
    assert resolver.resolve("冷水水表", size=identifier(size)) == code


def test_water_meter_size_in_the_kind_text_or_the_model(resolver):
    assert resolver.resolve("水表DN80") == "water_meter_gt50"
    assert resolver.resolve("水表（DN20）") == "water_meter_le25"
    assert resolver.resolve("水表", model="LXS-20C DN20") == "water_meter_le25"


def test_a_bare_number_in_the_model_is_not_a_size(resolver):
    """LXS-80 might be anything: only 口径 gives a bare number meaning."""
    with pytest.raises(CellError):
        resolver.resolve("水表", model="LXS-80")


def test_water_meter_without_size_names_the_three_kinds(resolver):
    with pytest.raises(CellError) as caught:
        resolver.resolve("水表")
    reason = caught.value.reason
    for name in ("水表（DN≤25）", "水表（25<DN≤50）", "水表（DN>50 或 Q3>16）"):
        assert name in reason
    assert "口径" in reason


@pytest.mark.parametrize("text, closest", [
    ("电子计价器", "电子计价秤"),
    ("燃油加气机", "燃油加油机"),
    ("充电桩", "电动汽车交流充电桩"),
])
def test_unknown_kinds_name_the_closest(resolver, text, closest):
    with pytest.raises(CellError) as caught:
        resolver.resolve(text)
    assert "最接近的是" in caught.value.reason
    assert closest in caught.value.reason


def test_nothing_close(resolver):
    with pytest.raises(CellError) as caught:
        resolver.resolve("游标卡尺")
    assert "请按器具目录中的名称填写" in caught.value.reason


def test_a_smaller_catalogue_drops_synonyms_it_lacks():
    resolver = KindResolver([("fuel_dispenser", "燃油加油机")])
    assert resolver.resolve("加油机") == "fuel_dispenser"
    with pytest.raises(CellError):
        resolver.resolve("电子秤")
    with pytest.raises(CellError):
        resolver.resolve("水表", size="DN15")  # the water family needs all three kinds


def test_renamed_catalogue_entries_are_found_by_their_new_name():
    resolver = KindResolver([("elec_price_scale", "计价秤（电子）")])
    assert resolver.resolve("计价秤（电子）") == "elec_price_scale"
    assert resolver.resolve("电子秤") == "elec_price_scale"


def test_seed_aliases_only_name_catalogue_codes(kinds):
    codes = {c for c, _ in kinds}
    assert {code for code, _ in seed_aliases()} <= codes


def test_recognises(resolver):
    assert resolver.recognises("加油机")
    assert resolver.recognises("水表")
    assert not resolver.recognises("说明")
