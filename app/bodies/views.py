"""Verification body pages (系统管理 → 检定机构): staff read the list, admins write."""
from __future__ import annotations

from flask import Blueprint, render_template, url_for
from flask_login import current_user

from app.bodies import queries, services
from app.bodies.forms import BodyForm, ToggleForm
from app.catalog.queries import instrument_types
from app.security import installation_admin_required, staff_required
from app.web import db, unit_of_work

bp = Blueprint("bodies", __name__, template_folder="templates", url_prefix="/admin/bodies")


def _kinds() -> list[tuple[int, str]]:
    return [(t.id, t.name_zh) for t in db().scalars(instrument_types())]


@bp.route("/")
@staff_required
def index():
    """The bodies with their authorised kinds and how many verifications name them."""
    session = db()
    return render_template("bodies/list.html", bodies=session.scalars(queries.bodies()).all(),
                           counts=dict(session.execute(queries.linked_counts()).all()), kinds=dict(_kinds()),
                           toggle_form=ToggleForm(formdata=None))


def _linked_message(linked: int) -> str:
    return f"，并按名称关联了 {linked} 条原有检定记录" if linked else ""


def _values(form: BodyForm) -> dict:
    return {k: getattr(form, k).data for k in services.FIELDS}


@bp.route("/new", methods=["GET", "POST"])
@installation_admin_required
def new():
    """Register a body; verifications whose institution text names it are linked."""
    form = BodyForm()
    form.type_ids.choices = _kinds()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            _body, linked = services.create_body(uow.session, current_user, _values(form))
        if uow.ok:
            return uow.redirect(f"已登记检定机构{_linked_message(linked)}。", url_for("bodies.index"))
    return render_template("bodies/form.html", form=form, body=None)


@bp.route("/<int:body_id>/edit", methods=["GET", "POST"])
@installation_admin_required
def edit(body_id: int):
    """Edit a body (an edit over someone else's newer save is refused)."""
    body = services.get_body(db(), body_id)
    form = BodyForm(obj=body)
    form.type_ids.choices = _kinds()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            changes, linked = services.update_body(uow.session, current_user, body,
                                                   expected_version=form.version.data, values=_values(form))
        if uow.ok:
            if not changes:
                return uow.redirect("没有修改。", url_for("bodies.index"), "info")
            return uow.redirect(f"已保存{_linked_message(linked)}。", url_for("bodies.index"))
    return render_template("bodies/form.html", form=form, body=body)


def _toggle(body_id: int, active: bool):
    body = services.get_body(db(), body_id)
    form = ToggleForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.set_active(uow.session, current_user, body, active)
        if uow.ok:
            return uow.redirect(f"已{'启用' if active else '停用'}检定机构“{body.name}”。", url_for("bodies.index"))
    return index()


@bp.route("/<int:body_id>/activate", methods=["POST"])
@installation_admin_required
def activate(body_id: int):
    """Let the body be chosen again when recording verifications."""
    return _toggle(body_id, True)


@bp.route("/<int:body_id>/deactivate", methods=["POST"])
@installation_admin_required
def deactivate(body_id: int):
    """Stop offering the body when recording verifications; its records stay linked."""
    return _toggle(body_id, False)
