"""The monthly report: figures checked against a ledger built for the purpose, the workbook read back with
openpyxl and python-calamine, the archive, the command line and the scheduled job."""
from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from app.catalog.models import FindingCode
from app.monthly.jobs import monthly_report
from app.monthly.models import MonthlyReport
from app.monthly.services import build_report, last_month
from reports.monthly import Month, build_monthly_report, compute_figures, previous_due
from config import TestConfig
from tests import factories
from tests.conftest import login

OCT = Month(2026, 10)
D = dt.date


class TestMonth:
    def test_parse_and_shift(self):
        assert Month.parse("2026-10") == OCT and Month.parse("2026/1") == Month(2026, 1)
        assert (OCT.first, OCT.last) == (D(2026, 10, 1), D(2026, 10, 31))
        assert Month(2026, 1).shift(-1) == Month(2025, 12) and Month(2024, 12).shift(2) == Month(2025, 2)
        assert Month(2024, 2).last == D(2024, 2, 29)
        assert last_month(D(2026, 11, 1)) == OCT
        for bad in ("2026-13", "2026", "十月", "1999-01"):
            with pytest.raises(ValueError, match="月份"):
                Month.parse(bad)

    def test_previous_due(self):
        assert previous_due(D(2026, 4, 25), None, "pass", 6) == D(2026, 10, 25)
        assert previous_due(D(2026, 3, 1), D(2026, 8, 31), "pass", 6) == D(2026, 8, 31)
        assert previous_due(D(2026, 3, 1), D(2026, 8, 31), "fail", 6) == D(2026, 3, 1)
        assert previous_due(None, None, None, 6) is None


@pytest.fixture()
def ledger(world, session):
    """October 2026 in station A (fuel station, market vendor, a household meter) and station B."""
    a = world.station_a
    fuel = factories.merchant(session, a, "甲加油站", industry="fuel_station")
    vendor = world.merchant_a
    # On time: verified before the previous certificate expired.
    d1 = factories.instrument(session, fuel, "fuel_dispenser", serial="D1", nozzle_count=4)
    factories.verify(session, d1, D(2026, 4, 15), valid_until=D(2026, 10, 14))
    factories.verify(session, d1, D(2026, 10, 10), valid_until=D(2027, 4, 9))
    # Late: the previous certificate ran out on 31 August.
    d2 = factories.instrument(session, fuel, "fuel_dispenser", serial="D2", nozzle_count=6)
    factories.verify(session, d2, D(2026, 3, 1), valid_until=D(2026, 8, 31))
    factories.verify(session, d2, D(2026, 10, 20), valid_until=D(2027, 4, 19))
    # On time by the cycle (no valid-until on the previous record: 2026-04-25 + 6 months).
    d3 = factories.instrument(session, fuel, "fuel_dispenser", serial="D3", nozzle_count=2)
    factories.verify(session, d3, D(2026, 4, 25))
    factories.verify(session, d3, D(2026, 10, 24), result="fail")
    # A first verification that failed: due at once, so overdue at the month's end.
    s1 = factories.instrument(session, vendor, serial="S1")
    factories.verify(session, s1, D(2026, 10, 5), result="fail")
    # Due next month.
    s2 = factories.instrument(session, vendor, serial="S2")
    factories.verify(session, s2, D(2025, 11, 10), valid_until=D(2026, 11, 9))
    # Scrapped: counted nowhere.
    factories.instrument(session, vendor, serial="S3", status="scrapped")
    # A household water meter past its six-year life.
    water = factories.merchant(session, a, "自来水公司", industry="utility")
    w1 = factories.instrument(session, water, "water_meter_le25", serial="W1")
    factories.verify(session, w1, D(2020, 1, 1))
    # Station B: one scale verified in October.
    b1 = factories.instrument(session, world.merchant_b, serial="B1")
    factories.verify(session, b1, D(2026, 10, 12))
    # October inspections: two in station A (one with two findings, one order closed on time), one in September.
    crew = [world.inspector_a, world.supervisor]
    visit = factories.inspection(session, vendor, crew, on=D(2026, 10, 8), checks=[(s1, "problem"), (s2, "ok")])
    order = factories.finding(session, visit, "FAILED_IN_USE", check=visit.checks[0]).rectification
    factories.finding(session, visit, "NOT_FILED", measure="case", case_no="（2026）001")
    from app.inspections.services import record_recheck

    record_recheck(session, None, order, expected_version=order.version,
                   values={"rechecked_on": D(2026, 10, 15), "rectified": True, "notes": ""}, today=D(2026, 10, 15))
    factories.inspection(session, fuel, crew, on=D(2026, 10, 21), checks=[(d1, "ok")])
    factories.inspection(session, fuel, crew, on=D(2026, 9, 30))
    # Pledges: the vendor signed in October; the fuel station's earlier pledge was revoked in October.
    from app.integrity import services as integrity

    storage = {"storage_dir": TestConfig.INTEGRITY_STORAGE, "max_bytes": 1024 * 1024}
    integrity.create_pledge(session, None, factories.ALL, vendor, {"signed_on": D(2026, 10, 3), "scope_text": "全部"},
                            None, today=D(2026, 10, 3), **storage)
    old = integrity.create_pledge(session, None, factories.ALL, fuel, {"signed_on": D(2025, 5, 1), "scope_text": "全部"},
                                  None, today=D(2025, 5, 1), **storage)
    integrity.revoke_pledge(session, None, old, expected_version=old.version, reason="检查发现问题", finding_id=None,
                            on=D(2026, 10, 20))
    integrity.set_targets(session, None, {("pledges", None): 10, ("pledges", world.station_a.id): 4})
    session.commit()
    return world


def _by_code(session, figures, station_id):
    kinds = {factories.kind(session, code).id: code for code in
             ("elec_price_scale", "fuel_dispenser", "water_meter_le25")}
    return {kinds[t]: c for (s, t), c in figures.by_station_kind.items() if s == station_id and t in kinds}


def test_figures_match_the_ledger(ledger, session):
    f = compute_figures(session, OCT)
    a = _by_code(session, f, ledger.station_a.id)
    fuel = a["fuel_dispenser"]
    assert (fuel.registered, fuel.verified, fuel.records, fuel.passed) == (3, 3, 3, 2)
    assert (fuel.reverified, fuel.on_time, fuel.overdue, fuel.due_next) == (3, 2, 1, 0)  # D3 failed: due at once
    scale = a["elec_price_scale"]
    # The world's scale A-001 (verified January 2024) is overdue too; S3 is scrapped and not counted.
    assert (scale.registered, scale.verified, scale.records, scale.passed) == (3, 1, 1, 0)
    assert (scale.reverified, scale.overdue, scale.due_next) == (0, 2, 1)
    water = a["water_meter_le25"]
    assert (water.registered, water.past_life, water.overdue) == (1, 1, 0)
    total = f.total()
    assert (total.registered, total.verified, total.records, total.passed) == (9, 5, 5, 3)
    assert f.fuel[ledger.station_a.id] == (1, 3, 12)
    assert f.fuel.get(ledger.station_b.id, (0, 0, 0))[0] == 1  # the world's 乙加油站
    # September: D1, D2 and D3 had no records then; nothing was verified.
    assert f.previous.verified == 0

    only_a = compute_figures(session, OCT, ledger.station_a.id)
    assert set(only_a.stations) == {ledger.station_a.id}
    assert only_a.total().verified == 4 and only_a.scope_name == ledger.station_a.name


SHEETS = ["汇总", "概况", "种类图表", "检查情况", "问题图表", "案件办理", "诚信计量", "投诉举报", "计量惠民", "按用途",
          "本月检定明细", "月末超期明细"]
CHART_SHEETS = {"种类图表", "问题图表"}


def _header(cell) -> str:
    """A header as the reader sees it (a long header is printed on two lines)."""
    return (cell.value or "").replace("\n", "")


def read_table(ws, first_header: str, keys: int = 1) -> dict:
    """The table whose header row starts with first_header: {row label(s): {header: figure}}, every figure taken
    from the column its header stands over."""
    rows = list(ws.iter_rows())
    start = next(i for i, r in enumerate(rows) if _header(r[0]) == first_header)
    headers = {c.column: _header(c) for c in rows[start] if c.value}
    table = {}
    for r in rows[start + 1:]:
        if r[0].value is None:
            break
        key = r[0].value if keys == 1 else tuple(c.value for c in r[:keys])
        table.setdefault(key, {headers[c.column]: c.value for c in r[keys:] if c.column in headers})
    return table


def _figures_under_headers(table: dict, key, expected: dict) -> None:
    got = {h: table[key][h] for h in expected}
    assert got == {h: pytest.approx(v) if isinstance(v, float) else v for h, v in expected.items()}, key


def test_the_purpose_sheet_counts_in_use_instruments_and_records_by_purpose(ledger, session):
    """用途 from e-CQS's four, a clear ledger spelling under its 用途, other texts under 其他, none under 未填写;
    the rows add up to the summary's in-use instruments and records; one station's report counts only its own."""
    from app.instruments.models import Instrument
    from app.monthly.services import report_sections
    from reports.monthly_purpose import by_purpose, purpose_rows

    purposes = {"D1": "贸易结算", "D2": "贸易结算用", "S1": "医疗卫生", "W1": "计量比对", "B1": "贸易结算"}
    for serial, purpose in purposes.items():
        session.scalars(select(Instrument).where(Instrument.serial_no == serial)).one().purpose = purpose
    session.commit()
    out = io.BytesIO()
    build_monthly_report(session, OCT, out, sections=report_sections())
    sheet = load_workbook(io.BytesIO(out.getvalue()))["按用途"]
    rows = {r[0]: r[1:] for r in sheet.iter_rows(values_only=True) if r and r[0] and len(r) >= 4}
    assert rows["贸易结算"] == (3, 3, 3) and rows["医疗卫生"] == (1, 1, 0)
    assert rows["其他（台账原文）"] == (1, 0, 0) and rows["安全防护"] == rows["环境监测"] == (0, 0, 0)
    assert rows["未填写"] == (4, 1, 0)  # A-001, B-001, D3 (failed in October), S2
    total = compute_figures(session, OCT).total()
    assert rows["合计"] == (total.registered, total.records, total.passed) == (9, 5, 3)
    station_a = purpose_rows(session.execute(by_purpose(OCT.first, OCT.last, ledger.station_a.id)))
    assert [r for r in station_a if r[0] == "贸易结算"] == [["贸易结算", 2, 2, 2]]


def test_every_header_stands_over_its_figure(ledger, session):
    """Each figure, read from the column under its header, is what the ledger built above says (counted by hand
    from the fixture, not from the report's own queries)."""
    from app.monthly.services import report_sections

    out = io.BytesIO()
    build_monthly_report(session, OCT, out, sections=report_sections())
    wb = load_workbook(io.BytesIO(out.getvalue()))
    assert wb.sheetnames == SHEETS
    a, b = ledger.station_a.name, ledger.station_b.name
    scale, fuel = factories.kind(session, "elec_price_scale").name_zh, factories.kind(session, "fuel_dispenser").name_zh
    water = factories.kind(session, "water_meter_le25").name_zh

    summary = read_table(wb["汇总"], "监管所", keys=2)
    # D1 on time, D2 late, D3 on time by the cycle but failed (overdue at once): 3 records, 2 passed.
    _figures_under_headers(summary, (a, fuel), {
        "在册（在用）": 3, "本月检定（台）": 3, "本月检定记录": 3, "合格记录": 2, "检定合格率": 2 / 3, "到期复检": 3,
        "按期复检": 2, "按期检定率": 2 / 3, "下月到期": 0, "月末超期未检": 1, "超过使用年限": 0})
    # A-001 (overdue since 2025), S1 (failed in October), S2 (due in November); S3 scrapped.
    _figures_under_headers(summary, (a, scale), {
        "在册（在用）": 3, "本月检定（台）": 1, "本月检定记录": 1, "合格记录": 0, "检定合格率": 0.0, "到期复检": 0,
        "按期检定率": None, "下月到期": 1, "月末超期未检": 2, "超过使用年限": 0})
    _figures_under_headers(summary, (a, water), {"在册（在用）": 1, "本月检定（台）": 0, "月末超期未检": 0,
                                                 "超过使用年限": 1})
    # Station B: B1 verified in October; the world's dispenser B-001 at 乙加油站 is overdue.
    _figures_under_headers(summary, (b, scale), {"在册（在用）": 1, "本月检定（台）": 1, "合格记录": 1,
                                                 "月末超期未检": 0})
    _figures_under_headers(summary, (b, fuel), {"在册（在用）": 1, "本月检定（台）": 0, "月末超期未检": 1})
    _figures_under_headers(summary, (a, "小计"), {"在册（在用）": 7, "本月检定（台）": 4, "超过使用年限": 1})
    _figures_under_headers(summary, ("合计", None), {"在册（在用）": 9, "本月检定（台）": 5, "本月检定记录": 5,
                                                    "合格记录": 3, "检定合格率": 3 / 5, "月末超期未检": 4})

    overview = wb["概况"]
    _figures_under_headers(read_table(overview, "指标"), "本月检定（台）", {"2026年10月": 5, "2026年9月": 0, "增减": 5})
    # Station A: 甲加油站 with D1-D3 (4 + 6 + 2 nozzles); station B: the world's 乙加油站 with B-001 (4).
    fuel_table = read_table(overview, "监管所")
    _figures_under_headers(fuel_table, a, {"加油站（家）": 1, "在用加油机（台）": 3, "油枪（条）": 12})
    _figures_under_headers(fuel_table, b, {"加油站（家）": 1, "在用加油机（台）": 1, "油枪（条）": 4})
    _figures_under_headers(fuel_table, "合计", {"加油站（家）": 2, "在用加油机（台）": 4, "油枪（条）": 16})
    # By kind across stations: D1-D3 verified; D3 (failed) and B-001 overdue.
    _figures_under_headers(read_table(overview, "器具种类"), fuel,
                           {"本月检定（台）": 3, "下月到期": 0, "月末超期未检": 2})

    inspections = wb["检查情况"]
    # Station A in October: visits on 8 and 21 October (September's is not counted), 3 instruments checked (S1
    # with a problem), FAILED_IN_USE (order closed on time on 15 October) and NOT_FILED (a case).
    by_station = read_table(inspections, "监管所")
    _figures_under_headers(by_station, a, {
        "检查（次）": 2, "检查单位（家）": 2, "实际开展经营": 2, "检查器具（台）": 3, "有问题器具": 1, "发现问题（条）": 2,
        "有问题单位": 1, "责令改正": 1, "按期整改": 1, "逾期整改": 0, "整改中": 0, "逾期未改": 0, "立案": 1})
    assert set(by_station[b].values()) == {0}
    _figures_under_headers(read_table(inspections, "指标"), "检查（次）", {"2026年10月": 2, "2026年9月": 1, "增减": 1})
    names = {f.code: f.name_zh for f in session.scalars(select(FindingCode))}
    assert {k: v["本月（条）"] for k, v in read_table(inspections, "问题类型").items()} == {
        names["FAILED_IN_USE"]: 1, names["NOT_FILED"]: 1}

    pledges = read_table(wb["诚信计量"], "监管所")
    # Station A: the vendor signed and the fuel station's pledge was revoked in October; target 4 (all: 10).
    _figures_under_headers(pledges, a, {"本月新签": 1, "本月撤销": 1, "月末有效承诺": 1, "承诺目标（家）": 4,
                                        "承诺完成率": 0.25})
    _figures_under_headers(pledges, "合计", {"月末有效承诺": 1, "承诺目标（家）": 10, "承诺完成率": 0.1})
    _figures_under_headers(read_table(wb["诚信计量"], "指标"), "月末有效承诺",
                           {"2026年10月": 1, "2026年9月": 1, "增减": 0})

    details = read_table(wb["本月检定明细"], "监管所", keys=4)
    assert sorted(k[3] for k in details) == ["B1", "D1", "D2", "D3", "S1"]
    d3 = next(v for k, v in details.items() if k[3] == "D3")
    assert d3["检定日期"] == dt.datetime(2026, 10, 24) and d3["检定结论"] == "不合格"
    overdue = read_table(wb["月末超期明细"], "监管所", keys=5)
    assert sorted(k[4] for k in overdue) == sorted(["A-001", "B-001", "D3", "S1"])

    # No catalogue code or English value anywhere a reader looks: finding types, kinds and results are Chinese.
    english = {c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row
               if isinstance(c.value, str) and re.fullmatch(r"[A-Za-z_]{3,}", c.value)}
    assert not english


def _tables(ws) -> list[list]:
    """A sheet's tables: each a list of rows, the header row first, cut to the header's width."""
    tables, current = [], None
    for row in ws.iter_rows():
        if row[0].fill.fgColor.rgb in ("00DDEBF7", "FFDDEBF7"):
            width = max(c.column for c in row if c.value)
            current = [row[:width]]
            tables.append(current)
        elif current is not None and row[0].value is not None:
            current.append(row[:len(current[0])])
        else:
            current = None
    return tables


def test_a_long_scope_name_still_heads_every_printed_page(ledger, session):
    """Excel keeps at most 255 characters in a page header or footer (the writer drops a longer one): a long
    name with "&" in it is cut to fit, its "&" stays literal, and every sheet keeps its header and page numbers."""
    from app.monthly.services import report_sections

    out = io.BytesIO()
    build_monthly_report(session, OCT, out, sections=report_sections(), scope_name="甲&乙监管所" * 40)
    for ws in load_workbook(io.BytesIO(out.getvalue())).worksheets:
        header, footer = ws.oddHeader.center.text, ws.oddFooter.left.text
        assert header and header.endswith("…") and "甲&&乙" in header, ws.title
        assert footer and footer.startswith("计量器具监管月报 2026年10月") and "&N" in ws.oddFooter.right.text, ws.title
        assert len("&C" + header) <= 255 and len(f"&L{footer}&R{ws.oddFooter.right.text}") <= 255, ws.title


def test_every_sheet_prints_as_a_report(ledger, session):
    """Borders on every table cell, columns as wide as the longest kind and station names, A4 one page wide with
    the month in the page header and page numbers in the footer, the header row repeated only over long tables,
    and each chart on a sheet of its own with a whole-number axis."""
    from app.catalog.models import InstrumentType
    from app.monthly.services import report_sections
    from reports.xlsx import display_width

    out = io.BytesIO()
    build_monthly_report(session, OCT, out, sections=report_sections())
    data = out.getvalue()
    wb = load_workbook(io.BytesIO(data))
    stations = [ledger.station_a.name, ledger.station_b.name]
    kinds = session.scalars(select(InstrumentType.name_zh)).all()
    for ws in wb.worksheets:
        setup = ws.page_setup
        # A fit of 1 page may be left out of the file: 1 is the file format's default (ECMA-376 CT_PageSetup).
        assert setup.paperSize == 9 and ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert setup.fitToWidth in (None, 1), ws.title
        assert "2026年10月" in ws.oddHeader.center.text, ws.title
        assert "2026年10月" in ws.oddFooter.left.text and "&P" in ws.oddFooter.right.text, ws.title
        assert "&N" in ws.oddFooter.right.text
        if ws.title in CHART_SHEETS:
            (chart,) = ws._charts
            axis = chart.y_axis
            assert axis.majorUnit is not None and axis.majorUnit >= 1 and axis.majorUnit == int(axis.majorUnit)
            assert axis.scaling.min == 0 and axis.numFmt.formatCode == "0"
            assert setup.orientation == "landscape" and setup.fitToHeight in (None, 1) and ws.print_area
            assert not ws.print_title_rows, "a chart's page repeats no table header"
            continue
        assert not ws._charts, f"{ws.title}: a chart sits beside a table"
        assert setup.fitToHeight == 0, f"{ws.title}: a long table would shrink to one page"
        # Long tables (the summary, the detail lists) repeat their header row; short ones do not.
        assert bool(ws.print_title_rows) == (ws.title in ("汇总", "本月检定明细", "月末超期明细")), ws.title
        widths = {chr(65 + i): ws.column_dimensions[chr(65 + i)].width for i in range(ws.max_column)}
        total = sum(ws.column_dimensions[chr(65 + i)].width for i in range(ws.max_column))
        assert setup.orientation == ("portrait" if total <= 95 else "landscape"), ws.title
        tables = _tables(ws)
        assert tables, ws.title
        for rows in tables:
            for c in (c for row in rows for c in row):
                assert c.border.left.style == c.border.right.style == "thin", f"{ws.title}!{c.coordinate}"
                assert c.border.top.style == c.border.bottom.style == "thin", f"{ws.title}!{c.coordinate}"
            for c in rows[0]:
                assert c.alignment.horizontal == "center", f"{ws.title}!{c.coordinate}"
                # The names a column shows fit its width (a Chinese character counts two).
                if _header(c) in ("监管所", "器具种类"):
                    names = {"监管所": stations, "器具种类": kinds}[_header(c)]
                    shown = [v for r in rows[1:] if (v := r[c.column - 1].value) in names]
                    assert shown and widths[c.column_letter] >= max(map(display_width, shown)), ws.title
    detail = wb["本月检定明细"]
    assert detail.column_dimensions["C"].width >= max(display_width(k) for k in kinds)
    assert wb["汇总"].print_title_rows == "$3:$3" and wb["汇总"].freeze_panes == "C4"

    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    assert book.sheet_names == SHEETS
    assert len(book.get_sheet_by_name("本月检定明细").to_python()) == 2 + 5


@pytest.mark.skipif(not (shutil.which("libreoffice") or shutil.which("soffice")) or not shutil.which("pdftotext"),
                    reason="LibreOffice and poppler-utils are checking tools, not installed everywhere")
def test_the_printout(ledger, session, tmp_path):
    """bench/report_pdf.py prints the workbook through LibreOffice: one page per sheet here, every page numbered
    "第 N 页，共 M 页", and the chart pages carry no table's header row."""
    from app.monthly.services import report_sections

    workbook = tmp_path / "月报.xlsx"
    build_monthly_report(session, OCT, str(workbook), sections=report_sections())
    script = Path(__file__).resolve().parents[1] / "bench" / "report_pdf.py"
    subprocess.run([sys.executable, str(script), str(workbook), "-o", str(tmp_path)], check=True, timeout=600,
                   capture_output=True)
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "月报.pdf"), "-"], check=True,
                          capture_output=True, text=True).stdout
    pages = text.split("\f")[:-1] if text.endswith("\f") else text.split("\f")
    assert len(pages) == len(SHEETS)
    for number, (sheet, page) in enumerate(zip(SHEETS, pages), start=1):
        assert f"第 {number} 页，共 {len(SHEETS)} 页" in page and "2026年10月" in page, sheet
        if sheet in CHART_SHEETS:
            repeated = [h for h in ("在册", "检定合格率", "检查（次）", "本月新签", "出厂编号") if h in page]
            assert not repeated, f"{sheet}: a table's header row printed over the chart"
    names = {f.code: f.name_zh for f in session.scalars(select(FindingCode))}
    assert names["FAILED_IN_USE"] in pages[SHEETS.index("问题图表")]


def test_archive_build_replaces_and_job_builds_every_scope(ledger, session):
    report = build_report(session, ledger.admin, OCT, ledger.station_a.id)
    session.commit()
    assert report.totals["verified"] == 4 and report.size == len(report.content)
    first_id = report.id
    again = build_report(session, ledger.admin, OCT, ledger.station_a.id)
    session.commit()
    assert again.id == first_id  # rebuilt in place, not twice
    counts = monthly_report(session=session, now=dt.datetime(2026, 10, 31, 22, 0, tzinfo=dt.timezone.utc), config={})
    session.commit()
    # 06:00 on 1 November in Shanghai is 22:00 UTC on 31 October: last month is October.
    # All stations, each station, then each region's edition: the world's two counties and their city.
    assert counts == {"reports": 6, "mailed": 0}
    stored = session.execute(select(MonthlyReport.month, MonthlyReport.scope_key)).all()
    regions = [("2026-10", f"r{r.id}") for r in (ledger.county_a, ledger.county_b, ledger.city)]
    assert sorted(stored) == sorted([("2026-10", "all"), ("2026-10", str(ledger.station_a.id)),
                                     ("2026-10", str(ledger.station_b.id)), *regions])


def test_web_build_archive_and_scope(ledger, client, session, app):
    login(client, "super1")
    resp = client.post("/reports/monthly/build", data={"month": "2026-10", "station_id": ""})
    assert resp.status_code == 302
    page = client.get("/reports/monthly/").get_data(as_text=True)
    assert "2026-10" in page and "全部监管所" in page
    report_id = session.scalar(select(MonthlyReport.id).where(MonthlyReport.scope_key == "all"))
    download = client.get(f"/reports/monthly/{report_id}/download")
    assert download.status_code == 200 and load_workbook(io.BytesIO(download.data)).sheetnames[0] == "汇总"

    inspector = app.test_client()
    login(inspector, "insp_a")
    # An inspector builds their own station's report, never the all-station one, and cannot open it.
    assert inspector.post("/reports/monthly/build", data={"month": "2026-10", "station_id": ""}).status_code == 200
    assert inspector.get(f"/reports/monthly/{report_id}/download").status_code == 404
    assert inspector.post("/reports/monthly/build",
                          data={"month": "2026-10", "station_id": str(ledger.station_a.id)}).status_code == 302
    listing = inspector.get("/reports/monthly/").get_data(as_text=True)
    assert ledger.station_a.name in listing and "全部监管所</td>" not in listing
    assert session.scalar(select(func.count()).select_from(MonthlyReport)) == 2


def test_command_line(ledger, app, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "月报.xlsx"
    result = runner.invoke(args=["report", "monthly", "--month", "2026-10", "--station", "a", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "本月检定 4 台" in result.output
    assert load_workbook(out)["汇总"]["A1"].value.endswith(f"（{ledger.station_a.name}）")
    bad = runner.invoke(args=["report", "monthly", "--month", "2026-13", "-o", str(out)])
    assert bad.exit_code != 0 and "月份" in bad.output
    missing = runner.invoke(args=["report", "monthly", "--month", "2026-10", "--station", "ZZ", "-o", str(out)])
    assert missing.exit_code != 0 and "ZZ 不存在" in missing.output


def test_the_command_line_on_a_full_disk_says_so_and_leaves_no_file(ledger, app, small_disk):
    small_disk.fill()
    result = app.test_cli_runner().invoke(args=["report", "monthly", "--month", "2026-10", "-o",
                                                str(small_disk.path / "月报.xlsx")])
    assert result.exit_code != 0 and "未保留任何部分文件" in result.output, result.output
    assert small_disk.files() == []


from tests.test_mail import smtp  # noqa: E402,F401  (the loopback SMTP server fixture)


def test_job_mails_the_report_to_those_who_asked_once(ledger, session, smtp):  # noqa: F811 (the fixture)
    from app.accounts.services import update_my_settings
    from app.errors import Invalid
    from app.mail.jobs import deliver_outbox
    from app.mail.models import OutboxMessage

    update_my_settings(session, ledger.supervisor, email="chief@example.com", wants_alert_digest=False,
                       wants_monthly_report=True)
    with pytest.raises(Invalid, match="只发给监管科室和管理员"):
        update_my_settings(session, ledger.inspector_a, email="a@example.com", wants_alert_digest=False,
                           wants_monthly_report=True)
    session.commit()
    now = dt.datetime(2026, 10, 31, 22, 0, tzinfo=dt.timezone.utc)
    assert monthly_report(session=session, now=now, config={}) == {"reports": 6, "mailed": 1}
    session.commit()
    # Run again (or rebuilt): the month is not mailed twice.
    assert monthly_report(session=session, now=now, config={})["mailed"] == 0
    session.commit()
    (message,) = session.scalars(select(OutboxMessage)).all()
    assert message.to_addr == "chief@example.com" and message.category == "monthly_report:2026-10"

    # Queued at the real time of the run; deliver a minute later.
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)
    assert deliver_outbox(session=session, now=later, config=smtp.config)["sent"] == 1
    (rcpt, email), = smtp.received
    assert rcpt == ["chief@example.com"] and "2026年10月" in email["Subject"]
    attachments = list(email.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["计量监管月报_2026-10_全部监管所.xlsx"]
    workbook = load_workbook(io.BytesIO(attachments[0].get_content()))
    assert workbook.sheetnames[0] == "汇总"
