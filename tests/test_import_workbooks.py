"""One workbook, many stations (issue 14, part 6): a county workbook with a sheet per station and a 汇总 sheet is
one batch whose sheets go to the stations their names name; preview, apply and undo cover every sheet at once.

Jobs run at once in the caller's thread (TestConfig.TASKS_IMMEDIATE); every workbook is built here.
"""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from app.accounts.models import Role, Station
from app.imports import workbooks
from app.imports.models import ImportBatch, ImportRow, ImportStatus
from app.instruments.models import Instrument, Verification
from app.merchants.models import Merchant
from importers.workbook import NO_TABLE, SUMMARY_SHEET, summary_reason
from tests import factories as f
from tests.conftest import login
from tests.importers.builders import LEDGER_HEADER, ledger_rows, write_xlsx


def row(name: str, serial: str, verified: str = "2025-03-01") -> dict:
    return {"使用单位名称": name, "器具名称": "电子计价秤", "出厂编号": serial, "检定日期": verified,
            "检定结论": "合格"}


EAST = [row("城东水产店", "E-001"), row("城东水产店", "E-002"), row("城东粮油店", "E-003")]
WEST = [row("城西超市", "W-001"), row("城西药店", "W-002")]
WEST_BAD = [row("城西超市", "W-001"), row("城西药店", "W-002", "2023-02-30")]  # Excel row 4: no such date
SUMMARY = [["全县汇总"], ["监管所", "器具数"], ["城东所", 3], ["城西所", 2]]
NOTES = [["填表说明"], ["1. 每个监管所一个工作表"]]


def workbook(tmp_path, east=EAST, west=WEST, *, east_name="城东所", west_name="城西所") -> bytes:
    """A county workbook: a sheet per station (a title row, the header, the rows), a summary and notes."""
    sheets = {east_name: [["城东所计量器具台账"], LEDGER_HEADER] + ledger_rows(east),
              west_name: [["城西所计量器具台账"], LEDGER_HEADER] + ledger_rows(west),
              "汇总": SUMMARY, "填表说明": NOTES}
    return write_xlsx(tmp_path / "县局台账.xlsx", sheets).read_bytes()


@pytest.fixture()
def county(session, world):
    """Stations 城东监管所 (CD01) and 城西监管所 (CX01), a user of both and one of 城东 only."""
    east = f.station(session, "CD01", "城东监管所")
    west = f.station(session, "CX01", "城西监管所")
    f.user(session, "insp_both", Role.INSPECTOR, [east, west])
    f.user(session, "insp_east", Role.INSPECTOR, [east])
    session.commit()
    return east, west


def planned_workbook(session, station, tmp_path):
    """The county's workbook uploaded for `station` through the services, each sheet surveyed and planned."""
    from app.clock import today
    from app.imports import services

    parent = workbooks.create_workbook(session, None, f.ALL, station_id=station.id, file_name="县局台账.xlsx",
                                       data=workbook(tmp_path), storage_dir=tmp_path / "up")
    for child_id in workbooks.survey_workbook(session, parent, workbooks.assignable_stations(session, None)):
        services.plan_batch(session, session.get(ImportBatch, child_id), today=today())
    return parent


def text(resp) -> str:
    return resp.get_data(as_text=True)


def upload(client, station_id: int, data: bytes, sheets: str = "all"):
    return client.post("/imports/new", data={"station_id": str(station_id), "sheets": sheets,
                                              "file": (io.BytesIO(data), "县局台账.xlsx")})


def batch_of(session, resp) -> ImportBatch:
    assert resp.status_code == 302, text(resp)[:2000]
    batch_id = int(re.search(r"/imports/(\d+)$", resp.headers["Location"]).group(1))
    session.expire_all()
    return session.get(ImportBatch, batch_id)


def by_sheet(batch: ImportBatch) -> dict[str, ImportBatch]:
    return {c.sheet_name: c for c in batch.children}


def serials_of(session, station: Station) -> set[str]:
    session.expire_all()
    return set(session.scalars(select(Instrument.serial_no).where(Instrument.station_id == station.id)))


def apply_form(batch: ImportBatch, **extra) -> dict:
    return {"version": str(batch.version), "sheets": workbooks.fingerprint(batch), **extra}


# --- matching sheets to stations ------------------------------------------------------------------

def test_a_sheet_name_names_a_station_by_name_code_or_short_name():
    east, west = Station(id=1, name="城东监管所", code="CD01"), Station(id=2, name="城西市场监督管理所", code="CX01")
    county = Station(id=3, name="某某县城北市场监管所", code="CB01")
    stations = [east, west, county]
    for sheet in ("城东监管所", "城东所", "城东", " 城东所台账 ", "CD01", "cd01"):
        assert workbooks.match_station(sheet, stations) is east, sheet
    assert workbooks.match_station("城西所", stations) is west
    assert workbooks.match_station("城北所", stations) is county  # the end of a longer name
    for sheet in ("城南所", "所", "Sheet1", "东"):
        assert workbooks.match_station(sheet, stations) is None, sheet
    # Two stations end the same way: no guess.
    assert workbooks.match_station("北所", [county, Station(id=4, name="城区北监管所", code="QB")]) is None


def test_summary_and_notes_sheets_are_known_by_their_names():
    for sheet in ("汇总", "全县汇总表", "合计", "统计", "说明", "填表说明", "目 录"):
        assert summary_reason(sheet) == SUMMARY_SHEET, sheet
    for sheet in ("城东所", "台账", "Sheet1"):
        assert summary_reason(sheet) is None, sheet


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods"])
def test_the_survey_reads_each_sheets_head_in_every_format(tmp_path, fmt):
    from importers.workbook import survey
    from tests.importers.builders import catalogue_kinds, write_ods, write_xls

    sheets = {"城东所": [LEDGER_HEADER] + ledger_rows(EAST), "汇总": SUMMARY, "图表": [["只有一张图"]],
              "城西所": [["城西所计量器具台账"], LEDGER_HEADER] + ledger_rows(WEST)}
    path = tmp_path / f"县局台账.{fmt}"
    {"xlsx": write_xlsx, "xls": write_xls, "ods": write_ods}[fmt](path, sheets)
    assert survey(str(path), path.name, catalogue_kinds()) == [
        ("城东所", ""), ("汇总", SUMMARY_SHEET), ("图表", NO_TABLE), ("城西所", "")]


# --- upload, sheets, station changes ---------------------------------------------------------------

def test_a_workbook_is_one_batch_with_a_sheet_per_station_and_the_summary_skipped(client, session, county, tmp_path):
    east, west = county
    login(client, "insp_both")
    before = session.scalar(select(func.count()).select_from(Instrument))
    batch = batch_of(session, upload(client, east.id, workbook(tmp_path)))
    assert batch.is_workbook and batch.status == ImportStatus.PREVIEW
    sheets = by_sheet(batch)
    assert set(sheets) == {"城东所", "城西所"}
    assert (sheets["城东所"].station_id, sheets["城西所"].station_id) == (east.id, west.id)
    assert all(c.status == ImportStatus.PREVIEW and c.parent_id == batch.id for c in sheets.values())
    assert (sheets["城东所"].counts["rows"], sheets["城西所"].counts["rows"]) == (3, 2)
    assert batch.skipped == {"汇总": SUMMARY_SHEET, "填表说明": SUMMARY_SHEET}
    assert session.scalar(select(func.count()).select_from(Instrument)) == before  # a preview writes nothing
    # The batch has no rows of its own: each sheet's preview is its child's.
    assert session.scalar(select(func.count()).where(ImportRow.batch_id == batch.id)) == 0

    page = text(client.get(f"/imports/{batch.id}"))
    assert "城东所" in page and "城西监管所" in page and "不导入：汇总或说明工作表" in page
    assert 'id="apply-form"' in page and f'/imports/{sheets["城东所"].id}"' in page
    child = text(client.get(f"/imports/{sheets['城西所'].id}"))
    assert "工作簿批次 #" in child and "W-002" in child and 'id="apply-form"' not in child
    listed = text(client.get("/imports/"))
    assert f'href="/imports/{batch.id}"' in listed and f'href="/imports/{sheets["城东所"].id}"' not in listed


def test_a_sheet_without_a_ledger_table_is_skipped_and_one_station_unmatched_is_left_to_the_user(
        client, session, county, tmp_path):
    east, west = county
    login(client, "insp_both")
    data = write_xlsx(tmp_path / "b.xlsx", {
        "CD01": [LEDGER_HEADER] + ledger_rows(EAST), "城南所": [LEDGER_HEADER] + ledger_rows(WEST),
        "图表": [["只有一张图"]]}).read_bytes()
    batch = batch_of(session, upload(client, east.id, data))
    assert [(c.sheet_name, c.station_id) for c in batch.children] == [("CD01", east.id)]
    assert batch.skipped == {"城南所": workbooks.UNMATCHED, "图表": NO_TABLE}
    # The user gives the unmatched sheet a station: it gets its own preview.
    resp = client.post(f"/imports/{batch.id}/sheets", data={"sheet": "城南所", "station_id": str(west.id),
                                                            "version": str(batch.version)})
    batch = batch_of(session, resp)
    assert by_sheet(batch)["城南所"].station_id == west.id and by_sheet(batch)["城南所"].counts["rows"] == 2
    assert "城南所" not in batch.skipped
    # A sheet without a table cannot be given one.
    resp = client.post(f"/imports/{batch.id}/sheets", data={"sheet": "图表", "station_id": str(west.id),
                                                            "version": str(batch.version)})
    assert resp.status_code == 200 and "没有台账表格，不能导入" in text(resp)


def test_a_file_without_any_ledger_table_is_rejected(client, session, county, tmp_path):
    login(client, "insp_both")
    data = write_xlsx(tmp_path / "c.xlsx", {"汇总": SUMMARY, "说明": NOTES}).read_bytes()
    batch = batch_of(session, upload(client, county[0].id, data))
    assert batch.status == ImportStatus.REJECTED and "没有可识别的台账表格" in batch.message
    assert "文件无法导入" in text(client.get(f"/imports/{batch.id}"))


def test_changing_a_sheets_station_plans_it_again_and_a_sheet_can_be_left_out(client, session, county, tmp_path):
    east, west = county
    login(client, "insp_both")
    batch = batch_of(session, upload(client, east.id, workbook(tmp_path)))
    west_sheet = by_sheet(batch)["城西所"]
    planned = west_sheet.version
    resp = client.post(f"/imports/{batch.id}/sheets", data={"sheet": "城西所", "station_id": str(east.id),
                                                            "version": str(batch.version)})
    batch = batch_of(session, resp)
    moved = by_sheet(batch)["城西所"]
    moved_id = moved.id
    assert moved_id == west_sheet.id and moved.station_id == east.id
    assert moved.status == ImportStatus.PREVIEW and moved.version > planned  # planned again, for 城东
    # A stale page (the version before the change) is refused.
    stale = client.post(f"/imports/{batch.id}/sheets", data={"sheet": "城西所", "station_id": str(west.id),
                                                             "version": str(batch.version - 1)})
    assert stale.status_code == 200 and "已有变化" in text(stale)

    resp = client.post(f"/imports/{batch.id}/sheets", data={"sheet": "城西所", "station_id": "",
                                                            "version": str(batch.version)})
    batch = batch_of(session, resp)
    assert set(by_sheet(batch)) == {"城东所"} and batch.skipped["城西所"] == workbooks.LEFT_OUT
    assert session.get(ImportBatch, moved_id) is None
    resp = client.post(f"/imports/{batch.id}/apply-all", data=apply_form(batch))
    batch = batch_of(session, resp)
    assert batch.status == ImportStatus.APPLIED
    assert serials_of(session, east) == {"E-001", "E-002", "E-003"} and serials_of(session, west) == set()


# --- apply and undo, all sheets together -----------------------------------------------------------

def test_apply_writes_every_sheet_into_its_station_and_undo_takes_all_back(client, session, county, tmp_path):
    east, west = county
    login(client, "insp_both")
    before = (session.scalar(select(func.count()).select_from(Merchant)),
              session.scalar(select(func.count()).select_from(Verification)))
    batch = batch_of(session, upload(client, east.id, workbook(tmp_path)))
    sheets = by_sheet(batch)
    # A sheet alone is neither applied nor undone: the workbook's page does both.
    alone = client.post(f"/imports/{sheets['城东所'].id}/apply", data={"version": str(sheets["城东所"].version)})
    assert alone.status_code == 200 and "请在工作簿批次页面统一确认导入" in text(alone)
    assert serials_of(session, east) == set()

    batch = batch_of(session, client.post(f"/imports/{batch.id}/apply-all", data=apply_form(batch)))
    assert batch.status == ImportStatus.APPLIED and batch.counts["rows"] == 5
    assert all(c.status == ImportStatus.APPLIED for c in batch.children)
    assert serials_of(session, east) == {"E-001", "E-002", "E-003"}
    assert serials_of(session, west) == {"W-001", "W-002"}
    assert session.scalars(select(Merchant.station_id).where(Merchant.name == "城西超市")).one() == west.id
    # A second submit of the same page is refused.
    again = client.post(f"/imports/{batch.id}/apply-all", data=apply_form(batch))
    assert again.status_code == 200 and "不会重复导入" in text(again)
    page = text(client.get(f"/imports/{batch.id}"))
    assert 'id="undo-form"' in page

    child_undo = client.post(f"/imports/{sheets['城西所'].id}/undo", data={"version": str(sheets["城西所"].version)})
    assert child_undo.status_code == 200 and "请在工作簿批次页面统一撤销" in text(child_undo)
    session.expire_all()
    batch = batch_of(session, client.post(f"/imports/{batch.id}/undo-all", data={"version": str(batch.version)}))
    assert batch.status == ImportStatus.UNDONE and all(c.status == ImportStatus.UNDONE for c in batch.children)
    assert serials_of(session, east) == set() and serials_of(session, west) == set()
    assert (session.scalar(select(func.count()).select_from(Merchant)),
            session.scalar(select(func.count()).select_from(Verification))) == before


def test_undo_is_refused_as_a_whole_when_one_sheets_data_was_used(client, session, county, tmp_path):
    east, west = county
    login(client, "insp_both")
    batch = batch_of(session, upload(client, east.id, workbook(tmp_path)))
    batch = batch_of(session, client.post(f"/imports/{batch.id}/apply-all", data=apply_form(batch)))
    shop = session.scalars(select(Merchant).where(Merchant.name == "城西药店")).one()
    f.instrument(session, shop, serial="W-NEW")  # registered after the import, on a merchant it created
    session.commit()
    session.expire_all()
    batch = session.get(ImportBatch, batch.id)
    resp = client.post(f"/imports/{batch.id}/undo-all", data={"version": str(batch.version)})
    assert resp.status_code == 200
    assert "工作表“城西所”（城西监管所）" in text(resp) and "整个工作簿批次均未撤销" in text(resp)
    session.expire_all()
    assert session.get(ImportBatch, batch.id).status == ImportStatus.APPLIED
    assert all(c.status == ImportStatus.APPLIED for c in session.get(ImportBatch, batch.id).children)
    assert serials_of(session, east) == {"E-001", "E-002", "E-003"}  # the other sheet was not undone either


def test_a_sheet_with_errors_blocks_the_apply_unless_only_valid_rows(client, session, county, tmp_path):
    east, west = county
    login(client, "insp_both")
    batch = batch_of(session, upload(client, east.id, workbook(tmp_path, west=WEST_BAD)))
    assert by_sheet(batch)["城西所"].counts["errors"] == 1
    page = text(client.get(f"/imports/{batch.id}"))
    assert "各工作表共有" in page and re.search(r'id="error-count">\s*1\s*<', page)
    refused = client.post(f"/imports/{batch.id}/apply-all", data=apply_form(batch))
    assert refused.status_code == 200 and "共有 1 行错误，默认不导入任何数据" in text(refused)
    assert serials_of(session, east) == set()  # nothing of the clean sheet either

    session.expire_all()
    batch = session.get(ImportBatch, batch.id)
    batch = batch_of(session, client.post(f"/imports/{batch.id}/apply-all", data=apply_form(batch, only_valid="y")))
    assert batch.status == ImportStatus.APPLIED and batch.only_valid
    assert serials_of(session, east) == {"E-001", "E-002", "E-003"} and serials_of(session, west) == {"W-001"}


def test_a_failed_sheet_rolls_back_every_sheet(client, session, county, tmp_path, app):
    """All or nothing: when one sheet's apply fails (its ledger changed since the preview), none is written."""
    east, west = county
    login(client, "insp_both")
    batch = batch_of(session, upload(client, east.id, workbook(tmp_path)))
    # After the preview, W-002 is registered in 城西 under another merchant: the 城西所 sheet no longer plans the same.
    other = f.merchant(session, session.get(Station, west.id), "城西别家")
    f.instrument(session, other, serial="W-002")
    session.commit()
    batch = batch_of(session, client.post(f"/imports/{batch.id}/apply-all", data=apply_form(batch)))
    assert batch.status == ImportStatus.FAILED and "工作表“城西所”" in batch.message
    assert serials_of(session, east) == set() and serials_of(session, west) == {"W-002"}
    assert all(c.status == ImportStatus.PREVIEW for c in batch.children)
    page = text(client.get(f"/imports/{batch.id}"))
    assert 'id="replan-form"' in page
    batch = batch_of(session, client.post(f"/imports/{batch.id}/replan-all", data={"version": str(batch.version)}))
    assert batch.status == ImportStatus.PREVIEW and by_sheet(batch)["城西所"].counts["errors"] == 1


# --- station scope --------------------------------------------------------------------------------

def test_an_inspector_of_one_station_gets_only_their_sheets_and_never_a_workbook_touching_another(
        client, session, county, tmp_path):
    east, west = county
    # The matcher proposes only the uploader's stations: 城西所 is left to choose, and 城西 is not a choice.
    login(client, "insp_east")
    mine = batch_of(session, upload(client, east.id, workbook(tmp_path)))
    assert [(c.sheet_name, c.station_id) for c in mine.children] == [("城东所", east.id)]
    assert mine.skipped["城西所"] == workbooks.UNMATCHED
    page = text(client.get(f"/imports/{mine.id}"))
    assert "城西监管所" not in page
    refused = client.post(f"/imports/{mine.id}/sheets", data={"sheet": "城西所", "station_id": str(west.id),
                                                              "version": str(mine.version)})
    assert refused.status_code == 200 and "不是有效的选择" in text(refused)
    session.expire_all()
    assert [c.sheet_name for c in session.get(ImportBatch, mine.id).children] == ["城东所"]

    # A workbook of both stations (uploaded by a user of both) is not insp_east's to see or apply; its 城东 sheet is.
    client.post("/logout")
    login(client, "insp_both")
    both = batch_of(session, upload(client, east.id, workbook(tmp_path)))
    form = apply_form(both)
    client.post("/logout")
    login(client, "insp_east")
    assert client.get(f"/imports/{both.id}").status_code == 404
    assert client.post(f"/imports/{both.id}/apply-all", data=form).status_code == 404
    assert client.post(f"/imports/{both.id}/sheets", data={"sheet": "城西所", "station_id": str(east.id),
                                                           "version": str(both.version)}).status_code == 404
    east_sheet = by_sheet(both)["城东所"]
    assert client.get(f"/imports/{east_sheet.id}").status_code == 200
    assert client.get(f"/imports/{by_sheet(both)['城西所'].id}").status_code == 404
    listed = text(client.get("/imports/"))
    assert f'href="/imports/{east_sheet.id}"' in listed and f'href="/imports/{both.id}"' not in listed
    assert serials_of(session, east) == set() and serials_of(session, west) == set()


def test_the_service_refuses_a_sheet_of_a_station_the_user_may_not_edit(session, county, tmp_path):
    """Behind the page: even a workbook the user can open is not applied when a sheet's station is not theirs."""
    east, west = county
    parent = planned_workbook(session, east, tmp_path)
    with pytest.raises(workbooks.Invalid, match="城西所.*城西监管所"):
        workbooks.start_apply_workbook(session, None, parent, expected_version=parent.version,
                                       sheets=workbooks.fingerprint(parent), only_valid=False,
                                       may_edit=lambda station_id: station_id == east.id)


# --- the command line -----------------------------------------------------------------------------

@pytest.fixture()
def cli(app, county, tmp_path):
    app.config["IMPORT_STORAGE"] = str(tmp_path / "uploads")
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=["import", "ledger", *[str(a) for a in args]])


def test_the_command_line_imports_every_sheet_into_its_station(cli, session, county, tmp_path):
    east, west = county
    path = tmp_path / "县局台账.xlsx"
    path.write_bytes(workbook(tmp_path))
    preview = cli(path, "--all-sheets")
    assert preview.exit_code == 0, preview.output
    assert "工作表“城东所” → 城东监管所（CD01）：数据行 3，错误行 0" in preview.output
    assert "工作表“城西所” → 城西监管所（CX01）：数据行 2，错误行 0" in preview.output
    assert "工作表“汇总”：不导入（汇总或说明工作表）" in preview.output and "未写入任何数据" in preview.output
    assert serials_of(session, east) == set()

    done = cli(path, "--all-sheets", "--commit")
    assert done.exit_code == 0, done.output
    assert "已导入全部工作表（批次 #" in done.output
    assert serials_of(session, east) == {"E-001", "E-002", "E-003"} and serials_of(session, west) == {"W-001", "W-002"}
    session.expire_all()
    parent = session.scalars(select(ImportBatch).where(ImportBatch.is_workbook).order_by(ImportBatch.id.desc())).first()
    assert parent.status == ImportStatus.APPLIED and parent.station_id == east.id  # filed under the first sheet's


def test_the_command_line_refuses_a_workbook_with_errors_with_exit_2(cli, session, county, tmp_path):
    east, west = county
    path = tmp_path / "县局台账.xlsx"
    path.write_bytes(workbook(tmp_path, west=WEST_BAD))
    preview = cli(path, "--all-sheets")
    assert preview.exit_code == 2 and "数据行 2，错误行 1" in preview.output
    refused = cli(path, "--all-sheets", "--commit")
    assert refused.exit_code == 2 and "--only-valid" in refused.stderr and "勾选" not in refused.stderr
    assert serials_of(session, east) == set() and serials_of(session, west) == set()
    valid = cli(path, "--all-sheets", "--commit", "--only-valid", "--station", "CX01")
    assert valid.exit_code == 0 and "跳过有错误的 1 行" in valid.output
    assert serials_of(session, west) == {"W-001"} and len(serials_of(session, east)) == 3
    not_a_workbook = tmp_path / "x.xlsx"
    not_a_workbook.write_bytes(b"not a spreadsheet")
    assert cli(not_a_workbook, "--all-sheets").exit_code == 2
    assert cli(path, "--all-sheets", "--station", "NOPE").exit_code != 0


# --- the background runner, a single-sheet upload of a workbook, undo through the single-batch service ------

def wait_until(app, runner, done, rounds: int = 600):
    """Poll the database (a fresh session each time) until `done(parent)` holds and no job of it runs."""
    import time

    database = app.extensions["database"]
    for _ in range(rounds):
        with database.session_scope() as s:
            parent = s.scalars(select(ImportBatch).where(ImportBatch.is_workbook)).one()
            ids = [parent.id] + [c.id for c in parent.children]
            if done(parent) and not any(runner.is_running(i) for i in ids):
                return parent.id
        time.sleep(0.05)
    raise AssertionError("the workbook batch did not get there")


@pytest.mark.commits  # the queue's worker threads have their own connections
def test_the_sheets_are_analysed_and_applied_in_the_background(app, client, session, county, tmp_path):
    from tests.task_workers import queue_workers

    east, west = county
    runner = app.extensions["import_runner"]
    with queue_workers(app, f"sqlite:///{tmp_path / 'tasks.db'}", workers=2):
        login(client, "insp_both")
        assert upload(client, east.id, workbook(tmp_path)).status_code == 302
        parent_id = wait_until(app, runner, lambda p: p.status == ImportStatus.PREVIEW and len(p.children) == 2
                               and all(c.status == ImportStatus.PREVIEW for c in p.children))
        assert client.get(f"/imports/{parent_id}/progress").get_json()["busy"] is False
        session.expire_all()
        parent = session.get(ImportBatch, parent_id)
        assert client.post(f"/imports/{parent_id}/apply-all", data=apply_form(parent)).status_code == 302
        wait_until(app, runner, lambda p: p.status in (ImportStatus.APPLIED, ImportStatus.FAILED))
    session.expire_all()
    assert session.get(ImportBatch, parent_id).status == ImportStatus.APPLIED
    assert serials_of(session, west) == {"W-001", "W-002"} and len(serials_of(session, east)) == 3


def test_a_workbook_uploaded_as_one_sheet_suggests_the_workbook_mode(client, session, county, tmp_path):
    login(client, "insp_both")
    batch = batch_of(session, upload(client, county[0].id, workbook(tmp_path), sheets="one"))
    assert not batch.is_workbook and batch.sheet_name == "城东所"
    page = text(client.get(f"/imports/{batch.id}"))
    assert 'id="workbook-hint"' in page and "“城西所”→城西监管所" in page


def test_the_single_batch_undo_undoes_a_workbook_as_a_whole(session, county, tmp_path):
    """`services.undo_batch` (the command line's undo) given a workbook batch undoes all its sheets."""
    from app.clock import today
    from app.imports import services

    east, west = county
    parent = planned_workbook(session, east, tmp_path)
    workbooks.start_apply_workbook(session, None, parent, expected_version=parent.version,
                                   sheets=workbooks.fingerprint(parent), only_valid=False, may_edit=lambda s: True)
    workbooks.apply_workbook(session, None, parent, today=today())
    assert len(serials_of(session, east)) == 3 and len(serials_of(session, west)) == 2
    undone = services.undo_batch(session, None, parent)
    assert undone["instruments"] == 5 and parent.status == ImportStatus.UNDONE
    assert serials_of(session, east) == set() and serials_of(session, west) == set()
