"""Field pages on one blueprint (`/field/...`), one module per sub-area:

- pages: the phone's inspection flow, its drafts and sync state, the web app manifest and service worker;
- api: the JSON the phone reads (what to cache for offline work) and the endpoint that receives a draft;
- scan: the 扫码 page that reads a label with the camera and opens the record.
"""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("field", __name__, template_folder="../templates", url_prefix="/field")

# Each module adds its routes to bp when imported.
from app.field.views import api, pages, scan  # noqa: E402,F401
