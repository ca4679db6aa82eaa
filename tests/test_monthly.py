"""The monthly report: figures checked against a ledger built for the purpose, the workbook read back with
openpyxl and python-calamine, the archive, the command line and the scheduled job."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

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


def test_workbook_reads_back_with_both_readers(ledger, session):
    out = io.BytesIO()
    from app.monthly.services import report_sections

    figures = build_monthly_report(session, OCT, out, sections=report_sections())
    data = out.getvalue()
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["汇总", "检查情况", "诚信计量", "本月检定明细", "月末超期明细"]
    summary = wb["汇总"]
    assert summary["A1"].value == "计量器具监管月报 2026年10月（全部监管所）"
    assert [c.value for c in summary[4]][:4] == ["监管所", "器具种类", "在册（在用）", "本月检定（台）"]
    rows = {}
    for r in summary.iter_rows(min_row=5, values_only=True):
        rows.setdefault((r[0], r[1]), r)  # the first 合计 is the summary table's; the fuel table has its own
    total = rows["合计", None]
    assert total[2:6] == (9, 5, 5, 3) and total[6] == pytest.approx(3 / 5)
    station_a = rows[ledger.station_a.name, "燃油加油机"]
    assert station_a[7:10] == (3, 2, pytest.approx(2 / 3))
    assert len(summary._charts) == 1
    # Printing: A4 landscape, one page wide, header row repeated, title and page numbers.
    assert summary.page_setup.orientation == "landscape" and summary.page_setup.paperSize == 9
    assert summary.page_setup.fitToWidth == 1 and summary.sheet_properties.pageSetUpPr.fitToPage
    assert summary.print_title_rows == "$4:$4"
    assert "&P" in summary.oddFooter.center.text and "月报" in summary.oddHeader.center.text

    details = list(wb["本月检定明细"].iter_rows(min_row=3, values_only=True))
    assert sorted(r[3] for r in details) == ["B1", "D1", "D2", "D3", "S1"]
    overdue = list(wb["月末超期明细"].iter_rows(min_row=3, values_only=True))
    assert sorted(r[4] for r in overdue) == sorted(["A-001", "B-001", "D3", "S1"])
    assert figures.total().overdue == len(overdue)

    inspections = wb["检查情况"]
    assert [c.value for c in inspections[3]][:3] == ["监管所", "检查（次）", "检查单位（家）"]
    by_station = {r[0]: r for r in inspections.iter_rows(min_row=4, max_row=6, values_only=True)}
    # Station A in October: 2 inspections of 2 merchants, 3 instruments checked (1 with a problem), 2 findings at
    # 1 merchant, 1 order closed on time, 1 case; September's visit is not counted.
    assert by_station[ledger.station_a.name][1:] == (2, 2, 2, 3, 1, 2, 1, 1, 1, 0, 0, 0, 1)
    assert by_station[ledger.station_b.name][1:] == (0,) * 13
    rows = list(inspections.iter_rows(values_only=True))
    change = next(r for r in rows if r[0] == "检查（次）")
    assert change[1:4] == (2, 1, 1)
    codes = {r[0]: r[2] for r in rows if r[0] in ("FAILED_IN_USE", "NOT_FILED")}
    assert codes == {"FAILED_IN_USE": 1, "NOT_FILED": 1}
    assert len(inspections._charts) == 1

    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    assert book.sheet_names == ["汇总", "检查情况", "诚信计量", "本月检定明细", "月末超期明细"]
    pledges = {r[0]: r for r in wb["诚信计量"].iter_rows(min_row=4, values_only=True) if r[0]}
    # Station A: 1 signed and 1 revoked in October, 1 in force at the month's end against a target of 4.
    assert pledges[ledger.station_a.name][1:6] == (1, 1, 1, 4, pytest.approx(0.25))
    assert pledges["合计"][1:6] == (1, 1, 1, 10, pytest.approx(0.1))
    assert pledges["月末有效承诺"][1:4] == (1, 1, 0)   # September: the fuel station's pledge was in force
    assert len(book.get_sheet_by_name("本月检定明细").to_python()) == 2 + 5


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
    assert counts == {"reports": 3, "mailed": 0}
    stored = session.execute(select(MonthlyReport.month, MonthlyReport.scope_key)).all()
    assert sorted(stored) == sorted([("2026-10", "all"), ("2026-10", str(ledger.station_a.id)),
                                     ("2026-10", str(ledger.station_b.id))])


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
    assert monthly_report(session=session, now=now, config={}) == {"reports": 3, "mailed": 1}
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
