"""The phone's field pages (app/field/views/pages.py): the shell pages open for staff and check the merchant's
station, the service worker and manifest pass the security policy, and static files travel compressed."""
from __future__ import annotations

import gzip
import json

from tests.conftest import login


def runs_on_postgresql(test: str, params: dict) -> bool:
    """The scope check reads the database; the rest is markup, headers and files, the same on both."""
    return test == "test_inspect_checks_the_merchants_station"


def test_inspect_checks_the_merchants_station(client, world):
    """An inspector opens the page of a merchant of their station; another station's merchant is 404."""
    login(client, "insp_a")
    page = client.get(f"/field/inspect?merchant_id={world.merchant_a.id}&instrument_id={world.instrument_a.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'id="inspect-app"' in text and 'capture="environment"' in text and "multiple" in text
    assert client.get(f"/field/inspect?merchant_id={world.merchant_b.id}").status_code == 404
    assert client.get("/field/inspect?merchant_id=999999").status_code == 404


def test_pages_need_login_and_the_right(client, world):
    """Anonymous visitors log in first; a supervisor sees the home page but records no inspection."""
    assert client.get("/field/").headers["Location"].startswith("/login")
    login(client, "super1")
    assert client.get("/field/").status_code == 200
    assert client.get(f"/field/inspect?merchant_id={world.merchant_a.id}").status_code == 403


def test_home_searches_my_stations(client, world):
    """The online search lists merchants of the inspector's stations only, linked to their inspection page."""
    login(client, "insp_a")
    text = client.get("/field/?q=" + world.merchant_a.name[:2]).get_data(as_text=True)
    assert world.merchant_a.name in text and f"/field/inspect?merchant_id={world.merchant_a.id}" in text
    other = client.get("/field/?q=" + world.merchant_b.name).get_data(as_text=True)
    assert "查到 0 家" in other and f"merchant_id={world.merchant_b.id}" not in other


def test_worker_and_manifest(client):
    """The worker is served fresh from /field/ (its scope), lists the fingerprinted shell; the manifest makes the
    app installable in Chinese; both are answered under the same policy as every page."""
    worker = client.get("/field/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert "no-cache" in worker.headers["Cache-Control"]
    source = worker.get_data(as_text=True)
    assert "/static/field/inspect.js?v=" in source and '"/field/inspect"' in source
    manifest = client.get("/field/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    data = json.loads(manifest.get_data(as_text=True))
    assert data["start_url"] == "/field/" and data["display"] == "standalone" and data["short_name"] == "现场检查"
    assert {icon["sizes"] for icon in data["icons"]} == {"192x192", "512x512"}
    for icon in data["icons"]:
        assert client.get(icon["src"]).data.startswith(b"\x89PNG")
    for resp in (worker, manifest):
        policy = resp.headers["Content-Security-Policy"]
        # No worker-src / manifest-src: both fall back to default-src 'self', which allows these same-origin files.
        assert "default-src 'self'" in policy and "worker-src" not in policy and "manifest-src" not in policy


def test_static_files_are_compressed_and_fingerprinted_ones_cached(client):
    """CSS and JavaScript are sent gzipped to browsers that ask; a ?v= address is cached for a year; pages are
    never compressed (they carry CSRF tokens: BREACH)."""
    plain = client.get("/bootstrap/static/css/bootstrap.min.css")
    packed = client.get("/bootstrap/static/css/bootstrap.min.css?v=1", headers={"Accept-Encoding": "gzip, br"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data and len(packed.data) < len(plain.data) / 4
    assert "max-age=31536000" in packed.headers["Cache-Control"] and "max-age" not in plain.headers.get(
        "Cache-Control", "")
    again = client.get("/bootstrap/static/css/bootstrap.min.css?v=1", headers={
        "Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304
    login_page = client.get("/login", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in login_page.headers
