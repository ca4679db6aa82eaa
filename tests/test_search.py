"""The search page (/search) and the stored search text behind it, on both databases.

The search ignores width, bracket style, case, spaces and punctuation, finds any part of the searched
fields, answers within the user's stations, and the stored text stays in step on every write path.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, insert, select, update

from app.bulk import bulk_insert, insert_with_ids
from app.db import utcnow
from app.instruments.models import Instrument
from app.instruments.services import update_instrument
from app.merchants.models import Merchant
from app.merchants.services import update_merchant
from app.scope import Scope
from app.search.keys import SOURCES, refresh_search_text, search_key, search_text
from tests import factories
from tests.conftest import login

ALL = Scope.everything()


def test_the_key_folds_width_brackets_case_spaces_and_punctuation():
    assert search_key("华联超市（城关店）") == search_key("华联超市(城关店)") == search_key("华联超市【城关店】") \
        == search_key(" 华联超市 城关店 ") == "华联超市城关店"
    assert search_key("ＦＭ２０２６－１２０００１") == search_key("fm2026-120001") == "fm2026120001"
    assert search_key("浙A·12345") == search_key("浙ａ12345") == "浙a12345"
    # LIKE's and FTS5's special characters are punctuation: a key never contains them.
    assert search_key('%_"\\*') == ""
    assert search_text("甲 店", "", None, "地址") == "甲店 地址"


def _page(client, q: str, **args) -> str:
    resp = client.get("/search", query_string={"q": q, **args})
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


def _merchant_links(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'href="/merchants/(\d+)"', html)}


def _instrument_links(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'href="/instruments/(\d+)"', html)}


@pytest.fixture()
def records(session, world):
    """A supermarket, a taxi, a charger and a household meter in station A; a look-alike in station B."""
    a, b = world.station_a, world.station_b
    shop = factories.merchant(session, a, "华联超市（城关店）", industry="retail", address="城关镇人民路12号",
                              credit_code="91330100MA27XYR129")
    taxi_co = factories.merchant(session, a, "城关出租汽车有限公司", industry="taxi_company")
    water = factories.merchant(session, a, "城关自来水公司", industry="utility")
    other = factories.merchant(session, b, "华联超市（城南店）", industry="retail")
    scale = factories.instrument(session, shop, serial="FM2026120001", location="生鲜区3号台")
    meter = factories.instrument(session, taxi_co, "taximeter", serial="JJ-778", location="浙A·12345")
    charger = factories.instrument(session, shop, "ev_ac_charger", serial="CH-01", location="停车场7号桩")
    household = factories.instrument(session, water, "water_meter_le25", serial="WM-5", location="户号00012345 人民路8号")
    twin = factories.instrument(session, other, serial="FM2026120002", location="收银台")
    session.commit()
    return dict(shop=shop, taxi_co=taxi_co, other=other, scale=scale, meter=meter, charger=charger,
                household=household, twin=twin)


@pytest.mark.parametrize("q", ["华联超市（城关店）", "华联超市(城关店)", "华联超市 城关店", "超市（城关"])
def test_a_merchant_is_found_as_the_list_shows_it_in_either_bracket_style(client, records, q):
    login(client, "super1")
    found = _merchant_links(_page(client, q))
    assert records["shop"].id in found
    assert records["other"].id not in found


@pytest.mark.parametrize("q", ["91330100ma27", "MA27XYR", "ｍａ２７ｘｙｒ", "人民路12", "城关镇人民"])
def test_a_merchant_is_found_by_any_part_of_its_credit_code_or_address(client, records, q):
    login(client, "super1")
    assert records["shop"].id in _merchant_links(_page(client, q))


@pytest.mark.parametrize("q,key", [
    ("2026120001", "scale"), ("fm2026120001", "scale"), ("ＦＭ2026120001", "scale"), ("生鲜区", "scale"),
    ("a12345", "meter"), ("浙A12345", "meter"), ("浙Ａ·12345", "meter"),  # plate number
    ("7号桩", "charger"), ("停车场7", "charger"),  # charger number
    ("00012345", "household"), ("户号0001", "household"),  # household account
    ("jj778", "meter"), ("JJ-778", "meter"),
])
def test_an_instrument_is_found_by_any_part_of_serial_or_location(client, records, q, key):
    login(client, "super1")
    assert records[key].id in _instrument_links(_page(client, q))


def test_results_are_grouped_by_kind_with_counts_and_a_link_to_see_more(client, session, records, world):
    for n in range(12):
        factories.instrument(session, records["shop"], serial=f"ZQ-{n:03d}")
    session.commit()
    login(client, "super1")
    html = _page(client, "zq0")
    assert 'id="count-instruments">12<' in html and 'id="count-merchants">0<' in html
    assert "没有找到符合条件的使用单位" in html
    assert len(_instrument_links(html)) == 10
    assert 'id="more-instruments" href="/search?q=zq0&amp;kind=instruments"' in html
    one_kind = _page(client, "zq0", kind="instruments")
    assert len(_instrument_links(one_kind)) == 12 and 'id="group-merchants"' not in one_kind


def test_an_inspector_finds_only_the_records_of_their_stations(app, client, records):
    login(client, "insp_b")
    html = _page(client, "华联超市")
    assert _merchant_links(html) == {records["other"].id}
    html = _page(client, "fm202612")
    assert _instrument_links(html) == {records["twin"].id}
    other = app.test_client()
    login(other, "insp_a")
    html = _page(other, "fm202612")
    assert _instrument_links(html) == {records["scale"].id}


def test_a_supervisor_finds_every_stations_records(client, records):
    login(client, "super1")
    assert _instrument_links(_page(client, "fm202612")) == {records["scale"].id, records["twin"].id}


def test_several_stations_are_searched_station_by_station_within_the_cap(session, world):
    """A scope of several stations (a county's or a city's supervisor; on PostgreSQL one LATERAL read per station
    of the station-led trigram index): every match of those stations and none of another, at most cap + 1."""
    from app.search.queries import matching_ids

    c = factories.station(session, "SC03", "城西所")
    shops = {st.id: factories.merchant(session, st, f"{st.name}测试商户") for st in (world.station_a, world.station_b, c)}
    made = {st_id: [factories.instrument(session, shop, serial=f"PXQ-{st_id}-{n}").id for n in range(3)]
            for st_id, shop in shops.items()}
    session.commit()
    dialect = session.get_bind().dialect.name
    two = Scope(frozenset({world.station_a.id, c.id}))

    def found(scope, cap=1000):
        return set(session.scalars(matching_ids(Instrument, scope, search_key("pxq"), cap=cap, dialect=dialect)))

    assert found(two) == set(made[world.station_a.id]) | set(made[c.id])
    assert found(Scope(frozenset({world.station_b.id}))) == set(made[world.station_b.id])
    assert found(ALL) == {i for ids in made.values() for i in ids}
    capped = found(two, cap=4)
    assert len(capped) == 5 and capped <= set(made[world.station_a.id]) | set(made[c.id])
    assert found(Scope(frozenset())) == set()


def test_the_public_never_reaches_the_search(client, records):
    resp = client.get("/search?q=fm2026")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


@pytest.mark.parametrize("q", ["华联", "A1", "（）", "  ", "-%_"])
def test_a_query_under_three_characters_asks_for_more_in_chinese(client, records, q):
    login(client, "super1")
    html = _page(client, q)
    if q.strip():
        assert "请至少输入 3 个字" in html
    assert 'id="group-' not in html


def test_the_navigation_has_the_search_box(client, world):
    login(client, "insp_a")
    html = client.get("/merchants/").get_data(as_text=True)
    assert 'id="nav-search"' in html and 'action="/search"' in html


# --- the stored text stays in step on every write path -------------------------------------------------

def _stale(session) -> list:
    """Rows whose stored search text is not what their fields fold to."""
    out = []
    for model in (Merchant, Instrument):
        cols = [getattr(model, c) for c in SOURCES[model.__tablename__]]
        for row in session.execute(select(model.id, model.search_text, *cols)):
            if row[1] != search_text(*row[2:]):
                out.append((model.__tablename__, row[0], row[1]))
    return out


def test_edits_through_the_services_keep_the_search_text_in_step(client, session, records, world):
    shop, scale = records["shop"], records["scale"]
    update_merchant(session, None, ALL, shop, expected_version=shop.version,
                    values={"name": "联华便利（东门店）", "industry": "retail", "station_id": shop.station_id,
                            "address": "东门路1号", "credit_code": shop.credit_code, "parent_id": None})
    update_instrument(session, None, ALL, scale, expected_version=scale.version,
                      values={"type_id": scale.type_id, "merchant_id": scale.merchant_id, "serial_no": "FM2026120001",
                              "location": "熟食区9号台", "status": "in_use"})
    session.commit()
    assert _stale(session) == []
    login(client, "super1")
    assert shop.id in _merchant_links(_page(client, "便利(东门"))
    assert shop.id not in _merchant_links(_page(client, "城关店"))
    assert scale.id in _instrument_links(_page(client, "熟食区9"))
    assert scale.id not in _instrument_links(_page(client, "生鲜区"))


def test_core_and_bulk_writes_keep_the_search_text_in_step(client, session, records, world):
    table, now = Instrument.__table__, utcnow()
    base = {"type_id": records["scale"].type_id, "merchant_id": records["shop"].id,
            "station_id": world.station_a.id, "maker": "", "maker_key": "", "status": "in_use",
            "created_at": now, "updated_at": now, "version": 1}
    # A Core INSERT (the demo generator's and the benchmarks' path): the column's default derives it.
    session.execute(insert(table), [{**base, "serial_no": "CORE-7731", "serial_key": "CORE-7731", "location": "Ｂ区（二楼）"}])
    # The importer's bulk path (COPY on PostgreSQL, the driver's executemany on SQLite).
    bulk_insert(session, table, [{**base, "serial_no": f"BULK-{n}", "serial_key": f"BULK-{n}", "location": "冷库（一号）"}
                                   for n in range(3)])
    insert_with_ids(session, table, 2, ({**base, "serial_no": f"IDS-{n}", "serial_key": f"IDS-{n}", "location": "仓库"}
                                          for n in range(2)))
    # A Core UPDATE of a source column (the importer's updates and undo), then the refresh.
    session.execute(update(table).where(table.c.serial_no == "BULK-0").values(location="新位置（三号）"))
    refresh_search_text(session, table, session.scalars(select(table.c.id).where(table.c.serial_no == "BULK-0")))
    session.commit()
    assert _stale(session) == []
    login(client, "super1")
    assert len(_instrument_links(_page(client, "core7731"))) == 1
    assert len(_instrument_links(_page(client, "b区(二楼"))) == 1
    assert len(_instrument_links(_page(client, "冷库(一号)"))) == 2
    assert len(_instrument_links(_page(client, "新位置三号"))) == 1
    assert len(_instrument_links(_page(client, "bulk"))) == 3


def test_a_bulk_insert_leaving_out_a_searched_field_derives_from_its_default(session, world):
    now = utcnow()
    bulk_insert(session, Merchant.__table__, [{"name": "万家（东站）", "name_key": "x", "industry": "retail",
                                               "station_id": world.station_a.id, "created_at": now,
                                               "updated_at": now}])
    assert session.scalar(select(Merchant.search_text).where(Merchant.name == "万家（东站）")) == "万家东站"


def test_deleted_records_leave_the_search(client, session, records):
    session.delete(records["meter"])
    session.commit()
    login(client, "super1")
    assert _instrument_links(_page(client, "a12345")) == set()
    assert session.scalar(select(func.count()).select_from(Instrument).where(Instrument.serial_no == "JJ-778")) == 0


def test_the_demo_generator_writes_the_search_text(session, world):
    from app.demo.generator import Generator

    gen = Generator(session, seed=7)
    gen.add_instruments(60, gen.add_merchants(8, gen.add_stations(1)))
    counts = gen.finish()
    assert counts["instruments"] == 60
    assert _stale(session) == []


def test_the_merchant_and_instrument_list_filters_use_the_same_match(client, records):
    login(client, "super1")
    html = client.get("/merchants/", query_string={"q": "华联超市(城关店)"}).get_data(as_text=True)
    assert records["shop"].id in _merchant_links(html) and records["other"].id not in _merchant_links(html)
    html = client.get("/instruments/", query_string={"q": "2026120001"}).get_data(as_text=True)
    assert _instrument_links(html) == {records["scale"].id}
    html = client.get("/instruments/", query_string={"q": "浙a12345"}).get_data(as_text=True)
    assert _instrument_links(html) == {records["meter"].id}
    # Under three characters the lists keep their plain filters (serial prefix, location part).
    html = client.get("/instruments/", query_string={"q": "JJ"}).get_data(as_text=True)
    assert _instrument_links(html) == {records["meter"].id}
