"""Markets (issue 20, point 2): fair scales on the organiser's instruments and on the public page, the re-weigh
log with the 零售商品称重 tolerances, stalls with repeated shortfalls, the organiser-duty checklist."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import lxml.html
import pytest
from sqlalchemy import func, select

from app.catalog.models import FindingCode
from app.clock import today
from app.errors import Invalid
from app.inspections.models import Finding, Rectification
from app.markets import queries, services
from app.markets.models import Duty, DutyCheck, DutyOutcome, FairScale, Reweigh
from app.markets.tolerance import GoodsCategory, tolerance_g
from tests import factories as f
from tests.conftest import login


@pytest.mark.parametrize("category, claimed, allowed", [
    ("staple", 1, 20), ("staple", 1000, 20), ("staple", 1001, 40), ("staple", 2000, 40), ("staple", 4000, 80),
    ("staple", 25000, 100), ("staple", 25001, None),
    ("fresh", 2500, 5), ("fresh", 2501, 10), ("fresh", 10000, 10), ("fresh", 15000, 15), ("fresh", 15001, None),
    ("dried", 1000, 2), ("dried", 4000, 4), ("dried", 6000, 6), ("dried", 6001, None),
    ("premium", 500, 1), ("premium", 501, 2), ("premium", 2000, 2), ("premium", 5000, 3), ("premium", 5001, None),
])
def test_the_retail_weighing_table(category, claimed, allowed):
    assert tolerance_g(GoodsCategory(category), claimed) == allowed


@dataclass
class Market:
    organiser: object
    scale: object
    stall: object
    other_stall: object


@pytest.fixture()
def market(session, world):
    organiser = f.merchant(session, world.station_a, "甲城关农贸市场", industry="market_organiser")
    stall = f.merchant(session, world.station_a, "甲市场猪肉摊", parent_id=organiser.id)
    other = f.merchant(session, world.station_a, "甲市场水果摊", parent_id=organiser.id)
    scale = f.instrument(session, organiser, "platform_scale", serial="FAIR-1")
    session.commit()
    return Market(organiser, scale, stall, other)


def _mark(session, market, location="东门服务台"):
    return services.mark_fair_scale(session, None, f.ALL, market.scale, location)


def test_inspector_marks_a_fair_scale_and_the_public_page_shows_it(client, session, world, market):
    login(client, "insp_a")
    resp = client.post(f"/markets/{market.organiser.id}/fair-scales",
                       data={"instrument_id": market.scale.id, "location": "东门入口服务台旁"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
    row = session.scalars(select(FairScale)).one()
    assert (row.market_id, row.location, row.is_active) == (market.organiser.id, "东门入口服务台旁", True)
    client.post("/logout")
    page = lxml.html.fromstring(client.get("/public/?q=城关农贸").data)
    assert page.xpath('//div[contains(@class,"public-fair-scales")]//li/text()')[0].startswith("东门入口服务台旁（")
    # Unmarked: the public page no longer lists it.
    services.unmark_fair_scale(session, None, row)
    session.commit()
    assert "东门入口服务台旁" not in client.get("/public/?q=城关农贸").get_data(as_text=True)


def test_a_fair_scale_must_be_the_organisers_scale(session, world, market):
    taxi = f.instrument(session, market.organiser, "taximeter", serial="T-1")
    with pytest.raises(Invalid, match="不是衡器"):
        services.mark_fair_scale(session, None, f.ALL, taxi, "门口")
    vendor_scale = f.instrument(session, market.stall, "elec_price_scale", serial="V-1")
    with pytest.raises(Invalid, match="应为集贸市场主办者的计量器具"):
        services.mark_fair_scale(session, None, f.ALL, vendor_scale, "门口")
    with pytest.raises(Invalid, match="请填写公平秤在市场内的位置"):
        services.mark_fair_scale(session, None, f.ALL, market.scale, "  ")
    # Unmarked and marked again: one row, back in use at its new place.
    row = _mark(session, market)
    services.unmark_fair_scale(session, None, row)
    assert not row.is_active
    again = _mark(session, market, "西门")
    assert again.id == row.id and again.is_active and again.location == "西门"


def _reweigh(client, scale, **values):
    data = {"weighed_on": today().isoformat(), "goods": "猪肉", "category": "fresh", "claimed_g": "1000",
            "found_g": "990", "stall_id": "", "notes": "", **values}
    return client.post(f"/markets/fair-scales/{scale.id}/reweigh", data=data)


def test_a_reweigh_keeps_the_shortfall_and_the_tolerance_of_its_weight(client, session, world, market):
    scale = _mark(session, market)
    session.commit()
    login(client, "insp_a")
    resp = _reweigh(client, scale, stall_id=str(market.stall.id))
    assert resp.status_code == 302
    row = session.scalars(select(Reweigh)).one()
    assert (row.shortfall_g, row.tolerance_g, row.is_short, row.stall_id) == (10, 5, True, market.stall.id)
    flash = client.get(f"/markets/{market.organiser.id}").get_data(as_text=True)
    assert "短缺 10 克，超过允许的 5 克" in flash and "短斤缺两" in flash
    # More than claimed is no shortfall.
    assert _reweigh(client, scale, claimed_g="500", found_g="510", category="staple").status_code == 302
    assert session.scalars(select(Reweigh).order_by(Reweigh.id.desc())).first().shortfall_g == -10


@pytest.mark.parametrize("values, message", [
    ({"claimed_g": "30000", "category": "staple"}, "超出《零售商品称重计量监督管理办法》附表1中该类商品的称重范围（不超过 25 千克）"),
    ({"claimed_g": ""}, "请填写标称重量（克）"),
    ({"claimed_g": "0"}, "应为1到1000000之间的整数"),
    ({"found_g": "九百"}, "整数"),
    ({"goods": ""}, "请填写商品名称"),
    ({"category": "gold"}, "不是有效的选择"),
    ({"weighed_on": "2099-01-01"}, "复秤日期不能晚于今天"),
])
def test_bad_reweigh_input_gets_a_chinese_message(client, session, world, market, values, message):
    scale = _mark(session, market)
    session.commit()
    login(client, "insp_a")
    resp = _reweigh(client, scale, **values)
    assert resp.status_code == 200 and message in resp.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Reweigh)) == 0


def test_a_stall_of_another_market_is_refused(session, world, market):
    scale = _mark(session, market)
    stranger = f.merchant(session, world.station_a, "别处摊位")
    with pytest.raises(Invalid, match="不是本市场的经营户"):
        services.record_reweigh(session, None, scale, {"weighed_on": today(), "goods": "米", "category": "staple",
                                                       "claimed_g": 500, "found_g": 500, "stall_id": stranger.id},
                                today())


def _log(session, scale, stall, on, claimed, found, category="fresh"):
    return services.record_reweigh(session, None, scale, {
        "weighed_on": on, "goods": "牛肉", "category": category, "claimed_g": claimed, "found_g": found,
        "stall_id": stall.id if stall else None}, today())


def test_repeated_shortfalls_name_the_stall(session, world, market):
    scale = _mark(session, market)
    t = today()
    _log(session, scale, market.stall, t - dt.timedelta(days=10), 1000, 990)      # 10 g short, 5 allowed
    _log(session, scale, market.stall, t - dt.timedelta(days=3), 3000, 2985)      # 15 short, 10 allowed
    _log(session, scale, market.other_stall, t - dt.timedelta(days=3), 1000, 996)  # 4 short: within
    _log(session, scale, market.other_stall, t - dt.timedelta(days=2), 1000, 990)  # short once
    wrong = _log(session, scale, market.other_stall, t - dt.timedelta(days=1), 1000, 900)
    services.void_reweigh(session, None, wrong, "商品称错")                          # voided: not counted
    _log(session, scale, market.other_stall, t - dt.timedelta(days=400), 1000, 900)  # before `since`
    _log(session, scale, None, t, 1000, 900)                                         # no stall: nobody to flag
    since = t - dt.timedelta(days=30)
    assert set(session.scalars(queries.repeated_shortfall_merchants(since))) == {market.stall.id}
    assert set(session.scalars(queries.repeated_shortfall_merchants(since, at_least=3))) == set()
    assert set(session.scalars(queries.repeated_shortfall_merchants(t - dt.timedelta(days=500)))) == {
        market.stall.id, market.other_stall.id}
    # Its column is merchant_id, for the 重点关注 flag to join on.
    assert [c.name for c in queries.repeated_shortfall_merchants(since).selected_columns] == ["merchant_id"]


def test_the_market_page_flags_the_stall_and_voiding_needs_a_reason(client, session, world, market):
    scale = _mark(session, market)
    first = _log(session, scale, market.stall, today(), 1000, 980)
    _log(session, scale, market.stall, today(), 1000, 980)
    session.commit()
    login(client, "insp_a")
    page = lxml.html.fromstring(client.get(f"/markets/{market.organiser.id}").data)
    flagged = page.xpath('//table[@id="stall-list"]//tr[.//span[contains(@class,"stall-flag")]]/td[1]//text()')
    assert flagged == [market.stall.name]
    assert "请填写作废原因" in client.post(f"/markets/reweighs/{first.id}/void", data={"reason": ""}).get_data(
        as_text=True)
    assert client.post(f"/markets/reweighs/{first.id}/void", data={"reason": "重复记录"}).status_code == 302
    page = lxml.html.fromstring(client.get(f"/markets/{market.organiser.id}").data)
    assert not page.xpath('//span[contains(@class,"stall-flag")]')
    client.post("/logout")
    login(client, "insp_b")
    assert client.get(f"/markets/{market.organiser.id}").status_code == 404
    # A merchant that is not a market has no market page.
    assert client.get(f"/markets/{world.merchant_b.id}").status_code == 404


def _inspection(session, world, merchant):
    return f.inspection(session, merchant, [world.inspector_a, world.supervisor], on=today() - dt.timedelta(days=1))


def test_the_duty_checklist_raises_findings_for_unmet_duties(client, session, world, market):
    insp = _inspection(session, world, market.organiser)
    session.commit()
    login(client, "insp_a")
    page = client.get(f"/inspections/{insp.id}").get_data(as_text=True)
    assert "主办者义务检查" in page
    resp = client.post(f"/inspections/{insp.id}/duties", data={
        "duty_rules": "met", "duty_fair_scales": "not_met", "note_fair_scales": "未设置公平秤",
        "finding_fair_scales": "y", "duty_agreements": "not_met", "duty_pledges": "na"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    checks = {c.duty: c for c in session.scalars(select(DutyCheck))}
    assert {d: c.outcome for d, c in checks.items()} == {
        Duty.RULES: DutyOutcome.MET, Duty.FAIR_SCALES: DutyOutcome.NOT_MET, Duty.AGREEMENTS: DutyOutcome.NOT_MET,
        Duty.PLEDGES: DutyOutcome.NOT_APPLICABLE}
    finding = session.get(Finding, checks[Duty.FAIR_SCALES].finding_id)
    assert session.get(FindingCode, finding.code_id).code == "NO_FAIR_SCALE" and "未设置公平秤" in finding.description
    assert session.scalars(select(Rectification).where(Rectification.finding_id == finding.id)).one()
    assert checks[Duty.AGREEMENTS].finding_id is None  # not met, but not raised
    # Done duties are shown, not asked again; the rest can still be checked.
    page = lxml.html.fromstring(client.get(f"/inspections/{insp.id}/duties").data)
    assert not page.xpath('//select[@name="duty_rules"]') and page.xpath('//select[@name="duty_registered"]')
    with pytest.raises(Invalid, match="已登记"):
        services.record_duty_checks(session, None, insp, {Duty.RULES: (DutyOutcome.MET, "", False)})


@pytest.mark.parametrize("data, message", [
    ({}, "请至少填写一项检查结论"),
    ({"duty_rules": "maybe"}, "请选择检查结论"),
    ({"duty_rules": "met", "finding_rules": "y"}, "符合或不适用，不能登记为问题"),
])
def test_the_duty_checklist_refuses_bad_input_in_chinese(client, session, world, market, data, message):
    insp = _inspection(session, world, market.organiser)
    session.commit()
    login(client, "insp_a")
    resp = client.post(f"/inspections/{insp.id}/duties", data=data, follow_redirects=True)
    assert message in resp.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(DutyCheck)) == 0


def test_the_checklist_is_only_for_market_organisers(client, session, world):
    insp = _inspection(session, world, world.merchant_a)
    session.commit()
    login(client, "insp_a")
    resp = client.get(f"/inspections/{insp.id}/duties", follow_redirects=True)
    assert "只适用于集贸市场主办者" in resp.get_data(as_text=True)


def test_repeated_shortfalls_flag_the_stall_for_attention(session, world, market):
    """Repeated shortfalls at a fair scale are a reason of the 重点关注 flag (app/attention), with its own label."""
    from app.attention.queries import flagged_merchants, reasons_of

    scale = _mark(session, market)
    _log(session, scale, market.stall, today() - dt.timedelta(days=10), 1000, 990)
    assert market.stall.id not in set(session.scalars(flagged_merchants(today())))
    _log(session, scale, market.stall, today() - dt.timedelta(days=3), 3000, 2985)
    assert market.stall.id in set(session.scalars(flagged_merchants(today())))
    assert set(session.execute(reasons_of([market.stall.id], today()))) == {(market.stall.id, "repeat_shortfall")}
