"""Outreach pages: activities (record, view, void, photos), the annual summary workbook, the registry of
micro-stations and volunteers against their targets, and the admin page of those targets."""
from __future__ import annotations

import datetime as dt
import io

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from app.clock import today
from app.errors import Invalid
from app.images import limits_from
from app.outreach import queries, services
from app.outreach.forms import ActivityForm, EndForm, MicroStationForm, PhotoForm, TargetsForm, VolunteerForm
from app.outreach.models import OutreachTargetKind
from app.rollups import settings
from app.rollups.tree import load_tree
from app.security import admin_required, ledger_write_required, staff_required
from app.voiding.forms import VoidForm
from app.web import arg_int, db, form_error, in_scope, paginate, scope, scoped_stations, unit_of_work
from reports.outreach_annual import write_annual_workbook

bp = Blueprint("outreach", __name__, template_folder="templates")


def _year() -> int:
    year = arg_int("year")
    if year is not None and not 2000 <= year <= 2100:
        abort(404)
    return year or today().year


@bp.route("/outreach/")
@staff_required
def index():
    """A year's activities with the year's figures."""
    year = _year()
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    page = paginate(queries.activity_list(scope(), date_from=first, date_to=last))
    totals = db().execute(queries.activity_figures(scope(), first, last)).one()
    return render_template("outreach/index.html", page=page, year=year, totals=totals,
                           years=list(range(today().year, today().year - 6, -1)))


def _kinds():
    from app.catalog.queries import instrument_types

    return db().scalars(instrument_types(active_only=True)).all()


def _free_counts(kinds) -> tuple[dict[int, int], dict[int, str], dict[int, str]]:
    """The free verifications typed per kind: (type id -> 台件, type id -> as typed, type id -> error)."""
    counts, typed, errors = {}, {}, {}
    for kind in kinds:
        text = request.form.get(f"free_{kind.id}", "").strip()
        typed[kind.id] = text
        if not text:
            continue
        if not (text.isascii() and text.isdigit()) or int(text) > services.MAX_COUNT:
            errors[kind.id] = f"应为 0 到 {services.MAX_COUNT} 之间的整数"
        else:
            counts[kind.id] = int(text)
    return counts, typed, errors


@bp.route("/outreach/new", methods=["GET", "POST"])
@ledger_write_required
def new():
    """Record an activity after it took place, with its free verifications by kind."""
    form = ActivityForm()
    form.station_id.choices = [(s.id, s.name) for s in scoped_stations()]
    if request.method == "GET":
        form.held_on.data = today()
    kinds = _kinds()
    typed, errors = {}, {}
    if request.method == "POST":
        counts, typed, errors = _free_counts(kinds)
    if form.validate_on_submit() and not errors:
        values = {k: getattr(form, k).data for k in ("station_id", "held_on", "kind", "place", "place_kind", "staff",
                                                     "people_served", "enterprises_visited", "materials", "notes")}
        with unit_of_work(form) as uow:
            activity = services.record_activity(uow.session, current_user, scope(), values, counts, today())
        if uow.ok:
            return uow.redirect("已登记活动，可继续上传活动照片。",
                                url_for("outreach.photos", activity_id=activity.id))
    elif errors:
        form_error(form, Invalid("免费检定台件数有误，请按提示修改"))
    return render_template("outreach/form.html", form=form, kinds=kinds, typed=typed, errors=errors)


@bp.route("/outreach/<int:activity_id>")
@staff_required
def detail(activity_id: int):
    """An activity with its free verifications and photos."""
    activity = in_scope(services.get_activity, activity_id)
    return render_template("outreach/detail.html", activity=activity)


@bp.route("/outreach/<int:activity_id>/void", methods=["GET", "POST"])
@ledger_write_required
def void(activity_id: int):
    """Void a wrong activity with a reason; it stays visible and leaves every count."""
    activity = in_scope(services.get_activity, activity_id)
    form = VoidForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.void_activity(uow.session, current_user, activity, form.reason.data)
        if uow.ok:
            return uow.redirect("活动记录已作废，不再计入统计；如需更正请重新登记。",
                                url_for("outreach.detail", activity_id=activity.id))
    return render_template("outreach/void.html", form=form, activity=activity)


@bp.route("/outreach/<int:activity_id>/photos", methods=["GET", "POST"])
@ledger_write_required
def photos(activity_id: int):
    """Attach photos to an activity (kept as evidence: never deleted)."""
    activity = in_scope(services.get_activity, activity_id)
    form = PhotoForm()
    error = None
    if form.validate_on_submit():
        chosen = [f for f in (form.file.data or []) + (form.camera.data or []) if f and f.filename]
        with unit_of_work(form) as uow:
            if not chosen:
                raise Invalid("请选择要上传的照片或拍照", field="file")
            for upload in chosen:
                services.store_photo(uow.session, current_user, activity, file_name=upload.filename,
                                     data=upload.read(), storage_dir=current_app.config["EVIDENCE_STORAGE"],
                                     max_bytes=current_app.config["EVIDENCE_MAX_BYTES"],
                                     photo_limits=limits_from(current_app.config))
        if uow.ok:
            return uow.redirect(f"已上传 {len(chosen)} 张照片。", url_for("outreach.detail", activity_id=activity.id))
        error = uow.error
    return render_template("outreach/photos.html", form=form, activity=activity, error=error,
                           limit_mb=current_app.config["EVIDENCE_MAX_BYTES"] // (1024 * 1024))


@bp.route("/outreach/photos/<int:photo_id>")
@staff_required
def photo(photo_id: int):
    """A photo of an activity, only for users who may see the activity."""
    found = in_scope(services.get_photo, photo_id)
    path = services.photo_path(current_app.config["EVIDENCE_STORAGE"], found)
    response = send_file(path, mimetype=found.content_type, as_attachment=True, download_name=found.original_name,
                         conditional=True)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/outreach/annual.xlsx")
@staff_required
def annual():
    """The year's summary workbook, as bureaus report it upward (by kind of activity and of place, with totals)."""
    year = _year()
    out = io.BytesIO()
    session = db()
    tree = load_tree(session)
    write_annual_workbook(session, scope(), year, out, scope_name=_scope_name(), registry=services.registry_rows(
        session, tree, scope(), min(today(), dt.date(year, 12, 31))))
    out.seek(0)
    return send_file(out, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     as_attachment=True, download_name=f"{year}年计量惠民活动汇总.xlsx")


def _scope_name() -> str:
    stations = scoped_stations()
    return stations[0].name if len(stations) == 1 else "全部监管所" if scope().is_all else f"{len(stations)} 个监管所"


# --- registry ------------------------------------------------------------------------------------------------

@bp.route("/outreach/registry")
@staff_required
def registry():
    """Micro-stations and volunteers, and each county's count against its targets."""
    session = db()
    rows = services.registry_rows(session, load_tree(session), scope(), today())
    return render_template("outreach/registry.html", rows=rows, end_form=EndForm(formdata=None), today=today(),
                           micro_stations=session.scalars(queries.micro_station_list(scope())).all(),
                           volunteers=session.scalars(queries.volunteer_list(scope())).all())


@bp.route("/outreach/micro-stations/new", methods=["GET", "POST"])
@ledger_write_required
def micro_station_new():
    """Register a micro-station."""
    form = MicroStationForm()
    form.station_id.choices = [(s.id, s.name) for s in scoped_stations()]
    if form.validate_on_submit():
        values = {k: getattr(form, k).data for k in ("station_id", "name", "address", "opened_on", "notes")}
        with unit_of_work(form) as uow:
            services.add_micro_station(uow.session, current_user, scope(), values, today())
        if uow.ok:
            return uow.redirect("已登记微站。", url_for("outreach.registry"))
    return render_template("outreach/registry_form.html", form=form, title="登记科普宣传服务微站")


@bp.route("/outreach/volunteers/new", methods=["GET", "POST"])
@ledger_write_required
def volunteer_new():
    """Register a volunteer."""
    form = VolunteerForm()
    form.station_id.choices = [(s.id, s.name) for s in scoped_stations()]
    form.micro_station_id.choices = [("", "（不属于微站）")] + [
        (m.id, f"{m.name}（{m.station.name}）") for m in db().scalars(queries.micro_station_choices(scope(), today()))]
    if form.validate_on_submit():
        values = {k: getattr(form, k).data for k in ("station_id", "name", "phone", "micro_station_id", "joined_on",
                                                     "notes")}
        with unit_of_work(form) as uow:
            services.add_volunteer(uow.session, current_user, scope(), values, today())
        if uow.ok:
            return uow.redirect("已登记志愿者。", url_for("outreach.registry"))
    return render_template("outreach/registry_form.html", form=form, title="登记计量志愿者")


def _end(row, done: str):
    form = EndForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for e in errors:
                flash(e, "danger")
        return redirect(url_for("outreach.registry"))
    with unit_of_work() as uow:
        services.end_registry_entry(uow.session, current_user, row, form.ended_on.data, today())
    return uow.redirect(done if uow.ok else None, url_for("outreach.registry"))


@bp.route("/outreach/micro-stations/<int:record_id>/close", methods=["POST"])
@ledger_write_required
def micro_station_close(record_id: int):
    """Close a micro-station (it stays in the registry, no longer counted)."""
    row = in_scope(services.get_micro_station, record_id)
    return _end(row, f"已撤销微站“{row.name}”。")


@bp.route("/outreach/volunteers/<int:record_id>/leave", methods=["POST"])
@ledger_write_required
def volunteer_leave(record_id: int):
    """Record that a volunteer left."""
    row = in_scope(services.get_volunteer, record_id)
    return _end(row, f"已记录志愿者“{row.name}”退出。")


@bp.route("/admin/outreach-targets", methods=["GET", "POST"])
@admin_required
def targets():
    """Per-county targets of micro-stations and volunteers, set for a county or for all counties of a city (or
    the installation); a blank inherits."""
    session = db()
    tree = load_tree(session)
    regions = settings.settable_regions(tree, current_user)
    form = TargetsForm()
    own = {(t.kind.value, t.region_id): t.target for t in session.scalars(queries.targets())}
    kinds = list(OutreachTargetKind)
    values = {f"{k.value}_{r or 0}": (request.form.get(f"{k.value}_{r or 0}", "") if request.method == "POST"
                                      else str(own.get((k.value, r), ""))) for r in regions for k in kinds}
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        parsed = {}
        for name, text in values.items():
            text = text.strip()
            if text and (not (text.isascii() and text.isdigit()) or int(text) > 100_000):
                errors[name] = "应为 0 到 100000 之间的整数"
            parsed[name] = int(text) if text and name not in errors else None
        if not errors:
            with unit_of_work(form) as uow:
                for r in regions:
                    for k in kinds:
                        services.set_target(uow.session, current_user, tree, k, r, parsed[f"{k.value}_{r or 0}"])
            if uow.ok:
                return uow.redirect("目标已保存。", url_for("outreach.targets"))
    elif request.method == "POST":
        form_error(form, Invalid("表单已过期，请刷新后重试"))
    rows = [{"key": r or 0, "name": tree.label(r) if r is not None else "全部区县（默认）",
             "level": tree.levels[r].label if r is not None else ""} for r in regions]
    return render_template("outreach/targets.html", form=form, rows=rows, kinds=kinds, values=values, errors=errors)
