"""The house rules (docs/architecture.md) that code review alone would not keep:

- models, services, queries, the engine, the core helpers, importers/ and reports/ never import Flask
  (nor WTForms, nor the app's own web layer): they take a session and plain arguments;
- services flush and never commit (views, CLI commands, jobs and imports commit);
- views commit only through app/web.py's unit of work, and build no select(): queries are named functions;
- capabilities, not roles, decide what a user may do: no template and no view compares roles;
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
WEB_LAYER = re.compile(r"^app(\.[a-z_]+)?\.(views|forms)(\.[a-z_]+)?$|^app\.(web|security|extensions|forms)$")


def flask_free_files() -> list[Path]:
    """The modules that must not depend on Flask (docs/architecture.md)."""
    files: set[Path] = set()
    for name in ("models.py", "services.py", "queries.py", "engine.py", "jobs.py"):
        files.update(APP.rglob(name))
    for rel in ("db.py", "bulk.py", "scope.py", "text.py", "clock.py", "migrate.py", "uploads.py", "demo/generator.py",
                "demo/inspections.py", "inspections/draw.py", "alerts/kinds.py", "mail/transport.py",
                "mail/delivery.py", "imports/workbooks.py"):
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
                     "app.instruments.engine", "app.db", "app.bulk", "app.scope", "app.text", "app.clock",
                     "app.migrate",
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
    assert WEB_LAYER.match("app.inspections.views.campaigns")  # a blueprint split into a package
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


# --- views: one way to commit, no inline queries ------------------------------------------------

VIEW_FILES = sorted(p for p in list(APP.rglob("views.py")) + list(APP.rglob("views/*.py"))
                    + list(APP.rglob("*_views.py")) if "__pycache__" not in p.parts)
# What a view may not call: the session's commit and rollback (app/web.py's unit_of_work does both), and
# select(), which belongs in a named query.
VIEW_FORBIDDEN_CALLS = {"commit": "commits outside web.unit_of_work", "rollback": "rolls back outside web.unit_of_work",
                        "select": "builds a select() (queries are named functions in queries.py)"}


def forbidden_view_calls(path: Path, source: str | None = None) -> list[str]:
    """Calls of commit(), rollback() or select() in a view module, by line."""
    source = path.read_text(encoding="utf-8") if source is None else source
    found = []
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in VIEW_FORBIDDEN_CALLS:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {VIEW_FORBIDDEN_CALLS[name]}")
    return found


def test_the_walk_finds_the_views():
    names = {str(p.relative_to(APP)) for p in VIEW_FILES}
    assert {"merchants/views.py", "accounts/views.py", "inspections/views/campaigns.py",
            "inspections/views/__init__.py"} <= names


def test_the_view_call_check_catches_violations():
    source = ("def v():\n    session = db()\n    session.commit()\n    db().rollback()\n"
              "    rows = db().scalars(select(User))\n    return sa.select(User)\n")
    found = forbidden_view_calls(APP / "merchants" / "views.py", source)
    assert len(found) == 4, found
    assert not forbidden_view_calls(APP / "merchants" / "views.py",
                                    "def v():\n    with unit_of_work(form) as uow:\n        change(uow.session)\n")


@pytest.mark.parametrize("path", VIEW_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_views_commit_only_through_the_unit_of_work_and_build_no_select(path: Path):
    found = forbidden_view_calls(path)
    assert not found, "views commit through app/web.py's unit_of_work and run named queries:\n" + "\n".join(found)


# --- capabilities, not roles -------------------------------------------------------------------------
# What each role may do is said once, in app/accounts/models.py (ROLE_CAPABILITIES); app/security.py guards
# routes with those capabilities. Templates, views and the scope ask for capabilities only. Services may still
# treat a role as data about the account being edited (an inspector needs a station; the last admin keeps the
# role; who receives the monthly report) and queries may select users by role (the roster of a draw): those
# are rules about the role field itself, not about what the acting user may do.

JINJA_CODE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
# A role read for a decision: `.role.value`, `.role ==`, `.role in`, `Role.X`, or a role name compared.
# Showing the role's label (`.role.label`) is not a decision.
ROLE_IN_TEMPLATE = re.compile(
    r"\.role\b(?!\.label\b)|\bRole\b|[=!]=\s*['\"](admin|supervisor|inspector)['\"]"
    r"|['\"](admin|supervisor|inspector)['\"]\s*(?:[=!]=|\bin\b|\bnot\s+in\b)")


def role_comparisons_in_template(text: str) -> list[str]:
    """The Jinja expressions of a template that decide something by role."""
    return [code.group(0) for code in JINJA_CODE.finditer(text) if ROLE_IN_TEMPLATE.search(code.group(0))]


def test_the_template_role_check_catches_comparisons():
    for bad in ("{% if current_user.role.value != 'supervisor' %}", "{% if current_user.role.value in ('admin',) %}",
                "{% set w = current_user.role == Role.ADMIN %}", "{{ 'x' if user.role in roles }}",
                "{% if 'admin' == role_name %}"):
        assert role_comparisons_in_template(bad), bad
    for fine in ('<svg role="img">', '<div role="alert">', "{{ current_user.role.label }}",
                 "{% if current_user.can_edit_ledger %}", "{{ current_user.may_edit_station(m.station_id) }}"):
        assert not role_comparisons_in_template(fine), fine


HTML_TEMPLATES = sorted(p for p in APP.rglob("*.html") if "__pycache__" not in p.parts)


def test_there_are_templates_that_ask_for_capabilities():
    """Guard against a check that silently reads nothing: the layout asks for capabilities."""
    assert "current_user.can_" in (APP / "templates" / "base.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", HTML_TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_never_compare_roles(path: Path):
    found = role_comparisons_in_template(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)} decides by role; ask current_user.can_... instead: {found}"


def role_decisions(path: Path, source: str | None = None) -> list[str]:
    """Comparisons involving a `.role` attribute or the Role enum, and any other use of Role, in a module."""
    source = path.read_text(encoding="utf-8") if source is None else source
    found = []
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Compare):
            parts = [n for n in ast.walk(node) if (isinstance(n, ast.Attribute) and n.attr == "role")
                     or (isinstance(n, ast.Name) and n.id == "Role")]
            if parts:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} compares roles")
        elif isinstance(node, ast.Name) and node.id == "Role":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} uses Role")
        elif isinstance(node, ast.ImportFrom) and any(a.name == "Role" for a in node.names):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports Role")
    return found


def test_the_role_check_catches_comparisons():
    source = ("from app.accounts.models import Role\nif user.role == Role.ADMIN: pass\n"
              "ok = current_user.role in (A, B)\nx = user.role is not None\n")
    found = role_decisions(APP / "merchants" / "views.py", source)
    assert len([f for f in found if "compares" in f]) == 3 and any("imports Role" in f for f in found), found
    assert not role_decisions(APP / "merchants" / "views.py",
                              "label = u.role.label\nok = current_user.can_edit_ledger\n")


@pytest.mark.parametrize("path", VIEW_FILES + [APP / "web.py", APP / "scope.py"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_views_and_scope_never_decide_by_role(path: Path):
    found = role_decisions(path)
    assert not found, "ask for a capability (app/accounts/models.py), not a role:\n" + "\n".join(found)


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


# --- importers/ and reports/ never commit: the caller's one transaction holds what they write ----

PACKAGE_FILES = sorted(f for package in ("importers", "reports") for f in (ROOT / package).rglob("*.py")
                       if "__pycache__" not in f.parts)


def test_there_are_importers_and_reports_to_check():
    names = {module_name(f) for f in PACKAGE_FILES}
    assert {"importers.apply", "importers.plan", "reports.monthly", "reports.xlsx"} <= names


@pytest.mark.parametrize("path", PACKAGE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_importers_and_reports_never_commit(path: Path):
    calls = committing_calls(path)
    assert not calls, "importers/ and reports/ write in the caller's transaction, the caller commits:\n" + \
        "\n".join(calls)


def test_the_commit_check_catches_commits(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f(session, db):\n    session.commit()\n    with db.session_scope() as s:\n        pass\n",
                     encoding="utf-8")
    found = committing_calls_in(probe)
    assert [line.split(" calls ")[1] for line in found] == ["commit()", "session_scope()"]


def committing_calls_in(path: Path) -> list[str]:
    """committing_calls for a file outside the project (the checker's own test)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{path.name}:{node.lineno} calls {name}()" for node in ast.walk(tree) if isinstance(node, ast.Call)
            and (name := node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None))
            in COMMITTING_CALLS]


# --- no SQL strings outside migrations: statements are built with SQLAlchemy ----------------------

# The only modules that hand the database a statement of their own, and why.
RAW_SQL_ALLOWED = {
    "app/bulk.py": "PostgreSQL's COPY, which SQLAlchemy cannot express (the importer's bulk path)",
    "app/db.py": "the SQLite connection PRAGMAs and the ANALYZE construct's compiled form",
}
SQL_START = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|TRUNCATE|PRAGMA|COPY|ANALYZE|VACUUM|"
                       r"WITH|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|SET|GRANT|LOCK)\b")
RAW_SQL_CALLS = {"text", "literal_column", "exec_driver_sql", "TextClause"}


def raw_sql(source: str, filename: str = "<probe>") -> list[str]:
    """Where a source builds SQL by hand: sqlalchemy.text() and kin, or a string (not a docstring) that reads as SQL."""
    tree = ast.parse(source, filename=filename)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in RAW_SQL_CALLS:
                found.append(f"{node.lineno}: {name}()")
            elif name == "CheckConstraint" and node.args and isinstance(node.args[0], ast.Constant):
                found.append(f"{node.lineno}: CheckConstraint({node.args[0].value!r})")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if SQL_START.match(node.value):
                found.append(f"{node.lineno}: {node.value[:40]!r}")
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            if SQL_START.match(str(node.values[0].value)):
                found.append(f"{node.lineno}: f{node.values[0].value[:40]!r}")
    return found


RAW_SQL_FILES = sorted(f for package in ("app", "importers", "reports") for f in (ROOT / package).rglob("*.py")
                       if "__pycache__" not in f.parts)


def test_the_raw_sql_walk_covers_the_code_and_the_allowed_modules_exist():
    names = {str(f.relative_to(ROOT)) for f in RAW_SQL_FILES}
    assert {"importers/apply.py", "app/imports/services.py", "reports/monthly_queries.py"} <= names
    assert set(RAW_SQL_ALLOWED) <= names


@pytest.mark.parametrize("path", [f for f in RAW_SQL_FILES if str(f.relative_to(ROOT)) not in RAW_SQL_ALLOWED],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_sql_strings_outside_migrations(path: Path):
    found = raw_sql(path.read_text(encoding="utf-8"), str(path))
    assert not found, (f"{path.relative_to(ROOT)} writes SQL by hand (build it with SQLAlchemy, or put it behind "
                       f"a named helper in app/bulk.py or app/db.py):\n" + "\n".join(found))


def test_the_raw_sql_check_catches_sql_strings():
    source = ('"""SELECT in a docstring is prose."""\nfrom sqlalchemy import text\n'
              'def f(s, t, n):\n    """UPDATE ... WHERE id = ? (prose too)"""\n'
              '    s.execute(text("SELECT 1"))\n    s.connection().exec_driver_sql("VACUUM")\n'
              '    cur.execute("PRAGMA foreign_keys=ON")\n    q = f"INSERT INTO {t} VALUES (?)"\n'
              '    s.execute(sa.literal_column("1"))\n    return "选择 SELECT 不在开头", "Selected rows"\n')
    found = raw_sql(source)
    assert sorted({int(line.split(":")[0]) for line in found}) == [5, 6, 7, 8, 9], found


def test_a_check_constraint_written_as_sql_text_is_caught():
    found = raw_sql('CheckConstraint("nozzle_count > 0", name="x")\nCheckConstraint(column("a") > 0, name="y")\n')
    assert [line.split(":")[0] for line in found] == ["1"], found


# --- the garbage collector stays on in the web process --------------------------------------------

def collector_switches(source: str) -> list[tuple[int, str]]:
    """(line, innermost function or '<module>') of every gc.disable() / gc.freeze() call in a source."""
    where: dict[int, str] = {}
    for scope in ast.walk(ast.parse(source)):  # outer scopes come first: an inner one overwrites
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module)):
            for node in ast.walk(scope):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and isinstance(node.func.value, ast.Name) and node.func.value.id == "gc"
                        and node.func.attr in ("disable", "freeze")):
                    where[node.lineno] = getattr(scope, "name", "<module>")
    return sorted(where.items())


def test_the_collector_check_names_the_function():
    source = "import gc\ngc.disable()\ndef run():\n    def inner():\n        gc.freeze()\n    gc.disable()\n"
    assert collector_switches(source) == [(2, "<module>"), (5, "inner"), (6, "run")]


def test_only_the_parsing_child_switches_the_garbage_collector_off():
    """Switching it off in the web process lets every cycle of every request pile up until an import ends;
    the child process that parses a file (importers/sandbox.py) may, as it ends when the parse does."""
    where = {(str(f.relative_to(ROOT)), name) for f in RAW_SQL_FILES
             for _, name in collector_switches(f.read_text(encoding="utf-8"))}
    assert where == {("importers/sandbox.py", "_child")}
