"""The Flask side of /api/v1: the OpenAPI generator (flask-smorest), problem-details errors, bearer-token
authentication, per-token rate limits and the audit entry of every call.

Every answer under /api/ is JSON: errors are problem details (application/problem+json, RFC 9457) with a Chinese
`title` and `detail`, whichever layer refuses the request (the app's error handlers call `problem` for any path
under /api/, see app/__init__.py). API calls carry no cookie: the session is never opened for /api/ (ApiSessions)
and CSRF does not apply (a bearer token is not sent by a browser on its own).
"""
from __future__ import annotations

import datetime as dt
import http
import logging
from functools import wraps

from flask import current_app, g, json, request
from flask.sessions import SecureCookieSessionInterface
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from limits import RateLimitItemPerMinute
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from app.api import idempotency, services
from app.api.models import ApiToken, TokenScope
from app.api.schemas import Problem
from app.db import utcnow
from app.errors import ERROR_MESSAGES, ERROR_TITLES, DomainError
from app.extensions import limiter

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
PROBLEM_MIMETYPE = "application/problem+json"
UNAUTHORIZED = ("缺少有效的 API 令牌：请在请求头中发送 Authorization: Bearer <令牌>。令牌不存在、已过期或已吊销时"
                "也是此错误。")
WRONG_SCOPE = "该 API 令牌无权调用此接口（令牌权限：{scope}）。"
RATE_LIMITED = "该 API 令牌的请求过于频繁（每分钟上限 {rate} 次），请在 {wait} 秒后重试。"
VALIDATION = "请求参数或请求内容不符合接口说明，详见 errors。"
API_TITLES = {401: "API 令牌无效", 422: "请求内容无法处理"}


def api_request() -> bool:
    """Whether the request is to the REST API (/api/...): every answer is JSON, errors are problem details."""
    return request.path == "/api" or request.path.startswith(API_PREFIX)


def problem(status: int, detail: str | None = None, errors: dict | None = None, headers: dict | None = None):
    """A problem-details answer in Chinese: (response) for Flask, never an HTML page."""
    body = {"type": "about:blank", "title": API_TITLES.get(status) or ERROR_TITLES.get(status, "出错了"),
            "status": status, "detail": detail or ERROR_MESSAGES.get(status, "请求无法完成。")}
    if errors:
        body["errors"] = errors
    response = current_app.response_class(json.dumps(body, ensure_ascii=False), status=status,
                                          mimetype=PROBLEM_MIMETYPE)
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def http_problem(err: HTTPException):
    """An HTTPException raised under /api/ (webargs' 422 included) as problem details."""
    code = err.code or 500
    data = getattr(err, "data", None) or {}
    messages = data.get("messages")
    if messages:
        # webargs nests by location ({"query": {...}} / {"json": {...}}): kept, it says where.
        return problem(code, VALIDATION, errors=messages)
    return problem(code, None if code != 404 else "接口地址不存在，或记录不存在、不在令牌的站点范围内。")


class RestApi(Api):
    """flask-smorest's Api without its app-wide error handlers (the app answers errors itself: Chinese HTML
    pages for pages, problem details under /api/) and with problem details as the documented error body."""

    ERROR_SCHEMA = Problem

    def _register_error_handlers(self):
        pass

    def _register_responses(self):
        # The operations refer to these by status name (422 for a refused body or query, "default" for the rest).
        for status in [*http.HTTPStatus, None]:
            if status is not None and (status < 400 or status in (204, 304)):
                continue
            response = {"description": "错误（problem details，中文说明）", "schema": self.ERROR_SCHEMA}
            prepare_response(response, self.spec, PROBLEM_MIMETYPE)
            self.spec.components.response(status.name if status else "DEFAULT_ERROR", response, lazy=True)


class ApiSessions(SecureCookieSessionInterface):
    """No session for /api/: a call neither reads a browser's login cookie nor sets one."""

    def open_session(self, app, request):
        if request.path.startswith(API_PREFIX):
            return self.null_session_class()
        return super().open_session(app, request)


def current_token() -> ApiToken:
    """The token of the current API call (set by `token_required`)."""
    return g.api_token


def _rate_limit(token: ApiToken):
    """None when the call is within the token's rate per minute, else the 429 problem (with Retry-After)."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    item = RateLimitItemPerMinute(token.rate_per_minute)
    # The hash, not the id: ids repeat across databases sharing one limiter storage (tests, staging).
    key = token.token_hash[:24]
    if limiter.limiter.hit(item, "api-token", key):
        return None
    reset = limiter.limiter.get_window_stats(item, "api-token", key).reset_time
    wait = max(1, int(reset - dt.datetime.now().timestamp()) + 1)
    return problem(429, RATE_LIMITED.format(rate=token.rate_per_minute, wait=wait), headers={"Retry-After": str(wait)})


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    kind, _, secret = header.partition(" ")
    return secret.strip() if kind.lower() == "bearer" else ""


def token_required(*scopes: TokenScope):
    """Guard an API view: a usable bearer token of one of `scopes` (401 / 403 problems), within its rate
    (429), and one audit entry per call under the token's name, with the answer's status."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            session = current_app.extensions["database"].session()
            now = utcnow()
            token = services.token_for_secret(session, _bearer(), now)
            if token is None:
                return problem(401, UNAUTHORIZED, headers={"WWW-Authenticate": 'Bearer realm="api"'})
            if token.scope not in scopes:
                _record_use(token, now, 403)
                return problem(403, WRONG_SCOPE.format(scope=token.scope.label))
            refused = _rate_limit(token)
            if refused is not None:
                # Not audited: a client over its limit would otherwise write to the log at any rate.
                return refused
            g.api_token = token
            status = 500
            try:
                response = current_app.make_response(view(*args, **kwargs))
                status = response.status_code
                return response
            except HTTPException as err:
                status = err.code or 500
                raise
            except DomainError as err:
                status = err.status_code
                raise
            finally:
                _record_use(token, now, status)

        return wrapper

    return decorator


IDEMPOTENCY_HEADER = {"name": "Idempotency-Key", "in": "header", "required": False,
                      "description": "幂等键（建议 UUID）：同一令牌用同一个键重发相同请求，返回第一次的结果，不会重复登记",
                      "schema": {"type": "string", "maxLength": 200}}


def idempotent_write(operation: str, work) -> tuple[dict, int]:
    """Run `work(session) -> (body, status)` once per Idempotency-Key (when the request has one) and commit.

    The stored answer is committed with the work; a key answered meanwhile by a concurrent request is
    replayed instead (its unique index refuses the second answer). The results POST reuses this as it is.
    """
    session, token = current_app.extensions["database"].session(), current_token()
    key = request.headers.get("Idempotency-Key")
    digest = idempotency.body_hash(request.get_data())
    if key is not None:
        idempotency.check_key(key)
        stored = idempotency.replay(session, token, key, operation, digest)
        if stored is not None:
            return stored.body, stored.status
    body, status = work(session)
    if key is not None:
        idempotency.remember(session, token, key, operation, digest, status, body)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        stored = idempotency.replay(session, token, key, operation, digest) if key else None
        if stored is None:
            raise
        return stored.body, stored.status
    return body, status


def _record_use(token: ApiToken, now: dt.datetime, status: int) -> None:
    """The audit entry of one call (its own small transaction, after the call's own work)."""
    database = current_app.extensions["database"]
    session = database.session()
    what = f"{request.method} {request.full_path.rstrip('?')} → {status}"
    try:
        session.rollback()  # whatever the view left uncommitted was refused: not part of this entry
        services.note_use(session, token, now, what)
        session.commit()
    except Exception:  # a failed log write must not turn a refusal or an answer into another error
        log.exception("could not record the API call %s", what)
        database.discard()
