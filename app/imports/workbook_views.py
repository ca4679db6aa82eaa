"""The workbook batch's page and actions: one sheet per station, each sheet's station, apply and undo all.

Each sheet is an ordinary batch with its own page (preview, mapping, errors workbook); this page lists
them, lets the user move a sheet to another of their stations or leave it out, and applies or undoes
every sheet at once (app/imports/workbooks.py).
"""
from __future__ import annotations

from flask import flash, render_template, url_for
from flask_login import current_user

from app.audit.queries import entries_for
from app.errors import Invalid, NotFound
from app.imports import workbooks
from app.imports.forms import SheetStationForm, WorkbookApplyForm, WorkbookForm
from app.imports.models import ImportBatch, ImportStatus
from app.imports.views import BUSY, STALE, _batch, _recovered, _runner, bp
from app.security import ledger_write_required
from app.web import db, unit_of_work

LEAVE_OUT = "— 不导入 —"


def _workbook(batch_id: int) -> ImportBatch:
    batch = _batch(batch_id)
    if not batch.is_workbook:
        raise NotFound("导入批次不存在")
    return batch


def _stations() -> list:
    """The stations the current user may import into: the only ones a sheet may be given to."""
    return workbooks.assignable_stations(db(), current_user)


def _sheet_form(stations: list, sheet: str = "", station_id: int | None = None, version: int = 0,
                submitted: bool = False) -> SheetStationForm:
    form = SheetStationForm() if submitted else SheetStationForm(
        formdata=None, data={"sheet": sheet, "station_id": station_id, "version": version})
    form.station_id.choices = [("", LEAVE_OUT)] + [(s.id, s.name) for s in stations]
    return form


def _busy(child: ImportBatch) -> bool:
    return child.status in BUSY or _runner().is_running(child.id)


def progress_of(parent: ImportBatch) -> dict:
    """The workbook's state for the page's polling script: busy while it or any of its sheets is."""
    for child in parent.children:
        if child.status in BUSY:
            _recovered(child)
    running = _runner().progress(parent.id)
    sheets = parent.children
    waiting = sum(1 for c in sheets if _busy(c))
    busy = parent.status in BUSY or running is not None or waiting > 0
    percent = None
    if parent.status == ImportStatus.APPLYING:
        label = "正在导入全部工作表，写入台账…"
        if running is not None and running[1]:
            percent = min(99, running[0] * 100 // running[1])
    elif parent.status == ImportStatus.PLANNING or running is not None:
        label = "正在查看各工作表…"
    elif waiting:
        label = f"正在分析工作表（已完成 {len(sheets) - waiting}/{len(sheets)}）…"
        percent = (len(sheets) - waiting) * 100 // max(len(sheets), 1)
    else:
        label = ""
    return {"status": parent.status.value, "status_label": parent.status.label, "busy": busy, "label": label,
            "percent": percent, "done": None, "total": None}


def render(parent: ImportBatch, *, status: int = 200, sheet_form: SheetStationForm | None = None,
           apply_form: WorkbookApplyForm | None = None, undo_form: WorkbookForm | None = None):
    """The workbook batch's page (the detail route shows it for a workbook batch)."""
    progress = progress_of(parent)
    stations = _stations()
    writer = current_user.may_edit_station(parent.station_id) and \
        all(current_user.may_edit_station(c.station_id) for c in parent.children)
    forms = {c.sheet_name: _sheet_form(stations, c.sheet_name, c.station_id, parent.version)
             for c in parent.children}
    for sheet, reason in parent.skipped.items():
        if reason in (workbooks.UNMATCHED, workbooks.LEFT_OUT):
            forms[sheet] = _sheet_form(stations, sheet, None, parent.version)
    if sheet_form is not None:
        forms[sheet_form.sheet.data] = sheet_form
    context = {
        "batch": parent,
        "progress": progress,
        "writer": writer,
        "sheets": parent.children,
        "busy": _busy,
        "forms": forms,
        "assignable": (workbooks.UNMATCHED, workbooks.LEFT_OUT),
        "totals": workbooks.totals(parent),
        "not_ready": workbooks.not_ready(parent, _runner().is_running),
        "replannable": parent.status == ImportStatus.FAILED or any(c.status == ImportStatus.FAILED
                                                                    for c in parent.children),
        "apply_form": apply_form or WorkbookApplyForm(formdata=None, data={"version": parent.version,
                                                                           "sheets": workbooks.fingerprint(parent)}),
        "undo_form": undo_form or WorkbookForm(formdata=None, data={"version": parent.version}),
        "replan_form": WorkbookForm(formdata=None, data={"version": parent.version}),
        "entries": db().scalars(entries_for("import_batches", parent.id)).all(),
    }
    return render_template("imports/workbook.html", **context), status


@bp.route("/<int:batch_id>/sheets", methods=["POST"])
@ledger_write_required
def sheet_station(batch_id: int):
    """Import one sheet of a workbook batch into another station, or leave it out; that sheet is analysed again."""
    parent = _workbook(batch_id)
    stations = _stations()
    form = _sheet_form(stations, submitted=True)
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            child = workbooks.child_for(parent, form.sheet.data)
            if child is not None and _runner().is_running(child.id):
                raise Invalid(f"工作表“{form.sheet.data}”正在分析，请稍后再操作")
            child_id = workbooks.set_sheet_station(uow.session, current_user, parent, form.sheet.data,
                                                   form.station_id.data, stations=stations,
                                                   expected_version=form.version.data)
        if uow.ok:
            if child_id is not None:
                _runner().plan(child_id)
            done = "不导入" if form.station_id.data is None else \
                "已改为导入到所选监管所，正在重新分析" if child_id is not None else "仍导入到该监管所，没有变化"
            return uow.redirect(f"工作表“{form.sheet.data}”{done}。", url_for("imports.detail", batch_id=parent.id))
    return render(parent, sheet_form=form)


@bp.route("/<int:batch_id>/replan-all", methods=["POST"])
@ledger_write_required
def replan_workbook(batch_id: int):
    """Analyse every sheet of a workbook batch again (after a failed apply, say)."""
    parent = _workbook(batch_id)
    form = WorkbookForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            if any(_runner().is_running(c.id) for c in parent.children):
                raise Invalid("还有工作表正在分析，请等分析完成后再操作")
            ids = workbooks.replan_workbook(uow.session, parent, expected_version=form.version.data)
        if uow.ok:
            if ids is None:
                _runner().survey(parent.id)
            for child_id in ids or ():
                _runner().plan(child_id)
            return uow.redirect("正在重新分析全部工作表。", url_for("imports.detail", batch_id=parent.id), "info")
    else:
        flash(STALE, "danger")
    return render(parent)


@bp.route("/<int:batch_id>/apply-all", methods=["POST"])
@ledger_write_required
def apply_workbook(batch_id: int):
    """Write every sheet as previewed, in one transaction in the background; a second submit is refused."""
    parent = _workbook(batch_id)
    form = WorkbookApplyForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            if _runner().is_running(parent.id):
                raise Invalid("该批次正在处理，请稍后再操作")
            workbooks.start_apply_workbook(uow.session, current_user, parent, expected_version=form.version.data,
                                           sheets=form.sheets.data or "", only_valid=form.only_valid.data,
                                           may_edit=current_user.may_edit_station, running=_runner().is_running)
        if uow.ok:
            _runner().apply(parent.id, current_user.id)
            return uow.redirect("已开始导入全部工作表，完成后本页会自动显示结果。",
                                url_for("imports.detail", batch_id=parent.id), "info")
    return render(parent, apply_form=form)


@bp.route("/<int:batch_id>/undo-all", methods=["POST"])
@ledger_write_required
def undo_workbook(batch_id: int):
    """Undo every sheet of a workbook batch, or none when any sheet's data has been used since."""
    parent = _workbook(batch_id)
    form = WorkbookForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            if form.version.data != parent.version:
                raise Invalid(STALE)
            if not all(current_user.may_edit_station(c.station_id) for c in parent.children):
                raise Invalid("您不能撤销其他监管所的工作表")
            workbooks.undo_workbook(uow.session, current_user, parent)
        if uow.ok:
            return uow.redirect("已撤销全部工作表的导入。", url_for("imports.detail", batch_id=parent.id))
    return render(parent, undo_form=form)
