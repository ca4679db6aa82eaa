"""`flask import ledger FILE --station CODE [--commit] [--only-valid]`: the import from the command line."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.imports.models import ImportBatch, ImportStatus
from app.instruments.models import Instrument, Verification, VerificationResult
from app.merchants.models import Merchant
from tests.importers.builders import credit_code, ledger_xlsx, write_xlsx

D = dt.date
C1, C2 = credit_code(1), credit_code(2)


def row(name: str, kind: str, serial: str, verified: str = "", result: str = "", *, code: str = "",
        valid: str = "") -> dict:
    return {"使用单位名称": name, "统一社会信用代码": code, "器具名称": kind, "出厂编号": serial, "检定日期": verified,
            "有效期至": valid, "检定结论": result or ("合格" if verified else "")}


GOOD = [
    row("金源粮油店", "电子秤", "S-001", "2025-03-01", "合格", code=C1, valid="2026-02-28"),
    row("金源粮油店", "电子秤", "S-002", "2025-03-01"),
    row("顺发加油站", "加油机", "F-001", "2024-08-31"),
]
# Row 4 (Excel) has an impossible date, row 6 names the world's scale under another merchant.
WITH_ERRORS = [
    row("金源粮油店", "电子秤", "S-001", "2025-03-01", code=C1),
    row("坏日期商行", "电子秤", "E-1", "2023-02-30"),
    row("顺发加油站", "加油机", "F-001", "2024-08-31"),
    row("错一商行", "电子秤", "A-001"),
]


@pytest.fixture()
def cli(app, world, tmp_path):
    """Runs `flask import ledger ...`; uploads are kept under the test's own folder."""
    app.config["IMPORT_STORAGE"] = str(tmp_path / "uploads")
    runner = app.test_cli_runner()

    def invoke(*args):
        return runner.invoke(args=["import", "ledger", *[str(a) for a in args]])

    return invoke


@pytest.fixture()
def db(app):
    database = app.extensions["database"]

    def read(stmt):
        with database.session_scope() as s:
            return s.execute(stmt).all()

    return read


def table_counts(db) -> tuple[int, int, int]:
    return tuple(db(select(func.count()).select_from(m))[0][0] for m in (Merchant, Instrument, Verification))


def batches(db) -> list[tuple]:
    return db(select(ImportBatch.id, ImportBatch.status, ImportBatch.file_name, ImportBatch.counts)
              .order_by(ImportBatch.id))


WORLD = (2, 2, 2)


def test_a_dry_run_of_a_clean_file_exits_0_and_writes_nothing(cli, db, tmp_path):
    path = ledger_xlsx(tmp_path / "clean.xlsx", GOOD)
    result = cli(path, "--station", "A")
    assert result.exit_code == 0, result.output
    assert "工作表：台账  数据行 3，错误行 0" in result.output
    assert "使用单位：新增 2，更新 0，无变化 0" in result.output
    assert "计量器具：新增 3，更新 0，无变化 0" in result.output
    assert "检定记录：新增 3，更新 0，无变化 0" in result.output
    assert "跳过的行：标题行 1、表头行 1" in result.output
    assert "未写入任何数据" in result.output
    assert table_counts(db) == WORLD
    [(batch_id, status, name, counts)] = batches(db)
    assert (status, name, counts["rows"], counts["errors"]) == (ImportStatus.PREVIEW, "clean.xlsx", 3, 0)
    assert f"批次 #{batch_id}" in result.output


def test_a_dry_run_lists_the_errors_with_their_row_numbers_and_exits_non_zero(cli, db, tmp_path):
    path = ledger_xlsx(tmp_path / "errors.xlsx", WITH_ERRORS)
    result = cli(path, "--station", "A")
    assert result.exit_code == 1
    assert "数据行 4，错误行 2" in result.stdout
    assert "第4行 检定日期：检定日期“2023-02-30”不是存在的日期" in result.stderr
    assert "第6行 出厂编号：电子计价秤 出厂编号 A-001 已登记在使用单位“甲市场摊位1”名下" in result.stderr
    assert "第3行" not in result.stderr and "第5行" not in result.stderr
    assert table_counts(db) == WORLD


def test_commit_writes_the_ledger(cli, db, tmp_path):
    path = ledger_xlsx(tmp_path / "clean.xlsx", GOOD)
    result = cli(path, "--station", "a", "--commit")  # the station code in any case
    assert result.exit_code == 0, result.output
    [(batch_id, status, _, _)] = batches(db)
    assert status == ImportStatus.APPLIED
    assert f"已导入（批次 #{batch_id}）" in result.output
    assert table_counts(db) == (4, 5, 5)
    dates = dict(db(select(Instrument.serial_no, Instrument.next_due_on)
                    .where(Instrument.serial_no.in_(["S-001", "S-002", "F-001"]))))
    assert dates == {"S-001": D(2026, 2, 28), "S-002": D(2026, 3, 1), "F-001": D(2025, 2, 28)}
    assert db(select(Merchant.credit_code).where(Merchant.name == "金源粮油店")) == [(C1,)]
    actions = db(select(AuditEntry.action, AuditEntry.actor).where(AuditEntry.entity_type == "import_batches")
                 .order_by(AuditEntry.id))
    assert actions == [("upload", "命令行"), ("import", "命令行")]

    again = cli(path, "--station", "A", "--commit")  # the same file again: nothing changes
    assert again.exit_code == 0, again.output
    assert "使用单位：新增 0，更新 0，无变化 2" in again.output
    assert "计量器具：新增 0，更新 0，无变化 3" in again.output
    assert table_counts(db) == (4, 5, 5)


def test_commit_of_a_file_with_errors_writes_nothing_and_exits_non_zero(cli, db, tmp_path):
    path = ledger_xlsx(tmp_path / "errors.xlsx", WITH_ERRORS)
    result = cli(path, "--station", "A", "--commit")
    assert result.exit_code == 1
    assert "未导入：文件中有 2 行错误，默认不导入任何数据" in result.stderr
    assert "--only-valid" in result.stderr and "勾选" not in result.stderr  # the CLI's option, not the web's box
    assert "第4行" in result.stderr
    assert table_counts(db) == WORLD
    [(_, status, _, _)] = batches(db)
    assert status == ImportStatus.PREVIEW


def test_commit_only_valid_writes_the_valid_rows(cli, db, tmp_path):
    path = ledger_xlsx(tmp_path / "errors.xlsx", WITH_ERRORS)
    result = cli(path, "--station", "A", "--commit", "--only-valid")
    assert result.exit_code == 0, result.output  # what was asked for was done: the valid rows are in
    assert "已导入" in result.output and "跳过有错误的 2 行" in result.output
    [(_, status, _, _)] = batches(db)
    assert status == ImportStatus.APPLIED
    assert table_counts(db) == (4, 4, 4)
    names = {n for (n,) in db(select(Merchant.name))}
    assert names == {"甲市场摊位1", "乙加油站", "金源粮油店", "顺发加油站"}
    assert db(select(Instrument.serial_no).where(Instrument.serial_no == "E-1")) == []
    results = db(select(Verification.result).join(Instrument).where(Instrument.serial_no == "F-001"))
    assert results == [(VerificationResult.PASS,)]


def test_an_unknown_station_code_is_an_error(cli, db, tmp_path):
    path = ledger_xlsx(tmp_path / "clean.xlsx", GOOD)
    result = cli(path, "--station", "ZZ", "--commit")
    assert result.exit_code == 1
    assert "监管所编码 ZZ 不存在" in result.output
    assert batches(db) == []
    assert table_counts(db) == WORLD


def test_a_file_that_is_not_a_spreadsheet_is_refused(cli, db, tmp_path):
    path = tmp_path / "notes.xlsx"
    path.write_bytes("这不是表格".encode() * 50)
    result = cli(path, "--station", "A", "--commit")
    assert result.exit_code == 2
    assert "文件无法导入：" in result.stderr
    [(_, status, _, _)] = batches(db)
    assert status == ImportStatus.REJECTED
    assert table_counts(db) == WORLD


def test_a_file_over_the_size_limit_is_refused(app, cli, db, tmp_path):
    app.config["IMPORT_MAX_BYTES"] = 1024
    path = ledger_xlsx(tmp_path / "clean.xlsx", GOOD)
    result = cli(path, "--station", "A", "--commit")
    assert result.exit_code == 2
    assert "超过上限" in result.stderr
    assert table_counts(db) == WORLD


def test_a_sheet_without_a_header_is_refused_and_the_batch_says_why(cli, db, tmp_path):
    path = write_xlsx(tmp_path / "odd.xlsx", {"Sheet1": [["月份", "数量"], ["一月", 3]]})
    result = cli(path, "--station", "A", "--commit")
    assert result.exit_code == 2
    assert "文件无法导入：文件中没有可识别的台账表格" in result.stderr
    [(_, status, _, _)] = batches(db)
    assert status == ImportStatus.REJECTED
    assert table_counts(db) == WORLD


def test_the_sheet_option_picks_the_sheet(cli, db, tmp_path):
    header = ["使用单位名称", "器具名称", "出厂编号", "检定日期", "检定结论"]
    path = write_xlsx(tmp_path / "two.xlsx", {
        "一所": [header, ["甲店", "电子秤", "Y-1", "2025-01-02", "合格"]],
        "二所": [header, ["乙店", "电子秤", "Y-2", "2025-01-03", "合格"], ["丙店", "电子秤", "Y-3", "2025-01-04", "合格"]],
    })
    result = cli(path, "--station", "A", "--sheet", "二所", "--commit")
    assert result.exit_code == 0, result.output
    assert "工作表：二所  数据行 2，错误行 0" in result.output
    assert {s for (s,) in db(select(Instrument.serial_no))} == {"A-001", "B-001", "Y-2", "Y-3"}
