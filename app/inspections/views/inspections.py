"""Inspections (监督检查): the list and its exports, recording a visit and its findings, the print views and
the station figures."""
from __future__ import annotations

import datetime as dt

from flask import render_template, request, url_for
from flask_login import current_user

from app.audit.queries import entries_for, entries_for_many
from app.catalog.queries import finding_codes, instrument_types
from app.clock import today
from app.inspections import queries, services
from app.inspections.forms import CheckCorrectionForm, FindingForm, InspectionForm
from app.inspections.models import CheckOutcome, Inspection, Measure
from app.inspections.views import bp, stations_by_id
from app.instruments.queries import instruments_of_merchant
from app.merchants.models import Merchant
from app.merchants.services import get_merchant
from app.security import ledger_write_required, staff_required
from app.voiding.forms import VoidForm
from app.web import (arg_int, chosen_merchant, db, in_scope, paginate, scope, scoped_stations, shared_figures,
                     unit_of_work, xlsx_download)
from reports.lists import FINDING_COLUMNS, INSPECTION_COLUMNS, finding_rows, inspection_rows


def _inspection_list():
    """The inspection list's statement for the request's filter, and the merchant it names (404 outside scope)."""
    merchant_id = arg_int("merchant_id")
    merchant = in_scope(get_merchant, merchant_id) if merchant_id else None
    return queries.inspection_list(scope(), campaign_id=arg_int("campaign_id"), merchant_id=merchant_id,
                                   station_id=arg_int("station_id")), merchant


@bp.route("/inspections/")
@staff_required
def inspections():
    """Inspections in the user's stations, newest first; filter by campaign, station or merchant."""
    stmt, merchant = _inspection_list()
    campaigns = db().scalars(queries.campaign_list().limit(100)).all()
    station_id = arg_int("station_id")
    stations = (Inspection.station_id, frozenset({station_id}) if station_id else scope().station_ids)
    return render_template("inspections/inspections.html", page=paginate(stmt, stations=stations),
                           stations=scoped_stations(),
                           campaigns=campaigns, merchant=merchant)


@bp.route("/inspections/export.xlsx")
@staff_required
def inspections_export():
    """The inspection list with its current filter, as a workbook."""
    stmt, _ = _inspection_list()
    return xlsx_download(stmt, "监督检查", INSPECTION_COLUMNS, inspection_rows, url_for("inspections.inspections"))


@bp.route("/inspections/findings.xlsx")
@staff_required
def findings_export():
    """Every finding of the inspections the list shows, as a workbook."""
    stmt, _ = _inspection_list()
    return xlsx_download(stmt, "检查发现问题", FINDING_COLUMNS, finding_rows, url_for("inspections.inspections"))


def _prepare_inspection(form: InspectionForm, merchant: Merchant) -> None:
    session = db()
    form.inspector_ids.choices = [(u.id, f"{u.display_name}（{u.role.label}）")
                                  for u in session.scalars(queries.inspector_roster())]
    form.campaign_id.choices = [("", "（不属于专项行动）")] + [
        (c.id, c.name) for c in session.scalars(queries.campaign_list().limit(100))
        if merchant.station_id in c.station_ids]
    form.new_type_id.choices = [("", "（无）")] + [(t.id, t.name_zh) for t in
                                                  session.scalars(instrument_types(active_only=True))]


@bp.route("/inspections/new", methods=["GET", "POST"])
@ledger_write_required
def inspection_new():
    """Record an inspection of a merchant (chosen first): inspectors, campaign, instruments checked."""
    merchant, picker = chosen_merchant("inspections/pick_merchant.html")
    if picker is not None:
        return picker
    # A utility company may own thousands of meters: the form lists the first 200 (register the rest by serial).
    registry = db().scalars(instruments_of_merchant(merchant.id).limit(200)).all()
    form = InspectionForm()
    _prepare_inspection(form, merchant)
    if request.method == "GET":
        form.inspected_on.data = today()
        form.campaign_id.data = arg_int("campaign_id")
        if current_user.id in dict(form.inspector_ids.choices):
            form.inspector_ids.data = [current_user.id]
    error = None
    if form.validate_on_submit():
        values = form.values(request.form, [i.id for i in registry])
        with unit_of_work(form) as uow:
            new = services.record_inspection(uow.session, current_user, scope(), merchant, values, today())
        if uow.ok:
            return uow.redirect("已记录检查。发现问题请在本页登记。",
                                url_for("inspections.inspection", inspection_id=new.id))
        error = uow.error
    return render_template("inspections/inspection_form.html", form=form, merchant=merchant, registry=registry,
                           error=error, outcomes=CheckOutcome.choices(), picked=dict(request.form))


@bp.route("/inspections/<int:inspection_id>")
@staff_required
def inspection(inspection_id: int):
    """An inspection with its instruments (as they were), findings, orders, re-checks and evidence."""
    session = db()
    found = in_scope(services.get_inspection, inspection_id)
    rects = {r.finding_id: r for r in session.scalars(queries.rectifications_of(found.id))}
    evidence = session.scalars(queries.evidence_of(found.id)).all()
    # The visit's history: the inspection, its findings, orders (re-checks) and evidence files.
    entries = list(session.scalars(entries_for("inspections", found.id)))
    related = (("findings", [f.id for f in found.findings]), ("rectifications", [r.id for r in rects.values()]),
               ("evidence_files", [e.id for e in evidence]))
    for entity_type, ids in related:
        if ids:
            entries += session.scalars(entries_for_many(entity_type, ids))
    entries.sort(key=lambda e: e.id, reverse=True)
    return render_template("inspections/inspection.html", inspection=found, rects=rects, evidence=evidence,
                           entries=entries, today=today())


@bp.route("/inspections/<int:inspection_id>/findings/new", methods=["GET", "POST"])
@ledger_write_required
def finding_new(inspection_id: int):
    """Record a finding: code (with its legal basis), instrument, measure, deadline or case number."""
    found = in_scope(services.get_inspection, inspection_id)
    form = FindingForm()
    codes = db().scalars(finding_codes(active_only=True)).all()
    form.code_id.choices = [(c.id, f"{c.name_zh}（{c.code}）") for c in codes]
    form.check_id.choices = [("", "（不涉及具体器具）")] + [
        (c.id, c.label + ("（本次记为未发现问题）" if c.outcome == CheckOutcome.OK else "")) for c in found.checks]
    if request.method == "GET":
        form.deadline.data = found.inspected_on + dt.timedelta(days=services.DEFAULT_RECTIFY_DAYS)
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.add_finding(uow.session, current_user, found, form.values())
        if uow.ok:
            return uow.redirect("已登记问题。", url_for("inspections.inspection", inspection_id=found.id))
        error = uow.error
    return render_template("inspections/finding_form.html", form=form, inspection=found, codes=codes, error=error)


@bp.route("/findings/<int:finding_id>/void", methods=["GET", "POST"])
@ledger_write_required
def finding_void(finding_id: int):
    """Void a wrong finding with a reason (it stays visible, struck through); then record the right one."""
    finding = in_scope(services.get_finding, finding_id)
    page = url_for("inspections.inspection", inspection_id=finding.inspection_id)
    form = VoidForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.void_finding(uow.session, current_user, finding, form.reason.data, today())
        if uow.ok:
            return uow.redirect("问题已作废，不再计入统计和责令改正通知书；如需要，请登记正确的问题。", page)
    rect = finding.rectification
    return render_template("inspections/finding_void.html", form=form, finding=finding, rect=rect, page=page)


@bp.route("/inspections/checks/<int:check_id>/outcome", methods=["GET", "POST"])
@ledger_write_required
def check_correct(check_id: int):
    """Correct an instrument checked as 未发现问题 to 发现问题, with a reason, so a finding can be recorded on it."""
    check = in_scope(services.get_check, check_id)
    page = url_for("inspections.inspection", inspection_id=check.inspection_id)
    form = CheckCorrectionForm()
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.mark_check_problem(uow.session, current_user, check, form.reason.data)
        if uow.ok:
            return uow.redirect(f"已将“{check.label}”的检查结论改为“发现问题”，现在可以登记该器具的问题。",
                                url_for("inspections.finding_new", inspection_id=check.inspection_id))
        error = uow.error
    return render_template("inspections/check_correct.html", form=form, check=check, page=page, error=error)


def _print(inspection_id: int, template: str):
    found = in_scope(services.get_inspection, inspection_id)
    rects = {r.finding_id: r for r in db().scalars(queries.rectifications_of(found.id))}
    return render_template(template, inspection=found, rects=rects, today=today(), measures=Measure)


@bp.route("/inspections/<int:inspection_id>/print/notice")
@staff_required
def print_notice(inspection_id: int):
    """The rectification order (责令改正通知书) of an inspection, laid out for A4."""
    return _print(inspection_id, "inspections/print_notice.html")


@bp.route("/inspections/<int:inspection_id>/print/record")
@staff_required
def print_record(inspection_id: int):
    """The on-site inspection record (现场检查笔录), laid out for A4."""
    return _print(inspection_id, "inspections/print_record.html")


# --- figures --------------------------------------------------------------------------------------

def _arg_date(name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.route("/inspections/stats")
@staff_required
def stats():
    """Station statistics over a period: inspected merchants and instruments, findings by code, orders, cases."""
    on = today()
    date_from = _arg_date("from") or on.replace(month=1, day=1)
    date_to = _arg_date("to") or on
    for_scope = scope()
    figures, counted_at = shared_figures(
        ("inspection-stats", on, date_from, date_to),
        lambda: services.figures(db(), for_scope, on, date_from=date_from, date_to=date_to), for_scope)
    return render_template("inspections/stats.html", figures=figures, stations=stations_by_id(), date_from=date_from,
                           date_to=date_to, counted_at=counted_at)
