"""Campaigns that say where they stand, draws that cannot be misused (issue 13 part 6): every planned merchant
with its state, filterable, exported and linked to its inspection; no draw after the campaign's last day;
publishing asks for confirmation and warns about uninspected merchants; one campaign name per year."""
from __future__ import annotations

import datetime as dt
import io

import lxml.html
import openpyxl
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.clock import today
from app.errors import Duplicate, Invalid
from app.inspections import queries, services
from app.inspections.models import Campaign, RandomDraw
from app.scope import Scope
from tests import factories
from tests.conftest import login

ALL = Scope.everything()


def crew(world):
    return [world.inspector_a, world.supervisor]


@pytest.fixture()
def planned(session, world):
    """A running campaign planning seven merchants, one in each state (and one more not inspected, in B)."""
    camp = factories.campaign(session, [world.station_a, world.station_b], name="进度专项",
                              starts_on=today() - dt.timedelta(days=20))
    m = {key: factories.merchant(session, world.station_a, f"进度{key}")
         for key in ("not_inspected", "no_problem", "problem", "rectifying", "rectified", "case")}
    m["b_not_inspected"] = world.merchant_b
    for merchant in m.values():
        services.add_target(session, None, camp, merchant)
    on = today() - dt.timedelta(days=5)
    visits = {}
    for key in ("no_problem", "problem", "rectifying", "rectified", "case"):
        visits[key] = factories.inspection(session, m[key], crew(world), campaign_id=camp.id, on=on)
    factories.finding(session, visits["problem"], "NO_VALID_MARK", "on_the_spot")
    factories.finding(session, visits["rectifying"], "OVERDUE")
    done = factories.finding(session, visits["rectified"], "OVERDUE").rectification
    services.record_recheck(session, None, done, expected_version=done.version,
                            values={"rechecked_on": today(), "rectified": True}, today=today())
    factories.finding(session, visits["case"], "CHEAT_DEVICE", "case", case_no="案-1")
    factories.finding(session, visits["case"], "OVERDUE")
    # A voided finding does not make a merchant 发现问题.
    wrong = factories.finding(session, visits["no_problem"], "SEAL_TAMPERED")
    services.void_finding(session, None, wrong, "录错", today())
    session.commit()
    return {"campaign": camp, "merchants": m, "visits": visits}


def _states(session, camp, scope=ALL, state=None):
    return {row.merchant_name: (row.state, row.inspection_id)
            for row in session.execute(queries.target_states(camp.id, scope, state))}


def test_every_planned_merchant_has_its_state(session, world, planned):
    states = _states(session, planned["campaign"])
    expected = {f"进度{k}": k for k in ("not_inspected", "no_problem", "problem", "rectifying", "rectified", "case")}
    expected[world.merchant_b.name] = "not_inspected"
    assert {name: s for name, (s, _) in states.items()} == expected
    visits = planned["visits"]
    assert states["进度case"][1] == visits["case"].id and states["进度not_inspected"][1] is None
    counts = dict(session.execute(queries.target_state_counts(planned["campaign"].id, ALL)).all())
    assert counts == {"not_inspected": 2, "no_problem": 1, "problem": 1, "rectifying": 1, "rectified": 1, "case": 1}
    # Filtered, and scoped: station B's inspector sees station B's merchants only.
    assert set(_states(session, planned["campaign"], state="not_inspected")) == {"进度not_inspected",
                                                                                   world.merchant_b.name}
    b_only = Scope(frozenset({world.station_b.id}))
    assert set(_states(session, planned["campaign"], b_only)) == {world.merchant_b.name}


def test_campaign_page_lists_states_filters_and_links_to_inspections(client, session, world, planned):
    camp, visits = planned["campaign"], planned["visits"]
    login(client, "super1")
    page = lxml.html.fromstring(client.get(f"/campaigns/{camp.id}").get_data(as_text=True))
    rows = page.get_element_by_id("targets").findall("tbody/tr")
    assert len(rows) == 7
    by_state = {r.get("data-state"): r for r in rows}
    assert by_state["case"].find_class("target-state")[0].text_content().startswith("立案")
    link = by_state["rectifying"].find_class("target-inspection")[0].get("href")
    assert link == f"/inspections/{visits['rectifying'].id}"
    chips = page.get_element_by_id("target-states").text_content()
    for label in ("未检查 2", "已检查未发现问题 1", "发现问题 1", "整改中 1", "已整改 1", "立案 1"):
        assert label in chips, label
    page = lxml.html.fromstring(client.get(f"/campaigns/{camp.id}?state=rectified").get_data(as_text=True))
    rows = page.get_element_by_id("targets").findall("tbody/tr")
    assert [r.get("data-state") for r in rows] == ["rectified"]
    # An unknown state is ignored, not an error.
    assert client.get(f"/campaigns/{camp.id}?state=bogus").status_code == 200
    client.post("/logout")
    login(client, "insp_b")
    page = lxml.html.fromstring(client.get(f"/campaigns/{camp.id}").get_data(as_text=True))
    assert len(page.get_element_by_id("targets").findall("tbody/tr")) == 1


def test_planned_merchants_export_with_their_state(client, session, world, planned):
    camp = planned["campaign"]
    login(client, "super1")
    resp = client.get(f"/campaigns/{camp.id}/targets.xlsx?state=not_inspected")
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    ws = openpyxl.load_workbook(io.BytesIO(resp.data)).active
    header = [c.value for c in ws[1]]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert {r[header.index("使用单位")] for r in rows} == {"进度not_inspected", world.merchant_b.name}
    assert {r[header.index("状态")] for r in rows} == {"未检查"}
    ws = openpyxl.load_workbook(io.BytesIO(client.get(f"/campaigns/{camp.id}/targets.xlsx").data)).active
    rows = {r[header.index("使用单位")]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    case = rows["进度case"]
    assert case[header.index("状态")] == "立案" and case[header.index("发现问题（条）")] == 2
    assert case[header.index("检查记录编号")] == planned["visits"]["case"].id


# --- the draw and its publication ------------------------------------------------------------------

def _draw(session, world, camp, on):
    return services.run_draw(session, world.supervisor, camp, station_ids=[world.station_a.id, world.station_b.id],
                             industries=[], rates={"A": 100, "B": 100, "C": 100, "D": 100, "none": 100},
                             inspectors_per_target=2, exclude_own_station=False,
                             roster_ids=[world.inspector_a.id, world.inspector_b.id, world.supervisor.id], seed=3,
                             today=on)


def test_no_draw_after_the_campaigns_last_day(client, session, world):
    camp = factories.campaign(session, [world.station_a, world.station_b], name="已结束专项",
                              starts_on=today() - dt.timedelta(days=30), ends_on=today() - dt.timedelta(days=1))
    session.commit()
    with pytest.raises(Invalid, match="结束后不能再进行随机抽取"):
        _draw(session, world, camp, today())
    session.rollback()
    login(client, "super1")
    page = client.get(f"/campaigns/{camp.id}/draw").get_data(as_text=True)
    assert 'id="draw-ended"' in page
    resp = client.post(f"/campaigns/{camp.id}/draw", data={
        "station_ids": [str(world.station_a.id)], "rate_A": "1", "rate_B": "2", "rate_C": "10", "rate_D": "30",
        "rate_none": "100", "inspectors_per_target": "2",
        "roster_ids": [str(world.inspector_a.id), str(world.inspector_b.id), str(world.supervisor.id)]})
    assert resp.status_code == 200 and "结束后不能再进行随机抽取" in resp.get_data(as_text=True)
    assert session.scalars(select(RandomDraw)).first() is None
    # On its last day it may still be drawn.
    assert _draw(session, world, camp, camp.ends_on).campaign_id == camp.id


def test_publishing_shows_what_will_be_public_warns_and_needs_confirmation(client, session, world):
    camp = factories.campaign(session, [world.station_a, world.station_b], name="公示确认专项",
                              starts_on=today() - dt.timedelta(days=30), ends_on=today() - dt.timedelta(days=1))
    extra = factories.merchant(session, world.station_a, "公示甲摊位", phone="13900001111")
    found = _draw(session, world, camp, camp.ends_on)
    factories.inspection(session, world.merchant_a, crew(world), campaign_id=camp.id,
                         on=today() - dt.timedelta(days=10))
    session.commit()
    login(client, "super1")
    draw_page = client.get(f"/draws/{found.id}").get_data(as_text=True)
    assert f'href="/draws/{found.id}/publish"' in draw_page
    page = lxml.html.fromstring(client.get(f"/draws/{found.id}/publish").get_data(as_text=True))
    assert page.get_element_by_id("uninspected-count").text_content() == "2"
    assert page.get_element_by_id("published-uninspected-count").text_content() == "2"
    preview = page.get_element_by_id("publish-preview").text_content()
    assert extra.name in preview and "尚未检查" in preview and "13900001111" not in preview
    # Not confirmed: refused in Chinese, nothing published.
    resp = client.post(f"/draws/{found.id}/publish", data={})
    assert resp.status_code == 200 and "请先勾选确认" in resp.get_data(as_text=True)
    session.expire_all()
    assert session.get(RandomDraw, found.id).published_at is None
    resp = client.post(f"/draws/{found.id}/publish", data={"confirm": "y"})
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(RandomDraw, found.id).published_at is not None
    # Published once: the page sends back to the draw.
    assert client.get(f"/draws/{found.id}/publish").status_code == 302


def test_publishing_before_the_end_shows_no_confirm_button(client, session, world):
    camp = factories.campaign(session, [world.station_a, world.station_b], name="进行中专项")
    found = _draw(session, world, camp, today())
    session.commit()
    login(client, "super1")
    text = client.get(f"/draws/{found.id}/publish").get_data(as_text=True)
    assert 'id="not-ended"' in text and 'id="publish-confirm"' not in text
    resp = client.post(f"/draws/{found.id}/publish", data={"confirm": "y"})
    assert "后才能公示抽查结果" in resp.get_data(as_text=True)


# --- one name per year -------------------------------------------------------------------------------

def test_campaign_names_are_unique_within_a_year(session, world):
    start = dt.date(today().year, 1, 10)
    first = factories.campaign(session, [world.station_a], name="电子秤专项（城关）", starts_on=start)
    session.commit()
    # Width, spaces and letter case do not make another name.
    for same in ("电子秤专项(城关)", " 电子秤专项 （城关） "):
        with pytest.raises(Duplicate, match="已有名为"):
            factories.campaign(session, [world.station_a], name=same, starts_on=start + dt.timedelta(days=100))
        session.rollback()
    # Another year may reuse it.
    other = factories.campaign(session, [world.station_a], name="电子秤专项（城关）",
                               starts_on=start.replace(year=start.year - 1))
    assert first.name_key != other.name_key
    # Renaming into an existing name is refused too.
    third = factories.campaign(session, [world.station_a], name="加油机专项", starts_on=start)
    values = {k: getattr(third, k) for k in services.CAMPAIGN_FIELDS}
    with pytest.raises(Duplicate):
        services.update_campaign(session, None, third, expected_version=third.version,
                                 values={**values, "name": "电子秤专项(城关)"})
    session.rollback()


def test_the_database_refuses_a_duplicate_name_key(session, world):
    camp = factories.campaign(session, [world.station_a], name="重复专项")
    session.commit()
    session.add(Campaign(name="重复专项", name_key=camp.name_key, starts_on=camp.starts_on, ends_on=camp.ends_on,
                         station_ids=[world.station_a.id], type_ids=[], industries=[], notes=""))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_campaign_form_says_the_name_is_taken(client, session, world):
    factories.campaign(session, [world.station_a], name="计价秤专项")
    session.commit()
    login(client, "super1")
    resp = client.post("/campaigns/new", data={
        "name": "计价秤专项", "starts_on": today().isoformat(), "ends_on": (today() + dt.timedelta(days=9)).isoformat(),
        "station_ids": [str(world.station_a.id)]})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and f"{today().year} 年已有名为“计价秤专项”的专项检查行动" in text
    assert len(session.scalars(select(Campaign)).all()) == 1
