"""`flask import ledger FILE --station CODE [...]` and `flask import undo BATCH`: the import from the command line.

Exit codes: 0 applied, or a dry run planned without errors; 2 refused, rows with errors, or nothing applied.
"""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.imports.models import ImportBatch, ImportStatus
from app.instruments.models import Instrument, Verification, VerificationResult
from app.merchants.models import Merchant
from tests import factories as f
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


def test_a_dry_run_lists_the_errors_with_their_row_numbers_and_exits_2(cli, db, tmp_path):
    path = ledger_xlsx(tmp_path / "errors.xlsx", WITH_ERRORS)
    result = cli(path, "--station", "A")
    assert result.exit_code == 2
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


def test_commit_of_a_file_with_errors_writes_nothing_and_exits_2(cli, db, tmp_path):
    path = ledger_xlsx(tmp_path / "errors.xlsx", WITH_ERRORS)
    result = cli(path, "--station", "A", "--commit")
    assert result.exit_code == 2
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
    assert result.exit_code == 2
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


def test_a_sheet_without_a_header_shows_its_first_rows_and_how_to_map_them(cli, db, tmp_path):
    path = write_xlsx(tmp_path / "odd.xlsx", {"Sheet1": [["登记表"], ["甲列", "乙列"], ["一月", 3]]})
    result = cli(path, "--station", "A", "--commit")
    assert result.exit_code == 2
    assert "文件无法导入：文件中没有可识别的台账表格" in result.stderr
    # The sheet's first rows with row numbers and column letters, and the options that map them.
    assert "工作表“Sheet1”的前 3 行：" in result.stderr and "行  A | B" in result.stderr
    assert "2   甲列 | 乙列" in result.stderr
    assert "--header-row" in result.stderr and "--map 字段=列名" in result.stderr
    [(_, status, _, _)] = batches(db)
    assert status == ImportStatus.NEEDS_MAPPING
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


# --- what the web offers: merchant, header row, column mapping, kind; undo ------------------------

HOUSEHOLD_HEADER = ["户号", "用户地址", "表身号", "口径", "首次检定日期", "到期轮换日期", "供水单位"]
HOUSEHOLDS = [
    ["0100231", "和平路3号1单元101", "SB-240001", "DN15", "2024-03-15", "2030-03-14", "城东水务公司"],
    ["0100232", "和平路5号", "SB-240002", "DN20", "2024-04-02", "2030-04-01", "城东水务公司"],
]


WITH_WATER = (WORLD[0] + 1, *WORLD[1:])


@pytest.fixture()
def water(session, world):
    """The water company of station A, whose household meters the ledger lists."""
    company = f.merchant(session, world.station_a, "城东水务公司", industry="utility", credit_code=credit_code(9))
    session.commit()
    return company


def household(tmp_path):
    return write_xlsx(tmp_path / "户表.xlsx", {"户表": [["城东水务公司户表台账"], HOUSEHOLD_HEADER, *HOUSEHOLDS]})


MAPPED = ("--header-row", "2", "--map", "出厂编号=表身号", "--map", "install_address=B", "--map", "安装位置=户号",
          "--map", "检定日期=E", "--map", "有效期至=F", "--kind", "水表（DN≤25）")


def test_a_household_ledger_is_imported_with_the_merchant_header_row_mapping_and_kind(cli, db, tmp_path, water):
    path = household(tmp_path)
    result = cli(path, "--station", "A", "--merchant", "城东水务公司", *MAPPED)
    assert result.exit_code == 0, result.output
    assert "工作表：户表  数据行 2，错误行 0" in result.output
    assert "整个文件：表头 第2行，器具种类 水表（DN≤25），使用单位 城东水务公司" in result.output
    assert "出厂编号=C列（表身号）" in result.output and "安装位置=A列（户号）" in result.output
    assert "计量器具：新增 2" in result.output and "使用单位：新增 0" in result.output

    # The credit code names the company as well; --commit writes the meters under it.
    result = cli(path, "--station", "A", "--merchant", water.credit_code, *MAPPED, "--commit")
    assert result.exit_code == 0, result.output
    meters = db(select(Instrument.serial_no, Instrument.merchant_id, Instrument.location)
                .where(Instrument.serial_no.like("SB-%")).order_by(Instrument.serial_no))
    assert meters == [("SB-240001", water.id, "0100231"), ("SB-240002", water.id, "0100232")]


def test_without_the_mapping_the_household_ledger_is_refused_with_what_is_missing(cli, db, tmp_path, water):
    result = cli(household(tmp_path), "--station", "A", "--merchant", str(water.id), "--header-row", "2")
    assert result.exit_code == 2
    assert "缺少必需的列：" in result.stderr and "器具种类" in result.stderr
    assert "为整个文件指定器具种类" in result.stderr and "使用单位名称" not in result.stderr.split("表头中的列")[0]
    [(_, status, _, _)] = batches(db)
    assert status == ImportStatus.NEEDS_MAPPING
    assert table_counts(db) == WITH_WATER


@pytest.mark.parametrize("options, message", [
    (("--merchant", "没有这家"), "监管所A中没有使用单位“没有这家”"),
    (("--kind", "不存在的器具"), "器具目录中没有“不存在的器具”"),
    (("--map", "颜色=A"), "--map “颜色=A”应为 字段=列名"),
    (("--map", "出厂编号"), "--map “出厂编号”应为 字段=列名"),
    (("--header-row", "三"), "--header-row “三”应为行号"),
    (("--header-row", "3-2"), "两行表头的分组行在前"),
    (("--sheet", "没有的表"), "文件中没有工作表“没有的表”"),
])
def test_a_choice_that_names_nothing_is_refused_with_exit_2(cli, db, tmp_path, water, options, message):
    result = cli(household(tmp_path), "--station", "A", *options)
    assert result.exit_code == 2, result.output
    assert message.replace("监管所A", "") in result.stderr
    assert table_counts(db) == WITH_WATER


def test_a_column_the_header_does_not_have_is_refused(cli, db, tmp_path, water):
    result = cli(household(tmp_path), "--station", "A", "--merchant", "城东水务公司", *MAPPED, "--map", "型号规格=型号")
    assert result.exit_code == 2
    assert "表头中没有“型号”这一列" in result.stderr


def test_undo_takes_back_an_applied_batch_once(app, cli, db, tmp_path):
    path = ledger_xlsx(tmp_path / "clean.xlsx", GOOD)
    assert cli(path, "--station", "A", "--commit").exit_code == 0
    [(batch_id, _, _, _)] = batches(db)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import", "undo", str(batch_id)])
    assert result.exit_code == 0, result.output
    assert f"已撤销导入批次 #{batch_id}：删除使用单位 2、计量器具 3、检定记录 3" in result.output
    assert table_counts(db) == WORLD
    assert batches(db)[0][1] == ImportStatus.UNDONE
    again = runner.invoke(args=["import", "undo", str(batch_id)])
    assert again.exit_code == 2 and "未撤销：只有已导入的批次可以撤销" in again.stderr
    missing = runner.invoke(args=["import", "undo", "99999"])
    assert missing.exit_code == 2 and "导入批次 #99999 不存在" in missing.stderr


def test_the_help_documents_the_exit_codes(app):
    result = app.test_cli_runner().invoke(args=["import", "ledger", "--help"])
    assert "Exit code 0" in result.output and "Exit code 2" in result.output
    assert "--map" in result.output and "--merchant" in result.output and "--kind" in result.output
