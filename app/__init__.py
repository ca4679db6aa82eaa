"""Application factory."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flask import Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from app.accounts.services import configure_hashing
from app.api.framework import api_request as rest_api_request, http_problem, problem
from app.audit.services import install_guards
from app.db import Database, is_unavailable
from app.errors import DATABASE_UNAVAILABLE, ERROR_MESSAGES, ERROR_TITLES, DomainError
from app.extensions import bootstrap, csrf, limiter, login_manager
from app.guard import install as install_input_guard
from app.secret_key import SecretKeyError, check_secret_key, load_or_create_secret_key
from app.uploads import NO_ROOM
from app.webhooks.capture import install as install_webhook_capture
from config import Config, config_from_env

if TYPE_CHECKING:
    from importers.sandbox import SandboxLimits

log = logging.getLogger(__name__)


def create_app(config: type[Config] | None = None, **overrides) -> Flask:
    """Build the Flask app: config, database, extensions, blueprints, errors and CLI."""
    config = config or config_from_env()
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(config)
    app.config.update(overrides)
    _set_secret_key(app)
    if app.config.get("TRUSTED_PROXIES"):
        # Behind a reverse proxy the client address (login throttling, audit) comes from X-Forwarded-For.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"], x_proto=1)

    database = Database(app.config["DATABASE_URL"], echo=app.config.get("SQL_ECHO", False))
    app.extensions["database"] = database
    install_guards()
    install_webhook_capture()
    configure_hashing(app.config["PASSWORD_HASH_METHOD"])

    @app.teardown_appcontext
    def _remove_session(_exc):
        database.remove()

    csrf.init_app(app)
    login_manager.init_app(app)
    from app.security import AnonymousUser

    login_manager.anonymous_user = AnonymousUser
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    # The limiter is one shared instance: without this, an app built with RATELIMIT_ENABLED=False would leave
    # it off for every app built after it in the same process.
    app.config.setdefault("RATELIMIT_ENABLED", True)
    limiter.init_app(app)
    from app.counts import snapshots

    snapshots.configure(app.config.get("SNAPSHOT_REDIS_URL") or app.config["RATELIMIT_STORAGE_URI"],
                        app.config.get("RATELIMIT_KEY_PREFIX", "metrology"))
    bootstrap.init_app(app)
    from app.headers import init_security_headers
    from app.static_files import init_static_files

    init_security_headers(app)
    init_static_files(app)

    @login_manager.user_loader
    def _load_user(alternative_id: str):
        from app.accounts.services import user_for_session

        # Read from the database on every request, so a logout on one app server ends the session on all.
        # The login manager is one module-level instance: the request's app, not the last one built, has the database.
        return user_for_session(current_app.extensions["database"].session, alternative_id)

    _init_imports(app, database)
    from app.tasks.runtime import init_app as init_tasks

    init_tasks(app)
    install_input_guard(app)
    _register_blueprints(app)
    _register_errors(app)
    _register_template_helpers(app)

    from app.cli import register_cli

    register_cli(app)
    return app


def _set_secret_key(app: Flask) -> None:
    """Check an explicit SECRET_KEY; without one, use the instance's generated key (never one from the code)."""
    key = app.config.get("SECRET_KEY")
    if key:
        check_secret_key(key)
    elif app.config.get("REQUIRE_SECRET_KEY"):
        raise SecretKeyError("SECRET_KEY must be set in production (at least 32 random bytes; "
                             "生产环境必须设置 SECRET_KEY)")
    else:
        app.config["SECRET_KEY"] = load_or_create_secret_key(app.config["SECRET_KEY_FILE"])


def _init_imports(app: Flask, database: Database) -> None:
    from app.imports.runner import ImportRunner

    # An upload may be as large as the import limit, plus room for the form around it.
    if not app.config.get("MAX_CONTENT_LENGTH"):
        app.config["MAX_CONTENT_LENGTH"] = app.config["IMPORT_MAX_BYTES"] + 1024 * 1024
    # The import's jobs are queue tasks (app/imports/tasks.py); the runner queues them and reads their progress.
    app.extensions["import_runner"] = ImportRunner.from_config(app.config, import_sandbox(app.config))


def import_sandbox(config) -> SandboxLimits:
    """The limits of the child process that reads an upload, from the configuration."""
    from importers.sandbox import SandboxLimits

    return SandboxLimits(memory_bytes=int(config["IMPORT_PARSE_MEMORY_MB"]) * 1024 * 1024,
                         seconds=float(config["IMPORT_PARSE_SECONDS"]), enabled=bool(config["IMPORT_SANDBOX"]))


def _register_blueprints(app: Flask) -> None:
    from app.accounts.views import bp as accounts_bp
    from app.alerts.views import bp as alerts_bp
    from app.audit.views import bp as audit_bp
    from app.bodies.views import bp as bodies_bp
    from app.cases.views import bp as cases_bp
    from app.catalog.views import bp as catalog_bp
    from app.certificates.views import bp as certificates_bp
    from app.complaints.views import bp as complaints_bp
    from app.credit.views import bp as credit_bp
    from app.dashboard.views import bp as dashboard_bp
    from app.field.views import bp as field_bp
    from app.imports.views import bp as imports_bp
    from app.inspections.views import bp as inspections_bp
    from app.instruments.views import bp as instruments_bp
    from app.integrity.views import bp as integrity_bp
    from app.jobs.views import bp as jobs_bp
    from app.mail.views import bp as mail_bp
    from app.markets.views import bp as markets_bp
    from app.merchants.views import bp as merchants_bp
    from app.monthly.views import bp as monthly_bp
    from app.outreach.views import bp as outreach_bp
    from app.plans.views import bp as plans_bp
    from app.public.views import bp as public_bp
    from app.regions.views import bp as regions_bp
    from app.results.views import bp as results_bp
    from app.rollups.views import bp as rollups_bp
    from app.search.views import bp as search_bp
    from app.tasks.views import bp as tasks_bp
    from app.webhooks.views import bp as webhooks_bp
    from app.workdays.views import bp as workdays_bp

    from app.api.admin import bp as api_tokens_bp

    for bp in (accounts_bp, alerts_bp, api_tokens_bp, audit_bp, bodies_bp, cases_bp, catalog_bp, certificates_bp,
               complaints_bp, credit_bp,
               dashboard_bp, field_bp, imports_bp, inspections_bp, instruments_bp, integrity_bp, jobs_bp, mail_bp,
               markets_bp, merchants_bp, monthly_bp, outreach_bp, plans_bp, public_bp, regions_bp, results_bp,
               rollups_bp, search_bp, tasks_bp, webhooks_bp, workdays_bp):
        app.register_blueprint(bp)
    _register_rest_api(app)


def _register_rest_api(app: Flask) -> None:
    """/api/v1 (app/api): its OpenAPI document from the code, its documentation page, no CSRF, no session."""
    from app.api.framework import ApiSessions, RestApi
    from app.api.views import bp as api_bp, docs_bp

    app.config.update(API_TITLE="计量器具监督管理系统开放接口", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
                      OPENAPI_URL_PREFIX="/api/v1", OPENAPI_JSON_PATH="openapi.json")
    app.session_interface = ApiSessions()
    rest = RestApi(app, spec_kwargs={
        "info": {"description": "按令牌的站点范围读取使用单位、计量器具、检定记录、监督检查等数据，并登记计量器具。"
                                "说明见 docs/api.md；页面版见 /api/v1/docs。"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "管理员签发的 API 令牌（mt_ 开头）"}}},
        "security": [{"bearer": []}]})
    rest.register_blueprint(api_bp)
    app.register_blueprint(docs_bp)
    # Bearer tokens, not cookies: a browser never sends one on its own, so there is no request to forge.
    csrf.exempt(api_bp)
    csrf.exempt("api-docs")
    app.extensions["rest_api"] = rest


# A public page's 404 says nothing about stations (the staff message does).
PUBLIC_NOT_FOUND = "您要查询的页面或信息不存在，或尚未公开。"


def _public_request() -> bool:
    """Whether the request is under the public pages (lookup, QR pages, published draws): its error pages use
    the public layout, with no staff branding or login link."""
    return request.path == "/public" or request.path.startswith("/public/")


def _public_error_page(code: int, message: str | None) -> str:
    # Not render_template: the public layout needs no signed-in user, so this page needs no database either.
    if message is None:
        message = PUBLIC_NOT_FOUND if code == 404 else ERROR_MESSAGES.get(code, "")
    return current_app.jinja_env.get_template("public/error.html").render(
        code=code, title=ERROR_TITLES.get(code, "出错了"), message=message)


def _api_request() -> bool:
    """Whether the request is to the phone's JSON API (/field/api/): its errors are JSON, never a page."""
    return request.path.startswith("/field/api/")


def _error_page(code: int, message: str | None = None):
    """The Chinese error page with the navigation; without it when the navigation cannot be built. Under the
    public pages, the public layout; under the phone's JSON API, {"state": "refused", "errors": [...]}; under
    the REST API (/api/), problem details (never a page)."""
    if rest_api_request():
        return problem(code, message)
    if _api_request():
        return {"state": "refused", "errors": [message or ERROR_MESSAGES.get(code, "")]}, code
    if _public_request():
        return _public_error_page(code, message), code
    message = message or ERROR_MESSAGES.get(code, "")
    try:
        return render_template("error.html", code=code, title=ERROR_TITLES.get(code, "出错了"), message=message), code
    except Exception as err:
        if is_unavailable(err):
            return _unavailable_page(err)
        log.exception("the error page's navigation failed on %s", request.path)
        current_app.extensions["database"].discard()
        return _bare_page(code, message), code


def _unavailable_page(err: Exception):
    """503 in Chinese, rendered without the database."""
    log.error("database unavailable on %s: %s", request.path, err)
    current_app.extensions["database"].discard()
    if rest_api_request():
        return problem(503, DATABASE_UNAVAILABLE)
    if _api_request():
        return {"state": "refused", "errors": [DATABASE_UNAVAILABLE]}, 503
    return _bare_page(503, DATABASE_UNAVAILABLE), 503


def _bare_page(code: int, message: str) -> str:
    # Not render_template: its context processors load the signed-in user from the database, and so
    # did the error page of a logged-in user when the database was down (Werkzeug's English 500).
    if _public_request():
        return _public_error_page(code, message)
    return current_app.jinja_env.get_template("error.html").render(
        code=code, title=ERROR_TITLES.get(code, "出错了"), message=message, bare=True)


def _register_errors(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(err: DomainError):
        return _error_page(err.status_code, err.message)

    @app.errorhandler(CSRFError)
    def _csrf(_err):
        if rest_api_request():  # the API is exempt; a CSRF error here would be a wiring mistake, still JSON
            return problem(400, "安全校验失败。")
        if _api_request():
            return _error_page(400, "安全校验失败（CSRF 令牌缺失或已过期）：请重新获取令牌后再发送，"
                                    "草稿仍保存在手机上。")
        return _error_page(400, "页面已过期或表单校验失败，请刷新页面后重新提交。")

    @app.errorhandler(429)
    def _too_many(_err):
        # The message names what was throttled: failed logins, or the public lookup.
        if request.endpoint == "accounts.login":
            return _error_page(429, "登录失败次数过多，请一分钟后再试。")
        if request.endpoint == "accounts.change_password":
            return _error_page(429, "当前密码输错次数过多，请一分钟后再试。")
        if request.endpoint in ("public.complaint_instrument", "public.complaint_merchant") and request.method == "POST":
            return _error_page(429, "提交过于频繁，请稍后再试；情况紧急可拨打 12315。")
        if request.path.startswith("/public/"):
            return _error_page(429, "查询过于频繁，请稍后再试。")
        return _error_page(429)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        if rest_api_request():
            return http_problem(err)
        return _error_page(err.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        if app.debug or app.testing and app.config.get("PROPAGATE_EXCEPTIONS"):
            raise err
        if is_unavailable(err):
            return _unavailable_page(err)
        if _redis_down(err):
            # The limiter's (or the queue's) Redis: every server is in the same state, so say so, in Chinese.
            log.error("Redis unavailable on %s: %s", request.path, err)
            app.extensions["database"].discard()
            return _error_page(503)
        log.exception("unhandled error on %s", request.path)
        app.extensions["database"].discard()
        # A full disk outside the upload store, e.g. under the temporary file of a large upload, is said so.
        return _error_page(507 if isinstance(err, OSError) and err.errno in NO_ROOM else 500)


def _redis_down(err: Exception) -> bool:
    """Whether the error is a Redis server that cannot be reached (rate limits, task queue)."""
    from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError

    return isinstance(err, (RedisConnectionError, RedisTimeoutError))


def _register_template_helpers(app: Flask) -> None:
    from app.clock import local

    @app.template_filter("dt")
    def _fmt_datetime(value):
        value = local(value)
        return value.strftime("%Y-%m-%d %H:%M") if value else ""

    @app.template_filter("d")
    def _fmt_date(value):
        return value.isoformat() if value else ""

    @app.template_filter("pct_class")
    def _pct_class(value):
        # A bar's width as one of app.css's pct-0 .. pct-100 classes (the CSP allows no style attributes).
        return f"pct-{max(0, min(100, round(value or 0)))}"

    from app.audit.queries import action_label, entity_label
    from app.web import export_url, nav_counts

    app.jinja_env.globals["nav_counts"] = nav_counts
    app.jinja_env.globals["export_url"] = export_url
    app.jinja_env.globals["action_label"] = action_label
    app.jinja_env.globals["entity_label"] = entity_label
