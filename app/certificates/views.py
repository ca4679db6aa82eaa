"""Certificate files of verifications: attach, view or download (staff of the station), void with a reason."""
from __future__ import annotations

from flask import Blueprint, current_app, g, render_template, send_file, url_for
from flask_login import current_user

from app.certificates import services
from app.certificates.forms import CertificateForm
from app.errors import Invalid
from app.images import limits_from
from app.instruments.services import get_verification
from app.security import ledger_write_required, staff_required
from app.voiding.forms import VoidForm
from app.web import in_scope, unit_of_work

bp = Blueprint("certificates", __name__, template_folder="templates")


def attach_upload(session, ver, upload, field: str = "file") -> None:
    """Keep one uploaded certificate file (a FileStorage) with the verification, checked as the store requires;
    a refusal is shown on the form's `field`."""
    try:
        services.attach_certificate(session, current_user, ver, file_name=upload.filename, data=upload.read(),
                                    storage_dir=current_app.config["EVIDENCE_STORAGE"],
                                    max_bytes=current_app.config["EVIDENCE_MAX_BYTES"],
                                    photo_limits=limits_from(current_app.config))
    except Invalid as err:
        raise Invalid(err.message, field=field) from None


def limit_mb() -> int:
    """The size limit of one file in MB, for the pages' hints."""
    return current_app.config["EVIDENCE_MAX_BYTES"] // (1024 * 1024)


def _page(ver) -> str:
    return url_for("instruments.detail", instrument_id=ver.instrument_id)


@bp.route("/verifications/<int:verification_id>/certificates/new", methods=["GET", "POST"])
@ledger_write_required
def new(verification_id: int):
    """Attach a certificate file to a verification recorded earlier."""
    ver = in_scope(get_verification, verification_id)
    form = CertificateForm()
    error = None
    if form.validate_on_submit():
        upload = form.file.data
        with unit_of_work(form) as uow:
            if not upload or not upload.filename:
                raise Invalid("请选择证书文件", field="file")
            attach_upload(uow.session, ver, upload)
        if uow.ok:
            return uow.redirect("已附加检定证书。", _page(ver))
        error = uow.error
    return render_template("certificates/new.html", form=form, ver=ver, error=error, limit_mb=limit_mb())


def _send(certificate_id: int, as_attachment: bool):
    """The certificate's file for staff of its station: never sniffed (nosniff is on every response), never
    cached, and under the policy's sandbox, which keeps any script a PDF carries away from this site's origin."""
    cert = in_scope(services.get_certificate, certificate_id)
    path = services.certificate_path(current_app.config["EVIDENCE_STORAGE"], cert)
    g.csp_sandbox = True
    response = send_file(path, mimetype=cert.content_type, as_attachment=as_attachment,
                         download_name=cert.original_name, conditional=True)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/certificates/<int:certificate_id>")
@staff_required
def show(certificate_id: int):
    """The certificate file, shown in the browser (PDF or image), only for staff of its station."""
    return _send(certificate_id, as_attachment=False)


@bp.route("/certificates/<int:certificate_id>/download")
@staff_required
def download(certificate_id: int):
    """The certificate file as a download, only for staff of its station."""
    return _send(certificate_id, as_attachment=True)


@bp.route("/certificates/<int:certificate_id>/void", methods=["GET", "POST"])
@ledger_write_required
def void(certificate_id: int):
    """Void a wrong certificate file with a reason; it stays listed, and a new one can be attached."""
    cert = in_scope(services.get_certificate, certificate_id)
    form = VoidForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.void_certificate(uow.session, current_user, cert, form.reason.data)
        if uow.ok:
            return uow.redirect("检定证书已作废，可重新附加正确的证书文件。", _page(cert.verification))
    return render_template("certificates/void.html", form=form, cert=cert)
