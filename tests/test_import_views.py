"""The import pages (台账导入) end to end: upload a real workbook, preview, errors workbook, apply,
double submit, re-import, undo, rejected files, station scope, and the background runner.

Jobs run at once in the request's thread here (TestConfig.TASKS_IMMEDIATE, the queue's immediate mode);
`test_jobs_run_in_the_background` runs them on real queue workers (threads of this process, on a SQLite
queue file) and waits for the database status.
"""
from __future__ import annotations

import datetime as dt
import io
import random
import re
import threading
import time

import openpyxl
import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.db import utcnow
from app.imports import services
from app.imports.models import ImportBatch, ImportRow, ImportStatus
from app.imports.runner import ImportRunner
from tests.task_workers import queue_workers
from app.instruments.models import Instrument, Verification
from app.merchants.models import Merchant
from tests import factories as f
from tests.conftest import login

HEADER = ["序号", "使用单位名称", "器具名称", "出厂编号", "检定日期", "有效期至", "检定结论", "备注"]
ROWS = [
    [1, "城东农贸市场李记水产", "电子计价秤", "JJC-001", dt.date(2024, 3, 1), dt.date(2025, 2, 28), "合格", ""],
    [2, "城东农贸市场李记水产", "电子计价称", "JJC-002", "2024.3.1", "2025年2月28日", "合格", ""],
    # Excel row 5: an impossible date; its note looks like a formula but is text.
    [3, "城东农贸市场王记蔬菜", "电子计价秤", "JJC-003", "2024-13-45", "", "合格", "=SUM(A1:A3)"],
    [4, "城东加油站", "加油机", "JY-01", dt.date(2024, 5, 6), "", "合格", ""],
]
ERROR_ROW = 5
FORMULA_TEXT = "=SUM(A1:A3)"


def ledger_xlsx(rows=ROWS, *, extra_sheets: dict | None = None) -> bytes:
    """A station ledger: a title row, the header, the rows, a total row; optional sheets before it."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, sheet_rows in (extra_sheets or {}).items():
        ws = wb.create_sheet(name)
        for row in sheet_rows:
            ws.append(row)
    ws = wb.create_sheet("计量器具台账")
    ws.append(["城东市场监管所强制检定计量器具台账（2024年）"])
    ws.append(HEADER)
    for row in rows:
        ws.append(row)
    for r in range(3, ws.max_row + 1):
        cell = ws.cell(row=r, column=8)
        if cell.value == FORMULA_TEXT:
            cell.data_type = "s"
    ws.append(["合计", "", "", "", "", "", "", ""])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def text(resp) -> str:
    return resp.get_data(as_text=True)


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def ledger_counts(session) -> tuple[int, int, int]:
    return count(session, Merchant), count(session, Instrument), count(session, Verification)


def upload(client, station_id: int, data: bytes, name: str = "城东台账.xlsx"):
    return client.post("/imports/new", data={"station_id": str(station_id), "file": (io.BytesIO(data), name)})


def batch_of(session, resp) -> ImportBatch:
    """The batch a redirect to its page names, read fresh."""
    assert resp.status_code == 302, text(resp)[:1500]
    batch_id = int(re.search(r"/imports/(\d+)$", resp.headers["Location"]).group(1))
    session.expire_all()
    return session.get(ImportBatch, batch_id)


@pytest.fixture()
def insp_a(client, world):
    login(client, "insp_a")
    return client


# --- upload and preview ------------------------------------------------------------------------

def test_upload_shows_the_preview_and_writes_nothing(insp_a, session, world):
    before = ledger_counts(session)
    page = insp_a.get("/imports/new")
    assert page.status_code == 200 and 'accept=".xlsx,.xlsm,.xls,.ods,.csv"' in text(page)
    assert world.station_b.name not in text(page)  # an inspector imports only into their stations

    batch = batch_of(session, upload(insp_a, world.station_a.id, ledger_xlsx()))
    assert batch.status == ImportStatus.PREVIEW
    assert batch.counts["rows"] == 4 and batch.counts["errors"] == 1
    assert batch.counts["instruments"]["create"] == 3
    assert batch.skipped == {"title": 1, "header": 1, "total": 1}
    assert ledger_counts(session) == before

    page = text(insp_a.get(f"/imports/{batch.id}"))
    assert "城东台账.xlsx" in page and batch.file_hash[:12] in page and "待确认" in page
    assert re.search(r'id="error-count">\s*1\s*<', page)
    assert "标题行 1" in page and "合计/总计行 1" in page
    # The error with its sheet and Excel row number, in the errors-only view too.
    errors_only = text(insp_a.get(f"/imports/{batch.id}?show=errors"))
    assert f"计量器具台账 第{ERROR_ROW}行" in errors_only and "2024-13-45" in errors_only
    assert "JJC-001" not in errors_only
    created = text(insp_a.get(f"/imports/{batch.id}?show=create"))
    assert "JJC-001" in created and "JJC-003" not in created
    # The mapping as found from the header, with a select per field.
    assert re.search(r'<option selected value="3">D列 出厂编号', page)

    progress = insp_a.get(f"/imports/{batch.id}/progress").get_json()
    assert progress["status"] == "preview" and progress["busy"] is False


def test_a_problem_in_a_field_that_identifies_nothing_is_a_warning_that_keeps_the_row(insp_a, session, world):
    # Excel turned one phone into scientific notation (as text: the digits are gone); a contact is too long.
    header = ["使用单位名称", "器具名称", "出厂编号", "联系电话", "联系人"]
    rows = [["城东农贸市场李记水产", "电子计价秤", "WARN-001", "1.38123E+10", "李四"],
            ["城东农贸市场王记蔬菜", "电子计价秤", "WARN-002", "13812345678", "王" * 60],
            ["城东农贸市场张记豆腐", "电子计价秤", "WARN-003", "13900001111", "张三"]]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    batch = batch_of(session, upload(insp_a, world.station_a.id, out.getvalue()))
    assert batch.status == ImportStatus.PREVIEW
    # Every row registers a merchant, so every row says the industry it was given (issue 14 part 4).
    assert batch.counts["errors"] == 0 and batch.counts["warnings"] == 3
    assert batch.counts["instruments"]["create"] == 3
    soft = [r.row_no for r in session.scalars(select(ImportRow).where(ImportRow.batch_id == batch.id))
            if any("此项未导入" in w["message"] for w in r.warnings)]
    assert soft == [2, 3]

    page = text(insp_a.get(f"/imports/{batch.id}"))
    assert re.search(r'id="warning-count">\s*3\s*<', page)
    warned = text(insp_a.get(f"/imports/{batch.id}?show=warnings"))
    assert "科学计数法" in warned and "此项未导入" in warned and "联系人过长" in warned
    assert "WARN-001" in warned and "WARN-002" in warned

    resp = insp_a.post(f"/imports/{batch.id}/apply", data={"version": batch.version})
    assert resp.status_code == 302
    session.expire_all()
    merchants = {m.name: m for m in session.scalars(select(Merchant).where(Merchant.name.like("城东农贸市场%记%")))}
    assert merchants["城东农贸市场李记水产"].phone == "" and merchants["城东农贸市场李记水产"].contact == "李四"
    assert merchants["城东农贸市场王记蔬菜"].phone == "13812345678" and merchants["城东农贸市场王记蔬菜"].contact == ""
    assert merchants["城东农贸市场张记豆腐"].phone == "13900001111"
    stored = session.scalars(select(ImportRow).where(ImportRow.batch_id == batch.id).order_by(ImportRow.row_no)).all()
    assert [len(r.warnings) for r in stored] == [2, 2, 1]  # the soft field, and the industry each merchant got


def test_errors_workbook_has_the_row_and_its_error(insp_a, session, world):
    batch = batch_of(session, upload(insp_a, world.station_a.id, ledger_xlsx()))
    resp = insp_a.get(f"/imports/{batch.id}/errors.xlsx")
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in resp.headers["Content-Disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(resp.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == HEADER + ["原表行号", "错误说明"]
    assert len(rows) == 2
    row = rows[1]
    assert row[1] == "城东农贸市场王记蔬菜" and row[3] == "JJC-003" and row[4] == "2024-13-45"
    assert row[8] == ERROR_ROW and "不是存在的日期" in row[9]
    # Text that looks like a formula stays text.
    note = ws.cell(row=2, column=8)
    assert note.value == FORMULA_TEXT and note.data_type == "s"


# --- apply, double submit, re-import, undo -------------------------------------------------------

def test_apply_only_valid_rows_once_then_reimport_changes_nothing_then_undo(insp_a, app, session, world):
    before = ledger_counts(session)
    batch = batch_of(session, upload(insp_a, world.station_a.id, ledger_xlsx()))

    # Errors in the file: by default nothing is imported.
    resp = insp_a.post(f"/imports/{batch.id}/apply", data={"version": batch.version})
    assert resp.status_code == 200 and "默认不导入任何数据" in text(resp)
    assert ledger_counts(session) == before
    session.expire_all()
    assert session.get(ImportBatch, batch.id).status == ImportStatus.PREVIEW

    version = batch.version
    resp = insp_a.post(f"/imports/{batch.id}/apply", data={"version": version, "only_valid": "y"})
    assert resp.status_code == 302
    session.expire_all()
    batch = session.get(ImportBatch, batch.id)
    assert batch.status == ImportStatus.APPLIED and batch.only_valid
    after = ledger_counts(session)
    assert after == (before[0] + 2, before[1] + 3, before[2] + 3)
    serials = set(session.scalars(select(Instrument.serial_no)))
    assert {"JJC-001", "JJC-002", "JY-01"} <= serials and "JJC-003" not in serials

    # A double submit (the same form posted again) does not import twice.
    resp = insp_a.post(f"/imports/{batch.id}/apply", data={"version": version, "only_valid": "y"})
    assert resp.status_code == 200 and "不会重复导入" in text(resp)
    assert ledger_counts(session) == after
    assert "已导入" in text(insp_a.get(f"/imports/{batch.id}"))

    # The same file again: everything is unchanged, only the error row is still an error.
    again = batch_of(session, upload(insp_a, world.station_a.id, ledger_xlsx()))
    c = again.counts
    assert c["errors"] == 1
    assert [c[k]["create"] for k in ("merchants", "instruments", "verifications")] == [0, 0, 0]
    assert c["merchants"]["update"] == c["instruments"]["update"] == 0
    assert (c["merchants"]["unchanged"], c["instruments"]["unchanged"], c["verifications"]["unchanged"]) == (2, 3, 3)

    # Undo takes back what the first batch wrote; the audit log shows upload, import and undo.
    resp = insp_a.post(f"/imports/{batch.id}/undo", data={"version": batch.version})
    assert resp.status_code == 302, text(resp)[:1000]
    assert ledger_counts(session) == before
    session.expire_all()
    assert session.get(ImportBatch, batch.id).status == ImportStatus.UNDONE
    actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "import_batches",
                                                                  AuditEntry.entity_id == batch.id)))
    assert actions == {"upload", "import", "undo_import"}
    page = text(insp_a.get(f"/imports/{batch.id}"))
    assert "上传台账" in page and "导入台账" in page and "撤销导入" in page and "已撤销" in page
    admin = app.test_client()
    login(admin, "admin1")
    audit = text(admin.get("/admin/audit/?entity_type=import_batches"))
    assert "台账导入批次" in audit and "撤销导入" in audit and "导入台账" in audit


def test_undo_is_refused_when_a_record_was_changed_since(insp_a, session, world):
    batch = batch_of(session, upload(insp_a, world.station_a.id, ledger_xlsx(ROWS[:2])))
    insp_a.post(f"/imports/{batch.id}/apply", data={"version": batch.version})
    session.expire_all()
    batch = session.get(ImportBatch, batch.id)
    assert batch.status == ImportStatus.APPLIED
    inst = session.scalars(select(Instrument).where(Instrument.serial_no == "JJC-001")).one()
    resp = insp_a.post(f"/instruments/{inst.id}/edit", data={
        "type_id": str(inst.type_id), "serial_no": "JJC-001", "status": "in_use", "location": "3号摊位",
        "version": inst.version})
    assert resp.status_code == 302
    before = ledger_counts(session)
    resp = insp_a.post(f"/imports/{batch.id}/undo", data={"version": batch.version})
    assert resp.status_code == 200
    assert "不能撤销" in text(resp) and "在导入后又被修改过" in text(resp)
    assert ledger_counts(session) == before
    session.expire_all()
    assert session.get(ImportBatch, batch.id).status == ImportStatus.APPLIED


def test_a_failing_apply_writes_nothing_and_says_why(insp_a, session, world, monkeypatch):
    batch = batch_of(session, upload(insp_a, world.station_a.id, ledger_xlsx(ROWS[:2])))
    before = ledger_counts(session)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "apply_plan", broken)
    resp = insp_a.post(f"/imports/{batch.id}/apply", data={"version": batch.version})
    assert resp.status_code == 302
    session.expire_all()
    batch = session.get(ImportBatch, batch.id)
    assert batch.status == ImportStatus.FAILED and "没有写入任何数据" in batch.message
    assert ledger_counts(session) == before
    page = text(insp_a.get(f"/imports/{batch.id}"))
    assert "导入未完成" in page and 'id="replan"' in page
    # Previewed again, the batch can then be applied.
    monkeypatch.undo()
    resp = insp_a.post(f"/imports/{batch.id}/sheet", data={"sheet": batch.sheet_name, "version": batch.version})
    assert resp.status_code == 302
    batch = batch_of(session, resp)
    assert batch.status == ImportStatus.PREVIEW
    assert insp_a.post(f"/imports/{batch.id}/apply", data={"version": batch.version}).status_code == 302
    session.expire_all()
    assert session.get(ImportBatch, batch.id).status == ImportStatus.APPLIED


# --- mapping and sheets ------------------------------------------------------------------------

def mapping_form(batch: ImportBatch, **changes) -> dict:
    data = {f"f_{k}": str(v) for k, v in batch.mapping.items()}
    for k, v in changes.items():
        data[f"f_{k}"] = "" if v is None else str(v)
    return {"version": batch.version, **data}


def test_changing_the_mapping_replans_and_can_be_saved_for_the_next_file(insp_a, session, world):
    batch = batch_of(session, upload(insp_a, world.station_a.id, ledger_xlsx()))
    assert batch.mapping["verified_on"] == 4

    # Two fields on one column: refused with a Chinese message, the preview stays.
    resp = insp_a.post(f"/imports/{batch.id}/mapping", data=mapping_form(batch, valid_until=4))
    assert resp.status_code == 200 and "选了同一列" in text(resp)

    # Instruments only, without the verification columns: the bad date no longer matters.
    resp = insp_a.post(f"/imports/{batch.id}/mapping",
                       data=mapping_form(batch, verified_on=None, valid_until=None, result=None))
    assert resp.status_code == 302
    session.expire_all()
    batch = session.get(ImportBatch, batch.id)
    assert "verified_on" not in batch.mapping and batch.counts["errors"] == 0
    assert batch.counts["instruments"]["create"] == 4 and batch.counts["verifications"]["create"] == 0
    assert "E列 检定日期" in text(insp_a.get(f"/imports/{batch.id}")).split('id="unmapped"')[1][:2000]

    resp = insp_a.post(f"/imports/{batch.id}/mapping/save", data={"name": "城东所台账"})
    assert resp.status_code == 302
    again = batch_of(session, upload(insp_a, world.station_a.id, ledger_xlsx(ROWS[:2]), "城东台账（二）.xlsx"))
    assert again.mapping == batch.mapping


def test_a_mapping_the_file_cannot_use_keeps_the_previous_preview(insp_a, session, world):
    batch = batch_of(session, upload(insp_a, world.station_a.id, ledger_xlsx()))
    rows_before = count(session, ImportRow)
    # No kind column (and no kind in the sheet name): the pipeline refuses, the preview stays.
    resp = insp_a.post(f"/imports/{batch.id}/mapping", data=mapping_form(batch, kind=None))
    assert resp.status_code == 302
    session.expire_all()
    batch = session.get(ImportBatch, batch.id)
    assert batch.status == ImportStatus.PREVIEW and "器具种类" in batch.message
    assert batch.mapping["kind"] == 2 and count(session, ImportRow) == rows_before
    assert "重新分析未完成" in text(insp_a.get(f"/imports/{batch.id}"))


def test_another_sheet_can_be_chosen(insp_a, session, world):
    other = {"填表说明": [["填表说明：每台器具一行"]],
             "乙表": [["使用单位名称", "器具名称", "出厂编号", "检定日期"],
                     ["城西超市", "电子计价秤", "CX-9", "2024-06-01"]]}
    batch = batch_of(session, upload(insp_a, world.station_a.id, ledger_xlsx(extra_sheets=other)))
    assert batch.sheet_name == "乙表" and batch.counts["rows"] == 1
    page = text(insp_a.get(f"/imports/{batch.id}"))
    assert 'id="sheet-form"' in page and "计量器具台账" in page
    resp = insp_a.post(f"/imports/{batch.id}/sheet", data={"sheet": "计量器具台账", "version": batch.version})
    assert resp.status_code == 302
    session.expire_all()
    batch = session.get(ImportBatch, batch.id)
    assert batch.sheet_name == "计量器具台账" and batch.counts["rows"] == 4


# --- bad input and scope -----------------------------------------------------------------------

def test_a_file_that_is_not_a_spreadsheet_is_rejected_with_a_chinese_message(insp_a, session, world):
    before = ledger_counts(session)
    # Bytes that look like no format at all (random bytes starting with "<" would read as an HTML "xls").
    junk = bytes(random.Random(7).randrange(128, 256) for _ in range(2048))
    batch = batch_of(session, upload(insp_a, world.station_a.id, junk, "台账.xlsx"))
    assert batch.status == ImportStatus.REJECTED
    page = text(insp_a.get(f"/imports/{batch.id}"))
    assert "文件无法导入" in page and "不是可导入的电子表格" in page
    assert 'id="apply-form"' not in page
    assert ledger_counts(session) == before and count(session, ImportRow) == 0


def test_upload_form_errors_are_chinese(insp_a, world):
    resp = insp_a.post("/imports/new", data={"station_id": str(world.station_a.id)})
    assert resp.status_code == 200 and "请选择要导入的台账文件" in text(resp)


def test_a_file_over_the_limit_is_refused(app, session, world):
    app.config.update(IMPORT_MAX_BYTES=1000, MAX_CONTENT_LENGTH=4000)
    client = app.test_client()
    login(client, "insp_a")
    before = count(session, ImportBatch)
    resp = upload(client, world.station_a.id, b"x" * 10_000)
    assert resp.status_code == 413 and "上传的文件超过" in text(resp) and 'lang="zh-CN"' in text(resp)
    assert count(session, ImportBatch) == before
    # Over the import limit but inside the request limit: a rejected batch that says so.
    batch = batch_of(session, upload(client, world.station_a.id, b"x" * 2000, "大文件.csv"))
    assert batch.status == ImportStatus.REJECTED and "超过上限" in batch.message


def test_another_stations_inspector_gets_404(insp_a, app, session, world):
    batch = batch_of(session, upload(insp_a, world.station_a.id, ledger_xlsx()))
    other = app.test_client()
    login(other, "insp_b")
    for path in (f"/imports/{batch.id}", f"/imports/{batch.id}/progress", f"/imports/{batch.id}/errors.xlsx"):
        assert other.get(path).status_code == 404, path
    before = ledger_counts(session)
    assert other.post(f"/imports/{batch.id}/apply", data={"version": batch.version, "only_valid": "y"}
                      ).status_code == 404
    assert ledger_counts(session) == before
    assert "城东台账.xlsx" not in text(other.get("/imports/"))
    assert "城东台账.xlsx" in text(insp_a.get("/imports/"))


def test_supervisors_read_but_do_not_import(app, session, world, insp_a):
    batch = batch_of(session, upload(insp_a, world.station_a.id, ledger_xlsx()))
    sup = app.test_client()
    login(sup, "super1")
    page = text(sup.get(f"/imports/{batch.id}"))
    assert "城东台账.xlsx" in page and 'id="apply-form"' not in page and 'id="mapping-form"' in page
    assert "<select" not in page.split('id="mapping"')[1].split("</table>")[0]
    assert sup.get("/imports/new").status_code == 403
    assert sup.post(f"/imports/{batch.id}/apply", data={"version": batch.version}).status_code == 403


# --- the background runner -----------------------------------------------------------------------

def wait_for_status(app, batch_id: int, statuses: set, runner: ImportRunner | None = None,
                    rounds: int = 1800) -> ImportStatus:
    """Poll the database (fresh session each time) until the batch reaches one of the statuses and no task of
    it is queued or running."""
    database = app.extensions["database"]
    runner = runner or app.extensions["import_runner"]
    for _ in range(rounds):
        with database.session_scope() as s:
            status = s.get(ImportBatch, batch_id).status
        if status in statuses and not runner.is_running(batch_id):
            return status
        time.sleep(0.05)
    raise AssertionError(f"batch {batch_id} did not reach {statuses}; last status {status}")


@pytest.mark.commits  # the queue's worker threads have their own connections
def test_jobs_run_in_the_background(app, session, world, insp_a, tmp_path):
    with queue_workers(app, f"sqlite:///{tmp_path / 'tasks.db'}", workers=1):
        resp = upload(insp_a, world.station_a.id, ledger_xlsx(ROWS[:2]))
        batch_id = int(resp.headers["Location"].rsplit("/", 1)[1])
        assert wait_for_status(app, batch_id, {ImportStatus.PREVIEW, ImportStatus.REJECTED}) == ImportStatus.PREVIEW
        session.expire_all()
        batch = session.get(ImportBatch, batch_id)
        before = ledger_counts(session)
        resp = insp_a.post(f"/imports/{batch_id}/apply", data={"version": batch.version})
        assert resp.status_code == 302
        assert wait_for_status(app, batch_id, {ImportStatus.APPLIED, ImportStatus.FAILED}) == ImportStatus.APPLIED
        assert ledger_counts(session) == (before[0] + 1, before[1] + 2, before[2] + 2)


@pytest.mark.commits  # the queue's worker threads have their own connections
def test_progress_is_shown_while_a_job_runs(app, session, world, insp_a, monkeypatch, tmp_path):
    """A job held half-way on a real worker: the page, the JSON endpoint and the list show it busy with its
    percentage, read from the queue's store; queued, it says so."""
    batch = batch_of(session, upload(insp_a, world.station_a.id, ledger_xlsx(ROWS[:2])))
    reached, release = threading.Event(), threading.Event()
    real_plan = services.plan_batch

    def held_plan(session_, batch_, **kwargs):
        kwargs["progress"](5, 10)
        reached.set()
        release.wait(timeout=60)
        return real_plan(session_, batch_, **kwargs)

    monkeypatch.setattr(services, "plan_batch", held_plan)
    with queue_workers(app, f"sqlite:///{tmp_path / 'tasks.db'}", workers=1):
        try:
            resp = insp_a.post(f"/imports/{batch.id}/sheet", data={"sheet": batch.sheet_name,
                                                                   "version": batch.version})
            assert resp.status_code == 302
            assert reached.wait(timeout=60)
            progress = insp_a.get(f"/imports/{batch.id}/progress").get_json()
            assert progress["busy"] is True and progress["percent"] == 50
            page = text(insp_a.get(f"/imports/{batch.id}"))
            assert 'id="import-progress"' in page and "正在重新分析" in page and 'id="apply-form"' not in page
            listed = text(insp_a.get("/imports/"))
            assert "正在重新分析 50%" in listed
            # A second request while it runs is refused, not queued twice.
            resp = insp_a.post(f"/imports/{batch.id}/apply", data={"version": batch.version})
            assert resp.status_code == 200 and "正在分析" in text(resp)
        finally:
            release.set()
        assert wait_for_status(app, batch.id, {ImportStatus.PREVIEW}) == ImportStatus.PREVIEW
    assert not app.extensions["import_runner"].is_running(batch.id)
    assert insp_a.get(f"/imports/{batch.id}/progress").get_json()["busy"] is False


def test_a_batch_queued_with_no_worker_says_so(app, session, world, insp_a, monkeypatch):
    """Queued with no worker to take it: not taken as dead; after IMPORT_QUEUE_WAIT_SECONDS the page says so."""
    batch = batch_of(session, upload(insp_a, world.station_a.id, ledger_xlsx(ROWS[:2])))
    runner = app.extensions["import_runner"]
    # A queue that keeps the task (no worker), for this test only.
    from app.tasks import queue

    monkeypatch.setattr(queue.huey, "_immediate", False)
    monkeypatch.setattr(queue.huey, "storage", queue.huey.get_immediate_storage())
    resp = insp_a.post(f"/imports/{batch.id}/sheet", data={"sheet": batch.sheet_name, "version": batch.version})
    assert resp.status_code == 302
    assert runner.progress(batch.id) == (0, 0)
    assert "排队等候中" in insp_a.get(f"/imports/{batch.id}/progress").get_json()["label"]
    assert "排队等候中" in text(insp_a.get("/imports/"))
    monkeypatch.setattr(runner, "queue_wait", 0.0)
    progress = insp_a.get(f"/imports/{batch.id}/progress").get_json()
    assert progress["busy"] is True and "等待后台处理" in progress["label"]
    assert "等待后台处理" in text(insp_a.get("/imports/"))
    # Waiting in the queue is not a stopped worker, however old the row.
    with app.extensions["database"].session_scope() as s:
        b = s.get(ImportBatch, batch.id)
        b.updated_at = b.updated_at - dt.timedelta(hours=1)
    session.expire_all()
    assert runner.recover(session, session.get(ImportBatch, batch.id), utcnow()) == "waiting"


def test_a_household_meter_ledger_is_imported_for_the_chosen_utility(insp_a, session, world):
    company = f.merchant(session, world.station_a, "城东燃气公司", industry="utility")
    session.commit()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "燃气表台账"
    ws.append(["户号", "用户地址", "表号", "首次检定日期"])
    ws.append(["8800123", "和平路3号", "G-9001", "2020-03-15"])
    buf = io.BytesIO()
    wb.save(buf)
    page = text(insp_a.get("/imports/new"))
    assert "城东燃气公司" in page
    resp = insp_a.post("/imports/new", data={"station_id": world.station_a.id, "merchant_id": company.id,
                                             "file": (io.BytesIO(buf.getvalue()), "燃气表.xlsx")})
    batch = batch_of(session, resp)
    assert batch.merchant_id == company.id and batch.counts["errors"] == 0
    assert "城东燃气公司" in text(insp_a.get(f"/imports/{batch.id}"))


def test_a_batch_left_running_by_a_stopped_server_is_recovered(insp_a, app, session, world):
    batch = batch_of(session, upload(insp_a, world.station_a.id, ledger_xlsx(ROWS[:2])))
    with app.extensions["database"].session_scope() as s:
        b = s.get(ImportBatch, batch.id)
        b.status = ImportStatus.APPLYING  # as a server killed while applying leaves it
    assert "导入未完成" not in text(insp_a.get(f"/imports/{batch.id}"))  # recent: still taken as running
    with app.extensions["database"].session_scope() as s:
        b = s.get(ImportBatch, batch.id)
        b.updated_at = b.updated_at - dt.timedelta(hours=1)
    page = text(insp_a.get(f"/imports/{batch.id}"))
    assert "处理过程中断" in page and 'id="replan"' in page
    session.expire_all()
    assert session.get(ImportBatch, batch.id).status == ImportStatus.FAILED
