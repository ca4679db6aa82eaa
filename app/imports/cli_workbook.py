"""`flask import ledger FILE --all-sheets`: every sheet of a county workbook into the station its name names."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app

from app.clock import today
from app.errors import DomainError
from app.imports import queries, services, workbooks
from app.imports.cli import Refused
from app.imports.heartbeat import heartbeat_path
from app.imports.models import ImportBatch, ImportStatus
from app.scope import Scope

ACTOR = "命令行"


def all_sheets(file: Path, station_code: str | None, *, commit: bool, only_valid: bool) -> int:
    """Plan (and with `commit` apply) every sheet to its matched station, print each sheet; the exit code:
    0 planned or applied cleanly, 2 refused or rows with errors (not imported)."""
    database = current_app.extensions["database"]
    storage = current_app.config["IMPORT_STORAGE"]
    runner = current_app.extensions["import_runner"]
    with database.session_scope() as session:
        stations = workbooks.assignable_stations(session, None)
        filed = next((s for s in stations if station_code and s.code == station_code.upper()), None)
        if station_code and filed is None:
            raise Refused(f"监管所编码 {station_code} 不存在")
        if not stations:
            raise Refused("还没有监管所")
        try:
            parent = workbooks.create_workbook(session, ACTOR, Scope.everything(), station_id=(filed or stations[0]).id,
                                               file_name=file.name, data=file.read_bytes(), storage_dir=storage,
                                               max_bytes=current_app.config["IMPORT_MAX_BYTES"], sandbox=runner.sandbox)
        except DomainError as err:
            raise Refused(err.message) from err
        parent_id = parent.id
        if parent.status == ImportStatus.REJECTED:
            click.echo(f"文件无法导入：{parent.message}", err=True)
            return 2
    beats = [heartbeat_path(storage, parent_id)]
    runner.heartbeats.hold(beats[0])
    try:
        children = _survey(database, parent_id, stations_of=workbooks.assignable_stations, sandbox=runner.sandbox,
                           filed=filed is not None)
        if children is None:
            return 2
        for child_id in children:
            beats.append(heartbeat_path(storage, child_id))
            runner.heartbeats.hold(beats[-1])
            with database.session_scope() as session:
                try:
                    services.plan_batch(session, session.get(ImportBatch, child_id), today=today(),
                                        sandbox=runner.sandbox)
                except DomainError:
                    pass  # the sheet's batch keeps the reason; reported below
        clean = _report(database, parent_id)
        if not commit:
            click.echo(f"预览完成（批次 #{parent_id}），未写入任何数据。确认无误后加 --commit 导入。")
            return 0 if clean else 2
        return _apply(database, parent_id, only_valid=only_valid, sandbox=runner.sandbox)
    finally:
        for beat in beats:
            runner.heartbeats.release(beat)


def _survey(database, parent_id: int, *, stations_of, sandbox, filed: bool) -> list[int] | None:
    """Sort the sheets into stations; the sheets' batch ids, or None when the file was refused."""
    with database.session_scope() as session:
        parent = session.get(ImportBatch, parent_id)
        try:
            children = workbooks.survey_workbook(session, parent, stations_of(session, None), sandbox=sandbox)
        except DomainError as err:
            click.echo(f"文件无法导入：{err.message}", err=True)
            return None
        if parent.status == ImportStatus.REJECTED:
            click.echo(f"文件无法导入：{parent.message}", err=True)
            return None
        if not filed and parent.children:  # filed under the first sheet's station when none was named
            parent.station_id = parent.children[0].station_id
        return children


def _report(database, parent_id: int) -> bool:
    """Print each sheet's outcome; True when every sheet was previewed without errors and one at least was."""
    with database.session_scope() as session:
        parent = session.get(ImportBatch, parent_id)
        clean = bool(parent.children)
        for child in parent.children:
            c = child.counts or {}
            head = f"工作表“{child.sheet_name}” → {child.station.name}（{child.station.code}）："
            if child.status != ImportStatus.PREVIEW:
                click.echo(f"{head}{child.status.label}：{child.message}", err=True)
                clean = False
                continue
            t = {k: c.get(k, {}) for k in ("merchants", "instruments", "verifications")}
            click.echo(f"{head}数据行 {c.get('rows', 0)}，错误行 {c.get('errors', 0)}；"
                       f"使用单位新增 {t['merchants'].get('create', 0)}，计量器具新增 {t['instruments'].get('create', 0)}"
                       f"、更新 {t['instruments'].get('update', 0)}，检定记录新增 {t['verifications'].get('create', 0)}")
            clean = clean and not c.get("errors")
            for error_row in session.scalars(queries.error_rows(child.id).limit(10)):
                for e in error_row.errors:
                    click.echo(f"  {child.sheet_name} 第{error_row.row_no}行 {e['column']}：{e['message']}", err=True)
        for name, reason in parent.skipped.items():
            click.echo(f"工作表“{name}”：不导入（{reason}）")
        if not parent.children:
            click.echo("没有可导入的工作表。", err=True)
        return clean


def _apply(database, parent_id: int, *, only_valid: bool, sandbox) -> int:
    """Apply every sheet in one transaction; the exit code."""
    try:
        with database.session_scope() as session:
            parent = session.get(ImportBatch, parent_id)
            workbooks.start_apply_workbook(session, ACTOR, parent, expected_version=parent.version,
                                           sheets=workbooks.fingerprint(parent), only_valid=only_valid,
                                           may_edit=lambda station_id: True)
            workbooks.apply_workbook(session, ACTOR, parent, today=today(), sandbox=sandbox)
            errors = parent.counts.get("errors", 0)
    except DomainError as err:
        message = err.message.replace("重新上传", "重新导入").replace("勾选“只导入无错误的行”",
                                                                        "加 --only-valid 只导入无错误的行")
        click.echo(f"未导入：{message}", err=True)
        return 2
    skipped = f"，跳过有错误的 {errors} 行" if errors else ""
    click.echo(f"已导入全部工作表（批次 #{parent_id}）{skipped}。")
    return 0
