"""系统管理 → 行政区划: the region tree, adding and editing regions, moving a station to another county."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from app.accounts import services as accounts
from app.regions import queries, services
from app.regions.forms import DeleteRegionForm, MoveStationForm, RegionForm
from app.regions.models import Region
from app.security import installation_admin_required
from app.web import db, unit_of_work

bp = Blueprint("regions", __name__, template_folder="templates", url_prefix="/admin/regions")


def _county_choices() -> list[tuple[int, str]]:
    return [(c.id, f"{c.code} {c.name}") for c in queries.counties_under(db(), None)]


@bp.route("/")
@installation_admin_required
def index():
    """The tree: provinces, cities, counties, and each county's stations with a move form."""
    session = db()
    return render_template("regions/index.html", rows=queries.tree_rows(session),
                           stations=queries.stations_by_county(session), counties=_county_choices())


def _parent_choices(form: RegionForm, region: Region | None) -> None:
    below = {r.id for r in queries.regions_under(db(), region.id)} if region is not None else set()
    form.parent_id.choices = [(None, "（无：最上级）")] + [
        (r.id, f"{r.code} {r.name}（{r.level.label}）") for r in queries.all_regions(db()) if r.id not in below]


@bp.route("/new", methods=["GET", "POST"])
@installation_admin_required
def new():
    """Add a province, city or county."""
    form = RegionForm()
    _parent_choices(form, None)
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            region = services.create_region(uow.session, current_user, code=form.code.data, name=form.name.data,
                                            level=form.level.data, parent_id=form.parent_id.data)
        if uow.ok:
            return uow.redirect(f"已添加{region.level.label}“{region.name}”。", url_for("regions.index"))
    return render_template("regions/form.html", form=form, region=None)


@bp.route("/<int:region_id>/edit", methods=["GET", "POST"])
@installation_admin_required
def edit(region_id: int):
    """Rename or recode a region, or put it under another parent."""
    region = services.get_region(db(), region_id)
    form = RegionForm(obj=region)
    del form.level
    _parent_choices(form, region)
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.update_region(uow.session, current_user, region, expected_version=form.version.data,
                                   code=form.code.data, name=form.name.data, parent_id=form.parent_id.data)
        if uow.ok:
            return uow.redirect("已保存。", url_for("regions.index"))
    return render_template("regions/form.html", form=form, region=region, delete_form=DeleteRegionForm(obj=region))


@bp.route("/<int:region_id>/delete", methods=["POST"])
@installation_admin_required
def delete(region_id: int):
    """Delete a region nothing depends on (the service says what still does)."""
    region = services.get_region(db(), region_id)
    form = DeleteRegionForm()
    if form.validate_on_submit():
        name = region.name
        with unit_of_work() as uow:
            services.delete_region(uow.session, current_user, region, expected_version=form.version.data)
        if uow.ok:
            flash(f"已删除“{name}”。", "success")
            return redirect(url_for("regions.index"))
    else:
        for errors in form.errors.values():
            for e in errors:
                flash(e, "danger")
    return redirect(url_for("regions.edit", region_id=region_id))


@bp.route("/stations/<int:station_id>/move", methods=["POST"])
@installation_admin_required
def move_station(station_id: int):
    """Put a station in another county."""
    station = accounts.get_station(db(), station_id)
    form = MoveStationForm()
    form.county_id.choices = _county_choices()
    if form.validate_on_submit():
        with unit_of_work() as uow:
            services.move_station(uow.session, current_user, station, expected_version=form.version.data,
                                  county_id=form.county_id.data)
        if uow.ok:
            flash(f"已把“{station.name}”调整到“{station.county.name}”。", "success")
    else:
        for errors in form.errors.values():
            for e in errors:
                flash(e, "danger")
    return redirect(url_for("regions.index"))
