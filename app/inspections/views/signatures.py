"""Signatures on an inspection's 现场检查笔录: signing on screen, and the signature images (staff who may see
the inspection)."""
from __future__ import annotations

import base64
import binascii

from flask import current_app, render_template, send_file, url_for
from flask_login import current_user

from app.db import utcnow
from app.inspections import services
from app.inspections.forms import SignatureForm
from app.inspections.views import bp
from app.security import ledger_write_required, staff_required
from app.web import db, in_scope, unit_of_work

PNG_DATA_URL = "data:image/png;base64,"


def _png(data_url: str | None) -> bytes:
    """The PNG bytes of the canvas's data URL, or b"" (the service says what is wrong)."""
    if not data_url or not data_url.startswith(PNG_DATA_URL):
        return b""
    try:
        return base64.b64decode(data_url[len(PNG_DATA_URL):], validate=True)
    except (binascii.Error, ValueError):
        return b""


@bp.route("/inspections/<int:inspection_id>/sign", methods=["GET", "POST"])
@ledger_write_required
def sign(inspection_id: int):
    """Sign the 现场检查笔录 on screen (当事人, or one of the inspection's inspectors); the first signature locks it."""
    found = in_scope(services.get_inspection, inspection_id)
    form = SignatureForm()
    form.user_id.choices = [("", "（当事人签名时不选）")] + [(u.id, u.display_name) for u in found.inspectors]
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.add_signature(uow.session, current_user, found, role=form.role.data, user_id=form.user_id.data,
                                   name=form.name.data, signed_at=utcnow(), data=_png(form.signature.data),
                                   storage_dir=current_app.config["EVIDENCE_STORAGE"])
        if uow.ok:
            return uow.redirect("已签名。现场检查笔录签名后不能再修改。",
                                url_for("inspections.inspection", inspection_id=found.id))
        error = uow.error
    return render_template("inspections/sign.html", form=form, inspection=found, error=error,
                           signed=services.is_signed(db(), found.id))


@bp.route("/signatures/<int:signature_id>")
@staff_required
def signature_image(signature_id: int):
    """A signature's PNG (shown on the inspection page and the printed record), for users who may see it."""
    signature = in_scope(services.get_signature, signature_id)
    path = services.signature_path(current_app.config["EVIDENCE_STORAGE"], signature)
    # An attachment when opened by itself (like evidence); an <img> shows it all the same.
    response = send_file(path, mimetype="image/png", as_attachment=True, download_name=f"签名{signature.id}.png",
                         conditional=True)
    response.headers["Cache-Control"] = "private, no-store"
    return response
