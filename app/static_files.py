"""Static files light on a phone network: gzip for the CSS and JavaScript the browser asks for compressed, and
a year's cache lifetime for an address that carries its file's fingerprint (?v=...).

Only the static routes and the phone's offline data (the field packet and merchant JSON: records, no token, no
text from the request) are compressed, never pages: a page carries its CSRF token, and compressing a secret next
to text an attacker can put in the same answer leaks it through the compressed size (BREACH). The compressed
copy of a file is made once per version and kept in memory (the static files are a few dozen, at most a few
hundred KB each).
Written here rather than with Flask-Compress: a dozen lines for two routes, no new dependency, and nothing that
could start compressing pages by a default.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import threading

from flask import Flask, current_app, request, url_for

STATIC_ENDPOINTS = ("static", "bootstrap.static")
# JSON the phone downloads for offline work (app/field/views/api.py): large, and free of secrets.
DATA_ENDPOINTS = ("field.api_packet", "field.api_merchant")
COMPRESSED_TYPES = ("text/css", "text/javascript", "application/javascript", "image/svg+xml", "application/json")
# Smaller files gain nothing worth the Content-Encoding (a few bytes of header against a few saved).
MIN_BYTES = 1024
YEAR = 365 * 24 * 3600

_compressed: dict[tuple[str, str], bytes] = {}
_fingerprints: dict[tuple[str, str], tuple[float, str]] = {}
_lock = threading.Lock()


def versioned_static(endpoint: str, filename: str) -> str:
    """The address of a static file with its content's fingerprint (?v=), cached for a year by the browser."""
    folder = current_app.static_folder if endpoint == "static" else \
        current_app.blueprints[endpoint.split(".")[0]].static_folder
    path = os.path.join(folder, filename)
    mtime = os.path.getmtime(path)
    known = _fingerprints.get((endpoint, filename))
    if known is None or known[0] != mtime:
        with open(path, "rb") as f:
            known = (mtime, hashlib.sha256(f.read()).hexdigest()[:10])
        _fingerprints[(endpoint, filename)] = known
    return url_for(endpoint, filename=filename, v=known[1])


def init_static_files(app: Flask) -> None:
    """Compress static CSS/JS for browsers that accept gzip; long cache lifetimes for fingerprinted addresses."""
    app.jinja_env.globals["versioned_static"] = versioned_static

    @app.after_request
    def _static_response(response):
        if request.endpoint in DATA_ENDPOINTS:
            return _gzipped(response, None)
        if request.endpoint not in STATIC_ENDPOINTS:
            return response
        if request.args.get("v") and response.status_code in (200, 304):
            response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
        return _gzipped(response, response.get_etag()[0])


def _gzipped(response, etag: str | None):
    """The response gzipped when the browser accepts it; a file's copy (with its etag) is made once per version."""
    response.vary.add("Accept-Encoding")
    if (response.status_code != 200 or response.mimetype not in COMPRESSED_TYPES
            or "gzip" not in request.accept_encodings or "Content-Encoding" in response.headers):
        return response
    key = (request.path, etag) if etag else None
    data = _compressed.get(key) if key else None
    if data is None:
        response.direct_passthrough = False
        raw = response.get_data()
        if len(raw) < MIN_BYTES:
            return response
        data = gzip.compress(raw, compresslevel=9 if key else 6, mtime=0)
        if key:
            with _lock:
                _compressed[key] = data
    response.direct_passthrough = False
    response.set_data(data)
    response.headers["Content-Encoding"] = "gzip"
    if etag:
        # Another encoding of the same file: a weak validator, still matched by If-None-Match.
        response.set_etag(etag, weak=True)
    return response
