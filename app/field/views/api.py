"""JSON for the phone: the offline packet and the endpoint that receives an inspection draft.

Every answer is JSON, errors included ({"state": "refused", "errors": [...]}, see app/__init__.py): 401 when not
logged in (never a redirect to the login page), 403 without the capability, 404 outside the user's stations.
POSTs carry the CSRF token in the X-CSRFToken header (GET /field/api/token gives a fresh one).
The shapes are described in docs/field-api.md.
"""
from __future__ import annotations

import json

from flask import current_app, jsonify, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from app.clock import today
from app.db import utcnow
from app.field import services
from app.field.views import bp
from app.images import limits_from
from app.security import api_ledger_write_required, api_staff_required
from app.web import db, scope, unit_of_work


def _refused(status: int, errors: list[str]):
    return jsonify({"state": "refused", "errors": errors}), status


def _compact(body: dict):
    """A large answer as compact UTF-8 JSON (Chinese as itself, not as \\u escapes), private and never kept by the
    browser's HTTP cache (the phone keeps it in IndexedDB). It is gzipped with the static files when the phone
    accepts it (app/static_files.py DATA_ENDPOINTS; the packet: about 790 KB -> 47 KB)."""
    response = current_app.response_class(json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                                          mimetype="application/json")
    response.vary.add("Cookie")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/api/token")
@api_staff_required
def api_token():
    """A fresh CSRF token for the X-CSRFToken header of the next POST (a draft may be sent hours later)."""
    response = jsonify({"csrf_token": generate_csrf()})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/api/packet")
@api_staff_required
def api_packet():
    """What the phone keeps for offline work, bounded: see services.packet (the bounds are in `limits`)."""
    return _compact(services.packet(db(), current_user, scope(), today(), current_app.config["DUE_SOON_DAYS"],
                                    utcnow()))


@bp.route("/api/merchants/<int:merchant_id>")
@api_staff_required
def api_merchant(merchant_id: int):
    """One merchant of the user's stations with its first instruments, for a merchant not in the packet."""
    return _compact(services.merchant_detail(db(), scope(), merchant_id, today(), current_app.config["DUE_SOON_DAYS"]))


@bp.route("/api/inspections", methods=["POST"])
@api_ledger_write_required
def api_inspection():
    """Record a draft sent from the phone (multipart: `draft` JSON plus photo-<n> / signature-<n> files), once.

    201 sent; 200 already recorded under this client_id (nothing written); 409 conflict (nothing written);
    422 refused (nothing written).
    """
    try:
        draft = json.loads(request.form.get("draft") or "")
    except ValueError:
        return _refused(422, ["检查草稿格式无效（不是 JSON）"])
    files = {name: upload.read() for name, upload in request.files.items()}
    storage = services.Storage(folder=current_app.config["EVIDENCE_STORAGE"],
                               max_bytes=current_app.config["EVIDENCE_MAX_BYTES"],
                               photo_limits=limits_from(current_app.config))
    outcome = None
    with unit_of_work(show=False) as uow:
        outcome = services.record_field_inspection(uow.session, current_user, scope(), draft, files, today(), storage,
                                                   now=utcnow())
    if not uow.ok:
        err = uow.error
        status = 422 if err.status_code == 400 else err.status_code
        return _refused(status, getattr(err, "errors", [err.message]))
    if outcome.state == "conflict":
        return jsonify({"state": "conflict", "reasons": outcome.reasons}), 409
    inspection = outcome.inspection
    body = {"state": "sent", "inspection_id": inspection.id,
            "url": url_for("inspections.inspection", inspection_id=inspection.id)}
    return jsonify(body), 201 if outcome.state == "sent" else 200
