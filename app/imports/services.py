"""Import batches: upload, preview (dry run), apply in one transaction, undo (flush, never commit)."""
from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app import uploads
from app.accounts.models import Station
from app.audit import services as audit
from app.bulk import Stored, bulk_insert
from app.catalog.models import InstrumentType
from app.catalog.queries import kind_aliases
from app.db import utcnow
from app.errors import Invalid, NotFound
from app.imports.heartbeat import heartbeat_path, last_beat
from app.bodies.models import VerificationBody
from app.imports.models import BatchKind, ImportBatch, ImportRow, ImportStatus, SavedMapping
from app.results.batch import ResultsPlanner, describe_applied
from app.merchants.models import Merchant
from app.scope import Scope
from importers import ColumnMapping, ImportFileError
from importers.errors import UnmappedTableError
from importers import stash
from importers.apply import apply_plan, undo_blockers, undo_records
from importers.kinds import SKIP, kind_key
from importers.parse import ParseOptions
from importers.parsed import PLAIN, ParsedSheet, cells_json, plain_cell
from importers.sandbox import (ParseRequest, SandboxError, SandboxLimits, isolated, list_sheets, options_used,
                               parse_file_packed, sheet_grid, unpack)
from importers.plan import Plan, Planner
from importers.values import to_text

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
READ_FAILED = "读取文件时出现系统错误，文件未能导入。请在Excel中打开并另存为.xlsx后重新上传；如仍失败，请联系管理员。"
log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


def get_batch(session: Session, scope: Scope, batch_id: int) -> ImportBatch:
    """A batch of a station inside the scope, else NotFound."""
    batch = session.get(ImportBatch, batch_id)
    # A workbook batch is inside the scope when every station its sheets go to is.
    if batch is None or not scope.allows(batch.station_id) or \
            (batch.is_workbook and not all(scope.allows(c.station_id) for c in batch.children)):
        raise NotFound("导入批次不存在")
    return batch


def _kinds(session: Session) -> list[tuple[str, str]]:
    return [(k.code, k.name_zh) for k in session.scalars(select(InstrumentType))]


def _aliases(session: Session) -> tuple[tuple[str, str], ...]:
    """The catalogue's other spellings as the database holds them (admins extend them)."""
    return tuple((code, alias) for code, alias in session.execute(kind_aliases()))


def _station_and_company(session: Session, scope: Scope, station_id: int, merchant_id: int | None) -> Station:
    """The batch's station, inside the scope, and its utility company (if any) of that station; else Invalid."""
    station = session.get(Station, station_id)
    if station is None or not scope.allows(station_id):
        raise Invalid("请选择您负责的监管所", field="station_id")
    if merchant_id is not None:
        company = session.get(Merchant, merchant_id)
        if company is None or company.station_id != station_id:
            raise Invalid(f"所选供水/供电/供气企业不属于{station.name}", field="merchant_id")
    return station


def create_batch(session: Session, actor, scope: Scope, *, station_id: int, file_name: str, data: bytes,
                 storage_dir: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES,
                 merchant_id: int | None = None, sandbox: SandboxLimits = SandboxLimits(),
                 kind: BatchKind = BatchKind.LEDGER, body_id: int | None = None) -> ImportBatch:
    """Keep the upload and open a batch; an unreadable file gives a rejected batch with the reason.

    `merchant_id` names the supplying company of a utility-meter ledger that lists households
    (户号, 地址, 表号...) rather than merchants: rows without a merchant become its meters.
    A results batch (`kind` results) is a verification body's results file: `body_id` names the body (None: each
    row's 检定机构 names it), `station_id` is where results of unknown merchants go as leads.
    """
    _station_and_company(session, scope, station_id, merchant_id)
    kind = BatchKind(kind)
    if kind == BatchKind.RESULTS:
        if merchant_id is not None:
            raise Invalid("检定结果文件不选择供水/供电/供气企业", field="merchant_id")
        if body_id is not None:
            body = session.get(VerificationBody, body_id)
            if body is None or not body.is_active:
                raise Invalid("请选择启用中的检定机构", field="body_id")
    else:
        body_id = None
    digest = hashlib.sha256(data).hexdigest()
    path = uploads.keep(storage_dir, f"{digest}{Path(file_name).suffix.lower()[:10]}", data, sha256=digest,
                        session=session)
    batch = ImportBatch(station_id=station_id, file_name=Path(file_name).name[:255] or "未命名文件",
                        file_hash=digest, file_size=len(data), stored_path=str(path), merchant_id=merchant_id,
                        created_by_id=getattr(actor, "id", None), status=ImportStatus.PLANNING, counts={},
                        kind=kind, body_id=body_id,
                        skipped={}, mapping={}, headers=[], sheet_names=[])
    session.add(batch)
    session.flush()
    try:
        if len(data) > max_bytes:
            raise ImportFileError(f"文件大小 {_size(len(data))}，超过上限 {_size(max_bytes)}")
        # Only the list of sheets: loading a sheet costs as much as reading it. The dry run finds
        # the table (the first visible sheet that has one) and rejects a file without one.
        # Opened in a limited child process: a crafted file can take only that down.
        batch.sheet_names = isolated(list_sheets, str(path), file_name, max_bytes, limits=sandbox)
    except ImportFileError as err:
        reject(batch, err.message)
    except SandboxError:
        log.exception("reading the sheets of upload %s failed", batch.stored_path)
        reject(batch, READ_FAILED)
    session.flush()
    audit.record(session, actor, "upload", batch, note=f"上传{'检定结果' if batch.is_results else '台账'}文件 {batch.file_name}（{len(data)} 字节，"
                                                          f"SHA-256 {digest[:12]}…）")
    return batch


def planner_for(session: Session, batch: ImportBatch, today: dt.date) -> Planner | ResultsPlanner:
    """The planner of the batch's kind: the ledger's, or a body's results matched to the ledger."""
    if batch.is_results:
        return ResultsPlanner(session, station_id=batch.station_id, today=today, body=batch.body, batch_id=batch.id,
                              file_name=batch.file_name)
    return Planner(session, batch.station_id, today, default_merchant_id=batch.merchant_id)


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB"


def reject(batch: ImportBatch, message: str) -> None:
    """Mark a batch as not importable, with the reason shown to the user."""
    batch.status = ImportStatus.REJECTED
    batch.message = message


def parse_options(batch: ImportBatch) -> ParseOptions:
    """How the batch's file is read: the header rows and kind chosen for it, and whether rows need a merchant."""
    rows = [int(r) for r in batch.header_rows or []]
    return ParseOptions(merchant_required=batch.merchant_id is None and not batch.is_results, default_kind=batch.kind_code or None,
                        header_row=rows[-1] if rows else None, group_row=rows[0] if len(rows) > 1 else None,
                        kind_values=tuple(sorted((str(k), str(v)) for k, v in (batch.kind_values or {}).items())))


def await_mapping(batch: ImportBatch, err: ImportFileError) -> None:
    """A spreadsheet the import could not map by itself: the batch waits for the user's column choices."""
    batch.status = ImportStatus.NEEDS_MAPPING
    batch.message = err.message
    batch.counts = {}
    batch.skipped = {}
    if isinstance(err, UnmappedTableError):
        # No sheet named: none had a table; the mapping page starts from the first.
        batch.sheet_name = err.sheet or batch.sheet_name or next(iter(batch.sheet_names or []), "")
        batch.headers = list(err.headers)
        batch.mapping = dict(err.fields)


def set_choices(session: Session, actor, scope: Scope, batch: ImportBatch, *, sheet: str | None,
                header_rows: list[int],
                kind_code: str | None, merchant_id: int | None, station_id: int) -> None:
    """Keep what the user chose for the whole file (sheet, header rows, kind, merchant, station) for the next dry run.

    A new sheet or header row drops the column mapping: it is found afresh from the new header.
    `sheet` None keeps the batch's (before the first dry run: the first sheet with a table).
    """
    if batch.status not in (ImportStatus.PLANNING, ImportStatus.PREVIEW, ImportStatus.FAILED,
                            ImportStatus.NEEDS_MAPPING):
        raise Invalid(f"该批次状态为“{batch.status.label}”，不能修改导入设置")
    if sheet is None:
        sheet = batch.sheet_name
    elif sheet not in (batch.sheet_names or [batch.sheet_name]):
        raise Invalid(f"文件中没有工作表“{sheet}”", field="sheet")
    header_rows = [int(r) for r in header_rows]
    if any(r < 1 for r in header_rows) or (len(header_rows) == 2 and header_rows[0] >= header_rows[1]) \
            or len(header_rows) > 2:
        raise Invalid("表头分组行应在表头行之上", field="group_row")
    _station_and_company(session, scope, station_id, merchant_id)
    if kind_code and session.scalars(select(InstrumentType.id).where(InstrumentType.code == kind_code)).first() is None:
        raise Invalid("目录中没有所选的器具种类", field="kind_code")
    if sheet != batch.sheet_name or header_rows != list(batch.header_rows or []):
        batch.headers, batch.mapping = [], {}
    changes = []
    for name, label, value in (("sheet_name", "工作表", sheet), ("header_rows", "表头行", header_rows),
                               ("kind_code", "器具种类", kind_code or None), ("merchant_id", "使用单位", merchant_id),
                               ("station_id", "监管所", station_id)):
        if getattr(batch, name) != value:
            changes.append(audit.change_row(name, label, _shown(session, name, getattr(batch, name)),
                                            _shown(session, name, value)))
            setattr(batch, name, value)
    session.flush()
    if changes:
        audit.record(session, actor, "update", batch, changes=changes, note="修改导入设置")


def _shown(session: Session, name: str, value) -> str:
    """A choice as the audit log shows it: rows, the kind's, merchant's or station's name."""
    if name == "header_rows":
        return "、".join(f"第{v}行" for v in value) or "自动识别"
    if value is None:
        return ""
    if name == "kind_code":
        kind = session.scalars(select(InstrumentType).where(InstrumentType.code == value)).first()
        return kind.name_zh if kind else value
    if name in ("merchant_id", "station_id"):
        record = session.get(Merchant if name == "merchant_id" else Station, value)
        return record.name if record else str(value)
    return str(value)


def grid(batch: ImportBatch, sandbox: SandboxLimits = SandboxLimits()) -> dict | None:
    """The first rows of the batch's sheet as text (read in the limited child), or None when it cannot be read."""
    if not uploads.is_intact(Path(batch.stored_path), batch.file_size, batch.file_hash):
        return None
    try:
        return isolated(sheet_grid, batch.stored_path, batch.file_name, batch.sheet_name or None, limits=sandbox)
    except ImportFileError:
        return None
    except SandboxError:
        log.exception("reading the first rows of upload %s failed", batch.stored_path)
        return None


def _read(session: Session, batch: ImportBatch, sheet: str | None, overrides: dict | None,
          progress: Progress | None, sandbox: SandboxLimits, *,
          parts: Callable[[ParsedSheet | bytes], None]) -> tuple[ParsedSheet, int]:
    """The dry run's parse of the batch's file: its rows go to `parts` as they are parsed (and the child
    stashes them for the apply); (the rows after the last part with the whole sheet's counts, rows in the sheet)."""
    kinds = _kinds(session)
    return _parse(session, batch, sheet, overrides, progress, kinds, parse_options(batch), sandbox, stash_it=True,
                  parts=parts, aliases=_aliases(session))


def _take_sheet(batch: ImportBatch, parsed: ParsedSheet) -> None:
    """Keep on the batch which sheet, header and mapping the parse used, and what it skipped."""
    batch.sheet_name = parsed.sheet
    batch.headers = list(parsed.headers)
    batch.mapping = {f: c for f, c in parsed.mapping.fields.items()}
    batch.skipped = {k: n for k, n in parsed.skipped.items() if n}
    batch.reading_notes = list(parsed.notes)


def _parse(session: Session, batch: ImportBatch, sheet: str | None, overrides: dict | None,
           progress: Progress | None, kinds: list, options: ParseOptions, sandbox: SandboxLimits, *,
           stash_it: bool, parts: Callable[[ParsedSheet | bytes], None] | None = None,
           aliases: tuple[tuple[str, str], ...] | None = None):
    """Parse the stored upload in a limited child process (importers/sandbox.py)."""
    # The stored file is read only when it is still the one uploaded (not truncated or replaced since).
    if not uploads.is_intact(Path(batch.stored_path), batch.file_size, batch.file_hash):
        raise ImportFileError("保存的台账文件已丢失或损坏，请重新上传")
    mapping = None
    if batch.mapping and batch.headers and overrides is None and sheet in (None, batch.sheet_name):
        mapping = ColumnMapping(tuple(batch.headers), {k: int(v) for k, v in batch.mapping.items()})
    saved_rows = session.scalars(select(SavedMapping)).all() if mapping is None else []
    saved = {m.signature: m.mapping for m in saved_rows}
    saved_values = {m.signature: tuple(sorted(m.kind_values.items())) for m in saved_rows if m.kind_values}
    request = ParseRequest(path=batch.stored_path, filename=batch.file_name, kinds=tuple(map(tuple, kinds)),
                           options=options, sheet=sheet or batch.sheet_name or None, mapping=mapping,
                           overrides=overrides, saved_mappings=saved, keep_cells=cells_json,
                           stash_in=(str(Path(batch.stored_path).parent), batch.file_hash) if stash_it else None,
                           aliases=aliases, saved_kind_values=saved_values)

    def report(read: tuple[int, int]) -> None:
        if progress:
            progress(read[0], 2 * max(read[1], 1))

    parsed, total = isolated(parse_file_packed, request, limits=sandbox, progress=report, parts=parts)
    parsed = unpack(parsed)
    used = options_used(request, parsed.mapping.signature)
    if used is not options:  # a saved mapping came with the kind values chosen for its files: the batch keeps them
        batch.kind_values = dict(used.kind_values)
    return parsed, total


class _Preview:
    """A dry run's plan and preview rows, made a part of the file at a time while the child parses the rest.

    Planning reads the ledger and the preview rows are written under `writing` (the runner's writer lock).
    When it is free as the first rows arrive, it is taken then, and the rows are planned as they come: the
    child's core parses while this one plans. When another job is writing, the rows wait here (the
    child is not held up), and are planned once the file is read and the lock is ours, as before.
    The preview rows are written as their part is planned only when a failure later in the file would
    remove the preview anyway (`write_early`); otherwise all at the end, so that the previous preview
    stays as it was if this file cannot be used.
    """

    def __init__(self, session: Session, batch: ImportBatch, today: dt.date, writing: AbstractContextManager, *,
                 write_early: bool) -> None:
        self.session = session
        self.batch = batch
        self.planner = planner_for(session, batch, today)
        self.writing = writing
        self.held = ExitStack()
        self.holding = False
        self.waiting: list[ParsedSheet | bytes] = []
        self.write_early = write_early
        self.written: int | None = None  # preview rows written so far; None: the previous preview is still there
        self.kind_col: int | None = None
        self.found: dict[str, dict] = {}  # the file's uncertain kind values, counted as rows are written
        self.settle: Callable[[], None] = lambda: None  # see `_settled`

    def take(self, part: ParsedSheet | bytes) -> None:
        """The next rows from the child: planned now if `writing` is ours or free, else kept for later."""
        if not self.holding and (self.waiting or not self._enter(blocking=False)):
            self.waiting.append(part)
            return
        self.plan(part)

    def enter(self) -> None:
        """Take `writing` (waiting for it) and plan the rows that waited for it."""
        if not self.holding:
            self._enter(blocking=True)
        waiting, self.waiting = self.waiting, []
        for part in waiting:
            self.plan(part)

    def _enter(self, *, blocking: bool) -> bool:
        acquire = getattr(self.writing, "acquire", None)
        if acquire is None or blocking:
            self.held.enter_context(self.writing)
        elif acquire(blocking=False):
            self.held.callback(self.writing.release)
        else:
            return False
        self.holding = True
        return True

    def plan(self, part: ParsedSheet | bytes) -> None:
        """Plan these rows (`writing` is ours), and write them now if the preview is written as it goes."""
        parsed = unpack(part)
        self.kind_col = parsed.mapping.column("kind")
        rows = self.planner.plan_part(parsed, consume=True)
        if self.write_early:
            self.write(rows)
        self.settle()

    def kind_findings(self) -> list[dict]:
        """The file's uncertain kind values with their row counts (see `add_kind_findings`)."""
        return kind_findings(self.found)

    def write(self, rows: list) -> None:
        """Write these planned rows as preview rows (the first time, in place of the previous preview)."""
        if self.written is None:
            self.session.execute(delete(ImportRow).where(ImportRow.batch_id == self.batch.id))
            self.written = 0
        _insert_preview_rows(self.session, self.batch.id, rows)
        add_kind_findings(self.found, rows, self.kind_col)  # before the cells go
        self.written += len(rows)
        for r in rows:
            r.cells = ()  # the preview row holds them now (and a plan from the stash has none): 30 MB in 100,000 rows


@contextmanager
def _settled() -> Iterator[Callable[[], None]]:
    """Lets a step mark what it allocated so far as settled: left out of the cyclic collector's passes until the end.

    A dry run or an apply builds up hundreds of thousands of objects (a plan per row and per record)
    that live until the step ends and form no garbage cycles, and each full pass of the collector
    walked all of them again (about 2 s of a 100,000-row dry run, 3 s of its apply). `gc.freeze()`
    moves what exists to a generation the collector skips; the collector itself stays on for
    everything allocated after (in this thread and others), and at the end everything is handed back.
    """
    try:
        yield gc.freeze
    finally:
        gc.unfreeze()


def plan_batch(session: Session, batch: ImportBatch, *, today: dt.date, sheet: str | None = None,
               overrides: dict | None = None, progress: Progress | None = None,
               sandbox: SandboxLimits = SandboxLimits(), writing: AbstractContextManager = nullcontext()) -> Plan:
    """The dry run: read, map, normalise, validate and plan; keep each row's outcome for the preview.

    `writing` is held around planning and writing the preview: the runner passes a lock so that dry
    runs read files side by side but write one at a time. It is taken as the first rows arrive when
    it is free (planning then keeps pace with the parse), else once the file is read.
    """
    if batch.is_workbook:
        raise Invalid("工作簿批次按工作表分别预览")
    # A failed apply (the ledger changed since the preview) can be previewed again.
    if batch.status not in (ImportStatus.PLANNING, ImportStatus.PREVIEW, ImportStatus.FAILED,
                            ImportStatus.NEEDS_MAPPING):
        raise Invalid(f"该批次状态为“{batch.status.label}”，不能重新预览")
    replacing = sheet is None and overrides is None
    preview = _Preview(session, batch, today, writing, write_early=replacing)
    with _settled() as preview.settle, preview.held:
        try:
            last, total = _read(session, batch, sheet, overrides, progress, sandbox, parts=preview.take)
        except ImportFileError as err:
            preview.waiting.clear()
            with nullcontext() if preview.holding else writing:
                if batch.status in (ImportStatus.PREVIEW, ImportStatus.FAILED) and not replacing:
                    # Another sheet or mapping that cannot be used leaves the previous preview as it was.
                    batch.message = err.message
                else:
                    session.execute(delete(ImportRow).where(ImportRow.batch_id == batch.id))
                    if isinstance(err, UnmappedTableError) or batch.status == ImportStatus.NEEDS_MAPPING:
                        await_mapping(batch, err)
                    else:
                        reject(batch, err.message)
                session.flush()
            raise
        preview.enter()
        preview.plan(last)
        _take_sheet(batch, last)  # the last part: the whole sheet's skipped counts
        plan = preview.planner.finish()
        if progress:
            progress(total, 2 * max(total, 1))
        if preview.written is None:
            preview.write(plan.rows)
        batch.kind_findings = preview.kind_findings()
        return _write_preview(session, batch, plan)


KIND_FINDINGS_MAX = 50  # distinct values listed on the batch page


def add_kind_findings(found: dict[str, dict], rows: list, kind_col: int | None) -> None:
    """Count into `found` the rows' kind values that did not resolve with certainty (unknown, read by a rule,
    chosen by the user, or not fitting the merchant's industry), by comparison key."""
    if kind_col is None:
        return
    for r in rows:
        unknown = any(e.field == "kind" for e in r.errors)
        if not unknown and not any(w.field == "kind" for w in r.warnings):
            continue
        cells = json.loads(r.cells) if r.cells.__class__ is bytes else r.cells
        value = cells[kind_col] if kind_col < len(cells) else None
        text = to_text(value) if value not in (None, "") else ""
        if not text:
            continue
        entry = found.setdefault(kind_key(text), {"value": text, "rows": 0, "unknown": False})
        entry["rows"] += 1
        entry["unknown"] = entry["unknown"] or unknown


def kind_findings(found: dict[str, dict]) -> list[dict]:
    """The counted kind values as the batch keeps them: most rows first."""
    return sorted(found.values(), key=lambda e: (-e["rows"], e["value"]))[:KIND_FINDINGS_MAX]


def set_kind_values(session: Session, actor, batch: ImportBatch, choices: dict[str, str | None]) -> dict[str, str]:
    """Keep the user's choice for the file's kind values ({value: code, SKIP, or None to forget the choice});
    the caller re-plans."""
    codes = {k.code: k.name_zh for k in session.scalars(select(InstrumentType).where(InstrumentType.is_active))}
    for value, code in choices.items():
        if code is not None and code != SKIP and code not in codes:
            raise Invalid(f"“{value}”所选的器具种类不在目录中，请重新选择")
        if len(value) > 200:
            raise Invalid("器具种类的写法过长")
    kept = {k: v for k, v in (batch.kind_values or {}).items() if k not in choices}
    kept.update({k: v for k, v in choices.items() if v is not None})
    if kept == (batch.kind_values or {}):
        return kept
    batch.kind_values = kept
    session.flush()
    shown = "；".join(f"{v}→{'非强检器具，跳过' if c == SKIP else codes[c]}" for v, c in kept.items()) or "无（按自动识别）"
    audit.record(session, actor, "update", batch, note=f"为本文件指定器具种类：{shown}")
    return kept


def _write_preview(session: Session, batch: ImportBatch, plan: Plan) -> Plan:
    """Finish the preview whose rows are written: the batch's counts and status."""
    batch.counts = plan.counts()
    batch.status = ImportStatus.PREVIEW
    batch.message = ""
    session.flush()
    return plan


def _insert_preview_rows(session: Session, batch_id: int, plans: list) -> None:
    """Insert the planned rows as the batch's preview rows."""
    # Built while inserted: 100,000 row dicts at once were tens of MB more at the dry run's peak.
    rows = ({"batch_id": batch_id, "row_no": r.row, "merchant_action": r.merchant_action,
             "instrument_action": r.instrument_action, "verification_action": r.verification_action,
             "errors": _problems(r.errors), "warnings": _problems(r.warnings),
             "cells": Stored(r.cells.decode()) if r.cells.__class__ is bytes
             else [c if c.__class__ in PLAIN else plain_cell(c) for c in r.cells],
             "summary": r.summary} for r in plans)
    bulk_insert(session, ImportRow.__table__, rows)


_NO_PROBLEMS = Stored("[]")  # a row without errors (or warnings), as JSON (one value: bulk_insert sends it as it is)


def _problems(problems: list) -> list | Stored:
    """A row's errors or warnings as import_rows stores them."""
    return [{"column": e.column, "message": e.message} for e in problems] if problems else _NO_PROBLEMS


def start_apply(session: Session, actor, batch: ImportBatch, *, expected_version: int, only_valid: bool) -> None:
    """Claim the batch for applying; a second submit of the same preview is refused."""
    _alone(batch, "确认导入")
    if batch.status != ImportStatus.PREVIEW or batch.version != expected_version:
        raise Invalid("该批次已经提交导入或已变化，不会重复导入。请查看批次状态。")
    errors = batch.counts.get("errors", 0)
    if errors and not only_valid:
        raise Invalid(f"文件中有 {errors} 行错误，默认不导入任何数据。请修正后重新上传，或勾选“只导入无错误的行”。")
    if batch.counts.get("rows", 0) - errors == 0:
        raise Invalid("没有可以导入的行")
    claim(session, actor, batch, only_valid=only_valid)


def claim(session: Session, actor, batch: ImportBatch, *, only_valid: bool) -> None:
    """Mark a checked batch (a sheet's or a workbook's) as being applied; a second submit of the same page is refused."""
    batch.only_valid = only_valid
    batch.status = ImportStatus.APPLYING
    batch.applied_by_id = getattr(actor, "id", None)
    try:
        session.flush()
    except StaleDataError as err:  # another submit of the same page claimed the batch first
        raise Invalid("该批次已经提交导入或已变化，不会重复导入。请查看批次状态。") from err


def apply_batch(session: Session, actor, batch: ImportBatch, *, today: dt.date,
                progress: Progress | None = None, sandbox: SandboxLimits = SandboxLimits()) -> dict:
    """Write exactly what the preview showed, in the caller's one transaction."""
    if batch.status != ImportStatus.APPLYING:
        raise Invalid("请先确认导入")
    # The dry run's parse of the same file, mapping and catalogue: only planning is done again, as
    # that is what finds what changed in the ledger since the preview.
    with _settled() as settle:
        plan = _replan(session, batch, today, progress, sandbox, settle)
        if plan.counts() != batch.counts or not _same_rows(session, batch, plan):
            raise Invalid("预览之后台账或文件已有变化，导入未执行。请重新预览后再确认。")
        now = utcnow()
        # Reading and planning is the first half of the progress, writing the second.
        if batch.is_results:
            written = plan.apply(session, actor_id=getattr(actor, "id", None), now=now)
        else:
            written = apply_plan(session, plan, batch_id=batch.id, actor_id=getattr(actor, "id", None), now=now,
                                 progress=(lambda done, total: progress(total + done, 2 * max(total, 1))) if progress
                                 else None)
    batch.status = ImportStatus.APPLIED
    batch.applied_at = now
    batch.progress_done = batch.progress_total = len(plan.rows)
    session.flush()
    audit.record(session, actor, "import", batch, note=describe_applied(written) if batch.is_results
                 else _describe(written, batch.counts))
    return written


def _replan(session: Session, batch: ImportBatch, today: dt.date, progress: Progress | None,
            sandbox: SandboxLimits, settle: Callable[[], None]) -> Plan:
    """Plan the batch again for the apply, a part at a time: the dry run's stashed parse of the same file,
    mapping and catalogue, else (no stash, or a damaged one) the file read again."""
    kinds, aliases = _kinds(session), _aliases(session)
    options = parse_options(batch)

    def planner() -> Planner | ResultsPlanner:
        return planner_for(session, batch, today)

    blobs = None
    if batch.sheet_name and batch.headers:
        blobs = stash.load_parts(stash.parse_path(Path(batch.stored_path).parent, batch.file_hash,
                                                  sheet=batch.sheet_name, headers=batch.headers,
                                                  mapping=batch.mapping, kinds=kinds, options=options,
                                                  aliases=aliases))
    last = None
    if blobs is not None:
        stashed = planner()
        for blob in blobs:
            last = stash.loads(blob)
            if last is None:
                break
            stashed.plan_part(last, consume=True)
            settle()
    if last is not None:
        plan = stashed.finish()
        total = len(plan.rows)
    else:
        fresh = planner()

        def take(part: ParsedSheet | bytes) -> None:
            fresh.plan_part(unpack(part), consume=True)
            settle()

        last, total = _parse(session, batch, None, None, progress, kinds, options, sandbox, stash_it=False, parts=take,
                             aliases=aliases)
        take(last)
        plan = fresh.finish()
    _take_sheet(batch, last)
    if progress:
        progress(total, 2 * max(total, 1))
    return plan


def _same_rows(session: Session, batch: ImportBatch, plan: Plan) -> bool:
    """True when every row is planned as the preview showed it (same counts can hide other rows)."""
    shown = session.execute(select(ImportRow.row_no, ImportRow.merchant_action, ImportRow.instrument_action,
                                   ImportRow.verification_action)
                            .where(ImportRow.batch_id == batch.id).order_by(ImportRow.row_no)).all()
    return [tuple(r) for r in shown] == [(r.row, r.merchant_action, r.instrument_action, r.verification_action)
                                         for r in plan.rows]


def _describe(written: dict, counts: dict) -> str:
    return (f"导入台账：使用单位新增 {written['merchants']['create']}、更新 {written['merchants']['update']}；"
            f"计量器具新增 {written['instruments']['create']}、更新 {written['instruments']['update']}；"
            f"检定记录新增 {written['verifications']['create']}；错误行 {counts.get('errors', 0)}（未导入）")


STALE_AFTER = dt.timedelta(seconds=30)
INTERRUPTED = "处理过程中断（如服务重启或后台处理进程被终止），没有写入任何数据。请重新预览后再导入。"


def last_alive(batch: ImportBatch, beat: dt.datetime | None = None) -> dt.datetime:
    """The last sign that someone is at work on the batch: its row, its heartbeat file, or `beat` (the queue's)."""
    last = batch.updated_at
    for moment in (last_beat(heartbeat_path(Path(batch.stored_path).parent, batch.id)), beat):
        if moment is not None and moment > last:
            last = moment
    return last


def recover_interrupted(session: Session, batch: ImportBatch, now: dt.datetime,
                        after: dt.timedelta = STALE_AFTER, *, beat: dt.datetime | None = None,
                        message: str = INTERRUPTED) -> bool:
    """A batch left 'planning' or 'applying' by a stopped or killed process becomes failed (nothing was written).

    A process at work on a batch beats every IMPORT_HEARTBEAT_SECONDS (its heartbeat file, app/imports/heartbeat.py,
    and `beat`, the queue's record of its task); once neither those nor the row have moved for `after`, nobody is.
    """
    if batch.status not in (ImportStatus.PLANNING, ImportStatus.APPLYING):
        return False
    if now - last_alive(batch, beat) < after:
        return False
    fail_batch(session, batch, message)
    return True


def fail_batch(session: Session, batch: ImportBatch, message: str) -> None:
    """Record that applying failed; nothing of it was written (its transaction rolled back)."""
    batch.status = ImportStatus.FAILED
    batch.message = message[:2000]
    session.flush()


def _alone(batch: ImportBatch, what: str) -> None:
    """A sheet of a workbook batch is applied and undone with the others, from the workbook's page."""
    if batch.is_workbook:
        raise Invalid(f"批次 #{batch.id} 是工作簿批次，请在其页面统一{what}全部工作表")
    if batch.parent_id is not None:
        raise Invalid(f"该工作表属于工作簿批次 #{batch.parent_id}，请在工作簿批次页面统一{what}")


def undo_batch(session: Session, actor, batch: ImportBatch, *, in_workbook: bool = False) -> dict:
    """Remove what the batch created and restore what it changed, while nothing later depends on it."""
    if batch.is_workbook:  # every sheet, or none (app/imports/workbooks.py)
        from app.imports.workbooks import undo_workbook  # it builds on this module

        return undo_workbook(session, actor, batch)
    if not in_workbook:
        _alone(batch, "撤销")
    if batch.status != ImportStatus.APPLIED:
        raise Invalid("只有已导入的批次可以撤销")
    problems = undo_blockers(session, batch.id)
    if problems:
        shown = "；".join(problems[:5]) + (f"；等共 {len(problems)} 处" if len(problems) > 5 else "")
        raise Invalid(f"该批次导入的数据已被后续操作使用，不能撤销：{shown}")
    now = utcnow()
    undone = undo_records(session, batch.id, now)
    batch.status = ImportStatus.UNDONE
    batch.undone_at = now
    batch.undone_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record(session, actor, "undo_import", batch,
                 note=f"撤销导入：删除使用单位 {undone.get('merchants', 0)}、计量器具 {undone.get('instruments', 0)}、"
                      f"检定记录 {undone.get('verifications', 0)}、未备案器具线索 {undone.get('result_leads', 0)}；恢复使用单位 {undone.get('merchants_restored', 0)}、"
                      f"计量器具 {undone.get('instruments_restored', 0)}")
    return undone


def save_mapping(session: Session, actor, batch: ImportBatch, name: str) -> SavedMapping:
    """Keep the batch's column mapping for the next file with the same header row."""
    mapping = ColumnMapping(tuple(batch.headers), {k: int(v) for k, v in batch.mapping.items()})
    saved = session.scalars(select(SavedMapping).where(SavedMapping.signature == mapping.signature)).first()
    if saved is None:
        saved = SavedMapping(signature=mapping.signature, name=name or batch.file_name,
                             created_by_id=getattr(actor, "id", None))
        session.add(saved)
    saved.mapping = dict(batch.mapping)
    saved.kind_values = dict(batch.kind_values or {})
    saved.name = name or saved.name
    session.flush()
    return saved
