"""The 扫码 page: read a label with the camera (or a photo, or typed by hand) and open its record.

The page decodes QR codes in the browser (app/static/field/scan.js): with the browser's BarcodeDetector where
it reads QR codes, else with the vendored barcode-detector ponyfill (ZXing compiled to WebAssembly, served
from /static/vendor). What the code names is asked of `scan_resolve`, so the page can say that a label is
another station's instrument, or not this system's label at all, before leaving the page.
"""
from __future__ import annotations

from flask import current_app, g, jsonify, render_template, request, url_for

from app.field.labels import LabelCode, origin_of, read_label
from app.field.views import bp
from app.public.queries import instrument_by_token
from app.public.services import other_station
from app.security import staff_required
from app.web import db, scope

NOT_OURS = "这不是本系统的器具标签。"


def label_origins() -> set[str]:
    """The origins this system's labels are printed with: PUBLIC_BASE_URL and the address the app is opened at."""
    return {origin_of(current_app.config.get("PUBLIC_BASE_URL") or ""), origin_of(request.host_url)} - {""}


@bp.route("/scan")
@staff_required
def scan():
    """The scanner: camera, a photo of the label, or the serial number typed in."""
    # WebAssembly (the ponyfill's reader) is compiled only where the policy allows it: this page alone.
    g.csp_wasm = True
    return render_template("field/scan.html")


def resolution(code: str, label: LabelCode) -> dict:
    """Where a read code leads, for the scan page (JSON)."""
    inst = db().scalars(instrument_by_token(label.token)).first() if label.token else None
    if inst is None:
        if label.token and label.ours:
            return {"state": "unknown", "message": "本系统中没有与该标签对应的计量器具，标签可能已作废或识别有误。",
                    "text": code}
        return {"state": "foreign", "message": NOT_OURS, "text": code}
    name = f"{inst.type.name_zh} {inst.serial_no}（{inst.merchant.name}）"
    if scope().allows(inst.station_id):
        return {"state": "own", "url": url_for("instruments.detail", instrument_id=inst.id), "instrument": name}
    return {"state": "other_station", "url": url_for("public.instrument", token=inst.public_token),
            "instrument": name, "station": inst.merchant.station.name,
            "message": other_station(inst) + "。"}


@bp.route("/scan/resolve")
@staff_required
def scan_resolve():
    """What a label code read on the phone names: this user's instrument, another station's, or nothing here."""
    code = request.args.get("code", "")
    return jsonify(resolution(code[:200], read_label(code, label_origins())))
