"""Headers a browser enforces (app/headers.py): the policy on error pages too, the per-request nonce of a
page's <style> block, and templates that need nothing the policy forbids (inline script, event-handler
attributes, style attributes, un-nonced <style>). tests/test_access.py asserts the headers on every
response of every route; tests/browser/test_csp.py checks Chromium reports no violation."""
from __future__ import annotations

import re
from pathlib import Path

from app import create_app
from config import TestConfig
from tests.conftest import login

APP = Path(__file__).resolve().parent.parent / "app"

FORBIDDEN = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script> (move it to app/static/app.js)"),
    (re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I), "an on...= event-handler attribute (use app.js and a data- attribute)"),
    (re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I), "a style attribute (use a class in app.css)"),
    (re.compile(r"<style(?![^>]*\bnonce=\"\{\{ csp_nonce\(\) \}\}\")[^>]*>", re.I), "a <style> block without the nonce"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def policy_problems(text: str) -> list[str]:
    """What in a template's text the Content-Security-Policy would block."""
    return [why for pattern, why in FORBIDDEN if pattern.search(text)]


def test_templates_need_nothing_the_policy_forbids():
    templates = sorted(APP.rglob("*.html"))
    assert len(templates) > 40
    problems = [f"{t.relative_to(APP)}: {why}" for t in templates for why in policy_problems(t.read_text("utf-8"))]
    assert not problems, "\n".join(problems)


def test_the_template_check_notices_each_forbidden_thing():
    for text in ("<script>alert(1)</script>", '<button onclick="go()">', '<div class="x" style="width: 5%">',
                 "<style>p {}</style>", '<a href="javascript:go()">'):
        assert policy_problems(text), text
    assert not policy_problems('<script src="/static/app.js"></script><style nonce="{{ csp_nonce() }}">p {}</style>'
                               '<svg><rect fill="#000"/></svg><button data-print>')


def test_the_unexpected_error_page_carries_the_headers(database_url):
    app = create_app(TestConfig, DATABASE_URL=database_url, PROPAGATE_EXCEPTIONS=False)
    app.add_url_rule("/boom", "boom", lambda: 1 / 0)
    try:
        resp = app.test_client().get("/boom")
        assert resp.status_code == 500
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        assert resp.headers["X-Content-Type-Options"] == "nosniff" and resp.headers["X-Frame-Options"] == "DENY"
    finally:
        app.extensions["database"].dispose()


def test_a_style_block_carries_this_requests_nonce(client, world):
    login(client, "insp_a")
    nonces = []
    for _ in range(2):
        resp = client.get("/instruments/labels/sheet?size=38x21")
        assert resp.status_code == 200
        page_nonce = re.search(r'<style nonce="([^"]+)">', resp.get_data(as_text=True)).group(1)
        assert f"style-src 'self' 'nonce-{page_nonce}'" in resp.headers["Content-Security-Policy"]
        nonces.append(page_nonce)
    assert nonces[0] != nonces[1] and len(nonces[0]) >= 16
    # A page without a <style> block gets no nonce at all.
    assert "nonce-" not in client.get("/instruments/").headers["Content-Security-Policy"]
