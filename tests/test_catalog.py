"""Catalogue seed data, admin edits of kinds with optional recompute, and the set-up commands."""
import csv
import datetime as dt
from pathlib import Path

import lxml.html
from sqlalchemy import func, select

from app.accounts.models import Role, User
from app.audit.models import AuditEntry
import pytest

from app.catalog.models import Confirmation, FindingCode, InstrumentType, InstrumentTypeAlias, VerificationRule
from app.catalog.services import SEED_DIR, seed_catalogue, split_aliases
from app.errors import Invalid
from app.instruments.services import update_instrument
from tests.factories import ALL
from app.instruments.models import Instrument
from tests import factories as f
from tests.conftest import login


def _count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_seed_ships_every_kind_and_code(session):
    assert _count(session, InstrumentType) == 28
    assert _count(session, FindingCode) == 24
    dispenser = f.kind(session, "fuel_dispenser")
    assert (dispenser.rule, dispenser.cycle_months, dispenser.regulation) == (VerificationRule.PERIODIC, 6,
                                                                              "JJG 443-2023")
    meter = f.kind(session, "water_meter_le25")
    assert (meter.rule, meter.service_life_years) == (VerificationRule.SERVICE_LIFE, 6)
    code = session.scalars(select(FindingCode).where(FindingCode.code == "OVERDUE")).one()
    assert "第43条" in code.legal_basis and code.severity.value == "major"


def test_seed_files_are_the_projects_own():
    # The repository stands alone: the seed lives in the package.
    assert SEED_DIR.is_relative_to(Path(__file__).resolve().parent.parent / "app")
    rows = list(csv.DictReader(open(SEED_DIR / "instrument_types.csv", encoding="utf-8")))
    assert all(r["rule"] in ("periodic", "service_life") for r in rows)


def test_seeding_twice_changes_nothing(session):
    before = (_count(session, InstrumentType), _count(session, FindingCode), _count(session, AuditEntry))
    assert seed_catalogue(session) == {"instrument_types": 0, "finding_codes": 0, "aliases": 0}
    session.flush()
    assert (_count(session, InstrumentType), _count(session, FindingCode), _count(session, AuditEntry)) == before


def test_seeding_keeps_admin_edits(session):
    kind = f.kind(session, "taximeter")
    kind.cycle_months = 24
    session.commit()
    seed_catalogue(session)
    session.commit()
    assert f.kind(session, "taximeter").cycle_months == 24


def _edit(client, kind, **values):
    data = {"rule": kind.rule.value, "cycle_months": kind.cycle_months or "", "lead_days": kind.lead_days,
            "service_life_years": kind.service_life_years or "", "regulation": kind.regulation,
            "regulation_title": kind.regulation_title, "note": kind.note, "is_active": "y",
            "version": kind.version, **values}
    return client.post(f"/catalog/types/{kind.id}/edit", data=data)


def test_cycle_change_without_recompute_keeps_due_dates(client, session, world):
    kind = f.kind(session, "elec_price_scale")
    login(client, "admin1")
    assert _edit(client, kind, cycle_months=6).status_code == 302
    session.expire_all()
    assert session.get(Instrument, world.instrument_a.id).next_due_on == dt.date(2025, 1, 10)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "instrument_types")).one()
    assert entry.changes[0]["old"] == "12" and entry.changes[0]["new"] == "6"
    assert "未重新计算" in entry.note


def test_cycle_change_with_recompute_moves_due_dates(client, session, world):
    kind = f.kind(session, "elec_price_scale")
    login(client, "admin1")
    # 3 months: a cycle no other kind of the world has, so a recompute that spilled over would show.
    resp = _edit(client, kind, cycle_months=3, recompute="y")
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(Instrument, world.instrument_a.id).next_due_on == dt.date(2024, 4, 10)
    # Another kind's instruments are untouched: the fuel dispenser keeps its own 6-month cycle.
    assert session.get(Instrument, world.instrument_b.id).next_due_on == dt.date(2024, 7, 10)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "instrument_types")).one()
    assert "重新计算该种类 1 台" in entry.note


def test_recompute_checkbox_is_off_by_default(client, session, world):
    login(client, "admin1")
    page = lxml.html.fromstring(client.get(f"/catalog/types/{f.kind(session, 'taximeter').id}/edit").data)
    (box,) = page.xpath('//input[@name="recompute"]')
    assert box.get("type") == "checkbox" and box.get("checked") is None


def test_periodic_kind_needs_a_cycle(client, session, world):
    login(client, "admin1")
    resp = _edit(client, f.kind(session, "taximeter"), cycle_months="")
    assert resp.status_code == 200 and "检定周期" in resp.get_data(as_text=True)


def test_setup_command_creates_first_admin_once(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    assert "用户名：admin" in result.output
    again = runner.invoke(args=["setup"])
    assert "已有管理员" in again.output
    assert session.scalar(select(func.count()).select_from(User).where(User.role == Role.ADMIN)) == 1


def test_create_admin_command(app, session, client):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create-admin", "--username", "boss", "--password", "boss-pass-1"])
    assert result.exit_code == 0, result.output
    login(client, "boss", "boss-pass-1")
    dup = runner.invoke(args=["users", "create-admin", "--username", "boss", "--password", "boss-pass-1"])
    assert dup.exit_code != 0 and "已存在" in dup.output


# --- a catalogue admins complete (issue 20, point 3) -------------------------------------------------------

NEW_KINDS = ("truck_scale", "floor_scale", "platform_scale", "analog_scale", "non_self_scale", "heat_meter",
             "sound_level_meter", "ecg", "infusion_pump")


def test_seed_adds_the_kinds_a_county_meets(session):
    truck = f.kind(session, "truck_scale")
    assert (truck.name_zh, truck.regulation, truck.cycle_months) == ("汽车衡", "JJG 539-2016", 12)
    assert truck.category == "非自动衡器" and truck.confirmed == Confirmation.PARTLY
    heat = f.kind(session, "heat_meter")
    assert heat.confirmed == Confirmation.NO and "未从原文核对" in heat.note
    # A kind whose regulation no source confirmed says so rather than guessing one.
    pump = f.kind(session, "infusion_pump")
    assert (pump.regulation, pump.confirmed) == ("", Confirmation.NO)
    aliases = {a.alias for a in session.scalars(select(InstrumentTypeAlias).where(
        InstrumentTypeAlias.type_id == truck.id))}
    assert {"地磅", "电子汽车衡"} <= aliases


def test_seed_adds_new_kinds_to_a_database_seeded_before_them(session):
    # An installation seeded before these kinds shipped: `flask seed` (or `flask setup`) adds them and their
    # aliases, once; the old kinds keep what admins made of them.
    for code in NEW_KINDS:
        session.delete(f.kind(session, code))
    f.kind(session, "taximeter").cycle_months = 24
    session.flush()
    added = seed_catalogue(session)
    assert added["instrument_types"] == len(NEW_KINDS) and added["aliases"] >= len(NEW_KINDS)
    assert f.kind(session, "taximeter").cycle_months == 24
    assert seed_catalogue(session) == {"instrument_types": 0, "finding_codes": 0, "aliases": 0}
    # 电子台秤 stays the price-computing scale's alias: the import reads ledgers as before.
    owner = session.scalars(select(InstrumentTypeAlias).where(InstrumentTypeAlias.alias == "电子台秤")).one()
    assert owner.instrument_type.code == "elec_price_scale"


def test_the_catalogue_flags_unconfirmed_kinds(client, session, world):
    login(client, "insp_a")
    page = lxml.html.fromstring(client.get("/catalog/types").data)
    (row,) = page.xpath('//tr[@id="type-heat_meter"]')
    assert row.xpath('.//span[contains(@class,"unconfirmed")]/text()') == ["未确认"]
    assert not page.xpath('//a[@id="type-new"]')  # only admins add kinds


def _new_kind(client, **values):
    data = {"name_zh": "电子吊秤", "code": "", "rule": "periodic", "cycle_months": "12", "service_life_years": "",
            "lead_days": "20", "regulation": "JJG 539-2016", "regulation_title": "数字指示秤",
            "category": "非自动衡器", "subcategory": "数字指示秤", "confirmed": "partly",
            "aliases": "吊秤\n电子吊钩秤、吊钩秤", "note": "", **values}
    return client.post("/catalog/types/new", data=data)


def test_admin_adds_a_kind_with_aliases_and_the_log_keeps_it(client, session, world):
    login(client, "admin1")
    resp = _new_kind(client)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    kind = session.scalars(select(InstrumentType).where(InstrumentType.name_zh == "电子吊秤")).one()
    assert (kind.rule, kind.cycle_months, kind.service_life_years, kind.lead_days) == (
        VerificationRule.PERIODIC, 12, None, 20)
    assert kind.code.startswith("kind_") and kind.is_active and kind.confirmed == Confirmation.PARTLY
    assert [a.alias for a in session.scalars(select(InstrumentTypeAlias).where(
        InstrumentTypeAlias.type_id == kind.id).order_by(InstrumentTypeAlias.id))] == ["吊秤", "电子吊钩秤", "吊钩秤"]
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "instrument_types",
                                                     AuditEntry.entity_id == kind.id)).one()
    assert entry.action == "create" and "新增器具种类" in entry.note
    # Staff can now register instruments of it.
    f.instrument(session, world.merchant_a, kind.code, serial="HOOK-1")


@pytest.mark.parametrize("values, message", [
    ({"name_zh": ""}, "请填写器具种类名称"),
    ({"name_zh": "汽车衡"}, "已有名为“汽车衡”的器具种类"),
    ({"name_zh": " 地磅 "}, "已是器具种类“汽车衡”的别名"),
    ({"code": "Truck Scale!"}, "代码应为"),
    ({"code": "truck_scale"}, "已被其他器具种类使用"),
    ({"cycle_months": ""}, "必须填写检定周期"),
    ({"rule": "service_life", "service_life_years": ""}, "必须填写使用年限"),
    ({"cycle_months": "abc"}, "整数"),
    ({"aliases": "电子秤"}, "已是“电子计价秤”的别名"),
])
def test_adding_a_kind_refuses_bad_input_in_chinese(client, session, world, values, message):
    login(client, "admin1")
    before = _count(session, InstrumentType)
    resp = _new_kind(client, **values)
    assert resp.status_code == 200 and message in resp.get_data(as_text=True)
    session.expire_all()
    assert _count(session, InstrumentType) == before


def test_split_aliases_keeps_each_as_typed():
    assert split_aliases(" 吊秤 ,電子吊秤；吊钩秤\r\n\n") == ["吊秤", "電子吊秤", "吊钩秤"]


def test_a_retired_kind_takes_no_new_instruments_and_existing_ones_keep_working(client, session, world):
    login(client, "admin1")
    kind = f.kind(session, "elec_price_scale")
    resp = client.post(f"/catalog/types/{kind.id}/retire", data={"reason": "并入数字指示秤"})
    assert resp.status_code == 302
    session.expire_all()
    kind = f.kind(session, "elec_price_scale")
    assert not kind.is_active
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "retire")).one()
    assert "并入数字指示秤" in entry.note
    with pytest.raises(Invalid, match="已停用，不能登记该种类的新器具"):
        f.instrument(session, world.merchant_a, "elec_price_scale", serial="NEW-1")
    # The registered one is still edited, keeps its dates, and stays on the worklists.
    inst = session.get(Instrument, world.instrument_a.id)
    update_instrument(session, None, ALL, inst, expected_version=inst.version,
                      values={"type_id": kind.id, "merchant_id": inst.merchant_id, "serial_no": inst.serial_no,
                              "location": "东门"})
    assert inst.location == "东门" and inst.next_due_on == dt.date(2025, 1, 10)
    # The registration form no longer offers it.
    page = client.get("/instruments/new").get_data(as_text=True)
    assert "电子计价秤（" not in page
    # Brought back: registrations resume.
    assert client.post(f"/catalog/types/{kind.id}/restore", data={}).status_code == 302
    session.expire_all()
    f.instrument(session, world.merchant_a, "elec_price_scale", serial="NEW-1")


def test_retiring_needs_a_reason(client, session, world):
    login(client, "admin1")
    kind = f.kind(session, "taximeter")
    resp = client.post(f"/catalog/types/{kind.id}/retire", data={"reason": "  "}, follow_redirects=True)
    assert "请填写停用原因" in resp.get_data(as_text=True)
    session.expire_all()
    assert f.kind(session, "taximeter").is_active


def test_admin_confirms_a_kind_in_the_edit_form(client, session, world):
    kind = f.kind(session, "heat_meter")
    login(client, "admin1")
    data = {"rule": "service_life", "cycle_months": "", "service_life_years": "5", "lead_days": "30",
            "regulation": kind.regulation, "regulation_title": kind.regulation_title, "note": "已核对省级规定",
            "confirmed": "yes", "is_active": "y", "version": kind.version}
    assert client.post(f"/catalog/types/{kind.id}/edit", data=data).status_code == 302
    session.expire_all()
    kind = f.kind(session, "heat_meter")
    assert (kind.confirmed, kind.service_life_years) == (Confirmation.YES, 5)


def test_industries_gain_catering_and_agriculture(client, session, world):
    from app.merchants.models import Industry
    from importers.industries import industry_for_name

    assert (Industry("catering").label, Industry("agriculture").label) == ("餐饮", "涉农（农资经营、农产品收购）")
    assert industry_for_name("城东农资超市") == Industry.AGRICULTURE  # before 超市: it sells farm supplies
    assert industry_for_name("老王海鲜酒楼") == Industry.CATERING
    assert industry_for_name("张记粮油店") == Industry.MARKET_VENDOR
    # The database takes the new values (migration 0037 widened the CHECK), and the form offers them.
    m = f.merchant(session, world.station_a, "新桥粮食收购站", industry="agriculture")
    session.flush()
    assert m.industry == Industry.AGRICULTURE
    login(client, "insp_a")
    page = client.get("/merchants/new").get_data(as_text=True)
    assert "餐饮" in page and "涉农（农资经营、农产品收购）" in page
