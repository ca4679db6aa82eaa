"""The phone inspection flow, drafts and sync state, manifest and service worker.

The two pages are an app shell: their HTML is the same for every merchant (the scripts read the query and draw
the merchant from the offline packet or the merchant JSON), so the service worker can keep one copy of each and
open them without signal. Online, the server still checks the merchant lies in the user's stations (404 outside).
"""
from __future__ import annotations

from flask import Response, render_template, request

from app.field.views import bp
from app.security import ledger_write_required, staff_required
from app.static_files import versioned_static
from app.web import arg_int, db, in_scope, scope

# The files every field page needs, kept by the service worker for work without signal (the shell).
SHELL_FILES = [("bootstrap.static", "css/bootstrap.min.css"), ("static", "app.css"),
               ("static", "vendor/idb-keyval-6.2.2.umd.js"), ("static", "vendor/signature_pad-5.1.4.umd.min.js"),
               ("static", "vendor/exifr-7.1.3.lite.umd.js"),
               ("static", "field/store.js"), ("static", "field/sync.js"), ("static", "field/photos.js"),
               ("static", "field/home.js"), ("static", "field/inspect.js"),
               ("static", "field/icon-192.png"), ("static", "field/icon-512.png")]
# Online search results on the home page (the packet's own search covers offline work).
SEARCH_LIMIT = 30


@bp.route("/")
@staff_required
def index():
    """现场检查 home: drafts on this phone, today's worklist, merchant search (online results under ?q=)."""
    from app.merchants.queries import merchant_list

    q = request.args.get("q", "").strip()
    found = db().scalars(merchant_list(scope(), q=q).limit(SEARCH_LIMIT)).all() if q else []
    return render_template("field/index.html", q=q, found=found, search_limit=SEARCH_LIMIT)


@bp.route("/inspect")
@ledger_write_required
def inspect():
    """The inspection page of one merchant (?merchant_id=, optional ?instrument_id= and ?problem=1)."""
    from app.merchants.services import get_merchant

    merchant_id = arg_int("merchant_id")
    if merchant_id is not None:
        in_scope(get_merchant, merchant_id)  # 404 outside the user's stations; the page itself is the shell
    return render_template("field/inspect.html")


@bp.route("/sw.js")
def service_worker():
    """The service worker (scope /field/): keeps the shell, the packet and merchant JSON for work without signal.

    Public like the static files: it holds only the shell's addresses, and the browser's update check must not
    break on a login redirect when the session has ended.
    """
    shell = [versioned_static(endpoint, name) for endpoint, name in SHELL_FILES]
    body = render_template("field/sw.js", shell=shell, version=_shell_version(shell))
    response = Response(body, mimetype="text/javascript")
    # The browser checks the worker for a new version on each visit: never an old copy from a cache.
    response.headers["Cache-Control"] = "no-cache, no-store, must-revalidate"
    return response


@bp.route("/manifest.webmanifest")
def manifest():
    """The web app manifest that makes the field pages installable (public: browsers fetch it without cookies)."""
    from flask import url_for

    body = render_template("field/manifest.webmanifest",
                           icon_192=versioned_static("static", "field/icon-192.png"),
                           icon_512=versioned_static("static", "field/icon-512.png"),
                           start_url=url_for("field.index"), scope=url_for("field.index"))
    return Response(body, mimetype="application/manifest+json")


def _shell_version(shell: list[str]) -> str:
    """A short fingerprint of the shell's addresses: a changed file gives a new worker and a new cache."""
    import hashlib

    return hashlib.sha256("\n".join(shell).encode()).hexdigest()[:12]
