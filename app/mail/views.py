"""The admin's outbox (邮件发件箱): every message written, its status, attempts and last error."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

from app.mail import queries, services
from app.mail.models import MessageStatus
from app.mail.transport import SmtpSettings
from app.security import installation_admin_required
from app.web import arg_choice, db, paginate

bp = Blueprint("mail", __name__, template_folder="templates")


@bp.route("/admin/outbox")
@installation_admin_required
def outbox():
    """Outbox messages, newest first, filtered by status."""
    status = arg_choice("status", MessageStatus)
    page = paginate(queries.outbox_list(status))
    by_status = {s.value: n for s, n in db().execute(queries.counts_by_status()).all()}
    return render_template("mail/outbox.html", page=page, by_status=by_status, status=status,
                           statuses=MessageStatus.choices(),
                           smtp=SmtpSettings.from_config(current_app.config))


@bp.route("/admin/outbox/<int:message_id>")
@installation_admin_required
def message(message_id: int):
    """One message as it was (or will be) sent."""
    msg = services.get_message(db(), message_id)
    return render_template("mail/message.html", msg=msg)
