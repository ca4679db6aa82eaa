"""The leads worklist (工作清单 → 未备案器具线索): station staff register the instrument from a lead in one step,
or dismiss it with a reason."""
from __future__ import annotations

from flask import Blueprint, render_template, url_for
from flask_login import current_user

from app.catalog.queries import instrument_types
from app.clock import today
from app.errors import Invalid
from app.results import queries, services
from app.results.forms import DismissForm, RegisterForm
from app.results.models import LeadState, ResultLead
from app.security import ledger_write_required, staff_required
from app.web import arg_choice, arg_int, db, in_scope, paginate, scope, scoped_stations, unit_of_work

bp = Blueprint("results", __name__, template_folder="templates", url_prefix="/leads")
STATES = {s.value: s.label for s in LeadState}


@bp.route("/")
@staff_required
def index():
    """The leads of the user's stations: pending ones by default, with their count."""
    chosen = arg_choice("state", [*STATES, "all"]) or LeadState.PENDING.value
    state = None if chosen == "all" else chosen
    station_id = arg_int("station_id")
    page = paginate(queries.lead_list(scope(), state, station_id))
    return render_template("results/index.html", page=page, state=chosen, states=STATES, station_id=station_id,
                           stations=scoped_stations(),
                           pending=db().execute(queries.pending_count(scope())).scalar_one())


def _register_form(lead: ResultLead, submitted: bool = False) -> RegisterForm:
    if submitted:
        form = RegisterForm()
    else:
        form = RegisterForm(formdata=None, data={
            "merchant_id": lead.merchant_id, "merchant_name": lead.submitter, "station_id": lead.station_id,
            "type_id": lead.type_id, "serial_no": lead.serial_no, "maker": lead.maker, "model": lead.model,
            "version": lead.version})
    merchants = [(lead.merchant.id, f"{lead.merchant.name}（{lead.merchant.station.name}）")] if lead.merchant else []
    form.merchant_id.choices = [("", "（新登记使用单位）")] + merchants
    form.station_id.choices = [(s.id, s.name) for s in scoped_stations()]
    form.type_id.choices = [(t.id, t.name_zh) for t in db().scalars(instrument_types(active_only=True))]
    return form


def _render(lead: ResultLead, *, register_form: RegisterForm | None = None, dismiss_form: DismissForm | None = None):
    writer = lead.state == LeadState.PENDING and (
        current_user.may_edit_station(lead.station_id) if lead.station_id else current_user.can_edit_ledger)
    return render_template("results/detail.html", lead=lead, writer=writer,
                           register_form=register_form or _register_form(lead),
                           dismiss_form=dismiss_form or DismissForm(formdata=None, data={"version": lead.version}))


@bp.route("/<int:lead_id>")
@staff_required
def detail(lead_id: int):
    """A lead as received, with the register and dismiss forms for those who may change its station's ledger."""
    return _render(in_scope(services.get_lead, lead_id))


@bp.route("/<int:lead_id>/register", methods=["POST"])
@ledger_write_required
def register(lead_id: int):
    """Register the lead's instrument (and merchant, when new) and record its result, in one step."""
    lead = in_scope(services.get_lead, lead_id)
    form = _register_form(lead, submitted=True)
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            merchant_values = None
            if form.merchant_id.data is None:
                if not (form.merchant_name.data or "").strip():
                    raise Invalid("请选择使用单位，或填写新使用单位的名称", field="merchant_name")
                merchant_values = {"name": form.merchant_name.data, "industry": form.industry.data,
                                   "station_id": form.station_id.data}
            instrument = services.register_lead(
                uow.session, current_user, scope(), lead, expected_version=form.version.data,
                merchant_id=form.merchant_id.data, merchant_values=merchant_values,
                instrument_values={"type_id": form.type_id.data, "serial_no": form.serial_no.data,
                                   "maker": form.maker.data, "model": form.model.data,
                                   "location": form.location.data}, today=today())
        if uow.ok:
            return uow.redirect("已登记计量器具并记录检定结果。", url_for("instruments.detail", instrument_id=instrument.id))
    return _render(lead, register_form=form)


@bp.route("/<int:lead_id>/dismiss", methods=["POST"])
@ledger_write_required
def dismiss(lead_id: int):
    """Dismiss a lead with a reason; it stays in the list of dismissed leads."""
    lead = in_scope(services.get_lead, lead_id)
    form = DismissForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.dismiss_lead(uow.session, current_user, lead, expected_version=form.version.data,
                                  reason=form.reason.data)
        if uow.ok:
            return uow.redirect("已忽略该线索（原因已记录）。", url_for("results.index"))
    return _render(lead, dismiss_form=form)
