"""Workbook batches (one sheet per station): sort the sheets into stations, apply and undo them together.

A workbook batch is a parent ImportBatch (`is_workbook`) without rows of its own; each sheet it imports
is a child: an ordinary single-sheet batch with its own station, sheet, mapping and preview, planned,
applied and undone by app/imports/services.py unchanged. The parent keeps the sheets it leaves out in
`skipped` (sheet -> why). Services flush, never commit; the caller's one transaction covers the apply
of every sheet, so it is all or nothing.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app import uploads
from app.accounts.models import Station
from app.audit import services as audit
from app.catalog.models import InstrumentType
from app.db import utcnow
from app.errors import Invalid
from app.imports import services
from app.imports.models import ImportBatch, ImportRow, ImportStatus
from app.scope import Scope
from app.text import match_key
from importers import ImportFileError
from importers.parse import ParseOptions
from importers.sandbox import SandboxError, SandboxLimits, isolated
from importers.workbook import NO_TABLE, SUMMARY_SHEET, survey

UNMATCHED = "工作表名未能对应到您可以导入的监管所，请选择监管所"
LEFT_OUT = "已选择不导入"
CHANGED = "工作簿批次已有变化（可能刚刚调整了工作表或重新分析），请查看最新内容后再操作。"
# A station's name without the words every station's name has: 城东市场监督管理所 -> 城东.
_STATION_WORDS = re.compile(r"(市场监督管理所|市场监管所|监督管理所|监管所|管理所|分局|所)$")
_SHEET_WORDS = re.compile(r"(台账|明细表|明细|清单|登记表|一览表)$")
log = logging.getLogger(__name__)


# ----- which station a sheet is for ----------------------------------------------------------------

def _core(text: str) -> str:
    return _STATION_WORDS.sub("", _SHEET_WORDS.sub("", match_key(text)))


def match_station(sheet: str, stations: list[Station]) -> Station | None:
    """The one station a sheet's name names (its name, its code, or its name without 监管所/所), else None."""
    key = _SHEET_WORDS.sub("", match_key(sheet))
    for station in stations:
        if key in (match_key(station.name), match_key(station.code)):
            return station
    core = _core(sheet)
    if not core:
        return None
    same = [s for s in stations if _core(s.name) == core]
    if len(same) == 1:
        return same[0]
    # 城东所 for 某某县城东市场监督管理所: the one station whose name ends with the sheet's words.
    if len(core) >= 2:
        ending = [s for s in stations if _core(s.name).endswith(core)]
        if len(ending) == 1:
            return ending[0]
    return None


def station_sheets(sheets: list[str], stations: list[Station]) -> list[tuple[str, Station]]:
    """The sheets whose names name a station: two or more suggest a workbook of one sheet per station."""
    return [(sheet, station) for sheet in sheets if (station := match_station(sheet, stations)) is not None]


def assignable_stations(session: Session, user) -> list[Station]:
    """The stations a user may import into (every station for the command line, which has no user)."""
    stations = list(session.scalars(select(Station).order_by(Station.code)))
    if user is None or isinstance(user, str):
        return stations
    return [s for s in stations if user.may_edit_station(s.id)]


# ----- upload and sorting the sheets -------------------------------------------------------------

def create_workbook(session: Session, actor, scope: Scope, **upload) -> ImportBatch:
    """Keep the upload as a workbook batch (its sheets are sorted into stations by `survey_workbook`)."""
    if upload.get("merchant_id") is not None:
        raise Invalid("按全部工作表导入时不能选择供水/供电/供气企业，请按一个工作表导入", field="merchant_id")
    batch = services.create_batch(session, actor, scope, **upload)
    batch.is_workbook = True
    session.flush()
    return batch


def survey_workbook(session: Session, parent: ImportBatch, stations: list[Station], *,
                    sandbox: SandboxLimits = SandboxLimits(),
                    writing: AbstractContextManager = nullcontext()) -> list[int]:
    """Skip the summary sheets and those without a table, give each other sheet a child batch for the
    station its name names; the ids of the children to plan. A file without any table is rejected."""
    if not parent.is_workbook or parent.status != ImportStatus.PLANNING:
        raise Invalid(f"该批次状态为“{parent.status.label}”，不能重新分析")
    kinds = [(k.code, k.name_zh) for k in session.scalars(select(InstrumentType))]
    try:
        if not uploads.is_intact(Path(parent.stored_path), parent.file_size, parent.file_hash):
            raise ImportFileError("保存的台账文件已丢失或损坏，请重新上传")
        sheets = isolated(survey, parent.stored_path, parent.file_name, kinds, ParseOptions(merchant_required=False),
                          parent.file_size + 1, limits=sandbox)
    except ImportFileError as err:
        with writing:
            services.reject(parent, err.message)
            session.flush()
        raise
    except SandboxError:
        log.exception("surveying the sheets of upload %s failed", parent.stored_path)
        with writing:
            services.reject(parent, services.READ_FAILED)
            session.flush()
        return []
    with writing:
        skipped: dict[str, str] = {}
        children = []
        for name, reason in sheets:
            station = None if reason else match_station(name, stations)
            if reason or station is None:
                skipped[name] = reason or UNMATCHED
            else:
                children.append(_child(parent, name, station.id))
        parent.skipped = skipped
        if not children and all(r in (SUMMARY_SHEET, NO_TABLE) for r in skipped.values()):
            names = "、".join(f"“{n}”" for n, _ in sheets) or "无"
            services.reject(parent, f"文件中没有可识别的台账表格（已查看工作表：{names}）")
        else:
            parent.status = ImportStatus.PREVIEW
            parent.message = ""
        session.add_all(children)
        session.flush()
    return [c.id for c in children]


def _child(parent: ImportBatch, sheet: str, station_id: int) -> ImportBatch:
    """A single-sheet batch of the workbook's file, for one sheet and one station, to be planned."""
    return ImportBatch(parent=parent, station_id=station_id, file_name=parent.file_name, file_hash=parent.file_hash,
                       file_size=parent.file_size, stored_path=parent.stored_path, sheet_name=sheet,
                       sheet_names=[sheet], created_by_id=parent.created_by_id, status=ImportStatus.PLANNING,
                       counts={}, skipped={}, mapping={}, headers=[])


def child_for(parent: ImportBatch, sheet: str) -> ImportBatch | None:
    """The child batch importing a sheet, if any."""
    return next((c for c in parent.children if c.sheet_name == sheet), None)


def fingerprint(parent: ImportBatch) -> str:
    """The sheets' batches and versions as the page showed them: a changed sheet refuses a stale apply."""
    return ",".join(f"{c.id}:{c.version}" for c in parent.children)


def _editable(parent: ImportBatch, expected_version: int) -> None:
    if parent.status not in (ImportStatus.PREVIEW, ImportStatus.FAILED):
        raise Invalid(f"该批次状态为“{parent.status.label}”，不能再调整工作表")
    if parent.version != expected_version:
        raise Invalid(CHANGED)


def set_sheet_station(session: Session, actor, parent: ImportBatch, sheet: str, station_id: int | None, *,
                      stations: list[Station], expected_version: int) -> int | None:
    """Import a sheet into another station (None: leave it out); the id of the child to plan again, if any."""
    _editable(parent, expected_version)
    child = child_for(parent, sheet)
    reason = parent.skipped.get(sheet)
    if sheet not in parent.sheet_names or (child is None and reason not in (UNMATCHED, LEFT_OUT)):
        raise Invalid(f"工作表“{sheet}”{('：' + reason) if reason else '不存在'}，不能导入")
    skipped = dict(parent.skipped)
    if station_id is None:
        if child is not None:
            if child.status not in (ImportStatus.PREVIEW, ImportStatus.FAILED, ImportStatus.REJECTED):
                raise Invalid(f"工作表“{sheet}”正在分析，请稍后再操作")
            session.execute(delete(ImportRow).where(ImportRow.batch_id == child.id))
            parent.children.remove(child)
            session.delete(child)
        skipped[sheet] = LEFT_OUT
        parent.skipped = skipped
        _touch(parent)
        session.flush()
        audit.record(session, actor, "update", parent, note=f"工作表“{sheet}”不导入")
        return None
    station = next((s for s in stations if s.id == station_id), None)
    if station is None:
        raise Invalid("只能选择您负责的监管所")
    if child is None:
        child = _child(parent, sheet, station.id)
        session.add(child)
        skipped.pop(sheet, None)
        parent.skipped = skipped
    elif child.station_id == station.id and child.status == ImportStatus.PREVIEW:
        return None
    else:
        if child.status not in (ImportStatus.PREVIEW, ImportStatus.FAILED, ImportStatus.REJECTED):
            raise Invalid(f"工作表“{sheet}”正在分析，请稍后再操作")
        child.station_id = station.id
        child.status = ImportStatus.PLANNING
        child.message = ""
    _touch(parent)
    session.flush()
    audit.record(session, actor, "update", parent, note=f"工作表“{sheet}”导入到{station.name}")
    return child.id


def _touch(parent: ImportBatch) -> None:
    """A change of the parent's sheets is a change of the parent (its version moves, stale forms are refused)."""
    parent.message = ""
    parent.updated_at = utcnow()  # an UPDATE even when nothing else of the row changed


def replan_workbook(session: Session, parent: ImportBatch, *, expected_version: int) -> list[int] | None:
    """Analyse every sheet again (after a failed apply, say); the ids of the children to plan, or None when
    the sheets were never sorted (the process stopped while it looked at them): then survey it again."""
    _editable(parent, expected_version)
    if not parent.children and not parent.skipped:
        parent.status = ImportStatus.PLANNING
        _touch(parent)
        session.flush()
        return None
    ids = []
    for child in parent.children:
        if child.status in (ImportStatus.PREVIEW, ImportStatus.FAILED, ImportStatus.REJECTED):
            child.status = ImportStatus.PLANNING
            child.message = ""
            ids.append(child.id)
    parent.status = ImportStatus.PREVIEW
    _touch(parent)
    session.flush()
    return ids


# ----- apply and undo, every sheet together -----------------------------------------------------

def totals(parent: ImportBatch) -> dict:
    """The children's counts added up: rows, errors and each record kind's actions."""
    total: dict = {"rows": 0, "errors": 0}
    for child in parent.children:
        for key, value in (child.counts or {}).items():
            if isinstance(value, dict):
                into = total.setdefault(key, {})
                for action, n in value.items():
                    into[action] = into.get(action, 0) + n
            else:
                total[key] = total.get(key, 0) + value
    return total


def not_ready(parent: ImportBatch, running: Callable[[int], bool] = lambda batch_id: False) -> list[str]:
    """Why the sheets cannot be applied yet, one line per sheet that is still analysed or was not."""
    problems = []
    for child in parent.children:
        if child.status == ImportStatus.PLANNING or running(child.id):
            problems.append(f"工作表“{child.sheet_name}”正在分析")
        elif child.status != ImportStatus.PREVIEW:
            why = f"：{child.message}" if child.message else ""
            problems.append(f"工作表“{child.sheet_name}”{child.status.label}{why}")
    return problems


def start_apply_workbook(session: Session, actor, parent: ImportBatch, *, expected_version: int, sheets: str,
                         only_valid: bool, may_edit: Callable[[int], bool],
                         running: Callable[[int], bool] = lambda batch_id: False) -> None:
    """Claim a workbook batch for applying: every sheet previewed, in the actor's stations, errors only if allowed."""
    if parent.status not in (ImportStatus.PREVIEW, ImportStatus.FAILED) or parent.version != expected_version \
            or fingerprint(parent) != sheets:
        raise Invalid("该批次已经提交导入或已变化，不会重复导入。请查看批次状态。")
    if not parent.children:
        raise Invalid("没有要导入的工作表：请至少为一个工作表选择监管所")
    problems = not_ready(parent, running)
    if problems:
        raise Invalid("还有工作表未能预览，不能导入：" + "；".join(problems) + "。请等分析完成，或把该工作表设为不导入。")
    outside = [f"“{c.sheet_name}”（{c.station.name}）" for c in parent.children if not may_edit(c.station_id)]
    if outside:
        raise Invalid("您不能导入以下工作表对应的监管所：" + "、".join(outside))
    total = totals(parent)
    if total["errors"] and not only_valid:
        raise Invalid(f"各工作表共有 {total['errors']} 行错误，默认不导入任何数据。请修正后重新上传，"
                      "或勾选“只导入无错误的行”。")
    if total["rows"] - total["errors"] == 0:
        raise Invalid("没有可以导入的行")
    parent.counts = total
    parent.message = ""
    services.claim(session, actor, parent, only_valid=only_valid)


def apply_workbook(session: Session, actor, parent: ImportBatch, *, today: dt.date,
                   progress: services.Progress | None = None, sandbox: SandboxLimits = SandboxLimits()) -> dict:
    """Apply every sheet, each exactly as its preview showed, in the caller's one transaction."""
    if parent.status != ImportStatus.APPLYING:
        raise Invalid("请先确认导入")
    children = list(parent.children)
    written: dict = {}
    for number, child in enumerate(children):
        child.only_valid = parent.only_valid
        child.status = ImportStatus.APPLYING
        child.applied_by_id = parent.applied_by_id

        def part(done: int, total: int, number: int = number) -> None:
            if progress:
                progress(number * 1000 + done * 1000 // max(total, 1), len(children) * 1000)

        try:
            got = services.apply_batch(session, actor, child, today=today, progress=part, sandbox=sandbox)
        except Invalid as err:
            raise Invalid(f"工作表“{child.sheet_name}”：{err.message}") from err
        for kind, actions in got.items():
            into = written.setdefault(kind, {})
            for action, n in (actions.items() if isinstance(actions, dict) else ()):
                into[action] = into.get(action, 0) + n
    parent.status = ImportStatus.APPLIED
    parent.applied_at = utcnow()
    parent.progress_done = parent.progress_total = sum(c.progress_total for c in children)
    session.flush()
    audit.record(session, actor, "import", parent, note=f"导入工作簿的 {len(children)} 个工作表："
                 + "、".join(f"“{c.sheet_name}”→{c.station.name}" for c in children))
    return written


def undo_workbook(session: Session, actor, parent: ImportBatch) -> dict:
    """Undo every sheet, the last applied first; if any sheet cannot be undone, the caller rolls all back."""
    if not parent.is_workbook or parent.status != ImportStatus.APPLIED:
        raise Invalid("只有已导入的批次可以撤销")
    undone: dict = {}
    for child in reversed(parent.children):
        if child.status != ImportStatus.APPLIED:
            continue
        try:
            for key, n in services.undo_batch(session, actor, child, in_workbook=True).items():
                undone[key] = undone.get(key, 0) + n
        except Invalid as err:
            raise Invalid(f"工作表“{child.sheet_name}”（{child.station.name}）：{err.message}"
                          "。整个工作簿批次均未撤销。") from err
    parent.status = ImportStatus.UNDONE
    parent.undone_at = utcnow()
    parent.undone_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record(session, actor, "undo_import", parent, note=f"撤销工作簿的 {len(parent.children)} 个工作表")
    return undone
