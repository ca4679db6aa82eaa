"""No workbook the application writes contains a formula made from user text.

Every workbook kind the app produces (each list export, the monthly report with all its sheets, the
verification plan, the import-errors workbook) is built through the app from records full of hostile text
(leading "=", "+", "-", "@", tab, CR, HYPERLINK and DDE payloads), then every cell of every sheet is read
back: no formula cell, no <f> element in any sheet's XML, and the text reads back exactly as stored.
A second check reads the sources of reports/: only reports/xlsx.py (the one safe writer) makes cells or
writes them, so a new sheet cannot bypass it.
"""
from __future__ import annotations

import ast
import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.catalog.models import FindingCode, InstrumentType
from app.clock import today
from app.inspections.services import record_inspection
from app.integrity import services as integrity
from config import TestConfig
from tests import factories
from tests.conftest import login

ROOT = Path(__file__).resolve().parent.parent

STATION = '=HYPERLINK("http://evil.example/","城南所")'
HOSTILE = [
    STATION,
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=2+2",
    "=3+3",
    "@SUM(A1:A9)",
]


def _h(i: int) -> str:
    return HOSTILE[i % len(HOSTILE)]


@pytest.fixture()
def hostile(world, session):
    """Station A renamed to a formula; a merchant, instruments, an inspection with a finding, an order,
    a pledge and an alert whose every text is hostile."""
    now = today()
    world.station_a.name = STATION
    # Kind and finding-code names are catalogue data (not editable in the app today); they are set here
    # so the workbooks are proven safe whoever edits them later.
    scale = factories.kind(session, "elec_price_scale")
    scale.name_zh = "=HYPERLINK(\"http://evil.example/\",\"电子计价秤\")"
    session.scalars(select(FindingCode).where(FindingCode.code == "OVERDUE")).one().name_zh = "@SUM(1+1)*cmd|' /C calc'!A0"
    parent = factories.merchant(session, world.station_a, "=cmd|' /C calc'!A0 市场", industry="market_organiser")
    m = factories.merchant(session, world.station_a, "+1+cmd|' /C calc'!A0 摊位", address="-2+3+cmd|' /C calc'!A0",
                           contact="@SUM(1)", phone="=1+1", parent_id=parent.id)
    insts = []
    for i in range(3):
        inst = factories.instrument(session, m, serial=f"{_h(i)}-{i}", model=_h(i + 1), maker=_h(i + 2),
                                    measuring_range=_h(i + 3), accuracy_class="=4+4", location=_h(i + 4))
        insts.append(inst)
    # Overdue (for the worklist, alerts, the plan and the monthly report's overdue sheet) and verified this month.
    factories.verify(session, insts[0], now - dt.timedelta(days=400), valid_until=now - dt.timedelta(days=10))
    factories.verify(session, insts[1], now.replace(day=1), cert="=HYPERLINK(\"http://evil.example/\",\"证书\")")
    factories.verify(session, insts[2], now - dt.timedelta(days=300), valid_until=now + dt.timedelta(days=20))
    campaign = factories.campaign(session, [world.station_a], name="-cmd|' /C calc'!A0 专项")
    visit = record_inspection(session, None, factories.ALL, m, {
        "inspected_on": now, "visit_outcome": "conducted", "campaign_id": campaign.id,
        "inspector_ids": [world.inspector_a.id, world.supervisor.id], "checks": [(insts[0].id, "problem")], "new_instrument": None,
        "notes": "\t=cmd|' /C calc'!A0"}, now)
    factories.finding(session, visit, "OVERDUE", check=visit.checks[0], description="=HYPERLINK(\"http://evil.example/\")")
    storage = {"storage_dir": TestConfig.INTEGRITY_STORAGE, "max_bytes": 1024 * 1024}
    pledge = integrity.create_pledge(session, None, factories.ALL, parent,
                                     {"signed_on": now - dt.timedelta(days=40), "scope_text": "@SUM(1+1)*cmd|x"},
                                     None, today=now, **storage)
    integrity.create_pledge(session, None, factories.ALL, m, {"signed_on": now, "scope_text": "=1+1 全部"}, None,
                            today=now, **storage)
    integrity.revoke_pledge(session, None, pledge, expected_version=pledge.version, reason="=cmd|' /C calc'!A0",
                            finding_id=None, on=now)
    from app.complaints import services as complaints

    complaints.receive_transfer(session, world.admin, factories.ALL, m, {
        "channel": "12315", "transfer_no": "12315-1", "received_on": now, "category": "short_weight",
        "description": "\t=cmd|' /C calc'!A0 少称"}, complaints.DEFAULT_DEADLINE_WORKING_DAYS, now)
    from app.alerts.jobs import due_date_sweep
    from app.db import utcnow

    due_date_sweep(session=session, now=utcnow(), config={})
    session.commit()
    return world


def stored_texts(session) -> set[str]:
    """Every hostile text as the database holds it (what the workbooks must show, exactly)."""
    from app.accounts.models import Station
    from app.complaints.models import Complaint
    from app.inspections.models import Campaign, Finding, Inspection, InspectionInstrument
    from app.instruments.models import Instrument, Verification
    from app.integrity.models import Pledge
    from app.merchants.models import Merchant

    session.expire_all()
    columns = [Station.name, Merchant.name, Merchant.address, Merchant.contact, Merchant.phone, Instrument.serial_no,
               Instrument.model, Instrument.maker, Instrument.location, InstrumentType.name_zh, FindingCode.name_zh,
               Verification.certificate_no, Campaign.name, Inspection.notes, Finding.description,
               InspectionInstrument.serial_no, Pledge.scope_text, Pledge.revoke_reason, Complaint.description]
    texts = set()
    for column in columns:
        texts.update(v for v in session.scalars(select(column)) if v and v[:1] in "=+-@\t\r")
    return texts


def scan(data: bytes, what: str) -> set[str]:
    """Assert a workbook holds no formula anywhere; the set of its text cell values."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                xml = z.read(name).decode("utf-8")
                # The app writes no formula of its own into any sheet (charts refer to cells from the chart part).
                assert not re.search(r"<(\w+:)?f[\s>/]", xml), f"{what}: {name} holds a formula element"
    texts = set()
    wb = load_workbook(io.BytesIO(data))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{what}: {ws.title}!{cell.coordinate} is a formula: {cell.value!r}"
                if isinstance(cell.value, str):
                    texts.add(cell.value)
    return texts


LIST_EXPORTS = ["/instruments/export.xlsx", "/worklists/overdue/export.xlsx", "/merchants/export.xlsx",
                "/inspections/export.xlsx", "/inspections/findings.xlsx", "/rectifications/export.xlsx?state=all",
                "/alerts/export.xlsx?status=all", "/integrity/export.xlsx?status=all", "/complaints/export.xlsx?state=all"]


def monthly_report(client, session) -> bytes:
    from app.monthly.models import MonthlyReport

    resp = client.post("/reports/monthly/build", data={"month": f"{today():%Y-%m}", "station_id": ""})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:800]
    report_id = session.scalar(select(MonthlyReport.id).where(MonthlyReport.scope_key == "all"))
    return client.get(f"/reports/monthly/{report_id}/download").data


def import_errors(client, session, station_id: int) -> tuple[bytes, set[str]]:
    from app.imports.models import ImportBatch

    rows = [["使用单位名称", "器具名称", "出厂编号", "检定日期", "备注"],
            ["=cmd|' /C calc'!A0", "电子计价秤", "@SUM(1+1)*cmd|' /C calc'!A0", "2024-13-45", STATION],
            ["+1+cmd|' /C calc'!A0", "-2+3+cmd|x", "=3+3", "not a date", "\t=1+1"]]
    text = "\n".join(",".join('"' + c.replace('"', '""') + '"' for c in r) for r in rows) + "\n"
    resp = client.post("/imports/new", data={"station_id": str(station_id),
                                             "file": (io.BytesIO(text.encode("utf-8")), "台账.csv")})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:800]
    batch_id = int(re.search(r"/imports/(\d+)$", resp.headers["Location"]).group(1))
    session.expire_all()
    assert session.get(ImportBatch, batch_id) is not None
    return client.get(f"/imports/{batch_id}/errors.xlsx").data, {c for r in rows[1:] for c in r}


def test_no_workbook_holds_a_formula_and_text_reads_back_exactly(client, session, hostile):
    expected = stored_texts(session)
    assert STATION in expected and len(expected) >= 15
    login(client, "admin1")
    seen: set[str] = set()
    for url in LIST_EXPORTS:
        resp = client.get(url)
        assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet"), url
        texts = scan(resp.data, url)
        assert STATION in texts, f"{url}: the station's name is not in the export as typed"
        seen |= texts
    monthly = scan(monthly_report(client, session), "monthly report")
    # The all-stations report writes station names and kind names itself (summary, pledges, inspections).
    assert STATION in monthly and "=HYPERLINK(\"http://evil.example/\",\"电子计价秤\")" in monthly
    assert "@SUM(1+1)*cmd|' /C calc'!A0" in monthly  # the finding code's name on the inspections sheet
    seen |= monthly
    plan = scan(client.get(f"/plans/export.xlsx?period={today():%Y}&overdue=1").data, "verification plan")
    assert STATION in plan and "-2+3+cmd|' /C calc'!A0" in plan
    seen |= plan
    data, typed = import_errors(client, session, hostile.station_a.id)
    errors = scan(data, "import errors")
    assert typed - {"2024-13-45", "not a date"} <= errors, typed - errors
    missing = expected - seen
    assert not missing, f"texts not read back exactly: {sorted(missing)}"


# --- the sources: one safe writer ---------------------------------------------------------------

WRITER = ROOT / "reports" / "xlsx.py"
# openpyxl names that make or change cells directly; outside the safe writer they could write a formula.
CELL_MAKERS = {"WriteOnlyCell", "Cell", "MergedCell"}
# Calls that give a sheet (openpyxl's, XlsxWriter's, reports.xlsx.Book's) and calls that write into one.
SHEET_MAKERS = ("create_sheet", "active", "get_sheet_by_name", "add_worksheet", "sheet")
CELL_WRITERS = {"append", "cell", "write", "write_string", "write_number", "write_datetime", "write_blank",
                "write_boolean", "write_formula", "write_array_formula", "write_dynamic_array_formula", "write_url",
                "write_rich_string", "write_row", "write_column", "merge_range"}


def writer_bypasses(path: Path, source: str | None = None) -> list[str]:
    """Where a module makes cells or writes rows without the safe writer (empty when it does not)."""
    source = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(source)
    sheets: set[str] = set()
    for node in ast.walk(tree):
        # Names bound to a sheet: ws = wb.create_sheet(...) / book.sheet(...) / wb.active / a parameter called ws.
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Call, ast.Attribute)):
            target = node.value.func if isinstance(node.value, ast.Call) else node.value
            if isinstance(target, ast.Attribute) and target.attr in SHEET_MAKERS:
                sheets.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.arg) and node.arg in ("ws", "sheet", "worksheet"):
            sheets.add(node.arg)
    problems = []
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        modules = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                   else [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
        if any(m.split(".")[0] in ("openpyxl", "xlsxwriter") for m in modules):
            problems.append(f"{where}: imports {modules[0]} (write workbooks with reports.xlsx.Book)")
        elif isinstance(node, ast.Name) and node.id in CELL_MAKERS:
            problems.append(f"{where}: uses {node.id} (write cells with reports.xlsx.Book)")
        elif isinstance(node, ast.Attribute) and node.attr in ("data_type", "value") and isinstance(node.ctx, ast.Store):
            problems.append(f"{where}: sets a cell's {node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            if node.func.attr in CELL_WRITERS and isinstance(receiver, ast.Name) and receiver.id in sheets:
                problems.append(f"{where}: {receiver.id}.{node.func.attr}(...) bypasses reports.xlsx.Book")
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name)
                                                  and t.value.id in sheets for t in node.targets):
            problems.append(f"{where}: writes a cell by its coordinate")
    return problems


def test_only_the_safe_writer_makes_cells():
    """reports/ makes cells and appends rows only through reports/xlsx.py."""
    files = [p for p in sorted((ROOT / "reports").glob("*.py")) if p != WRITER]
    assert len(files) >= 6
    problems = [p for f in files for p in writer_bypasses(f)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("source", [
    "from openpyxl.cell import WriteOnlyCell\n",
    "import xlsxwriter\n",
    "def f(wb):\n    ws = wb.create_sheet('x')\n    ws.append(['=1+1'])\n",
    "def f(ws, name):\n    ws.append([name])\n",
    "def f(wb, name):\n    sheet = wb.active\n    sheet['A1'] = name\n",
    "def f(ws, name):\n    c = ws.cell(row=1, column=1)\n",
    "def f(c):\n    c.data_type = 'f'\n",
    "from openpyxl import Workbook\n",
    "def f(book, name):\n    ws = book.sheet('x')\n    ws.write(0, 0, name)\n",
    "def f(wb, name):\n    ws = wb.add_worksheet('x')\n    ws.write_string(0, 0, name)\n",
    "def f(ws, name):\n    ws.merge_range(0, 0, 0, 3, name)\n",
])
def test_the_source_check_notices_a_bypass(source):
    """The check itself: each way round the safe writer is reported."""
    assert writer_bypasses(ROOT / "reports" / "new_sheet.py", source)
