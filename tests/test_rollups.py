"""A city over two counties: settings a county inherits from its city, targets divided among counties, the
city's dashboard with its counties side by side, the county filter, the city edition of the monthly report and a
campaign with its draw over both counties."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.accounts.models import Role
from app.alerts import kinds
from app.alerts.models import Alert
from app.alerts.services import local_day, run_sweep
from app.credit.services import default_rule, recompute
from app.db import utcnow
from app.inspections import services as inspections
from app.integrity.models import TargetKind
from app.monthly.models import MonthlyReport
from app.monthly.services import build_report
from app.regions.models import Region, RegionLevel
from app.rollups import settings
from app.rollups.inherit import Resolved, divide, nearest, source_text
from app.rollups.services import county_rows
from app.rollups.tree import load_tree
from app.scope import Scope
from reports.monthly import Month
from tests import factories
from tests.conftest import login
from tests.test_monthly import read_table


@pytest.fixture()
def city(session, world):
    """The world's 某市 → 甲区 (station A) and 乙区 (station B), under a province 某省; the world's city
    supervisor (city_super) and a supervisor of 甲区 (county_super)."""
    province = Region(code="330000", name="某省", level=RegionLevel.PROVINCE)
    session.add(province)
    session.flush()
    world.city.parent_id = province.id
    factories.user(session, "county_super", Role.SUPERVISOR, in_region=world.county_a)
    session.flush()
    return {"province": province, "city": world.city, "a": world.county_a, "b": world.county_b}


# --- the pure parts -------------------------------------------------------------------------------

def test_nearest_walks_up_to_the_installation():
    parents = {3: 2, 2: 1, 1: None}
    assert nearest(3, parents, {2: 60, None: 20}, 30) == Resolved(60, 2)
    assert nearest(3, parents, {3: 10, 2: 60}, 30) == Resolved(10, 3)
    assert nearest(3, parents, {None: 20}, 30) == Resolved(20, None)
    assert nearest(3, parents, {}, 30) == Resolved(30, None)
    assert source_text(2, 3, {2: "某市"}) == "继承自 某市"
    assert source_text(3, 3, {}, own_label="本县设置") == "本县设置"
    assert source_text(None, 3, {}) == "系统默认"


def test_divide_by_share_of_merchants_sums_exactly():
    assert divide(10, {1: 3, 2: 1}) == {1: 8, 2: 2}            # 7.5 / 2.5: the tie goes to the smaller id
    assert divide(1800, {1: 1, 2: 1, 3: 1}) == {1: 600, 2: 600, 3: 600}
    assert sum(divide(100, {1: 7, 2: 11, 3: 13}).values()) == 100
    assert divide(10, {1: 3, 2: 1}, fixed={2: 5}) == {1: 5, 2: 5}  # a county's own target is taken out first
    assert divide(10, {1: 3, 2: 1}, fixed={2: 12}) == {1: 0, 2: 12}
    assert divide(5, {1: 0, 2: 0}) == {1: 3, 2: 2}              # no merchants at all: equal shares


# --- settings: lead days, credit weights ----------------------------------------------------------

def test_lead_days_inherit_from_the_city_and_the_sweep_uses_each_countys(session, world, city):
    now = utcnow()
    today = local_day(now)
    scale = factories.kind(session, "elec_price_scale")
    in_a = factories.instrument(session, world.merchant_a, serial="LEAD-A")
    in_b = factories.instrument(session, world.merchant_b, serial="LEAD-B")
    for inst in (in_a, in_b):
        factories.verify(session, inst, today - dt.timedelta(days=300), valid_until=today + dt.timedelta(days=40))
    assert scale.lead_days < 40
    tree = load_tree(session)
    settings.set_region_leads(session, None, tree, city["city"].id, {scale.id: 60})
    settings.set_region_leads(session, None, tree, city["b"].id, {scale.id: 10})

    a_leads, b_leads = (settings.effective_leads(session, city[k].id) for k in "ab")
    assert a_leads[scale.id].value == 60 and settings.source_of(a_leads[scale.id], city["a"].id, tree) == "继承自 某市"
    assert b_leads[scale.id].value == 10 and settings.source_of(b_leads[scale.id], city["b"].id, tree) == "本县设置"
    assert settings.source_of(settings.effective_leads(session, city["city"].id)[scale.id], city["city"].id,
                              tree) == "本市设置"

    run_sweep(session, now=now, config={})
    due_soon = set(session.scalars(select(Alert.instrument_id).where(Alert.kind == kinds.DUE_SOON.code)))
    assert in_a.id in due_soon        # 40 days ahead, within the city's 60
    assert in_b.id not in due_soon    # its county's own 10 days
    # Back to inheriting: the county's 10 is removed and the city's 60 reaches it too.
    settings.set_region_leads(session, None, tree, city["b"].id, {scale.id: None})
    run_sweep(session, now=now, config={})
    assert in_b.id in set(session.scalars(select(Alert.instrument_id).where(Alert.kind == kinds.DUE_SOON.code)))


def test_a_countys_credit_rule_scores_its_merchants_only(session, world, city):
    # Both world instruments are long overdue: 1 point each under the installation's rule (class B).
    rule = default_rule(city["a"].id)
    rule.overdue_points = 20
    session.add(rule)
    session.flush()
    groups = settings.rule_groups(session)
    assert [ids for _, ids in groups] == [None, (world.station_a.id,)]
    counts = recompute(session, local_day(utcnow()), utcnow())
    assert counts["merchants"] == 2
    session.refresh(world.merchant_a)
    session.refresh(world.merchant_b)
    assert (world.merchant_a.credit_class, world.merchant_b.credit_class) == ("D", "B")
    assert settings.source_of(settings.effective_rule(session, city["b"].id), city["b"].id,
                              load_tree(session)) == "系统默认"


def test_credit_page_edits_a_countys_own_rule(client, session, world, city):
    login(client, "admin1")
    page = client.get(f"/admin/credit/?region_id={city['b'].id}").get_data(as_text=True)
    assert "系统默认" in page and "恢复继承" not in page
    data = {"window_months": "24", "severe_points": "10", "major_points": "5", "minor_points": "2",
            "overdue_points": "9", "overdue_cap": "10", "failed_points": "3", "complaint_points": "5", "pledge_points": "3",
            "model_unit_points": "2", "a_max": "0", "b_max": "5", "c_max": "15", "version": "1"}
    assert client.post(f"/admin/credit/?region_id={city['b'].id}", data=data).status_code == 302
    assert settings.region_rules(session)[city["b"].id].overdue_points == 9
    assert "本县设置" in client.get(f"/admin/credit/?region_id={city['b'].id}").get_data(as_text=True)
    assert client.post(f"/admin/credit/inherit?region_id={city['b'].id}").status_code == 302
    assert city["b"].id not in settings.region_rules(session)


def test_a_county_admin_sets_only_its_own_county(client, session, world, city):
    login(client, "cadmin_a")  # the world's admin of 甲区
    assert client.get(f"/admin/lead-days?region_id={city['b'].id}").status_code == 404
    assert client.get(f"/admin/lead-days?region_id={city['city'].id}").status_code == 404
    page = client.get("/admin/lead-days").get_data(as_text=True)
    assert "甲区" in page and "继承自" not in page  # nothing set anywhere: the catalogue's days
    assert "系统默认" in page


# --- targets --------------------------------------------------------------------------------------

def test_a_city_target_is_divided_by_share_of_merchants(session, world, city):
    for n in (2, 3):
        factories.merchant(session, world.station_a, f"甲市场摊位{n}")
    tree = load_tree(session)
    settings.set_region_target(session, None, tree, TargetKind.MODEL_UNITS, city["city"].id, 10)
    divided = settings.divided_targets(session, TargetKind.MODEL_UNITS)
    assert (divided[city["a"].id].target, divided[city["b"].id].target) == (8, 2)   # 3 : 1 merchants
    assert divided[city["a"].id].how == "按使用单位数分配自 某市"
    assert divided[city["province"].id].target is None

    settings.set_region_target(session, None, tree, TargetKind.MODEL_UNITS, city["b"].id, 5)
    divided = settings.divided_targets(session, TargetKind.MODEL_UNITS)
    assert (divided[city["a"].id].target, divided[city["b"].id].target) == (5, 5)
    assert divided[city["city"].id].children_sum is None

    settings.set_region_target(session, None, tree, TargetKind.MODEL_UNITS, city["a"].id, 8)
    divided = settings.divided_targets(session, TargetKind.MODEL_UNITS)
    assert divided[city["city"].id].children_sum == 13   # the sum check: 8 + 5 set below a city target of 10

    # Progress rolls up: the city's row is the sum of its counties'.
    rows = county_rows(session, tree, Scope.for_user(session.get(type(world.admin), world.admin.id)),
                       local_day(utcnow()), 30)
    assert [r.name for r in rows] == ["甲区", "乙区", "合计"]
    assert rows[-1].model_target == 13
    assert rows[-1].figures["instruments"] == rows[0].figures["instruments"] + rows[1].figures["instruments"] == 2


def test_region_targets_page(client, session, world, city):
    login(client, "admin1")
    resp = client.post("/admin/region-targets", data={f"pledges_{city['city'].id}": "100",
                                                      f"pledges_{city['b'].id}": "很多"})
    assert resp.status_code == 200 and "应为 0 到 1000000 之间的整数" in resp.get_data(as_text=True)
    assert client.post("/admin/region-targets", data={f"pledges_{city['city'].id}": "100"}).status_code == 302
    page = client.get("/admin/region-targets").get_data(as_text=True)
    assert "按使用单位数分配自 某市" in page and ">50<" in page


# --- the city's dashboard and the county filter ---------------------------------------------------

def test_the_city_dashboard_shows_its_counties_side_by_side(client, session, world, city):
    login(client, "city_super")
    page = client.get("/").get_data(as_text=True)
    assert 'id="county-rollup"' in page
    assert page.index("甲区") < page.index("乙区")
    assert f'data-county="{city["a"].id}"' in page and f'href="/?county_id={city["a"].id}"' in page

    one = client.get(f"/?county_id={city['b'].id}").get_data(as_text=True)
    assert "台账概况（乙区）" in one and 'id="county-rollup"' not in one
    assert "加油机" in one and "电子计价秤" not in one.split('id="kind-status"')[1].split("</table>")[0]


def test_a_county_user_sees_no_roll_up_and_no_other_county(client, session, world, city):
    login(client, "county_super")
    page = client.get("/").get_data(as_text=True)
    assert 'id="county-rollup"' not in page and 'name="county_id"' not in page
    assert client.get(f"/?county_id={city['b'].id}").status_code == 404


def test_worklists_and_alert_centre_take_a_county_filter(client, session, world, city):
    run_sweep(session, now=utcnow(), config={})
    login(client, "city_super")
    listing = client.get(f"/worklists/overdue?county_id={city['a'].id}").get_data(as_text=True)
    assert "A-001" in listing and "B-001" not in listing and 'name="county_id"' in listing
    alerts = client.get(f"/alerts/?county_id={city['b'].id}&status=all").get_data(as_text=True)
    assert "B-001" in alerts and "A-001" not in alerts
    assert client.get("/worklists/overdue?county_id=999999").status_code == 404


# --- the monthly report's city edition ------------------------------------------------------------

def test_the_city_edition_lists_each_county_and_its_totals(session, world, city):
    month = Month.of(local_day(utcnow())).shift(-1)
    report = build_report(session, None, month, region_id=city["city"].id)
    assert report.scope_key == f"r{city['city'].id}" and report.scope_name == "某市（各县汇总）"
    wb = load_workbook(io.BytesIO(report.content))
    assert wb.sheetnames[:2] == ["各县汇总", "汇总"]
    table = read_table(wb["各县汇总"], "县（区）")
    assert list(table) == ["甲区", "乙区", "合计"]
    assert table["甲区"]["监管所（个）"] == 1 and table["甲区"]["在册（在用）"] == 1
    assert table["乙区"]["在册（在用）"] == 1 and table["合计"]["在册（在用）"] == 2
    assert table["合计"]["月末超期未检"] == table["甲区"]["月末超期未检"] + table["乙区"]["月末超期未检"] == 2


def test_the_city_editions_pledge_sheet_measures_against_the_city_and_county_targets(session, world, city):
    for n in (2, 3):
        factories.merchant(session, world.station_a, f"甲市场摊位{n}")
    tree = load_tree(session)
    settings.set_region_target(session, None, tree, TargetKind.PLEDGES, city["city"].id, 40)
    session.flush()
    month = Month.of(local_day(utcnow())).shift(-1)
    wb = load_workbook(io.BytesIO(build_report(session, None, month, region_id=city["city"].id).content))
    sheet = wb["诚信计量"]
    total = read_table(sheet, "监管所")["合计"]
    assert total["承诺目标（家）"] == 40
    counties = read_table(sheet, "县（区）")
    # 40 divided 3 : 1 by merchants.
    assert (counties["甲区"]["承诺目标（家）"], counties["乙区"]["承诺目标（家）"]) == (30, 10)
    county = load_workbook(io.BytesIO(build_report(session, None, month, region_id=city["a"].id).content))
    assert read_table(county["诚信计量"], "监管所")["合计"]["承诺目标（家）"] == 30


def test_a_city_user_builds_the_city_edition_from_the_monthly_page(client, session, app, world, city):
    login(client, "city_super")
    form = client.get("/reports/monthly/").get_data(as_text=True)
    assert f'value="r{city["city"].id}"' in form and f'value="r{city["province"].id}"' not in form
    resp = client.post("/reports/monthly/build", data={"month": "2026-10", "station_id": f"r{city['city'].id}"})
    assert resp.status_code == 302
    report = session.scalars(select(MonthlyReport).where(MonthlyReport.region_id == city["city"].id)).one()
    download = client.get(f"/reports/monthly/{report.id}/download")
    assert download.status_code == 200 and load_workbook(io.BytesIO(download.data)).sheetnames[0] == "各县汇总"

    county = app.test_client()
    login(county, "county_super")
    assert f'value="r{city["city"].id}"' not in county.get("/reports/monthly/").get_data(as_text=True)
    assert county.get(f"/reports/monthly/{report.id}/download").status_code == 404
    assert county.post("/reports/monthly/build",
                       data={"month": "2026-10", "station_id": f"r{city['city'].id}"}).status_code == 200


def test_a_county_user_builds_the_countys_own_edition(client, session, world, city):
    login(client, "county_super")
    form = client.get("/reports/monthly/").get_data(as_text=True)
    assert f'value="r{city["a"].id}"' in form and "甲区（全县）" in form and f'value="r{city["b"].id}"' not in form
    assert client.post("/reports/monthly/build",
                       data={"month": "2026-10", "station_id": f"r{city['b'].id}"}).status_code == 200
    assert client.post("/reports/monthly/build",
                       data={"month": "2026-10", "station_id": f"r{city['a'].id}"}).status_code == 302
    report = session.scalars(select(MonthlyReport).where(MonthlyReport.region_id == city["a"].id)).one()
    assert report.scope_name == "甲区（全县）" and report.totals["registered"] == 1
    wb = load_workbook(io.BytesIO(client.get(f"/reports/monthly/{report.id}/download").data))
    # A county's edition is its stations' report: no county sheet, the county named on the summary.
    assert "各县汇总" not in wb.sheetnames and wb["汇总"]["A1"].value.endswith("（甲区（全县））")


def test_the_monthly_job_builds_each_regions_edition_and_mails_it_to_that_regions_users(session, world, city):
    from app.accounts.services import update_my_settings
    from app.mail.models import OutboxMessage
    from app.monthly.jobs import monthly_report

    for user, email in ((world.supervisor, "all@example.com"), (world.city_supervisor, "city@example.com")):
        update_my_settings(session, user, email=email, wants_alert_digest=False, wants_monthly_report=True)
    session.commit()
    counts = monthly_report(session=session, now=dt.datetime(2026, 10, 31, 22, 0, tzinfo=dt.timezone.utc),
                            config={})
    session.commit()
    # All stations, two stations, then 甲区, 乙区, 某市 and 某省 by code.
    assert counts == {"reports": 7, "mailed": 2}
    keys = set(session.scalars(select(MonthlyReport.scope_key)))
    assert {f"r{city[k].id}" for k in ("a", "b", "city", "province")} <= keys
    mail = {m.to_addr: m.subject for m in session.scalars(select(OutboxMessage))}
    assert mail == {"all@example.com": "计量监管月报 2026年10月（全部监管所）",
                    "city@example.com": "计量监管月报 2026年10月（某市（各县汇总））"}


# --- a campaign and its draw over two counties ----------------------------------------------------

def test_a_city_campaign_and_its_draw_span_two_counties(client, session, world, city):
    camp = factories.campaign(session, [world.station_a, world.station_b], name="全市电子计价秤专项检查")
    found = inspections.run_draw(
        session, world.supervisor, camp, station_ids=[world.station_a.id, world.station_b.id], industries=[],
        rates={"A": 100, "B": 100, "C": 100, "D": 100, "none": 100}, inspectors_per_target=2,
        exclude_own_station=True, roster_ids=[world.inspector_a.id, world.inspector_b.id, world.supervisor.id],
        seed=20261203)
    tree = load_tree(session)
    counties = {tree.station_county[r["station_id"]] for r in found.result}
    assert counties == {city["a"].id, city["b"].id}
    assert inspections.draw_reproduces(found)
    # The inspector of one county is never sent to their own station: with exclude_own_station they go across.
    for row in found.result:
        assert (world.inspector_a.id in row["inspector_ids"]) == (row["station_id"] != world.station_a.id)
    login(client, "super1")
    page = client.get(f"/campaigns/{camp.id}/edit").get_data(as_text=True)
    assert "甲区 · " in page and "乙区 · " in page
