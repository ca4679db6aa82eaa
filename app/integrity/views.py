"""Integrity pages: pledge list with counts and targets, register, view, edit, revoke, demonstration unit."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, send_file, url_for
from flask_login import current_user

from app.audit.queries import entries_for
from app.clock import today
from app.errors import Invalid
from app.integrity import queries, services
from app.integrity.forms import ModelUnitForm, PledgeForm, RevokeForm, TargetsForm
from app.integrity.models import PledgeStatus, TargetKind
from app.merchants.models import Industry
from app.security import admin_required, ledger_write_required, staff_required
from app.web import (arg_choice, arg_int, chosen_merchant, db, form_error, in_scope, paginate, scope, scoped_stations,
                     unit_of_work, xlsx_download)
from reports.lists import PLEDGE_COLUMNS, pledge_rows

bp = Blueprint("integrity", __name__, template_folder="templates", url_prefix="/integrity")


def _filters() -> dict:
    return {"q": request.args.get("q", ""), "station_id": arg_int("station_id"),
            "industry": arg_choice("industry", Industry), "status": arg_choice("status", PledgeStatus),
            "model_unit": request.args.get("model_unit") == "1"}


def _list_stmt():
    return queries.pledge_list(scope(), today(), sort=request.args.get("sort", "-signed"), **_filters())


def _progress(by_station: dict, stations: list) -> list[dict]:
    """Target rows the user may see: overall (when every station is in scope) and per station."""
    targets = {(t.kind, t.station_id): t.target for t in db().scalars(queries.targets())}
    rows = []
    if scope().is_all:
        totals = {"pledges": sum(r[0] for r in by_station.values()),
                  "model_units": sum(r[1] for r in by_station.values())}
        rows.append({"name": "全局", **{k.value: (totals[k.value], targets.get((k, None))) for k in TargetKind}})
    for s in stations:
        done = by_station.get(s.id, (0, 0, 0, 0))
        rows.append({"name": s.name, "pledges": (done[0], targets.get((TargetKind.PLEDGES, s.id))),
                     "model_units": (done[1], targets.get((TargetKind.MODEL_UNITS, s.id)))})
    return rows


@bp.route("/")
@staff_required
def index():
    """Pledges in the user's stations with counts by station, industry and status, and progress to target."""
    session, now, filters = db(), today(), _filters()
    page = paginate(_list_stmt())
    stations = scoped_stations()
    # Progress counts ignore the list's filters: a target is about every pledge of the station.
    by_station = {row[0]: tuple(row[1:]) for row in session.execute(queries.counts_by("station", scope(), now))}
    by_industry = [(Industry(row[0]).label, *row[1:]) for row in
                   session.execute(queries.counts_by("industry", scope(), now, **filters))]
    by_status = dict(session.execute(queries.counts_by_status(scope(), now, **filters)).all())
    names = {s.id: s.name for s in stations}
    filtered_station = [(names.get(row[0], ""), *row[1:]) for row in
                        session.execute(queries.counts_by("station", scope(), now, **filters))]
    return render_template("integrity/index.html", page=page, stations=stations, industries=Industry.choices(),
                           statuses=PledgeStatus.choices(), by_station=filtered_station, by_industry=by_industry,
                           by_status=[(s.label, by_status.get(s.value, 0)) for s in PledgeStatus],
                           progress=_progress(by_station, stations), today=now)


@bp.route("/export.xlsx")
@staff_required
def export():
    """The pledge list with its current filter and sort, as a workbook."""
    return xlsx_download(_list_stmt(), "诚信计量承诺", PLEDGE_COLUMNS, lambda s, stmt: pledge_rows(s, stmt, today()),
                         url_for("integrity.index"))


def _upload(form: PledgeForm) -> services.Upload | None:
    file = form.document.data
    if file is None or not getattr(file, "filename", ""):
        return None
    return services.Upload(file.filename, file.read())


def _storage() -> dict:
    return {"storage_dir": current_app.config["INTEGRITY_STORAGE"],
            "max_bytes": current_app.config["INTEGRITY_MAX_BYTES"]}


def _page(pledge_id: int) -> str:
    return url_for("integrity.detail", pledge_id=pledge_id)


def _values(form: PledgeForm) -> dict:
    return {"signed_on": form.signed_on.data, "review_on": form.review_on.data, "scope_text": form.scope_text.data}


@bp.route("/new", methods=["GET", "POST"])
@ledger_write_required
def new():
    """Register a merchant's pledge (the merchant is chosen first)."""
    merchant, picker = chosen_merchant("integrity/pick_merchant.html")
    if picker is not None:
        return picker
    form = PledgeForm()
    error = None
    if request.method == "GET":
        form.signed_on.data = today()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            new = services.create_pledge(
                uow.session, current_user, scope(), merchant, _values(form), _upload(form), today=today(), **_storage())
        if uow.ok:
            return uow.redirect(f"已登记“{merchant.name}”的诚信计量承诺。", _page(new.id))
        error = uow.error
    return render_template("integrity/form.html", form=form, merchant=merchant, pledge=None, error=error)


@bp.route("/<int:pledge_id>")
@staff_required
def detail(pledge_id: int):
    """A pledge, the merchant's other pledges and the pledge's history from the audit log."""
    session = db()
    pledge = in_scope(services.get_pledge, pledge_id)
    others = [p for p in session.scalars(queries.pledges_of_merchant(pledge.merchant_id)) if p.id != pledge.id]
    entries = session.scalars(entries_for("pledges", pledge.id)).all()
    return render_template("integrity/detail.html", pledge=pledge, others=others, entries=entries, today=today(),
                           can_write=current_user.may_edit_station(pledge.merchant.station_id))


@bp.route("/<int:pledge_id>/document")
@staff_required
def document(pledge_id: int):
    """The signed document, only to users who may see the merchant."""
    pledge = in_scope(services.get_pledge, pledge_id)
    path = services.document_file(pledge, current_app.config["INTEGRITY_STORAGE"])
    return send_file(path, mimetype=services.DOCUMENT_MIMETYPES[pledge.document_type], as_attachment=True,
                     download_name=pledge.document_name or path.name, max_age=0)


@bp.route("/<int:pledge_id>/edit", methods=["GET", "POST"])
@ledger_write_required
def edit(pledge_id: int):
    """Edit a pledge's dates, scope or document; refused when someone else saved it meanwhile."""
    pledge = in_scope(services.get_pledge, pledge_id)
    form = PledgeForm(obj=pledge)
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.update_pledge(
                uow.session, current_user, pledge, expected_version=form.version.data, values=_values(form),
                upload=_upload(form), today=today(), **_storage())
        if uow.ok:
            return uow.redirect("已保存。", _page(pledge.id))
        error = uow.error
    return render_template("integrity/form.html", form=form, merchant=pledge.merchant, pledge=pledge, error=error)


@bp.route("/<int:pledge_id>/revoke", methods=["GET", "POST"])
@ledger_write_required
def revoke(pledge_id: int):
    """Revoke a pledge with the reason and, optionally, the finding behind it."""
    pledge = in_scope(services.get_pledge, pledge_id)
    form = RevokeForm(obj=pledge)
    if request.method == "GET":
        form.revoked_on.data = today()
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.revoke_pledge(
                uow.session, current_user, pledge, expected_version=form.version.data, reason=form.reason.data,
                finding_id=form.finding_id.data, on=form.revoked_on.data, scope=scope())
        if uow.ok:
            return uow.redirect("承诺已撤销。", _page(pledge.id))
        error = uow.error
    return render_template("integrity/revoke.html", form=form, pledge=pledge, error=error)


@bp.route("/<int:pledge_id>/model-unit", methods=["GET", "POST"])
@ledger_write_required
def model_unit(pledge_id: int):
    """Mark the merchant as a demonstration unit, or take the mark away, with the date and the decision."""
    pledge = in_scope(services.get_pledge, pledge_id)
    mark = not pledge.is_model_unit
    form = ModelUnitForm(obj=pledge)
    if request.method == "GET":
        form.on.data = today()
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.set_model_unit(
                uow.session, current_user, pledge, expected_version=form.version.data, mark=mark, on=form.on.data,
                decision=form.decision.data, today=today())
        if uow.ok:
            return uow.redirect("已认定为诚信计量示范单位。" if mark else "已取消示范单位。", _page(pledge.id))
        error = uow.error
    return render_template("integrity/model_unit.html", form=form, pledge=pledge, mark=mark, error=error)


def _target_inputs(stations) -> list[tuple[str, str, int | None]]:
    """(input name, kind, station id) of every target input: overall and per station."""
    return [(f"{k.value}_{s.id if s else 'all'}", k.value, s.id if s else None)
            for s in [None, *stations] for k in TargetKind]


@bp.route("/targets", methods=["GET", "POST"])
@admin_required
def targets():
    """Admin-set target counts of pledges and demonstration units, overall and per station."""
    session = db()
    stations = scoped_stations()
    inputs = _target_inputs(stations)
    current = {(t.kind.value, t.station_id): t.target for t in session.scalars(queries.targets())}
    values = {name: request.form.get(name, "").strip() if request.method == "POST"
              else str(current.get((kind, sid), "")) for name, kind, sid in inputs}
    form = TargetsForm()
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        parsed = {}
        for name, kind, sid in inputs:
            text = values[name]
            if text and not (text.isdigit() and int(text) <= 1_000_000):
                errors[name] = "目标数应为 0 到 1000000 之间的整数"
            parsed[(kind, sid)] = int(text) if text.isdigit() else None
        if not errors:
            with unit_of_work(form) as uow:
                services.set_targets(uow.session, current_user, parsed)
            if uow.ok:
                return uow.redirect("目标已保存。", url_for("integrity.index"))
    elif request.method == "POST":
        form_error(form, Invalid("表单已过期，请刷新后重试"))
    return render_template("integrity/targets.html", form=form, stations=stations, values=values, errors=errors,
                           kinds=list(TargetKind))
