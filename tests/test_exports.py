"""List exports: the writer keeps text as text and dates as dates; each list exports exactly its filtered,
sorted, scoped rows; a wider export than the limit is refused."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from app.clock import today as clock_today
from reports.xlsx import Column, write_table
from tests import factories
from tests.conftest import login


def _sheet(data: bytes):
    return load_workbook(io.BytesIO(data)).active


def _rows(data: bytes) -> list[list]:
    return [list(r) for r in _sheet(data).iter_rows(values_only=True)]


class TestWriter:
    def test_text_never_becomes_a_formula(self):
        out = io.BytesIO()
        texts = ["=1+1", "+86 138", "-5", "@SUM(A1)", "=HYPERLINK(\"http://x\")", "普通\x07文字"]
        write_table(out, [Column("备注")], [(t,) for t in texts])
        ws = _sheet(out.getvalue())
        cells = [row[0] for row in ws.iter_rows(min_row=2)]
        assert [c.data_type for c in cells] == ["s"] * len(texts)
        assert [c.value for c in cells] == texts[:-1] + ["普通文字"]
        # A second reader agrees: nothing was stored as a formula.
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(out.getvalue())).get_sheet_by_index(0).to_python()
        assert [r[0] for r in sheet[1:]] == texts[:-1] + ["普通文字"]

    def test_dates_headers_widths_freeze_and_filter(self):
        out = io.BytesIO()
        moment = dt.datetime(2026, 1, 31, 16, 30, tzinfo=dt.timezone.utc)
        n = write_table(out, [Column("出厂编号", 18), Column("有效期至", 12, "date"), Column("登记时间", 16, "datetime"),
                              Column("喷嘴数", 8, "number")],
                        [("SN1", dt.date(2024, 2, 29), moment, 4), ("SN2", None, None, None)])
        assert n == 2
        ws = _sheet(out.getvalue())
        assert [c.value for c in ws[1]] == ["出厂编号", "有效期至", "登记时间", "喷嘴数"]
        assert ws[1][0].font.b
        date_cell, time_cell = ws["B2"], ws["C2"]
        assert date_cell.is_date and date_cell.value.date() == dt.date(2024, 2, 29)
        assert date_cell.number_format == "yyyy-mm-dd"
        # Shown in the station's time: 16:30 UTC is 00:30 the next day in Shanghai.
        assert time_cell.is_date and time_cell.value == dt.datetime(2026, 2, 1, 0, 30)
        assert ws["D2"].value == 4 and ws["B3"].value is None
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:D3"
        # 18 characters as Excel shows them: XlsxWriter stores the width plus Excel's cell padding.
        assert 18 <= ws.column_dimensions["A"].width < 19
        assert ws.print_title_rows == "$1:$1"   # the header row repeats on every printed page


    def test_a_failure_while_reading_the_rows_writes_nothing(self):
        def rows():
            yield ("SN1",)
            raise RuntimeError("数据库连接中断")

        out = io.BytesIO()
        with pytest.raises(RuntimeError):
            write_table(out, [Column("出厂编号")], rows())
        assert out.getvalue() == b""


@pytest.fixture()
def ledger(world, session):
    """Station A gets an overdue and a due-soon scale besides the world's records."""
    today = clock_today()
    late = factories.instrument(session, world.merchant_a, serial="A-LATE")
    factories.verify(session, late, today - dt.timedelta(days=400), valid_until=today - dt.timedelta(days=10))
    soon = factories.instrument(session, world.merchant_a, serial="=A-SOON")
    factories.verify(session, soon, today - dt.timedelta(days=300), valid_until=today + dt.timedelta(days=5))
    session.commit()
    return world


def test_instrument_export_follows_filter_sort_and_scope(client, ledger):
    login(client, "insp_a")
    resp = client.get("/instruments/export.xlsx?sort=serial")
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = _rows(resp.data)
    assert rows[0][:4] == ["监管所", "使用单位", "器具种类", "出厂编号"]
    assert [r[3] for r in rows[1:]] == ["=A-SOON", "A-001", "A-LATE"]  # sorted by serial, station A only
    assert rows[1][1] == "甲市场摊位1" and rows[1][9] == "在用"
    filtered = _rows(client.get("/instruments/export.xlsx?q=A-L").data)
    assert [r[3] for r in filtered[1:]] == ["A-LATE"]


def test_worklist_export_is_the_worklist(client, ledger):
    login(client, "super1")
    rows = _rows(client.get("/worklists/overdue/export.xlsx?sort=serial").data)
    # The world's two instruments, verified in January 2024, are overdue as well; a supervisor sees both stations.
    assert [r[3] for r in rows[1:]] == ["A-001", "A-LATE", "B-001"]
    assert isinstance(rows[2][13], dt.datetime)  # 下次检定日期 is a real date
    assert rows[2][13].date() == clock_today() - dt.timedelta(days=10)
    soon = _rows(client.get("/worklists/due_soon/export.xlsx?days=30").data)
    assert [r[3] for r in soon[1:]] == ["=A-SOON"]
    assert client.get("/worklists/nope/export.xlsx").status_code == 404


def test_merchant_export(client, ledger):
    login(client, "insp_b")
    rows = _rows(client.get("/merchants/export.xlsx").data)
    assert rows[0][1] == "使用单位名称"
    assert [r[1] for r in rows[1:]] == ["乙加油站"]
    from app.merchants.models import Industry

    assert rows[1][3] == Industry.FUEL_STATION.label


def test_export_over_the_limit_is_refused(app, client, ledger):
    app.config["EXPORT_MAX_ROWS"] = 2
    login(client, "admin1")
    resp = client.get("/instruments/export.xlsx")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/instruments/")
    assert "超过单次导出上限 2 条" in client.get("/instruments/").get_data(as_text=True)
    assert client.get("/instruments/export.xlsx?q=A-L").status_code == 200


def test_list_pages_link_their_export_with_the_filter(client, ledger):
    login(client, "insp_a")
    page = client.get("/worklists/overdue?sort=serial&page=1").get_data(as_text=True)
    assert 'href="/worklists/overdue/export.xlsx?sort=serial"' in page
    assert 'href="/merchants/export.xlsx"' in client.get("/merchants/").get_data(as_text=True)


def test_inspection_finding_and_rectification_exports(app, client, world, session):
    crew = [world.inspector_a, world.supervisor]
    visit = factories.inspection(session, world.merchant_a, crew, on=clock_today(),
                                 checks=[(world.instrument_a, "problem")])
    factories.finding(session, visit, "OVERDUE", check=visit.checks[0], description="=cmd|' /C calc'!A0")
    other = factories.inspection(session, world.merchant_b, crew, on=clock_today())
    factories.finding(session, other, "NOT_FILED")
    session.commit()
    login(client, "insp_a")
    page = client.get("/inspections/").get_data(as_text=True)
    assert 'href="/inspections/export.xlsx"' in page and 'href="/inspections/findings.xlsx"' in page
    rows = _rows(client.get("/inspections/export.xlsx").data)
    assert rows[0][:3] == ["监管所", "使用单位", "检查日期"]
    assert [(r[1], r[5], r[6]) for r in rows[1:]] == [("甲市场摊位1", 1, 1)]  # station A only
    findings = _rows(client.get("/inspections/findings.xlsx").data)
    assert [(r[3], r[6], r[11]) for r in findings[1:]] == [("OVERDUE", "A-001", "=cmd|' /C calc'!A0")]
    assert isinstance(findings[1][9], dt.datetime)  # the order's deadline is a real date
    rects = _rows(client.get("/rectifications/export.xlsx?state=open").data)
    assert [(r[1], r[2]) for r in rects[1:]] == [("甲市场摊位1", "OVERDUE")]
    supervisor = app.test_client()
    login(supervisor, "super1")
    assert len(_rows(supervisor.get("/rectifications/export.xlsx?state=all").data)) == 3


def test_alert_export(client, world, session):
    from app.alerts.jobs import due_date_sweep
    from app.db import utcnow

    due_date_sweep(session=session, now=utcnow(), config={})
    session.commit()
    login(client, "insp_a")
    rows = _rows(client.get("/alerts/export.xlsx").data)
    assert rows[0][:3] == ["预警类型", "日期", "监管所"]
    assert [(r[0], r[2], r[5]) for r in rows[1:]] == [("已超期", "A所", "A-001")]
