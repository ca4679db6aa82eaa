"""The house rules of DESIGN.md that code review alone would not keep:

- models, services, queries, the engine, the core helpers, importers/ and reports/ never import Flask
  (nor WTForms, nor the app's own web layer): they take a session and plain arguments;
- services flush and never commit (views, CLI commands, jobs and imports commit);
- pages load nothing from the internet: no template or stylesheet points a script, style, font or
  image at an http(s) address, and the rendered pages do not either.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import lxml.html
import pytest

from config import Config, ProductionConfig
from tests.conftest import login

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"

FORBIDDEN_PACKAGES = ("flask", "wtforms", "flask_wtf")  # and every flask_* package
# The app's own modules that are Flask-bound: importing them is importing Flask.
WEB_LAYER = re.compile(r"^app(\.[a-z_]+)?\.(views|forms)$|^app\.(web|security|extensions|forms)$")


def flask_free_files() -> list[Path]:
    """The modules that must not depend on Flask, per DESIGN.md's architecture."""
    files: set[Path] = set()
    for name in ("models.py", "services.py", "queries.py", "engine.py", "jobs.py"):
        files.update(APP.rglob(name))
    for rel in ("db.py", "scope.py", "text.py", "clock.py", "migrate.py", "uploads.py", "demo/generator.py",
                "demo/inspections.py", "inspections/draw.py", "alerts/kinds.py", "mail/transport.py",
                "mail/delivery.py"):
        if (APP / rel).exists():
            files.add(APP / rel)
    for package in ("importers", "reports"):
        files.update((ROOT / package).rglob("*.py"))
    return sorted(f for f in files if "__pycache__" not in f.parts)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """Every module a file imports, anywhere in it (functions included), relative imports resolved."""
    source = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(source, filename=str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.append((node.lineno, base))
            # `from app.x import views` imports the module app.x.views
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def is_flask(module: str) -> bool:
    top = module.split(".")[0]
    return top in FORBIDDEN_PACKAGES or top.startswith("flask_")


def test_the_walk_finds_the_layers():
    """Guard against a walk that silently checks nothing (e.g. after a move)."""
    names = {module_name(f) for f in flask_free_files()}
    for expected in ("app.merchants.models", "app.merchants.services", "app.instruments.queries",
                     "app.instruments.engine", "app.db", "app.scope", "app.text", "app.clock", "app.migrate",
                     "app.inspections.draw", "app.inspections.services", "app.alerts.jobs", "app.mail.jobs",
                     "app.mail.delivery", "app.mail.transport"):
        assert expected in names


@pytest.mark.parametrize("path", flask_free_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_layers_do_not_import_flask(path: Path):
    bad = [f"{path.relative_to(ROOT)}:{line} imports {module}" for line, module in imported_modules(path)
           if is_flask(module) or WEB_LAYER.match(module)]
    assert not bad, "Flask-free layer imports Flask or the web layer:\n" + "\n".join(bad)


def test_the_import_check_catches_violations():
    """The checker itself: direct, aliased, nested and relative imports of Flask or views are caught."""
    source = ("import flask\nfrom flask_login import current_user\nimport wtforms.validators as v\n"
              "def f():\n    from flask import g\nfrom . import views\nfrom ..web import db\n"
              "from app.instruments.forms import InstrumentForm\nimport sqlalchemy\n")
    # A made-up file in app/merchants/ (never written): its path resolves the relative imports.
    modules = [m for _, m in imported_modules(APP / "merchants" / "probe.py", source)]
    flagged = {m for m in modules if is_flask(m) or WEB_LAYER.match(m)}
    assert {"flask", "flask_login", "wtforms.validators", "app.merchants.views", "app.web",
            "app.instruments.forms"} <= flagged
    assert "sqlalchemy" not in flagged


# --- unit of work: services flush, views commit --------------------------------------------------

COMMITTING_CALLS = {"commit", "session_scope"}


def committing_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in COMMITTING_CALLS:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} calls {name}()")
    return found


SERVICE_FILES = sorted(APP.rglob("services.py"))


def test_there_are_services_to_check():
    assert len(SERVICE_FILES) >= 4


@pytest.mark.parametrize("path", SERVICE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_services_never_commit(path: Path):
    calls = committing_calls(path)
    assert not calls, "services flush, views commit:\n" + "\n".join(calls)


# --- pages load nothing from the internet --------------------------------------------------------

EXTERNAL = r"""(?:https?:)?//[^"'\s)]+"""
LOADING_TAG = re.compile(r"<(script|link|img|iframe|source|audio|video|embed|object|track|input)\b[^>]*>",
                         re.IGNORECASE | re.DOTALL)
LOADING_ATTR = re.compile(r"""\b(src|href|data|srcset|poster)\s*=\s*["']?\s*(""" + EXTERNAL + ")",
                          re.IGNORECASE)
CSS_URL = re.compile(r"""(?:url\(\s*["']?|@import\s+["'])\s*(""" + EXTERNAL + ")", re.IGNORECASE)


def external_resources(text: str) -> list[str]:
    """Addresses on the internet that a page or stylesheet would load (links to click are fine)."""
    found = []
    for tag in LOADING_TAG.finditer(text):
        found += [m.group(2) for m in LOADING_ATTR.finditer(tag.group(0))]
    found += CSS_URL.findall(text)
    return found


def test_the_resource_check_catches_cdn_references():
    page = """<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/bootstrap.min.css">
    <script defer src='//unpkg.com/chart.js'></script><style>@import "https://fonts.googleapis.com/css";
    body { background: url(http://example.com/bg.png) }</style>
    <a href="https://www.samr.gov.cn/">国家市场监督管理总局</a><link href="/static/app.css" rel="stylesheet">"""
    assert len(external_resources(page)) == 4


TEMPLATES = sorted(p for p in APP.rglob("*.html") if "__pycache__" not in p.parts)
STATIC_TEXT = sorted(p for ext in ("css", "js") for p in (APP / "static").rglob(f"*.{ext}"))


def test_there_are_templates_to_check():
    assert any(p.name == "base.html" for p in TEMPLATES)


@pytest.mark.parametrize("path", TEMPLATES + STATIC_TEXT, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_and_static_files_load_nothing_from_the_internet(path: Path):
    found = external_resources(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)} loads from the internet: {found}"


def test_bootstrap_is_served_from_the_installed_package(client):
    """The pages link Bootstrap's files at this app's own address, and the app serves them from the package."""
    assert Config.BOOTSTRAP_SERVE_LOCAL is True
    assert ProductionConfig.BOOTSTRAP_SERVE_LOCAL is True
    page = lxml.html.fromstring(client.get("/login").data)
    sheets = [href for href in page.xpath('//link[@rel="stylesheet"]/@href') if "bootstrap" in href]
    scripts = [src for src in page.xpath("//script/@src") if "bootstrap" in src]
    assert sheets and scripts, (sheets, scripts)
    for url in sheets + scripts:
        assert url.startswith("/bootstrap/static/"), url
        resp = client.get(url)
        assert resp.status_code == 200 and len(resp.data) > 10_000, url


def test_rendered_pages_load_nothing_from_the_internet(app, client, world):
    pages = {"/login": client.get("/login")}
    login(client, "admin1")
    for path in ("/", "/merchants/", f"/merchants/{world.merchant_a.id}/edit", "/instruments/",
                 f"/instruments/{world.instrument_a.id}", "/admin/users"):
        pages[path] = client.get(path)
    for path, resp in pages.items():
        assert resp.status_code == 200, path
        text = resp.get_data(as_text=True)
        assert "bootstrap" in text.lower(), path  # the stylesheet is there, just not from a CDN
        assert not external_resources(text), (path, external_resources(text))
