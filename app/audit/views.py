"""The admin view of the audit log."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from app.audit.queries import ACTION_LABELS, entries
from app.security import admin_required
from app.web import paginate

bp = Blueprint("audit", __name__, template_folder="templates", url_prefix="/admin/audit")

ENTITY_LABELS = {
    "merchants": "使用单位", "instruments": "计量器具", "verifications": "检定记录", "users": "用户",
    "stations": "监管所", "instrument_types": "器具种类", "finding_codes": "问题代码", "catalogue": "器具目录",
    "import_batches": "台账导入批次", "credit_rules": "信用分类规则", "monthly_reports": "月报",
}


@bp.route("/")
@admin_required
def index():
    """Every audit entry, filterable by record type, actor and action."""
    stmt = entries(request.args.get("entity_type") or None, request.args.get("actor", ""),
                   request.args.get("action") or None)
    return render_template("audit/index.html", page=paginate(stmt), entity_labels=ENTITY_LABELS,
                           action_labels=ACTION_LABELS)
