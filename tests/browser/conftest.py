"""Real-browser fixtures: Debian's Chromium driven by Playwright against the app served
by werkzeug in a background thread.

No browser is ever downloaded (`playwright install` does not work on station networks);
Playwright drives the system Chromium at CHROMIUM_PATH. Without it the browser tests are
skipped on a developer machine but fail under CI=true, where .ci/run installs it."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import fresh_app

CHROMIUM_PATH = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 15_000


def sqlite_only(test: str, params: dict) -> bool:
    """A browser module's `runs_on_postgresql` (tests/conftest.py): none of its tests on PostgreSQL. What a browser
    test adds to the request-level tests, which run on both databases, is layout, markup and script, which no
    database changes; the register-verify flow and the corrections flow on a phone still run on both. Keeps CI
    under 5 minutes."""
    return False


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> None:
    """Skip on a developer machine; fail in CI, where the browser test must really run."""
    if _in_ci():
        pytest.fail(f"{reason} (CI is set, so the browser test may not be skipped; .ci/run installs it)",
                    pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session."""
    if not (CHROMIUM_PATH.is_file() and os.access(CHROMIUM_PATH, os.X_OK)):
        _unavailable(f"Chromium not found at {CHROMIUM_PATH}: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright is in requirements-dev.txt
        _unavailable(f"playwright is not importable: {exc}")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM_PATH), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture()
def live_app(database_url):
    """Like tests.conftest.app, but with CSRF on so the real forms and their tokens are exercised."""
    application = fresh_app(database_url, WTF_CSRF_ENABLED=True)
    assert application.config["WTF_CSRF_ENABLED"] is True
    yield application
    application.extensions["database"].dispose()


@pytest.fixture()
def live_server(live_app):
    """The app served on 127.0.0.1 at a free port (chosen by the OS) in a background thread."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


# Runs in every page before its own scripts (injected by the browser, so the policy does not block it):
# each securitypolicyviolation event becomes a console error the listener below collects.
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.effectiveDirective + " blocked " + (e.blockedURI || "inline") +
                " at " + e.sourceFile + ":" + e.lineNumber + " " + (e.sample || ""));
}, true);
"""


class PageProblems:
    """What went wrong in the browser beyond the test's own assertions."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.js_errors: list[str] = []
        self.bad_responses: list[str] = []
        self.external_requests: list[str] = []
        self.csp_violations: list[str] = []

    def attach(self, page) -> None:
        page.add_init_script(CSP_REPORTER)
        page.on("pageerror", lambda err: self.js_errors.append(str(err)))
        page.on("response", lambda r: r.status >= 400 and self.bad_responses.append(f"{r.status} {r.url}"))
        page.on("request", self._on_request)
        page.on("console", self._on_console)

    def _on_console(self, message) -> None:
        # Chromium's own report ("Refused to ... because it violates the following Content Security Policy
        # directive") and the event above both land here.
        text = message.text
        if "Content Security Policy" in text or text.startswith("CSP violation"):
            self.csp_violations.append(f"{message.page.url if message.page else ''}: {text}")

    def _on_request(self, request) -> None:
        url = request.url
        if not (url.startswith(self.base_url) or url.startswith(("data:", "about:", "blob:"))):
            self.external_requests.append(url)  # station intranets have no internet: no CDN, ever

    def assert_clean(self) -> None:
        assert not self.js_errors, f"JavaScript errors: {self.js_errors}"
        assert not self.bad_responses, f"HTTP errors: {self.bad_responses}"
        assert not self.external_requests, f"requests left the server: {self.external_requests}"
        assert not self.csp_violations, "Content-Security-Policy violations:\n" + "\n".join(self.csp_violations)


@pytest.fixture()
def page(browser, live_server):
    """A fresh browser context (own cookies) in Chinese, on the Shanghai clock."""
    context = browser.new_context(base_url=live_server, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture()
def problems(page, live_server) -> PageProblems:
    """JavaScript errors, HTTP errors and off-server requests seen by the page."""
    seen = PageProblems(live_server)
    seen.attach(page)
    return seen
