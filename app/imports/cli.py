"""`flask import ledger FILE --station CODE [...]` and `flask import undo BATCH`: the import from the command line.

The command offers what the batch page offers: the utility company, the sheet, the header row(s),
each column's field, a kind for the whole file, only the valid rows. Exit codes (also in
docs/运维手册.md): 0 when the ledger was applied, or a dry run planned it without errors; 2 when
the file or a choice was refused, rows have errors, or nothing was applied.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import or_, select

from app.accounts.models import Station
from app.catalog.models import InstrumentType
from app.clock import today
from app.errors import DomainError
from app.imports import services
from app.imports.heartbeat import heartbeat_path
from app.imports.models import ImportBatch, ImportRow, ImportStatus
from app.merchants.models import Merchant
from app.scope import Scope
from importers.fields import FIELD_BY_NAME, FIELDS
from importers.mapping import column_letter
from importers.rows import SKIP_LABELS

import_cli = AppGroup("import", help="Import legacy ledgers.")

OK, REFUSED = 0, 2
ACTOR = "命令行"
_LETTERS = re.compile(r"[A-Za-z]{1,3}")
_FIELD_BY_LABEL = {f.label: f.name for f in FIELDS}


class Refused(click.ClickException):
    """A refusal in Chinese on stderr, exit code 2."""

    exit_code = REFUSED

    def show(self, file=None) -> None:
        click.echo(self.message, err=True)


@dataclass(frozen=True)
class Choices:
    """What the command line chose for the file, resolved against the database."""

    station_id: int
    merchant_id: int | None
    kind_code: str | None
    sheet: str | None
    header_rows: list[int]
    overrides: dict[str, int | str | None] | None


def _header_rows(text: str | None) -> list[int]:
    """'3' -> [3]; '2-3' or '2,3' (a two-row header: group row, then header row) -> [2, 3]."""
    if not text:
        return []
    parts = re.split(r"[-,，~]", text.strip())
    if not all(p.strip().isdigit() for p in parts) or len(parts) > 2:
        raise Refused(f"--header-row “{text}”应为行号，如 3，两行表头写 2-3")
    rows = [int(p) for p in parts]
    if rows[0] < 1 or (len(rows) == 2 and rows[0] >= rows[1]):
        raise Refused(f"--header-row “{text}”：行号从1开始，两行表头的分组行在前")
    return rows


def _overrides(maps: tuple[str, ...]) -> dict[str, int | str | None] | None:
    """`字段=列名` pairs: the field by label (出厂编号) or name (serial_no); the column by header text or letter (C)."""
    overrides: dict[str, int | str | None] = {}
    for item in maps:
        field, sep, column = item.partition("=")
        field, column = field.strip(), column.strip()
        name = field if field in FIELD_BY_NAME else _FIELD_BY_LABEL.get(field)
        if not sep or name is None:
            known = "、".join(f.label for f in FIELDS)
            raise Refused(f"--map “{item}”应为 字段=列名，字段是以下之一（或其英文名）：{known}")
        if not column:
            overrides[name] = None  # unmapped
        elif _LETTERS.fullmatch(column):
            index = 0
            for ch in column.upper():
                index = index * 26 + ord(ch) - 64
            overrides[name] = index - 1
        else:
            overrides[name] = column
    return overrides or None


def _resolve(session, station_code: str, merchant: str | None, kind: str | None) -> tuple[Station, int | None, str | None]:
    station = session.scalars(select(Station).where(Station.code == station_code.upper())).first()
    if station is None:
        raise Refused(f"监管所编码 {station_code} 不存在")
    merchant_id = None
    if merchant:
        text = merchant.strip()
        named = [Merchant.credit_code == text.upper(), Merchant.name == text]
        if text.isdigit() and len(text) <= 9:  # an id (a credit code of digits would overflow the column)
            named.append(Merchant.id == int(text))
        found = session.scalars(select(Merchant).where(Merchant.station_id == station.id, or_(*named))).all()
        if len(found) != 1:
            raise Refused(f"{station.name}中{'没有' if not found else '有多个'}使用单位“{merchant}”"
                          "（按编号、统一社会信用代码或完整名称查找）")
        merchant_id = found[0].id
    kind_code = None
    if kind:
        found_kind = session.scalars(select(InstrumentType).where(
            or_(InstrumentType.code == kind.strip(), InstrumentType.name_zh == kind.strip()))).first()
        if found_kind is None:
            raise Refused(f"器具目录中没有“{kind}”（按名称或编码查找）")
        kind_code = found_kind.code
    return station, merchant_id, kind_code


@import_cli.command("ledger")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--station", "station_code", default=None,
              help="Station code the ledger belongs to (with --all-sheets: where the batch is filed).")
@click.option("--merchant", default=None,
              help="The utility company whose household meters the ledger lists (id, credit code or exact name).")
@click.option("--sheet", default=None, help="Sheet to import (default: the first with a ledger table).")
@click.option("--header-row", default=None, help="Excel row of the header, e.g. 3; a two-row header: 2-3.")
@click.option("--map", "maps", multiple=True, metavar="字段=列名",
              help="Column of a field, repeatable: the field's label or name (出厂编号, serial_no), the column's "
                   "header or letter (表身号, C); nothing after = to leave the field unmapped.")
@click.option("--kind", default=None, help="Kind of every row without one (catalogue name or code).")
@click.option("--commit", is_flag=True, help="Write the data (default: dry run, nothing written).")
@click.option("--only-valid", is_flag=True, help="With --commit: import the valid rows even if others have errors.")
@click.option("--all-sheets", is_flag=True,
              help="Every sheet into the station its name names (汇总/说明 sheets skipped); exit 2 on errors.")
def ledger(file: Path, station_code: str | None, merchant: str | None, sheet: str | None, header_row: str | None,
           maps: tuple[str, ...], kind: str | None, commit: bool, only_valid: bool, all_sheets: bool) -> None:
    """Preview (and with --commit apply) a ledger.

    Exit code 0: applied, or (dry run) planned without errors. Exit code 2: the file or an option was
    refused, rows have errors, or nothing was applied.
    """
    if all_sheets:
        if merchant or sheet or header_row or maps or kind:
            raise Refused("--all-sheets 按各工作表自动对应，不能与 --merchant、--sheet、--header-row、--map、--kind 同用；"
                          "需要时请对单个工作表分别导入")
        from app.imports.cli_workbook import all_sheets as import_all_sheets

        raise SystemExit(import_all_sheets(file, station_code, commit=commit, only_valid=only_valid))
    if station_code is None:
        raise Refused("请用 --station 指定监管所编码，或用 --all-sheets 按工作表名对应监管所")
    database = current_app.extensions["database"]
    storage = current_app.config["IMPORT_STORAGE"]
    runner = current_app.extensions["import_runner"]
    rows, overrides = _header_rows(header_row), _overrides(maps)
    with database.session_scope() as session:
        station, merchant_id, kind_code = _resolve(session, station_code, merchant, kind)
        choices = Choices(station.id, merchant_id, kind_code, sheet, rows, overrides)
        batch_id, refused = _upload(session, file, choices, storage, runner.sandbox)
    if refused:  # the refused batch is kept, with its reason
        raise Refused(f"文件无法导入：{refused}")
    # Touched while the command works, so the web pages do not take the batch as interrupted.
    beat = heartbeat_path(storage, batch_id)
    runner.heartbeats.hold(beat)
    try:
        _plan_and_apply(database, batch_id, choices, commit=commit, only_valid=only_valid, sandbox=runner.sandbox)
    finally:
        runner.heartbeats.release(beat)


def _upload(session, file: Path, choices: Choices, storage: str, sandbox) -> tuple[int, str]:
    """Keep the file as a batch with the command's choices: (batch id, why it was refused or '')."""
    try:
        batch = services.create_batch(session, ACTOR, Scope.everything(), station_id=choices.station_id,
                                      file_name=file.name, data=file.read_bytes(), storage_dir=storage,
                                      max_bytes=current_app.config["IMPORT_MAX_BYTES"],
                                      merchant_id=choices.merchant_id, sandbox=sandbox)
        if batch.status == ImportStatus.REJECTED:
            return batch.id, batch.message
        if choices.sheet is not None or choices.header_rows or choices.kind_code:
            services.set_choices(session, ACTOR, Scope.everything(), batch, sheet=choices.sheet,
                                 header_rows=choices.header_rows, kind_code=choices.kind_code,
                                 merchant_id=choices.merchant_id, station_id=choices.station_id)
    except DomainError as err:  # the upload store is full, a sheet that is not there...
        raise Refused(err.message) from err
    return batch.id, ""


def _plan_and_apply(database, batch_id: int, choices: Choices, *, commit: bool, only_valid: bool, sandbox) -> None:
    """The dry run of the batch, reported; with `commit` its apply. Exits like the command."""
    failure = None
    with database.session_scope() as session:
        batch = session.get(ImportBatch, batch_id)
        with click.progressbar(length=100, label="分析") as bar:
            last = [0]

            def progress(done: int, total: int) -> None:
                pct = min(100, done * 100 // max(total, 1))
                bar.update(pct - last[0])
                last[0] = pct

            try:
                services.plan_batch(session, batch, today=today(), sheet=choices.sheet, overrides=choices.overrides,
                                    progress=progress, sandbox=sandbox)
            except DomainError as err:
                failure = err.message  # the batch keeps the reason: commit it, then exit
            else:
                bar.update(100 - last[0])
        if failure is None:
            _report(session, batch)
        elif batch.status == ImportStatus.NEEDS_MAPPING:
            _show_grid(batch, sandbox)
    if failure is not None:
        hint = ("\n可用 --sheet、--header-row、--map 字段=列名、--kind、--merchant 指定后重新运行"
                "（见 flask import ledger --help）。" if batch.status == ImportStatus.NEEDS_MAPPING else "")
        raise Refused(f"\n文件无法导入：{failure}{hint}")
    counts = batch.counts
    if not commit:
        click.echo(f"预览完成（批次 #{batch_id}），未写入任何数据。确认无误后加 --commit 导入。")
        raise SystemExit(REFUSED if counts["errors"] else OK)
    if counts["errors"] and not only_valid:
        # The service refuses too, but its message names the web form's checkbox.
        raise Refused(f"未导入：文件中有 {counts['errors']} 行错误，默认不导入任何数据。"
                      "请修正后重新导入，或加 --only-valid 只导入无错误的行。")
    try:
        with database.session_scope() as session:
            batch = session.get(ImportBatch, batch_id)
            services.start_apply(session, ACTOR, batch, expected_version=batch.version, only_valid=only_valid)
            services.apply_batch(session, ACTOR, batch, today=today(), sandbox=sandbox)
    except DomainError as err:
        raise Refused(f"未导入：{err.message}") from err
    skipped = f"，跳过有错误的 {counts['errors']} 行" if counts["errors"] else ""
    click.echo(f"已导入（批次 #{batch_id}）{skipped}。")


def _show_grid(batch: ImportBatch, sandbox, rows: int = 12) -> None:
    """The sheet's first rows with Excel row numbers and column letters, to choose the header and columns from."""
    grid = services.grid(batch, sandbox)
    if not grid or not grid["rows"]:
        return
    click.echo(f"\n工作表“{grid['sheet']}”的前 {min(rows, len(grid['rows']))} 行：", err=True)
    click.echo("行  " + " | ".join(column_letter(i) for i in range(len(grid["rows"][0]))), err=True)
    for number, row in enumerate(grid["rows"][:rows], start=1):
        click.echo(f"{number:<3} " + " | ".join(v[:16] for v in row), err=True)


def _kind_name(session, code: str) -> str:
    return session.scalars(select(InstrumentType.name_zh).where(InstrumentType.code == code)).first() or code


def _report(session, batch) -> None:
    c = batch.counts
    warned = f"，有提示的行 {c['warnings']}（照常导入）" if c.get("warnings") else ""
    click.echo(f"\n工作表：{batch.sheet_name}  数据行 {c['rows']}，错误行 {c['errors']}{warned}")
    if batch.kind_code or batch.merchant_id or batch.header_rows:
        chosen = [f"表头 第{'、'.join(map(str, batch.header_rows))}行" if batch.header_rows else "",
                  f"器具种类 {_kind_name(session, batch.kind_code)}" if batch.kind_code else "",
                  f"使用单位 {batch.merchant.name}" if batch.merchant_id else ""]
        click.echo("  整个文件：" + "，".join(x for x in chosen if x))
    click.echo("  列对应：" + "，".join(f"{FIELD_BY_NAME[f].label}={column_letter(col)}列"
                                     + (f"（{batch.headers[col]}）" if col < len(batch.headers) and batch.headers[col]
                                        else "")
                                     for f, col in sorted(batch.mapping.items(), key=lambda kv: kv[1])))
    for name, label in (("merchants", "使用单位"), ("instruments", "计量器具"), ("verifications", "检定记录")):
        t = c[name]
        click.echo(f"  {label}：新增 {t['create']}，更新 {t['update']}，无变化 {t['unchanged']}")
    if batch.skipped:
        click.echo("  跳过的行：" + "、".join(f"{SKIP_LABELS.get(k, k)} {n}" for k, n in batch.skipped.items()))
    if c["errors"]:
        rows = session.scalars(select(ImportRow).where(ImportRow.batch_id == batch.id, ImportRow.merchant_action ==
                                                       "error").order_by(ImportRow.row_no).limit(30))
        for row in rows:
            for e in row.errors:
                click.echo(f"  第{row.row_no}行 {e['column']}：{e['message']}", err=True)


@import_cli.command("undo")
@click.argument("batch_id", type=int)
def undo(batch_id: int) -> None:
    """Undo an applied batch (what it created is removed, what it changed restored). Exit 0 undone, 2 refused."""
    database = current_app.extensions["database"]
    try:
        with database.session_scope() as session:
            batch = session.get(ImportBatch, batch_id)
            if batch is None:
                raise Refused(f"导入批次 #{batch_id} 不存在")
            undone = services.undo_batch(session, ACTOR, batch)
    except DomainError as err:
        raise Refused(f"未撤销：{err.message}") from err
    click.echo(f"已撤销导入批次 #{batch_id}：删除使用单位 {undone.get('merchants', 0)}、计量器具 "
               f"{undone.get('instruments', 0)}、检定记录 {undone.get('verifications', 0)}；恢复使用单位 "
               f"{undone.get('merchants_restored', 0)}、计量器具 {undone.get('instruments_restored', 0)}。")
