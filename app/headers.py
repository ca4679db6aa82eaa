"""Security headers a browser enforces, on every response: Content-Security-Policy, frame and sniffing
protection and a strict referrer policy.

The policy allows only the app's own origin. Scripts come from files under /static and Bootstrap-Flask's
/bootstrap/static (no inline script, no event-handler attributes); a page's own <style> block carries the
request's nonce (`csp_nonce()` in templates); style="..." attributes are not allowed (classes instead).
Images may also be data: URLs because Bootstrap's stylesheet draws its small icons (the navbar toggler,
select arrows) with them. Written here rather than with Flask-Talisman: the few headers are a dozen lines,
and Talisman's defaults (forcing HTTPS, rewriting session cookie flags) would fight the test and intranet
set-ups and the session settings kept in config.py.
"""
from __future__ import annotations

import secrets

from flask import Flask, g

REFERRER_POLICY = "same-origin"  # never to another site; same-origin keeps Flask-WTF's HTTPS referrer check working


def csp_nonce() -> str:
    """This request's nonce for an inline <style> block (made on first use)."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return nonce


def content_security_policy(nonce: str | None, wasm: bool = False) -> str:
    """The policy for one response; a <style> block needs the nonce the page was rendered with, and a page that
    compiles WebAssembly (the 扫码 page's QR reader) sets `wasm`: 'wasm-unsafe-eval' allows that and no eval()."""
    styles = f"'self' 'nonce-{nonce}'" if nonce else "'self'"
    scripts = "'self' 'wasm-unsafe-eval'" if wasm else "'self'"
    return (f"default-src 'self'; script-src {scripts}; "
            f"style-src {styles}; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def init_security_headers(app: Flask) -> None:
    """Send the headers on every response, error pages and files included."""
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        headers["Content-Security-Policy"] = content_security_policy(g.get("csp_nonce"), g.get("csp_wasm", False))
        if g.get("csp_sandbox"):
            # A user's file shown inline (a certificate's PDF): a unique origin, no scripts, no forms, no popups.
            headers["Content-Security-Policy"] += "; sandbox"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = REFERRER_POLICY
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        return response
