"""Rectification orders (责令改正): the list, its export and the re-check (复查) that closes an order."""
from __future__ import annotations

from flask import render_template, request, url_for
from flask_login import current_user

from app.clock import today
from app.inspections import queries, services
from app.inspections.forms import ExtendForm, RecheckForm
from app.inspections.views import bp
from app.security import ledger_write_required, staff_required
from app.web import in_scope, paginate, scope, unit_of_work, xlsx_download
from reports.lists import RECTIFICATION_COLUMNS, rectification_rows


def _rectification_list():
    state = request.args.get("state", "open")
    if state not in queries.RECTIFICATION_STATES and state != "all":
        state = "open"
    return state, queries.rectification_list(scope(), today(), "" if state == "all" else state)


@bp.route("/rectifications/export.xlsx")
@staff_required
def rectifications_export():
    """The rectification list with its current filter, as a workbook."""
    _, stmt = _rectification_list()
    return xlsx_download(stmt, "责令改正", RECTIFICATION_COLUMNS, rectification_rows,
                         url_for("inspections.rectifications"))


@bp.route("/rectifications/")
@staff_required
def rectifications():
    """Rectification orders in the user's stations: open, late (past the deadline) or closed."""
    state, stmt = _rectification_list()
    page = paginate(stmt)
    return render_template("inspections/rectifications.html", page=page, state=state, today=today(),
                           states=queries.RECTIFICATION_STATES)


@bp.route("/rectifications/<int:rectification_id>/recheck", methods=["GET", "POST"])
@ledger_write_required
def recheck(rectification_id: int):
    """Record a re-check (复查); put right closes the order."""
    rect = in_scope(services.get_rectification, rectification_id)
    form = RecheckForm(obj=rect)
    if request.method == "GET":
        form.rechecked_on.data = today()
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            done = services.record_recheck(uow.session, current_user, rect, expected_version=form.version.data,
                                           values=form.values(), today=today())
        if uow.ok:
            return uow.redirect("已记录复查，整改已关闭。" if done.rectified else "已记录复查：尚未改正，整改继续。",
                                url_for("inspections.inspection", inspection_id=rect.finding.inspection_id))
        error = uow.error
    return render_template("inspections/recheck_form.html", form=form, rect=rect, error=error, today=today())


@bp.route("/rectifications/<int:rectification_id>/extend", methods=["GET", "POST"])
@ledger_write_required
def extend(rectification_id: int):
    """Extend an open order's deadline to a later date with a reason; earlier extensions are listed."""
    rect = in_scope(services.get_rectification, rectification_id)
    form = ExtendForm(obj=rect)
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            done = services.extend_deadline(uow.session, current_user, rect, expected_version=form.version.data,
                                            new_deadline=form.new_deadline.data, reason=form.reason.data)
        if uow.ok:
            return uow.redirect(f"整改期限已延长至 {done.new_deadline.isoformat()}。",
                                url_for("inspections.inspection", inspection_id=rect.finding.inspection_id))
        error = uow.error
    return render_template("inspections/extend_form.html", form=form, rect=rect, error=error, today=today())
