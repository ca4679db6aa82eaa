"""Import pages (台账导入): upload, the batch with its preview, apply, undo, the batch list.

The dry run and the write are tasks of the app's task queue (app/imports/runner.py, app/imports/tasks.py);
the batch page shows the status and the percentage (read from the queue's store, so any app server can) and
refreshes itself until the task is done. A refused action (a double
submit, errors without "only valid rows", a stale page, an undo something depends on) shows the
batch page again with the reason, and changes nothing.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from app.accounts.models import User
from app.audit.queries import entries_for
from app.db import utcnow
from app.errors import ERROR_TITLES, Invalid
from app.catalog.queries import instrument_types
from app.imports import queries, services, workbooks
from app.imports.forms import (ApplyForm, ChoicesForm, KindValuesForm, MappingForm, SaveMappingForm, SheetForm, UndoForm,
                               UploadForm)
from app.bodies import queries as body_queries
from app.imports.models import BatchKind, ImportBatch, ImportStatus, RowAction
from app.imports.runner import ImportRunner
from app.merchants.queries import utility_companies
from app.security import ledger_write_required, staff_required
from app.web import arg_choice, arg_int, db, in_scope, paginate, scope, scoped_stations, unit_of_work
from importers.fields import FIELD_BY_NAME, FIELDS
from importers.mapping import ColumnMapping, column_letter
from importers.rows import SKIP_LABELS
from importers.sandbox import GRID_COLUMNS
from reports.import_errors import build_errors_workbook

bp = Blueprint("imports", __name__, template_folder="templates", url_prefix="/imports")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BUSY = (ImportStatus.PLANNING, ImportStatus.APPLYING)
STALE = "该批次已有变化（可能刚刚重新分析或已在别处操作），请查看最新内容后再操作。"


def _runner() -> ImportRunner:
    return current_app.extensions["import_runner"]


def _batch(batch_id: int) -> ImportBatch:
    return in_scope(services.get_batch, batch_id)


def _limit_mb() -> int:
    return current_app.config["IMPORT_MAX_BYTES"] // 1024 // 1024


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_err):
    message = f"上传的文件超过 {_limit_mb()} MB 的上限，未保存。请把台账拆分成几个文件后分批导入。"
    return render_template("error.html", code=413, title=ERROR_TITLES[413], message=message), 413


# ----- list and upload -------------------------------------------------------------------------

@bp.route("/")
@staff_required
def index():
    """Batches of the user's stations, newest first."""
    page = paginate(queries.batch_list(scope(), station_id=arg_int("station_id"),
                                       status=arg_choice("status", ImportStatus)))
    for batch in page.items:
        if batch.status in BUSY:
            _recovered(batch)
    jobs = _runner().jobs([b.id for b in page.items])
    return render_template("imports/index.html", page=page, stations=scoped_stations(),
                           statuses=ImportStatus.choices(), jobs=jobs, job_label=_job_label, busy=BUSY)


def _job_label(batch: ImportBatch, job: dict | None) -> str:
    """What the batch's task is doing, in a few words for the list ("" when it has none)."""
    if job is None:
        return ""
    if job.get("state") == "queued":
        return "等待后台处理" if _runner().waiting_long(job) is not None else "排队等候中"
    done, total = ImportRunner.progress_of(job)
    verb = "正在导入" if batch.status == ImportStatus.APPLYING else \
        "正在分析" if batch.status == ImportStatus.PLANNING else "正在重新分析"
    return f"{verb} {min(99, done * 100 // total)}%"


@bp.route("/new", methods=["GET", "POST"])
@ledger_write_required
def new():
    """Upload a ledger: it is kept, checked and analysed; nothing is written to the ledger yet."""
    form = UploadForm()
    form.station_id.choices = [(s.id, s.name) for s in scoped_stations()]
    if request.method == "GET" and len(form.station_id.choices) == 1:
        form.station_id.data = form.station_id.choices[0][0]
    utilities = db().scalars(utility_companies(scope())).all()
    form.merchant_id.choices = [("", "（台账中有使用单位列）")] + [(m.id, f"{m.name}（{m.station.name}）")
                                                              for m in utilities]
    form.body_id.choices = [("", "（按文件中的检定机构列）")] + [(b.id, b.name) for b in
                                                          db().scalars(body_queries.bodies(active_only=True))]
    results = form.kind.data == "results"
    if form.is_submitted() and results and form.sheets.data == "all":
        form.sheets.errors = ["检定结果文件只导入一个工作表"]
    elif form.validate_on_submit():
        upload = form.file.data
        # Only the name, whatever path a browser sends along (some send C:\...\台账.xlsx).
        name = re.split(r"[\\/]", upload.filename or "")[-1] or "未命名文件"
        max_bytes = current_app.config["IMPORT_MAX_BYTES"]
        workbook = form.sheets.data == "all"
        with unit_of_work(form) as uow:
            create = workbooks.create_workbook if workbook else services.create_batch
            batch = create(uow.session, current_user, scope(), station_id=form.station_id.data,
                           file_name=name, data=upload.read(),
                           storage_dir=current_app.config["IMPORT_STORAGE"], max_bytes=max_bytes,
                           merchant_id=form.merchant_id.data, sandbox=_runner().sandbox,
                           **({"kind": BatchKind.RESULTS, "body_id": form.body_id.data} if results else {}))
        if uow.ok:
            # Only once the batch is committed may the background job read it.
            if batch.status == ImportStatus.PLANNING:
                (_runner().survey if workbook else _runner().plan)(batch.id)
            return uow.redirect(None, url_for("imports.detail", batch_id=batch.id))
    return render_template("imports/new.html", form=form, limit_mb=_limit_mb(),
                           max_bytes=current_app.config["IMPORT_MAX_BYTES"])


# ----- the batch page --------------------------------------------------------------------------

def _progress(batch: ImportBatch) -> dict:
    """Whether a task is at work on the batch (or waiting for a worker), and how far it got."""
    job = _runner().job(batch.id)
    running = ImportRunner.progress_of(job)
    busy = batch.status in BUSY or running is not None
    percent = None
    if running is not None and running[1]:
        percent = min(99, running[0] * 100 // running[1])
    elif running is not None:
        percent = 0
    waited = _runner().waiting_long(job)
    if not busy:
        label = ""
    elif waited is not None:
        label = (f"等待后台处理：已排队 {int(waited // 60) or 1} 分钟，还没有后台任务进程接手。"
                 "可以离开本页稍后再来；如长时间没有进展，请联系管理员检查后台任务进程。")
    elif running == (0, 0):
        label = "排队等候中…"
    elif batch.status == ImportStatus.APPLYING:
        label = "正在导入，写入台账…"
    elif batch.status == ImportStatus.PLANNING:
        label = "正在分析文件…"
    else:
        label = "正在重新分析…"
    return {"status": batch.status.value, "status_label": batch.status.label, "busy": busy, "label": label,
            "percent": percent, "done": running[0] if running else None, "total": running[1] if running else None,
            "queued": running == (0, 0)}


def _mapping_form(batch: ImportBatch, submitted: bool = False) -> MappingForm:
    if submitted:
        form = MappingForm()
    else:
        data = {MappingForm.field_name(f.name): batch.mapping.get(f.name) for f in FIELDS}
        form = MappingForm(formdata=None, data={**data, "version": batch.version})
    form.set_columns(list(batch.headers), [column_letter(i) for i in range(len(batch.headers))])
    form.merchant_chosen = batch.merchant_id is not None or batch.is_results
    return form


def _sheet_form(batch: ImportBatch, submitted: bool = False) -> SheetForm:
    form = SheetForm() if submitted else SheetForm(formdata=None, data={"sheet": batch.sheet_name,
                                                                        "version": batch.version})
    form.sheet.choices = [(s, s) for s in (batch.sheet_names or [batch.sheet_name])]
    return form


def _guess_header(rows: list[list[str]]) -> int | None:
    """The 0-based index of the grid row with the most filled cells (the likeliest header), or None."""
    filled = [sum(1 for v in row if v) for row in rows]
    return filled.index(max(filled)) if filled and max(filled) > 1 else None


def _found_header_row(headers: list[str], rows: list[list[str]]) -> int | None:
    """The Excel row of the grid that holds the header the import found (it lacked a column), so the page shows it."""
    labels = [h.strip() for h in headers]
    while labels and not labels[-1]:
        labels.pop()
    for i, row in enumerate(rows):
        if labels and [c.strip() for c in row[:len(labels)]] == labels:
            return i + 1
    return None


def _choices_form(batch: ImportBatch, grid: dict | None, submitted: bool = False) -> ChoicesForm:
    """The whole-file choices (sheet, header rows, kind, merchant, station) and, over the grid, the columns' fields."""
    rows = (grid or {}).get("rows") or []
    chosen = [int(r) for r in batch.header_rows or []]
    if submitted:
        form = ChoicesForm()
    else:
        header_row = chosen[-1] if chosen else _found_header_row(batch.headers, rows)
        if header_row is None and not batch.headers and (guess := _guess_header(rows)) is not None:
            header_row = guess + 1
        data = {MappingForm.field_name(f.name): batch.mapping.get(f.name) for f in FIELDS}
        form = ChoicesForm(formdata=None, data={
            **data, "version": batch.version, "sheet": batch.sheet_name, "header_row": header_row,
            "group_row": chosen[0] if len(chosen) > 1 else None, "kind_code": batch.kind_code,
            "merchant_id": batch.merchant_id, "station_id": batch.station_id,
            "with_fields": "1" if batch.status == ImportStatus.NEEDS_MAPPING else ""})
    form.sheet.choices = [(s, s) for s in (batch.sheet_names or [batch.sheet_name])]
    form.kind_code.choices = [("", "（按文件中的器具名称列）")] + [
        (k.code, k.name_zh) for k in db().scalars(instrument_types(active_only=True))]
    companies = db().scalars(utility_companies(scope())).all()
    if batch.merchant is not None and batch.merchant not in companies:
        companies.append(batch.merchant)
    form.merchant_id.choices = [("", "（台账中有使用单位列）")] + [(m.id, f"{m.name}（{m.station.name}）")
                                                              for m in companies]
    form.station_id.choices = [(s.id, s.name) for s in scoped_stations() if current_user.may_edit_station(s.id)]
    headers = list(batch.headers)
    if not headers and rows:
        at = (form.header_row.data or 0) - 1
        headers = list(rows[at]) if 0 <= at < len(rows) else [""] * len(rows[0])
    # Submitted without the grid: any column the grid could have shown is a valid choice.
    width = max(len(headers), len(rows[0]) if rows else 0, GRID_COLUMNS if submitted else 0)
    headers += [""] * (width - len(headers))
    form.set_columns(headers, [column_letter(i) for i in range(width)])
    return form


def _row_brief(cells: list, mapping: dict) -> str:
    """What a row is about, from its cells as typed: merchant (or credit code) / kind / serial."""
    def cell(name: str) -> str:
        col = mapping.get(name)
        value = cells[col] if col is not None and col < len(cells) else None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return "" if value is None else str(value).strip()

    parts = [cell("merchant_name") or cell("credit_code"), cell("kind"), cell("serial_no")]
    return " / ".join(p for p in parts if p)[:120]


def _render_detail(batch: ImportBatch, *, status: int = 200, sheet_form: SheetForm | None = None,
                   mapping_form: MappingForm | None = None, save_form: SaveMappingForm | None = None,
                   apply_form: ApplyForm | None = None, undo_form: UndoForm | None = None,
                   choices_form: ChoicesForm | None = None):
    session = db()
    row_filter = arg_choice("show", queries.ROW_FILTERS)
    rows = paginate(queries.batch_rows(batch.id, row_filter), per_page=100)
    users = {u.id: u for u in (session.get(User, i) for i in {batch.applied_by_id, batch.undone_by_id} if i)}
    has_table = bool(batch.headers)
    mapping = ColumnMapping(tuple(batch.headers), {k: int(v) for k, v in batch.mapping.items()}) if has_table \
        else None
    writer = current_user.may_edit_station(batch.station_id)
    progress = _progress(batch)
    choosing = writer and not progress["busy"] and batch.status in (ImportStatus.PREVIEW, ImportStatus.NEEDS_MAPPING)
    # The first rows of the sheet, read from the file, when the user has to show where the table is.
    grid = services.grid(batch, _runner().sandbox) if choosing and batch.status == ImportStatus.NEEDS_MAPPING \
        else None
    context = {
        "batch": batch,
        "progress": progress,
        "writer": writer,
        "rows": rows,
        "row_filter": row_filter,
        "row_filters": queries.ROW_FILTERS,
        "row_brief": _row_brief,
        "skip_labels": SKIP_LABELS,
        "fields": FIELDS,
        "field_by_name": FIELD_BY_NAME,
        "mapping": mapping,
        "column_letter": column_letter,
        "users": users,
        "entries": session.scalars(entries_for("import_batches", batch.id)).all(),
        "sheet_form": sheet_form or _sheet_form(batch),
        "mapping_form": mapping_form or (_mapping_form(batch) if has_table else None),
        "save_form": save_form or SaveMappingForm(formdata=None, data={"name": Path(batch.file_name).stem[:100]}),
        "apply_form": apply_form or ApplyForm(formdata=None, data={"version": batch.version}),
        "undo_form": undo_form or UndoForm(formdata=None, data={"version": batch.version}),
        "error_action": RowAction.ERROR,
        "grid": grid,
        "kind_name": session.scalars(queries.kind_name(batch.kind_code)).first() if batch.kind_code else None,
        "choices_form": choices_form or (_choices_form(batch, grid) if choosing else None),
        # A workbook of one sheet per station uploaded as one sheet: the page suggests the workbook mode.
        "station_sheets": workbooks.station_sheets(batch.sheet_names, workbooks.assignable_stations(session, current_user))
        if len(batch.sheet_names or ()) > 1 and batch.parent_id is None else [],
        **_kind_context(batch),
    }
    return render_template("imports/detail.html", **context), status


@bp.route("/<int:batch_id>")
@staff_required
def detail(batch_id: int):
    """The batch: file, status, mapping, counts, skipped rows, the rows with their actions and errors."""
    batch = _recovered(_batch(batch_id))
    if batch.is_workbook:
        return workbook_views.render(batch)
    return _render_detail(batch)


def _recovered(batch: ImportBatch) -> ImportBatch:
    """The batch, queued again or marked failed if its worker stopped (the `import_recovery` job does the same
    every 30 s; the page does not wait for it)."""
    if batch.status in BUSY:
        with unit_of_work() as uow:
            _runner().recover(uow.session, batch, utcnow())
    return batch


@bp.route("/<int:batch_id>/progress")
@staff_required
def progress(batch_id: int):
    """The batch's status and percentage, for the page's own polling script."""
    batch = _recovered(_batch(batch_id))
    return jsonify(workbook_views.progress_of(batch) if batch.is_workbook else _progress(batch))


@bp.route("/<int:batch_id>/errors.xlsx")
@staff_required
def errors(batch_id: int):
    """The rows with errors as a workbook: the original cells, the Excel row number and the errors."""
    batch = _batch(batch_id)
    stmt = queries.error_rows(batch.id).execution_options(yield_per=2000)
    rows = ((r.row_no, r.cells, r.errors) for r in db().scalars(stmt))
    data = build_errors_workbook(list(batch.headers), rows)
    name = f"{Path(batch.file_name).stem}_错误行.xlsx"
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True, download_name=name)


# ----- re-planning: another sheet, another mapping, saving the mapping ---------------------------

def _can_replan(batch: ImportBatch, version: int | None) -> str | None:
    """Why the preview cannot be redone now, or None."""
    if batch.status not in (ImportStatus.PREVIEW, ImportStatus.FAILED, ImportStatus.NEEDS_MAPPING):
        return f"该批次状态为“{batch.status.label}”，不能重新预览"
    if _runner().is_running(batch.id):
        return "该批次正在分析，请等分析完成后再操作"
    if batch.parent is not None and batch.parent.status not in (ImportStatus.PREVIEW, ImportStatus.FAILED):
        return f"所属工作簿批次状态为“{batch.parent.status.label}”，不能重新预览"
    if version != batch.version:
        return STALE
    return None


@bp.route("/<int:batch_id>/sheet", methods=["POST"])
@ledger_write_required
def sheet(batch_id: int):
    """Analyse another sheet of the workbook (its columns are mapped afresh)."""
    batch = _batch(batch_id)
    form = _sheet_form(batch, submitted=True)
    if form.validate_on_submit():
        problem = _can_replan(batch, form.version.data)
        if problem is None:
            _runner().plan(batch.id, sheet=form.sheet.data)
            flash(f"正在分析工作表“{form.sheet.data}”。", "info")
            return redirect(url_for("imports.detail", batch_id=batch.id))
        flash(problem, "danger")
    else:
        flash("工作表：" + "；".join(form.sheet.errors or ["请选择工作表"]), "danger")
    return _render_detail(batch, sheet_form=form)


@bp.route("/<int:batch_id>/mapping", methods=["POST"])
@ledger_write_required
def mapping(batch_id: int):
    """Preview again with the columns as the user mapped them."""
    batch = _batch(batch_id)
    if not batch.headers:
        flash("该批次没有可调整的列对应", "danger")
        return _render_detail(batch)
    form = _mapping_form(batch, submitted=True)
    if form.validate_on_submit():
        problem = _can_replan(batch, form.version.data)
        if problem is None:
            _runner().plan(batch.id, sheet=batch.sheet_name, overrides=form.overrides())
            flash("已按新的列对应重新预览。", "info")
            return redirect(url_for("imports.detail", batch_id=batch.id))
        flash(problem, "danger")
    else:
        flash("列对应有误，请按提示修改后再重新预览。", "danger")
    return _render_detail(batch, mapping_form=form)


@bp.route("/<int:batch_id>/choices", methods=["POST"])
@ledger_write_required
def choices(batch_id: int):
    """Keep what the user chose for the whole file (sheet, header rows, fields, kind, merchant, station); preview again."""
    batch = _batch(batch_id)
    form = _choices_form(batch, None, submitted=True)
    problem = _can_replan(batch, form.version.data)
    if problem is not None:
        flash(problem, "danger")
        return _render_detail(batch)
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.set_choices(uow.session, current_user, scope(), batch, sheet=form.sheet.data,
                                 header_rows=form.header_rows(), kind_code=form.kind_code.data or None,
                                 merchant_id=form.merchant_id.data, station_id=form.station_id.data)
        if uow.ok:
            _runner().plan(batch.id, overrides=form.chosen_overrides())
            return uow.redirect("已按所选设置重新分析。", url_for("imports.detail", batch_id=batch.id), "info")
    else:
        flash("导入设置有误，请按提示修改后再重新分析。", "danger")
    return _render_detail(batch, choices_form=form)


@bp.route("/<int:batch_id>/mapping/save", methods=["POST"])
@ledger_write_required
def save_mapping(batch_id: int):
    """Keep this batch's column mapping for the next file with the same header row."""
    batch = _batch(batch_id)
    form = SaveMappingForm()
    if form.validate_on_submit():
        if not batch.headers or not batch.mapping:
            flash("该批次没有可保存的列对应", "danger")
        else:
            with unit_of_work(form) as uow:
                services.save_mapping(uow.session, current_user, batch, form.name.data.strip())
            if uow.ok:
                return uow.redirect("已保存列对应：以后上传表头相同的文件时自动使用。",
                                    url_for("imports.detail", batch_id=batch.id))
    return _render_detail(batch, save_form=form)


# ----- apply and undo ----------------------------------------------------------------------------

@bp.route("/<int:batch_id>/apply", methods=["POST"])
@ledger_write_required
def apply(batch_id: int):
    """Write what the preview showed, in the background; a second submit is refused."""
    batch = _batch(batch_id)
    form = ApplyForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            if _runner().is_running(batch.id):
                raise Invalid("该批次正在分析，请等分析完成、核对预览后再确认导入")
            services.start_apply(uow.session, current_user, batch, expected_version=form.version.data,
                                 only_valid=form.only_valid.data)
        if uow.ok:
            _runner().apply(batch.id, current_user.id)
            return uow.redirect("已开始导入，完成后本页会自动显示结果。", url_for("imports.detail", batch_id=batch.id),
                                "info")
    return _render_detail(batch, apply_form=form)


@bp.route("/<int:batch_id>/undo", methods=["POST"])
@ledger_write_required
def undo(batch_id: int):
    """Remove what the batch created and restore what it changed, unless something later depends on it."""
    batch = _batch(batch_id)
    form = UndoForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            if form.version.data != batch.version:
                raise Invalid(STALE)
            services.undo_batch(uow.session, current_user, batch)
        if uow.ok:
            return uow.redirect("已撤销本次导入。", url_for("imports.detail", batch_id=batch.id))
    return _render_detail(batch, undo_form=form)


# ----- the file's kind values: mapped once for the whole file ------------------------------------

def _kind_context(batch: ImportBatch, form: KindValuesForm | None = None) -> dict:
    """The kind-values card: the file's uncertain kind values and the user's choices, with the kinds to pick."""
    chosen = dict(batch.kind_values or {})
    rows = [{**e, "chosen": chosen.pop(e["value"], None)} for e in batch.kind_findings or []]
    rows += [{"value": v, "rows": None, "unknown": False, "chosen": c} for v, c in chosen.items()]
    kinds = [(k.code, k.name_zh) for k in db().scalars(instrument_types(active_only=True))] if rows else []
    return {"kind_rows": rows, "kind_choices": kinds, "kind_skip": KindValuesForm.SKIP_CHOICE,
            "kind_form": form or KindValuesForm(formdata=None, data={"version": batch.version})}


@bp.route("/<int:batch_id>/kinds", methods=["POST"])
@ledger_write_required
def kind_values(batch_id: int):
    """Map the file's kind values to kinds (or skip their rows) and preview again."""
    batch = _batch(batch_id)
    form = KindValuesForm()
    codes = {k.code for k in db().scalars(instrument_types(active_only=True))}
    choices = form.choices(request.form, codes) if form.validate_on_submit() else None
    if choices is not None:
        problem = _can_replan(batch, form.version.data)
        if problem is None:
            with unit_of_work(form) as uow:
                services.set_kind_values(uow.session, current_user, batch, choices)
            if uow.ok:
                _runner().plan(batch.id, sheet=batch.sheet_name)
                return uow.redirect("已按指定的器具种类重新预览。", url_for("imports.detail", batch_id=batch.id), "info")
        else:
            flash(problem, "danger")
    else:
        flash("器具种类的对应有误：" + "；".join(form.form_errors or ["请重新选择"]), "danger")
    return _render_detail(batch)


from app.imports import workbook_views  # noqa: E402  the workbook batch's routes, on this blueprint
