"""The region tree (province → city → county → station): its queries, the scope at each level, the services and
the command that load and change it, the admin page, and a county admin's limits."""
from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import select

from app.accounts import services as accounts
from app.accounts.models import Role, Station, User
from app.audit.models import AuditEntry
from app.errors import Duplicate, Invalid, NotFound
from app.regions import queries, services
from app.regions.models import Region, RegionLevel
from app.scope import Scope
from tests import factories
from tests.conftest import login


def _codes(regions) -> list[str]:
    return [r.code for r in regions]


# --- the tree ------------------------------------------------------------------------------------

def test_the_tree_queries_at_each_level(session, world):
    """What lies under the city, a county and a station-less county; the path from the top down."""
    province = services.create_region(session, None, code="330000", name="某省")
    services.update_region(session, None, world.city, expected_version=world.city.version, code="330100",
                           name="某市", parent_id=province.id)
    empty = services.create_region(session, None, code="330106", name="丙区", parent_id=world.city.id)
    a, b = world.station_a.id, world.station_b.id

    assert queries.station_ids_under(session, province.id) == {a, b}
    assert queries.station_ids_under(session, world.city.id) == {a, b}
    assert queries.station_ids_under(session, world.county_a.id) == {a}
    assert queries.station_ids_under(session, world.county_b.id) == {b}
    assert queries.station_ids_under(session, empty.id) == set()
    assert _codes(queries.regions_under(session, world.city.id)) == ["330100", "330102", "330105", "330106"]
    assert _codes(queries.regions_under(session, world.county_b.id)) == ["330105"]
    assert _codes(queries.counties_under(session, province.id)) == ["330102", "330105", "330106"]
    assert _codes(queries.counties_under(session, world.county_a.id)) == ["330102"]
    assert _codes(queries.region_path(session, world.county_b.id)) == ["330000", "330100", "330105"]
    assert _codes(queries.region_path(session, province.id)) == ["330000"]
    assert [(r.code, depth) for r, depth in queries.tree_rows(session)] == [
        ("330000", 0), ("330100", 1), ("330102", 2), ("330105", 2), ("330106", 2)]
    assert queries.is_under(session, world.county_a.id, province.id)
    assert not queries.is_under(session, world.county_a.id, world.county_b.id)


def test_the_scope_at_each_level(session, world):
    """A city supervisor sees both counties' stations, a county admin its own, an inspector their stations, a
    user without a region every station; the scope stays a set of station ids."""
    a, b = world.station_a.id, world.station_b.id
    assert Scope.for_user(world.city_supervisor).station_ids == {a, b}
    assert Scope.for_user(world.county_admin_a).station_ids == {a}
    assert Scope.for_user(world.inspector_b).station_ids == {b}
    assert Scope.for_user(world.supervisor).is_all and Scope.for_user(world.admin).is_all
    county_b_supervisor = factories.user(session, "super_b", Role.SUPERVISOR, in_region=world.county_b)
    assert Scope.for_user(county_b_supervisor).station_ids == {b}
    # A station added to county A later is in its admin's scope at once (nothing cached).
    c = factories.station(session, "C", in_county=world.county_a)
    assert Scope.for_user(world.county_admin_a).station_ids == {a, c.id}
    assert world.county_admin_a.may_edit_station(c.id) and not world.county_admin_a.may_edit_station(b)


def test_an_inspector_keeps_no_region(session, world):
    """A region picked for an inspector is not kept: inspectors work in their assigned stations."""
    inspector = accounts.create_user(session, None, username="insp_c", display_name="丙", role=Role.INSPECTOR,
                                     password="password-456", station_ids=[world.station_a.id],
                                     region_id=world.city.id)
    assert inspector.region_id is None
    assert Scope.for_user(inspector).station_ids == {world.station_a.id}


# --- changing the tree ---------------------------------------------------------------------------

def test_creating_regions_checks_code_level_and_parent(session, world):
    with pytest.raises(Invalid, match="6位数字"):
        services.create_region(session, None, code="33010", name="丙区")
    with pytest.raises(Invalid, match="6位数字"):
        services.create_region(session, None, code="3301O6", name="丙区")  # a letter O
    with pytest.raises(Duplicate, match="甲区"):
        services.create_region(session, None, code="330102", name="重复")
    with pytest.raises(Invalid, match="上级区划应高于"):
        services.create_region(session, None, code="330106", name="丙区", parent_id=world.county_a.id)
    with pytest.raises(Invalid, match="区划名称"):
        services.create_region(session, None, code="330106", name="  ")
    # The level is read from the code when not given.
    assert services.create_region(session, None, code="340000", name="某省").level == RegionLevel.PROVINCE
    assert services.create_region(session, None, code="340100", name="某市").level == RegionLevel.CITY
    county = services.create_region(session, None, code="340102", name="某区（新）")
    assert county.level == RegionLevel.COUNTY and county.name == "某区（新）"


def test_moving_a_station_to_another_county_is_audited(session, world):
    station = world.station_a
    changes = services.move_station(session, "管理员", station, expected_version=station.version,
                                    county_id=world.county_b.id)
    assert station.county_id == world.county_b.id
    assert changes[0]["old"] == "甲区" and changes[0]["new"] == "乙区"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "stations")
                            .order_by(AuditEntry.id.desc())).first()
    assert entry.note == "调整所属县（区）" and entry.changes[0]["label"] == "所属县（区）"
    assert Scope.for_user(world.county_admin_a).station_ids == set()
    with pytest.raises(Invalid, match="县（区）"):
        services.move_station(session, None, station, expected_version=station.version, county_id=world.city.id)


def test_a_station_needs_a_county(session):
    """The only county is taken without asking; with none or several, the station service says what to do."""
    with pytest.raises(Invalid, match="请先在“系统管理 → 行政区划”中添加"):
        accounts.create_station(session, None, name="甲所", code="A")
    only = services.create_region(session, None, code="331221", name="青溪县")
    assert accounts.create_station(session, None, name="甲所", code="A").county_id == only.id
    services.create_region(session, None, code="331222", name="云岭县")
    with pytest.raises(Invalid, match="请选择监管所所属的县"):
        accounts.create_station(session, None, name="乙所", code="B")
    with pytest.raises(Invalid, match="请选择监管所所属的县"):
        accounts.create_station(session, None, name="乙所", code="B", county_id=only.parent_id or 10**6)


def test_a_county_admin_administers_only_its_county(session, world):
    """The services refuse what the pages do not offer: another county's users and stations, users above."""
    admin = world.county_admin_a
    assert {u.username for u in accounts.users_administered(session, admin)} == {"insp_a", "cadmin_a"}
    assert len(accounts.users_administered(session, world.admin)) == session.query(User).count()
    with pytest.raises(NotFound):
        accounts.get_user_administered(session, admin, world.inspector_b.id)
    with pytest.raises(NotFound):
        accounts.get_station_administered(session, admin, world.station_b.id)
    with pytest.raises(NotFound):
        accounts.update_user(session, admin, world.city_supervisor, expected_version=world.city_supervisor.version,
                             display_name="改", role=Role.SUPERVISOR, is_active=True, region_id=world.county_a.id)
    with pytest.raises(Invalid, match="本辖区"):
        accounts.create_user(session, admin, username="boss", display_name="上级", role=Role.ADMIN,
                             password="password-456", region_id=world.city.id)
    with pytest.raises(Invalid, match="本辖区"):
        accounts.update_station(session, admin, world.station_a, expected_version=world.station_a.version,
                                name="A所", code="A", county_id=world.county_b.id)
    # An inspector in both counties is the city's to administer, not county A's.
    both = factories.user(session, "insp_ab", Role.INSPECTOR, [world.station_a, world.station_b])
    with pytest.raises(NotFound):
        accounts.get_user_administered(session, admin, both.id)
    assert accounts.get_user_administered(session, world.admin, both.id) is both


# --- the command -----------------------------------------------------------------------------------

def test_regions_load_from_csv_then_list(app, session, tmp_path):
    """A GBK CSV with a header: parents found from the codes when the column is empty; a second load renames."""
    path = tmp_path / "区划.csv"
    path.write_bytes("行政区划代码,名称,上级代码\n320706,海州区,\n320000,江苏省,\n320700,连云港市,\n"
                     "320703,连云区,320700\n".encode("gb18030"))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["regions", "load", str(path)])
    assert result.exit_code == 0, result.output
    assert "新增 4 个" in result.output
    session.expire_all()
    county = session.scalars(select(Region).where(Region.code == "320706")).one()
    assert [r.name for r in queries.region_path(session, county.id)] == ["江苏省", "连云港市", "海州区"]
    path.write_text("320706,海州区（改）\n", encoding="utf-8")
    result = runner.invoke(args=["regions", "load", str(path)])
    assert result.exit_code == 0 and "改名 1 个" in result.output, result.output
    session.expire_all()
    assert county.name == "海州区（改）" and county.parent.code == "320700"  # the parent stays
    result = runner.invoke(args=["regions", "list"])
    assert result.exit_code == 0
    assert "320000 江苏省  [省]" in result.output and "    320706 海州区（改）  [县（区）]  监管所 0 个" in result.output


def test_regions_load_from_xlsx_and_a_bad_row_saves_nothing(app, session, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    for row in (("代码", "名称", "上级代码"), (320700, "连云港市", None), ("320706", "海州区", "320700"),
                ("32070X", "坏代码", "")):
        sheet.append(row)
    path = tmp_path / "区划.xlsx"
    book.save(path)
    result = app.test_cli_runner().invoke(args=["regions", "load", str(path)])
    assert result.exit_code != 0
    assert "第4行" in result.output and "6位数字" in result.output and "未做任何修改" in result.output
    session.expire_all()
    assert session.scalars(select(Region)).all() == []
    sheet.delete_rows(4)
    book.save(path)
    result = app.test_cli_runner().invoke(args=["regions", "load", str(path)])
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert _codes(session.scalars(select(Region).order_by(Region.code))) == ["320700", "320706"]
    # A parent code that is neither in the file nor known is refused by line.
    path = tmp_path / "区划.csv"
    path.write_text("320999,某区,329900\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["regions", "load", str(path)])
    assert result.exit_code != 0 and "第1行" in result.output and "329900" in result.output


# --- the pages -------------------------------------------------------------------------------------

def test_the_tree_page_adds_renames_and_moves(app, client, session, world):
    login(client, "admin1")
    page = client.get("/admin/regions/").get_data(as_text=True)
    assert "某市" in page and "甲区" in page and "A所" in page and "调整所属县（区）" in page
    resp = client.post("/admin/regions/new", data={"code": "330106", "name": "丙区", "level": "county",
                                                   "parent_id": str(world.city.id)})
    assert resp.status_code == 302
    resp = client.post(f"/admin/regions/stations/{world.station_a.id}/move",
                       data={"county_id": str(world.county_b.id), "version": str(world.station_a.version)})
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(Station, world.station_a.id).county_id == world.county_b.id
    page = client.get("/admin/regions/").get_data(as_text=True)
    assert "丙区" in page and "已把“A所”调整到“乙区”" in page
    # A county admin's users page offers only its county as a region, and no "whole installation".
    client2 = app.test_client()
    login(client2, "cadmin_a")
    form = client2.get("/admin/users/new").get_data(as_text=True)
    assert "330102 甲区" in form and "330105 乙区" not in form and "（整个系统）" not in form


def test_a_region_is_deleted_only_when_nothing_depends_on_it(client, session, world):
    from app.rollups import settings
    from app.rollups.models import RegionLeadDays
    from app.rollups.tree import load_tree

    empty = services.create_region(session, None, code="330106", name="丙区", parent_id=world.city.id)
    settings.set_region_leads(session, None, load_tree(session), empty.id,
                              {factories.kind(session, "elec_price_scale").id: 45})
    session.commit()
    login(client, "admin1")
    edit = client.get(f"/admin/regions/{empty.id}/edit").get_data(as_text=True)
    assert "删除该区划" in edit and f'action="/admin/regions/{empty.id}/delete"' in edit

    # What still lies under a region, or belongs to it, keeps it: the page says why, nothing is deleted.
    for region, why in ((world.city, "还有下级区划"), (world.county_a, "还有监管所")):
        resp = client.post(f"/admin/regions/{region.id}/delete", data={"version": str(region.version)},
                           follow_redirects=True)
        assert why in resp.get_data(as_text=True)
    stale = client.post(f"/admin/regions/{empty.id}/delete", data={"version": str(empty.version + 1)},
                        follow_redirects=True)
    assert session.get(Region, empty.id) is not None and "已被其他人修改" in stale.get_data(as_text=True)

    empty_id = empty.id
    resp = client.post(f"/admin/regions/{empty_id}/delete", data={"version": str(empty.version)},
                       follow_redirects=True)
    assert "已删除“丙区”" in resp.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(Region.id).where(Region.id == empty_id)) is None
    assert session.scalar(select(RegionLeadDays.id).where(RegionLeadDays.region_id == empty_id)) is None
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "regions",
                                                     AuditEntry.action == "delete")).one()
    assert entry.note == "同时删除本级设置：预警提前天数"


def test_a_city_supervisor_reads_both_counties_in_lists(app, client, world):
    login(client, "city_super")
    page = client.get("/merchants/").get_data(as_text=True)
    assert "甲市场摊位1" in page and "乙加油站" in page
    client2 = app.test_client()
    login(client2, "cadmin_a")
    page = client2.get("/merchants/").get_data(as_text=True)
    assert "甲市场摊位1" in page and "乙加油站" not in page


def test_xlsx_reader_is_the_importers(tmp_path):
    """The command reads files with the ledger importer's reader (CSV encodings, xlsx), not a reader of its own."""
    from app.regions.cli import read_rows

    path = tmp_path / "r.csv"
    path.write_bytes(io.BytesIO("\ufeff320700,连云港市\n".encode("utf-8")).getvalue())
    assert read_rows(path) == ([("320700", "连云港市", "")], 1)


def test_the_all_station_monthly_report_is_not_mailed_to_a_regional_user(session, world):
    """The report of every station goes to users of the whole installation only: a city supervisor or a county
    admin must not receive other regions' figures (their editions are the roll-ups' work)."""
    from app.accounts.services import update_my_settings
    from app.mail.models import OutboxMessage
    from app.monthly.services import build_report, mail_report
    from reports.monthly import Month

    for user in (world.supervisor, world.city_supervisor, world.county_admin_a):
        update_my_settings(session, user, email=f"{user.username}@example.com", wants_alert_digest=False,
                           wants_monthly_report=True)
    report = build_report(session, None, Month.parse("2026-10"))
    assert mail_report(session, report) == 1
    assert [m.to_addr for m in session.scalars(select(OutboxMessage))] == ["super1@example.com"]


def test_an_inspector_cannot_ask_for_the_all_station_monthly_report(session, world):
    """The monthly report goes to users who see every station; an inspector sees only the assigned ones."""
    from app.accounts.services import update_my_settings

    inspector = factories.user(session, "insp_report", Role.INSPECTOR, [world.station_a])
    with pytest.raises(Invalid) as refused:
        update_my_settings(session, inspector, email="insp@example.com", wants_alert_digest=False,
                           wants_monthly_report=True)
    assert refused.value.field == "wants_monthly_report"
    assert update_my_settings(session, world.supervisor, email="s@example.com", wants_alert_digest=False,
                              wants_monthly_report=True)
