"""The admin view of the audit log."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from app.audit.queries import ACTION_LABELS, ENTITY_LABELS, entries
from app.security import installation_admin_required
from app.web import paginate

bp = Blueprint("audit", __name__, template_folder="templates", url_prefix="/admin/audit")


@bp.route("/")
@installation_admin_required
def index():
    """Every audit entry, filterable by record type, actor and action."""
    stmt = entries(request.args.get("entity_type") or None, request.args.get("actor", ""),
                   request.args.get("action") or None)
    return render_template("audit/index.html", page=paginate(stmt), entity_labels=ENTITY_LABELS,
                           action_labels=ACTION_LABELS)
