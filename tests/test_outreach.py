"""Outreach (issue 20, point 1): activities with free verifications and photos, voiding, the registry of
micro-stations and volunteers against targets per county, the monthly sheet and the annual workbook."""
from __future__ import annotations

import datetime as dt
import io

import lxml.html
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.clock import today
from app.errors import Invalid
from app.outreach import services
from app.outreach.models import FreeVerification, OutreachActivity, OutreachPhoto, OutreachTargetKind
from app.rollups.tree import load_tree
from app.scope import Scope
from reports.monthly import Month, build_monthly_report
from reports.outreach_annual import write_annual_workbook
from tests import factories as f
from tests.conftest import login
from tests.test_monthly import read_table


def _activity(session, station, held_on, kind="benefit", place_kind="community", people=0, free=None, **values):
    return services.record_activity(session, None, Scope.everything(), {
        "station_id": station.id, "held_on": held_on, "kind": kind, "place": values.pop("place", "城关社区"),
        "place_kind": place_kind, "people_served": people, **values}, free or {}, today())


def _form(session, world, **values):
    scale = f.kind(session, "elec_price_scale")
    bp = f.kind(session, "bp_manual")
    return {"station_id": str(world.station_a.id), "held_on": "2026-05-20", "kind": "metrology_day",
            "place": "城关镇中心小学", "place_kind": "school", "staff": "张三、李四", "people_served": "120",
            "enterprises_visited": "", "materials": "300", "notes": "世界计量日进校园",
            f"free_{scale.id}": "15", f"free_{bp.id}": "8", **values}


def test_inspector_records_an_activity_with_free_verifications(client, session, world):
    login(client, "insp_a")
    resp = client.post("/outreach/new", data=_form(session, world))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    activity = session.scalars(select(OutreachActivity)).one()
    assert (activity.place, activity.people_served, activity.enterprises_visited, activity.materials) == (
        "城关镇中心小学", 120, 0, 300)
    assert activity.free_verifications == 23 and activity.staff == "张三、李四"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "outreach_activities")).one()
    assert any(c["label"] == "免费检定：电子计价秤（台件）" and c["new"] == "15" for c in entry.changes)
    page = client.get(f"/outreach/{activity.id}").get_data(as_text=True)
    assert "共 23 台件" in page and "血压计、血压表" in page


@pytest.mark.parametrize("values, message", [
    ({"place": "  "}, "请填写活动地点"),
    ({"held_on": "2099-01-01"}, "活动日期不能晚于今天"),
    ({"held_on": "5月20日"}, "日期"),
    ({"people_served": "-3"}, "应为0到1000000之间的整数"),
    ({"materials": "很多"}, "整数"),
    ({"kind": "party"}, "不是有效的选择"),
])
def test_bad_activity_input_gets_a_chinese_message(client, session, world, values, message):
    login(client, "insp_a")
    resp = client.post("/outreach/new", data=_form(session, world, **values))
    assert resp.status_code == 200 and message in resp.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(OutreachActivity)) == 0


def test_a_bad_free_verification_count_is_shown_under_its_kind(client, session, world):
    login(client, "insp_a")
    scale = f.kind(session, "elec_price_scale")
    resp = client.post("/outreach/new", data=_form(session, world, **{f"free_{scale.id}": "十五"}))
    page = lxml.html.fromstring(resp.data)
    (box,) = page.xpath(f'//input[@name="free_{scale.id}"]')
    assert "is-invalid" in box.get("class") and box.get("value") == "十五"  # kept as typed
    assert "应为 0 到 1000000 之间的整数" in resp.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(FreeVerification)) == 0


def test_another_stations_inspector_cannot_record_for_station_a(client, session, world):
    login(client, "insp_b")
    resp = client.post("/outreach/new", data=_form(session, world))
    assert resp.status_code == 200 and "不是有效的选择" in resp.get_data(as_text=True)
    with pytest.raises(Invalid, match="请选择您负责的监管所"):
        services.record_activity(
            session, None, Scope.for_user(world.inspector_b, session),
            {"station_id": world.station_a.id, "held_on": today(), "kind": "benefit", "place": "x",
             "place_kind": "school"}, {}, today())


def test_a_voided_activity_stays_visible_and_leaves_the_counts(client, session, world):
    kept = _activity(session, world.station_a, dt.date(2026, 3, 5), people=40, free={f.kind(session, "taximeter").id: 3})
    wrong = _activity(session, world.station_a, dt.date(2026, 3, 6), people=999)
    session.commit()
    login(client, "insp_a")
    assert "请填写作废原因" in client.post(f"/outreach/{wrong.id}/void", data={"reason": ""}).get_data(as_text=True)
    assert client.post(f"/outreach/{wrong.id}/void", data={"reason": "人次录入错误"}).status_code == 302
    session.expire_all()
    row = session.execute(services.queries.activity_figures(Scope.everything(), dt.date(2026, 1, 1),
                                                            dt.date(2026, 12, 31))).one()
    assert (row.activities, row.free, row.people) == (1, 3, 40)
    page = client.get("/outreach/?year=2026").get_data(as_text=True)
    assert "已作废：人次录入错误" in page and kept.place in page
    # Once voided, no more photos and no second voiding.
    with pytest.raises(Invalid, match="已作废"):
        services.void_activity(session, None, session.get(OutreachActivity, wrong.id), "再次")


def test_photos_are_kept_as_evidence_and_only_their_station_reads_them(client, session, world):
    activity = _activity(session, world.station_a, dt.date(2026, 5, 20))
    session.commit()
    login(client, "insp_a")
    resp = client.post(f"/outreach/{activity.id}/photos",
                       data={"file": [(io.BytesIO(f.image_bytes()), "现场.png")]}, content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1000]
    photo = session.scalars(select(OutreachPhoto)).one()
    assert photo.stored_name.startswith("outreach/2026/05/") and photo.content_type == "image/png"
    assert client.get(f"/outreach/photos/{photo.id}").data == f.image_bytes()
    refused = client.post(f"/outreach/{activity.id}/photos", data={"file": [(io.BytesIO(f.WHOLE_PDF), "通知.pdf")]},
                          content_type="multipart/form-data")
    assert "不是照片" in refused.get_data(as_text=True)
    client.post("/logout")
    login(client, "insp_b")
    assert client.get(f"/outreach/photos/{photo.id}").status_code == 404
    assert client.get(f"/outreach/{activity.id}").status_code == 404


def test_registry_against_targets_inherited_from_the_city(client, session, world):
    tree = load_tree(session)
    services.set_target(session, None, tree, OutreachTargetKind.MICRO_STATIONS, world.city.id, 9)
    services.set_target(session, None, tree, OutreachTargetKind.VOLUNTEERS, world.city.id, 9)
    services.set_target(session, None, tree, OutreachTargetKind.VOLUNTEERS, world.county_b.id, 4)
    session.commit()
    login(client, "insp_a")
    resp = client.post("/outreach/micro-stations/new", data={
        "station_id": world.station_a.id, "name": "城关农贸市场微站", "address": "城关镇", "opened_on": "2026-01-05"})
    assert resp.status_code == 302
    for name in ("王芳", "李强"):
        assert client.post("/outreach/volunteers/new", data={
            "station_id": world.station_a.id, "name": name, "joined_on": "2026-02-01", "micro_station_id": ""
        }).status_code == 302
    rows = {r.name: r for r in services.registry_rows(session, load_tree(session), Scope.everything(), today())}
    a, b = rows[world.county_a.name], rows[world.county_b.name]
    assert (a.micro_stations, a.micro_target.value, a.volunteers, a.volunteer_target.value) == (1, 9, 2, 9)
    assert a.micro_target.source == world.city.id  # inherited
    assert (b.volunteer_target.value, b.volunteer_target.source) == (4, world.county_b.id)
    page = lxml.html.fromstring(client.get("/outreach/registry").data)
    cells = [c.text_content().strip() for c in page.xpath('//table[@id="registry-targets"]//tr[td]/td')]
    assert cells[:5] == [world.county_a.name, "1", "9", "2", "9"]
    assert world.county_b.name not in cells  # the inspector of station A sees county A only
    # A volunteer who left no longer counts; a date before joining is refused in Chinese.
    vol = session.scalars(select(services.Volunteer).where(services.Volunteer.name == "王芳")).one()
    resp = client.post(f"/outreach/volunteers/{vol.id}/leave", data={"ended_on": "2025-12-31"}, follow_redirects=True)
    assert "退出日期不能早于加入日期" in resp.get_data(as_text=True)
    assert client.post(f"/outreach/volunteers/{vol.id}/leave", data={"ended_on": today().isoformat()}).status_code == 302
    session.expire_all()
    rows = {r.name: r for r in services.registry_rows(session, load_tree(session), Scope.everything(), today())}
    assert rows[world.county_a.name].volunteers == 1


def test_admin_sets_targets_and_bad_numbers_are_refused(client, session, world):
    login(client, "admin1")
    key = f"micro_stations_{world.county_a.id}"
    resp = client.post("/admin/outreach-targets", data={key: "九"})
    assert resp.status_code == 200 and "应为 0 到 100000 之间的整数" in resp.get_data(as_text=True)
    assert client.post("/admin/outreach-targets", data={key: "9", "volunteers_0": "9"}).status_code == 302
    targets = {(t.kind.value, t.region_id): t.target for t in session.scalars(services.queries.targets())}
    assert targets == {("micro_stations", world.county_a.id): 9, ("volunteers", None): 9}
    # The county admin of county A sees its county, not county B.
    client.post("/logout")
    login(client, "cadmin_a")
    page = lxml.html.fromstring(client.get("/admin/outreach-targets").data)
    assert page.xpath('//table[@id="outreach-targets"]//tr/td[1]/text()') == [world.county_a.name]


def test_monthly_report_counts_activities_free_verifications_and_people(session, world):
    from app.monthly.services import report_sections

    scale = f.kind(session, "elec_price_scale").id
    _activity(session, world.station_a, dt.date(2026, 5, 20), people=100, free={scale: 12})
    _activity(session, world.station_a, dt.date(2026, 5, 28), people=30)
    _activity(session, world.station_a, dt.date(2026, 3, 1), people=5, free={scale: 2})
    voided = _activity(session, world.station_b, dt.date(2026, 5, 2), people=70)
    services.void_activity(session, None, voided, "重复登记")
    _activity(session, world.station_b, dt.date(2026, 6, 1), people=8)  # after May: in neither column
    out = io.BytesIO()
    build_monthly_report(session, Month(2026, 5), out, sections=report_sections())
    table = read_table(load_workbook(io.BytesIO(out.getvalue()))["计量惠民"], "监管所")
    assert table[world.station_a.name] == {"本月活动（次）": 2, "本月免费检定（台件）": 12, "本月服务群众（人次）": 130,
                                           "本年累计活动（次）": 3, "本年累计免费检定（台件）": 14,
                                           "本年累计服务群众（人次）": 135}
    assert table[world.station_b.name]["本月活动（次）"] == 0
    assert table["合计"]["本月服务群众（人次）"] == 130


def test_annual_workbook_gives_figures_by_kind_and_place_with_totals(client, session, world):
    scale, bp = f.kind(session, "elec_price_scale").id, f.kind(session, "bp_manual").id
    _activity(session, world.station_a, dt.date(2026, 5, 20), "metrology_day", "school", people=200,
              free={scale: 10, bp: 5}, materials=300)
    _activity(session, world.station_a, dt.date(2026, 6, 3), "five_into", "care_home", people=40, free={bp: 20},
              enterprises_visited=0)
    _activity(session, world.station_b, dt.date(2026, 9, 9), "sme", "enterprise", people=12, enterprises_visited=6)
    _activity(session, world.station_b, dt.date(2025, 12, 31), "sme", "enterprise", people=1000)  # last year
    gone = _activity(session, world.station_b, dt.date(2026, 9, 10), "science", "market", people=50)
    services.void_activity(session, None, gone, "误登")
    session.commit()
    login(client, "super1")
    resp = client.get("/outreach/annual.xlsx?year=2026")
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(resp.data))
    assert wb.sheetnames == ["汇总", "免费检定", "各监管所", "微站与志愿者"]
    kinds = read_table(wb["汇总"], "活动类型")
    assert kinds["世界计量日"] == {"活动次数": 1, "免费检定（台件）": 15, "服务群众（人次）": 200, "走访企业（家）": 0,
                              "发放资料（份）": 300}
    assert kinds["五进"]["免费检定（台件）"] == 20 and kinds["科普宣传"]["活动次数"] == 0
    assert kinds["合计"] == {"活动次数": 3, "免费检定（台件）": 35, "服务群众（人次）": 252, "走访企业（家）": 6,
                           "发放资料（份）": 300}
    places = read_table(wb["汇总"], "场所类型")
    assert (places["学校"]["活动次数"], places["养老机构"]["服务群众（人次）"], places["集贸市场"]["活动次数"]) == (1, 40, 0)
    assert places["合计"] == kinds["合计"]
    free = read_table(wb["免费检定"], "器具种类")
    assert free == {"电子计价秤": {"免费检定（台件）": 10}, "血压计、血压表": {"免费检定（台件）": 25},
                    "合计": {"免费检定（台件）": 35}}
    stations = read_table(wb["各监管所"], "监管所")
    assert stations[world.station_a.name]["活动次数"] == 2 and stations[world.station_b.name]["服务群众（人次）"] == 12
    # The inspector of station A gets station A's figures only.
    client.post("/logout")
    login(client, "insp_a")
    wb = load_workbook(io.BytesIO(client.get("/outreach/annual.xlsx?year=2026").data))
    assert read_table(wb["汇总"], "活动类型")["合计"]["活动次数"] == 2
    assert client.get("/outreach/annual.xlsx?year=99999").status_code == 404


def test_annual_figures_service_without_flask(session, world):
    _activity(session, world.station_a, dt.date(2026, 1, 2), "other", "other", people=3)
    out = io.BytesIO()
    figures = write_annual_workbook(session, Scope.everything(), 2026, out, scope_name="全部监管所")
    assert figures["kind"][1] == ["合计", 1, 0, 3, 0, 0]
