"""The phone inspection flow, drafts and sync state, manifest and service worker."""
from __future__ import annotations

from flask import redirect, request, url_for

from app.field.views import bp
from app.security import staff_required


# PLACEHOLDER (helper "scan"): stands in for the real phone inspection page of helper "fieldui" so the instrument
# page's 开始检查 / 登记问题 links work on the scan branch. Replace at merge, with its access-matrix Case.
@bp.route("/inspect")
@staff_required
def inspect():
    """PLACEHOLDER: the desktop inspection form for the merchant."""
    return redirect(url_for("inspections.inspection_new", merchant_id=request.args.get("merchant_id", "")))
