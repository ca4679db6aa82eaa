"""`flask import ledger FILE --station CODE [--commit]`: the import from the command line."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.accounts.models import Station
from app.clock import today
from app.errors import DomainError
from app.imports import services
from app.imports.heartbeat import heartbeat_path
from app.imports.models import ImportBatch, ImportRow
from app.scope import Scope
from importers.rows import SKIP_LABELS

import_cli = AppGroup("import", help="Import legacy ledgers.")


@import_cli.command("ledger")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--station", "station_code", default=None,
              help="Station code the ledger belongs to (with --all-sheets: where the batch is filed).")
@click.option("--sheet", default=None, help="Sheet to import (default: the first with a ledger table).")
@click.option("--commit", is_flag=True, help="Write the data (default: dry run, nothing written).")
@click.option("--only-valid", is_flag=True, help="With --commit: import the valid rows even if others have errors.")
@click.option("--all-sheets", is_flag=True,
              help="Every sheet into the station its name names (汇总/说明 sheets skipped); exit 2 on errors.")
def ledger(file: Path, station_code: str | None, sheet: str | None, commit: bool, only_valid: bool,
           all_sheets: bool) -> None:
    """Preview (and with --commit apply) a ledger; exits 1 when rows have errors and nothing was imported."""
    if all_sheets:
        from app.imports.cli_workbook import all_sheets as import_all_sheets

        raise SystemExit(import_all_sheets(file, station_code, commit=commit, only_valid=only_valid))
    if station_code is None:
        raise click.UsageError("请用 --station 指定监管所编码，或用 --all-sheets 按工作表名对应监管所")
    database = current_app.extensions["database"]
    storage = current_app.config["IMPORT_STORAGE"]
    runner = current_app.extensions["import_runner"]
    with database.session_scope() as session:
        station = session.scalars(select(Station).where(Station.code == station_code.upper())).first()
        if station is None:
            raise click.ClickException(f"监管所编码 {station_code} 不存在")
        try:
            batch = services.create_batch(session, "命令行", Scope.everything(), station_id=station.id,
                                          file_name=file.name, data=file.read_bytes(), storage_dir=storage,
                                          max_bytes=current_app.config["IMPORT_MAX_BYTES"],
                                          sandbox=runner.sandbox)
        except DomainError as err:  # the upload store is full, say: nothing was kept
            raise click.ClickException(err.message) from err
        batch_id = batch.id
        if batch.message:
            click.echo(f"文件无法导入：{batch.message}", err=True)
    if batch.message:
        raise SystemExit(2)
    # Touched while the command works, so the web pages do not take the batch as interrupted.
    beat = heartbeat_path(storage, batch_id)
    runner.heartbeats.hold(beat)
    try:
        _plan_and_apply(database, batch_id, sheet=sheet, commit=commit, only_valid=only_valid, sandbox=runner.sandbox)
    finally:
        runner.heartbeats.release(beat)


def _plan_and_apply(database, batch_id: int, *, sheet: str | None, commit: bool, only_valid: bool, sandbox) -> None:
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
                services.plan_batch(session, batch, today=today(), sheet=sheet, progress=progress,
                                    sandbox=sandbox)
            except DomainError as err:
                failure = err.message  # the batch keeps the reason: commit it, then exit
            else:
                bar.update(100 - last[0])
        if failure is None:
            _report(session, batch)
    if failure is not None:
        click.echo(f"\n文件无法导入：{failure}", err=True)
        raise SystemExit(2)
    counts = batch.counts
    if not commit:
        click.echo(f"预览完成（批次 #{batch_id}），未写入任何数据。确认无误后加 --commit 导入。")
        raise SystemExit(1 if counts["errors"] else 0)
    if counts["errors"] and not only_valid:
        # The service refuses too, but its message names the web form's checkbox.
        click.echo(f"未导入：文件中有 {counts['errors']} 行错误，默认不导入任何数据。"
                   "请修正后重新导入，或加 --only-valid 只导入无错误的行。", err=True)
        raise SystemExit(1)
    try:
        with database.session_scope() as session:
            batch = session.get(ImportBatch, batch_id)
            services.start_apply(session, "命令行", batch, expected_version=batch.version, only_valid=only_valid)
            services.apply_batch(session, "命令行", batch, today=today(), sandbox=sandbox)
    except DomainError as err:
        click.echo(f"未导入：{err.message}", err=True)
        raise SystemExit(1) from err
    skipped = f"，跳过有错误的 {counts['errors']} 行" if counts["errors"] else ""
    click.echo(f"已导入（批次 #{batch_id}）{skipped}。")


def _report(session, batch) -> None:
    c = batch.counts
    click.echo(f"\n工作表：{batch.sheet_name}  数据行 {c['rows']}，错误行 {c['errors']}")
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
