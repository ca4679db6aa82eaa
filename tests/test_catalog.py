"""Catalogue seed data, admin edits of kinds with optional recompute, and the set-up commands."""
import csv
import datetime as dt
from pathlib import Path

import lxml.html
from sqlalchemy import func, select

from app.accounts.models import Role, User
from app.audit.models import AuditEntry
from app.catalog.models import FindingCode, InstrumentType, VerificationRule
from app.catalog.services import SEED_DIR, seed_catalogue
from app.instruments.models import Instrument
from tests import factories as f
from tests.conftest import login


def _count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_seed_ships_every_kind_and_code(session):
    assert _count(session, InstrumentType) == 19
    assert _count(session, FindingCode) == 22
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
