"""The complaints worklist (工作清单 → 投诉举报) and a complaint's page: station staff register transfers from
12315 / 12345, assign, link the inspection that checked it, record the outcome, answer and close; regional users
read."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, send_file, url_for
from flask_login import current_user

from app.clock import today
from app.complaints import queries, services
from app.complaints.forms import AssignForm, CloseForm, InspectionLinkForm, OutcomeForm, TransferForm, VoidForm
from app.complaints.models import State
from app.security import ledger_write_required, staff_required
from app.web import (arg_choice, arg_int, chosen_merchant, db, in_scope, paginate, scope, scoped_stations,
                     unit_of_work, xlsx_download)
from reports.lists import COMPLAINT_COLUMNS, complaint_rows

bp = Blueprint("complaints", __name__, template_folder="templates", url_prefix="/complaints")
STATES = {"open": "未办结", **{s.value: s.label for s in State}, "all": "全部"}


def _list():
    """The state asked for, the filter and the list's statement, from the query string."""
    state = arg_choice("state", STATES) or "open"
    f = queries.ComplaintFilter(state=None if state == "all" else state, overdue=request.args.get("overdue") == "1",
                                station_id=arg_int("station_id"), merchant_id=arg_int("merchant_id"))
    return state, f, queries.complaint_list(scope(), f, today())


@bp.route("/")
@staff_required
def index():
    """Complaints of the user's stations: open ones by default, earliest deadline first; overdue and station
    filters."""
    state, f, stmt = _list()
    now = today()
    page = paginate(stmt)
    open_, late = db().execute(queries.open_counts(scope(), now)).one()
    return render_template("complaints/index.html", page=page, state=state, states=STATES, f=f, today=now,
                           stations=scoped_stations(), open_count=open_, late_count=late)


@bp.route("/export.xlsx")
@staff_required
def export():
    """The complaints list with its current filter, as a workbook (the 投诉举报台账)."""
    _, _, stmt = _list()
    return xlsx_download(stmt, "投诉举报", COMPLAINT_COLUMNS, lambda s, list_stmt: complaint_rows(s, list_stmt, today()),
                         url_for("complaints.index"))


@bp.route("/new", methods=["GET", "POST"])
@ledger_write_required
def new():
    """Register a complaint transferred from 12315 or 12345 about a merchant of the user's stations."""
    merchant, picker = chosen_merchant("complaints/pick_merchant.html")
    if picker is not None:
        return picker
    form = TransferForm()
    if request.method == "GET":
        form.received_on.data = today()
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            complaint = services.receive_transfer(
                uow.session, current_user, scope(), merchant, form.data,
                current_app.config["COMPLAINT_DEADLINE_WORKING_DAYS"], today())
        if uow.ok:
            return uow.redirect(f"已登记，办理期限 {complaint.deadline.isoformat()}。",
                                url_for("complaints.detail", complaint_id=complaint.id))
        error = uow.error
    return render_template("complaints/new.html", form=form, merchant=merchant, error=error)


def _forms(complaint, **given) -> dict:
    forms = {
        "assign": AssignForm(formdata=None, data={"assignee_id": complaint.assignee_id, "version": complaint.version}),
        "link": InspectionLinkForm(formdata=None, data={"inspection_id": complaint.inspection_id,
                                                        "version": complaint.version}),
        "outcome": OutcomeForm(formdata=None, data={"corrects_id": complaint.current_outcome.id
                                                    if complaint.current_outcome else ""}),
        "close": CloseForm(formdata=None, data={"version": complaint.version}),
    }
    forms.update(given)
    forms["assign"].assignee_id.choices = [("", "（请选择）")] + [
        (u.id, u.display_name) for u in db().scalars(services.assignees(complaint.station_id))]
    inspections = db().execute(queries.inspections_of_merchant(complaint.merchant_id)).all()
    forms["link"].inspection_id.choices = [("", "（请选择）")] + [(i, f"{on.isoformat()} 检查") for i, on in inspections]
    return forms


def _render(complaint, error=None, status: int = 200, **given):
    from app.audit.queries import entries_for

    entries = db().scalars(entries_for("complaints", complaint.id)).all()
    return render_template("complaints/detail.html", c=complaint, forms=_forms(complaint, **given), error=error,
                           handler=services.may_handle(current_user, complaint) and not complaint.is_voided,
                           late=complaint.is_late(today()), entries=entries), status


@bp.route("/<int:complaint_id>")
@staff_required
def detail(complaint_id: int):
    """A complaint with its handling steps and their history."""
    return _render(in_scope(services.get_complaint, complaint_id))


def _handled(complaint_id: int):
    complaint = in_scope(services.get_complaint, complaint_id)
    services.refuse_unless_handler(current_user, complaint)
    return complaint


def _step(complaint, form, name: str, change, message: str):
    """Validate one step's form, make the change in one unit of work; the page again with the error otherwise."""
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            change(uow.session)
        if uow.ok:
            return uow.redirect(message, url_for("complaints.detail", complaint_id=complaint.id))
        error = uow.error
        db().refresh(complaint)
    return _render(complaint, error, **{name: form})


@bp.route("/<int:complaint_id>/assign", methods=["POST"])
@ledger_write_required
def assign(complaint_id: int):
    """Give the complaint to a user of its station."""
    complaint = _handled(complaint_id)
    form = AssignForm()
    form.assignee_id.choices = [("", "")] + [(u.id, u.display_name)
                                             for u in db().scalars(services.assignees(complaint.station_id))]
    return _step(complaint, form, "assign", lambda s: services.assign(
        s, current_user, complaint, form.assignee_id.data, expected_version=form.version.data), "已指定承办人。")


@bp.route("/<int:complaint_id>/inspection", methods=["POST"])
@ledger_write_required
def link_inspection(complaint_id: int):
    """Name the inspection of the merchant that checked the complaint."""
    complaint = _handled(complaint_id)
    form = InspectionLinkForm()
    form.inspection_id.choices = [("", "")] + [(i, str(i)) for i, _ in db().execute(queries.inspections_of_merchant(
        complaint.merchant_id))]
    return _step(complaint, form, "link", lambda s: services.link_inspection(
        s, current_user, complaint, form.inspection_id.data, expected_version=form.version.data), "已关联核查检查。")


@bp.route("/<int:complaint_id>/outcome", methods=["POST"])
@ledger_write_required
def outcome(complaint_id: int):
    """Record the check's outcome, or correct the one in force with a new entry."""
    complaint = _handled(complaint_id)
    form = OutcomeForm()
    corrects = form.corrects_id.data
    corrects_id = int(corrects) if corrects and str(corrects).isdigit() else None
    return _step(complaint, form, "outcome", lambda s: services.record_outcome(
        s, current_user, complaint, form.outcome.data, form.note.data, corrects_id=corrects_id),
        "已记录核查结论。")


@bp.route("/<int:complaint_id>/close", methods=["POST"])
@ledger_write_required
def close(complaint_id: int):
    """Answer the complainant and close the complaint."""
    complaint = _handled(complaint_id)
    form = CloseForm()
    return _step(complaint, form, "close", lambda s: services.close(
        s, current_user, complaint, reply=form.reply.data, reward_eligible=form.reward_eligible.data, on=today(),
        expected_version=form.version.data), "已办结，投诉人可凭查询编号看到答复。")


@bp.route("/<int:complaint_id>/void", methods=["GET", "POST"])
@ledger_write_required
def void(complaint_id: int):
    """Void a complaint entered by mistake (a duplicate, another bureau's), with a reason."""
    complaint = _handled(complaint_id)
    form = VoidForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.void_complaint(uow.session, current_user, complaint, form.reason.data)
        if uow.ok:
            return uow.redirect("已作废。", url_for("complaints.detail", complaint_id=complaint.id))
    return render_template("complaints/void.html", form=form, what=str(complaint),
                           back=url_for("complaints.detail", complaint_id=complaint.id))


@bp.route("/outcomes/<int:outcome_id>/void", methods=["GET", "POST"])
@ledger_write_required
def void_outcome(outcome_id: int):
    """Void an outcome recorded by mistake, with a reason; it stays visible, struck through."""
    entry = in_scope(services.get_outcome, outcome_id)
    services.refuse_unless_handler(current_user, entry.complaint)
    form = VoidForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.void_outcome(uow.session, current_user, entry, form.reason.data)
        if uow.ok:
            return uow.redirect("已作废该核查结论。", url_for("complaints.detail", complaint_id=entry.complaint_id))
    return render_template("complaints/void.html", form=form, what=f"{entry.complaint} 的{entry}",
                           back=url_for("complaints.detail", complaint_id=entry.complaint_id))


@bp.route("/<int:complaint_id>/photo")
@staff_required
def photo(complaint_id: int):
    """The complainant's photo, for staff who may see the complaint; a download, never rendered as a page."""
    complaint = in_scope(services.get_complaint, complaint_id)
    path = services.photo_path(current_app.config["EVIDENCE_STORAGE"], complaint)
    response = send_file(path, mimetype=complaint.photo_type, as_attachment=True,
                         download_name=f"{complaint.reference}{path.suffix}", conditional=True)
    response.headers["Cache-Control"] = "private, no-store"
    return response
