"""Free text is stored as typed (issue 13): full-width punctuation and line breaks survive the forms, the
import, the pages, the print views and the exports; only comparison keys and identifiers are folded."""
from __future__ import annotations

import ast
import datetime as dt
import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.alerts.jobs import due_date_sweep
from app.alerts.models import Alert
from app.audit.models import AuditEntry
from app.clock import today
from app.inspections.models import Campaign, Finding, Inspection, Recheck, Rectification
from app.instruments.models import Instrument
from app.merchants.models import Merchant
from app.text import as_typed, identifier, match_key
from tests import factories as f
from tests.conftest import login

ROOT = Path(__file__).resolve().parent.parent

# What a user types into a textarea; the browser sends its line breaks as CRLF.
DESCRIPTION = "铅封破损，\r\n铅封编号无法辨认；"
STORED_DESCRIPTION = "铅封破损，\n铅封编号无法辨认；"


# --- the functions -----------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, stored", [
    ("  华联超市（城关店）  ", "华联超市（城关店）"),
    ("欧姆龙(大连)有限公司", "欧姆龙(大连)有限公司"),
    ("第一行：备注；\n第二行（续）", "第一行：备注；\n第二行（续）"),
    ("第一行\r\n第二行\r第三行", "第一行\n第二行\n第三行"),
    ("ＡＣＳ－１５　型", "ＡＣＳ－１５　型"),
    ("\u3000\t前后的空白 \n", "前后的空白"),
    (None, ""),
])
def test_as_typed_trims_and_changes_nothing_else(typed, stored):
    assert as_typed(typed) == stored


def test_identifiers_and_keys_are_folded():
    assert identifier(" ｆｍ２０２６　１２０００１ ") == "fm2026 120001"
    assert match_key("ｆｍ 2026120001") == match_key("FM2026120001") == "FM2026120001"
    assert match_key("华联超市（城关店）") == match_key("华联超市(城关店)")


def test_nfkc_is_applied_only_in_app_text():
    """NFKC folding lives in app/text.py (identifiers and keys); nothing else folds text on its own."""
    found = []
    for package in ("app", "importers", "reports"):
        for path in (ROOT / package).rglob("*.py"):
            if path.relative_to(ROOT).as_posix() != "app/text.py" and "NFKC" in path.read_text(encoding="utf-8"):
                source = path.read_text(encoding="utf-8")
                if re.search(r"normalize\(\s*[\"']NFKC", source):
                    found.append(str(path.relative_to(ROOT)))
    assert found == []
    import app.text
    assert not hasattr(app.text, "clean")  # the old fold-everything function is gone for good


IDENTIFIER_ARGUMENTS = re.compile(r"serial|certificate|case_no|username|phone|email|code|text|value")


def test_identifier_folding_is_used_on_identifiers_only():
    """`identifier()` folds width: it is called on identifiers (serials, certificate and case numbers, codes, user
    names, phones, e-mail addresses) and search text, never on a name, address, note or description."""
    calls = []
    for package in ("app", "importers", "reports"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "identifier" and node.args:
                    calls.append((str(path.relative_to(ROOT)), node.lineno, ast.unparse(node.args[0])))
    assert len(calls) >= 10
    assert [c for c in calls if not IDENTIFIER_ARGUMENTS.search(c[2])] == []


# --- through the real forms --------------------------------------------------------------------------

def _sheet_rows(data: bytes):
    return list(load_workbook(io.BytesIO(data)).active.iter_rows())


def test_forms_store_pages_print_and_export_text_as_typed(client, session, world):
    login(client, "insp_a")
    resp = client.post("/merchants/new", data={
        "name": " 华联超市（城关店） ", "credit_code": "", "industry": "retail", "station_id": world.station_a.id,
        "address": "环城南路１８号（东门）", "contact": "张三", "phone": "", "notes": "第一行：备注；\r\n第二行（续）"})
    assert resp.status_code == 302
    merchant = session.scalars(select(Merchant).where(Merchant.name == "华联超市（城关店）")).one()
    assert (merchant.address, merchant.notes) == ("环城南路１８号（东门）", "第一行：备注；\n第二行（续）")
    assert merchant.name_key == match_key("华联超市(城关店)")  # the comparison key alone is folded
    page = client.get(f"/merchants/{merchant.id}").get_data(as_text=True)
    assert "华联超市（城关店）" in page and 'text-lines">第一行：备注；\n第二行（续）</dd>' in page

    kind = f.kind(session, "elec_price_scale")
    resp = client.post(f"/instruments/new?merchant_id={merchant.id}", data={
        "type_id": kind.id, "serial_no": "ＦＭ２０２６１２０００１", "maker": "欧姆龙（大连）有限公司",
        "location": "１号摊位（东）", "status": "in_use", "notes": "秤盘有划痕，\r\n不影响计量"})
    assert resp.status_code == 302
    inst = session.scalars(select(Instrument).where(Instrument.merchant_id == merchant.id)).one()
    assert inst.serial_no == "FM2026120001"  # an identifier: its format is defined, so it is folded
    assert (inst.maker, inst.location, inst.notes) == ("欧姆龙（大连）有限公司", "１号摊位（东）", "秤盘有划痕，\n不影响计量")
    page = client.get(f"/instruments/{inst.id}").get_data(as_text=True)
    assert "欧姆龙（大连）有限公司" in page and 'text-lines">秤盘有划痕，\n不影响计量</dd>' in page

    resp = client.post(f"/inspections/new?merchant_id={merchant.id}", data={
        "inspected_on": today().isoformat(), "visit_outcome": "conducted", "notes": "现场检查：\r\n秤具三台（含备用）",
        "inspector_ids": [str(world.inspector_a.id), str(world.supervisor.id)], f"inst_{inst.id}": "problem"})
    assert resp.status_code == 302
    insp = session.scalars(select(Inspection).where(Inspection.merchant_id == merchant.id)).one()
    assert insp.notes == "现场检查：\n秤具三台（含备用）"
    code = f.finding_code(session, "OVERDUE")
    resp = client.post(f"/inspections/{insp.id}/findings/new", data={
        "code_id": code.id, "check_id": insp.checks[0].id, "description": DESCRIPTION, "measure": "rectify",
        "deadline": (today() + dt.timedelta(days=15)).isoformat(), "case_no": ""})
    assert resp.status_code == 302
    finding = session.scalars(select(Finding).where(Finding.inspection_id == insp.id)).one()
    assert finding.description == STORED_DESCRIPTION

    page = client.get(f"/inspections/{insp.id}").get_data(as_text=True)
    assert f'class="text-lines">{STORED_DESCRIPTION}</div>' in page
    assert 'text-lines">现场检查：\n秤具三台（含备用）</dd>' in page
    notice = client.get(f"/inspections/{insp.id}/print/notice").get_data(as_text=True)
    assert f'<span class="text-lines">{STORED_DESCRIPTION}</span>' in notice and "white-space: pre-line" in notice
    assert "华联超市（城关店）" in notice and "铅封破损," not in notice
    record = client.get(f"/inspections/{insp.id}/print/record").get_data(as_text=True)
    assert f'<span class="text-lines">{STORED_DESCRIPTION}</span>' in record
    assert '<span class="text-lines">现场检查：\n秤具三台（含备用）</span>' in record

    # Exports: the text as typed, a cell with line breaks wrapped on its lines.
    rows = _sheet_rows(client.get("/inspections/findings.xlsx").data)
    [cell] = [c for r in rows[1:] for c in r if c.value == STORED_DESCRIPTION]
    assert cell.alignment.wrap_text
    assert any(c.value == "华联超市（城关店）" for r in rows[1:] for c in r)
    rows = _sheet_rows(client.get("/inspections/export.xlsx").data)
    [cell] = [c for r in rows[1:] for c in r if c.value == "现场检查：\n秤具三台（含备用）"]
    assert cell.alignment.wrap_text
    rows = _sheet_rows(client.get("/merchants/export.xlsx").data)
    assert any(c.value == "环城南路１８号（东门）" for r in rows[1:] for c in r)

    rect = session.scalars(select(Rectification).where(Rectification.finding_id == finding.id)).one()
    resp = client.post(f"/rectifications/{rect.id}/recheck", data={
        "rechecked_on": today().isoformat(), "rectified": "no", "notes": "商户称：\r\n下周更换（铅封）",
        "version": rect.version})
    assert resp.status_code == 302
    assert session.scalars(select(Recheck.notes).where(Recheck.rectification_id == rect.id)).one() == \
        "商户称：\n下周更换（铅封）"
    page = client.get(f"/inspections/{insp.id}").get_data(as_text=True)
    assert '<span class="text-lines">商户称：\n下周更换（铅封）</span>' in page


def test_campaign_notes_and_alert_notes_are_kept_as_typed(app, client, session, world):
    login(client, "super1")
    starts = today()
    resp = client.post("/campaigns/new", data={
        "name": "电子计价秤专项检查（第二批）", "starts_on": starts.isoformat(),
        "ends_on": (starts + dt.timedelta(days=30)).isoformat(), "station_ids": [str(world.station_a.id)],
        "notes": "重点：农贸市场，\r\n兼查（超市）"})
    assert resp.status_code == 302
    camp = session.scalars(select(Campaign).where(Campaign.name == "电子计价秤专项检查（第二批）")).one()
    assert camp.notes == "重点：农贸市场，\n兼查（超市）"
    page = client.get(f"/campaigns/{camp.id}").get_data(as_text=True)
    assert 'text-lines">重点：农贸市场，\n兼查（超市）</dd>' in page

    due_date_sweep(session=session, now=dt.datetime.now(dt.timezone.utc),
                   config={"ALERT_SERVICE_LIFE_DAYS": 90, "ALERT_SECOND_REMINDER_DAYS": 7})
    session.commit()
    alert = session.scalars(select(Alert).where(Alert.instrument_id == world.instrument_a.id)).one()
    inspector = app.test_client()
    login(inspector, "insp_a")
    resp = inspector.post(f"/alerts/{alert.id}/acknowledge", data={"note": " 已电话通知（张经理）：下周送检 "})
    assert resp.status_code == 302
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "acknowledge")).one()
    assert entry.note == "已电话通知（张经理）：下周送检"


# --- through the import ------------------------------------------------------------------------------

def test_import_keeps_cell_text_as_typed(app, session, world, tmp_path):
    from tests.importers.builders import LEDGER_HEADER, ledger_xlsx
    from tests.test_import_pipeline import Flow, row

    flow = Flow(app, world, tmp_path / "uploads")
    rows = [row("欧姆龙（大连）专卖店", "电子计价秤", "OM-1", "2025-03-01", maker="欧姆龙（大连）有限公司"),
            row("欧姆龙(大连)专卖店", "电子计价秤", "OM-2", "2025-03-01", maker="欧姆龙(大连)有限公司")]
    rows[0] |= {"安装位置": "１号摊位（东）", "备注": "第一行，\n第二行（续）"}
    rows[1] |= {"安装位置": "2号摊位(西)", "备注": ""}
    data = ledger_xlsx(tmp_path / "台账.xlsx", rows, header=LEDGER_HEADER + ["安装位置", "备注"]).read_bytes()
    batch_id = flow.upload(data)
    counts = flow.preview(batch_id)
    # One merchant: the two spellings of the name are one name by its key; stored as the first row typed it.
    assert counts["errors"] == 0 and counts["merchants"]["create"] == 1 and counts["instruments"]["create"] == 2
    flow.confirm(batch_id)
    flow.apply(batch_id)
    one, two = flow.instrument("OM-1"), flow.instrument("OM-2")
    assert (one.maker, one.location) == ("欧姆龙（大连）有限公司", "１号摊位（东）")
    assert (two.maker, two.location) == ("欧姆龙(大连)有限公司", "2号摊位(西)")
    assert one.maker_key == two.maker_key  # the same maker by its key
    assert flow.verifications("OM-1")[0].notes == "第一行，\n第二行（续）"
    assert flow.merchant("欧姆龙（大连）专卖店").id == one.merchant_id == two.merchant_id
