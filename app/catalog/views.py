"""Catalogue pages: instrument kinds (admins edit them) and finding codes."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.catalog import queries, services
from app.catalog.forms import (AliasDeleteForm, AliasForm, InstrumentTypeForm, NewInstrumentTypeForm, RestoreForm,
                               RetireForm)
from app.security import installation_admin_required, staff_required
from app.web import db, unit_of_work

bp = Blueprint("catalog", __name__, template_folder="templates", url_prefix="/catalog")


@bp.route("/types")
@staff_required
def types():
    """The instrument kinds with their regulation and rule."""
    return render_template("catalog/types.html", types=db().scalars(queries.instrument_types()).all(),
                           retire_form=RetireForm(formdata=None), restore_form=RestoreForm(formdata=None))


@bp.route("/types/new", methods=["GET", "POST"])
@installation_admin_required
def type_new():
    """Add a kind the seed does not ship (its regulation, rule, cycle or life, aliases)."""
    form = NewInstrumentTypeForm()
    if form.validate_on_submit():
        values = {k: getattr(form, k).data for k in ("name_zh", "code", "rule", "cycle_months", "service_life_years",
                                                     "lead_days", "regulation", "regulation_title", "category",
                                                     "subcategory", "confirmed", "note")}
        with unit_of_work(form) as uow:
            itype = services.create_instrument_type(uow.session, current_user, values,
                                                    services.split_aliases(form.aliases.data))
        if uow.ok:
            return uow.redirect(f"已新增器具种类“{itype.name_zh}”。", url_for("catalog.types"))
    return render_template("catalog/type_new.html", form=form)


def _back_with_errors(form):
    """A button's form refused: say why on the catalogue page."""
    for errors in form.errors.values():
        for e in errors:
            flash(e, "danger")
    return redirect(url_for("catalog.types"))


@bp.route("/types/<int:type_id>/retire", methods=["POST"])
@installation_admin_required
def type_retire(type_id: int):
    """Retire a kind: no new instruments of it; those registered keep working."""
    itype = services.get_instrument_type(db(), type_id)
    form = RetireForm()
    if form.validate_on_submit():
        with unit_of_work() as uow:
            changed = services.set_instrument_type_active(uow.session, current_user, itype, False, form.reason.data)
        if uow.ok:
            message = f"已停用“{itype.name_zh}”：不能再登记该种类的新器具，已登记的器具照常管理。"
            return uow.redirect(message if changed else "该种类已停用。", url_for("catalog.types"),
                                "success" if changed else "info")
    return _back_with_errors(form)


@bp.route("/types/<int:type_id>/restore", methods=["POST"])
@installation_admin_required
def type_restore(type_id: int):
    """Bring a retired kind back into use."""
    itype = services.get_instrument_type(db(), type_id)
    form = RestoreForm()
    if form.validate_on_submit():
        with unit_of_work() as uow:
            changed = services.set_instrument_type_active(uow.session, current_user, itype, True)
        if uow.ok:
            return uow.redirect(f"已恢复启用“{itype.name_zh}”。" if changed else "该种类已在启用中。",
                                url_for("catalog.types"), "success" if changed else "info")
    return _back_with_errors(form)


@bp.route("/types/<int:type_id>/edit", methods=["GET", "POST"])
@installation_admin_required
def type_edit(type_id: int):
    """Edit a kind's rule, cycle or life; recomputing due dates is offered, off by default."""
    itype = services.get_instrument_type(db(), type_id)
    form = InstrumentTypeForm(obj=itype)
    if request.method == "GET":
        form.rule.data = itype.rule.value
        form.confirmed.data = itype.confirmed.value
        form.recompute.data = False
    if form.validate_on_submit():
        values = {k: getattr(form, k).data for k in ("rule", "cycle_months", "service_life_years", "lead_days",
                                                     "regulation", "regulation_title", "category", "subcategory",
                                                     "confirmed", "note", "is_active")}
        values["lead_days"] = values["lead_days"] if values["lead_days"] is not None else itype.lead_days
        with unit_of_work(form) as uow:
            changes, recomputed = services.update_instrument_type(
                uow.session, current_user, itype, expected_version=form.version.data, values=values,
                recompute=form.recompute.data)
        if uow.ok:
            back = url_for("catalog.types")
            if not changes:
                return uow.redirect("没有修改。", back, "info")
            if form.recompute.data:
                return uow.redirect(f"已保存，并重新计算了 {recomputed} 台器具的到期日期。", back)
            return uow.redirect("已保存。已登记器具的到期日期未改变。", back)
    return render_template("catalog/type_form.html", form=form, itype=itype)


def _render_aliases(itype, form: AliasForm | None = None, status: int = 200):
    aliases = db().scalars(queries.aliases_of(itype.id)).all()
    return render_template("catalog/aliases.html", itype=itype, aliases=aliases, form=form or AliasForm(formdata=None),
                           delete_form=AliasDeleteForm(formdata=None)), status


@bp.route("/types/<int:type_id>/aliases")
@staff_required
def aliases(type_id: int):
    """A kind's aliases: the other spellings the import recognises; admins add and remove them."""
    return _render_aliases(services.get_instrument_type(db(), type_id))


@bp.route("/types/<int:type_id>/aliases/add", methods=["POST"])
@installation_admin_required
def alias_add(type_id: int):
    """Add a spelling the import will recognise as this kind."""
    itype = services.get_instrument_type(db(), type_id)
    form = AliasForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.add_alias(uow.session, current_user, itype, form.alias.data)
        if uow.ok:
            return uow.redirect(f"已添加别名“{form.alias.data.strip()}”。", url_for("catalog.aliases", type_id=type_id))
    return _render_aliases(itype, form)


@bp.route("/types/<int:type_id>/aliases/<int:alias_id>/delete", methods=["POST"])
@installation_admin_required
def alias_delete(type_id: int, alias_id: int):
    """Stop recognising a spelling (imports already made are unchanged)."""
    itype = services.get_instrument_type(db(), type_id)
    form = AliasDeleteForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.remove_alias(uow.session, current_user, itype, alias_id)
        if uow.ok:
            return uow.redirect("已删除别名。", url_for("catalog.aliases", type_id=type_id))
    return _render_aliases(itype)


@bp.route("/findings")
@staff_required
def findings():
    """The finding codes with legal basis and usual measure."""
    return render_template("catalog/findings.html", codes=db().scalars(queries.finding_codes()).all())
