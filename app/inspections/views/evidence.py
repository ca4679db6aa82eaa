"""Evidence files (photos, scans) of an inspection: upload, and download for those who may see it."""
from __future__ import annotations

from flask import current_app, render_template, send_file, url_for
from flask_login import current_user

from app.errors import Invalid
from app.images import limits_from
from app.inspections import services
from app.inspections.forms import EvidenceForm
from app.inspections.views import bp
from app.security import ledger_write_required, staff_required
from app.web import in_scope, unit_of_work


@bp.route("/inspections/<int:inspection_id>/evidence", methods=["GET", "POST"])
@ledger_write_required
def evidence_new(inspection_id: int):
    """Attach a photo or scan to an inspection or one of its findings."""
    found = in_scope(services.get_inspection, inspection_id)
    form = EvidenceForm()
    form.finding_id.choices = [("", "（整次检查）")] + [
        (f.id, f"问题 {n}：{f.code.name_zh}" + ("（已作废）" if f.is_voided else "")) for n, f in enumerate(found.findings, 1)]
    error = None
    if form.validate_on_submit():
        # Files chosen and photos taken, in that order; an input left empty sends one nameless empty part.
        uploads = [f for f in (form.file.data or []) + (form.camera.data or []) if f and f.filename]
        with unit_of_work(form) as uow:
            if not uploads:
                raise Invalid("请选择要上传的文件或拍照", field="file")
            # All or nothing: one refused file leaves none of the others (nor their bytes on disk).
            for upload in uploads:
                services.store_evidence(
                    uow.session, current_user, found, file_name=upload.filename, data=upload.read(),
                    storage_dir=current_app.config["EVIDENCE_STORAGE"],
                    max_bytes=current_app.config["EVIDENCE_MAX_BYTES"], finding_id=form.finding_id.data,
                    photo_limits=limits_from(current_app.config))
        if uow.ok:
            return uow.redirect(f"已上传 {len(uploads)} 个证据文件。",
                                url_for("inspections.inspection", inspection_id=found.id))
        error = uow.error
    return render_template("inspections/evidence_form.html", form=form, inspection=found, error=error,
                           limit_mb=current_app.config["EVIDENCE_MAX_BYTES"] // (1024 * 1024))


@bp.route("/evidence/<int:evidence_id>")
@staff_required
def evidence(evidence_id: int):
    """An evidence file, only for users who may see its inspection."""
    ev = in_scope(services.get_evidence, evidence_id)
    path = services.evidence_path(current_app.config["EVIDENCE_STORAGE"], ev)
    # A download, never rendered as a page of this site (the security headers add nosniff to every response);
    # kept out of shared caches.
    response = send_file(path, mimetype=ev.content_type, as_attachment=True, download_name=ev.original_name,
                         conditional=True)
    response.headers["Cache-Control"] = "private, no-store"
    return response
