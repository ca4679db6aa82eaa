"""Unbound extension instances, bound to the app in create_app()."""
from flask import current_app, request
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf import CSRFProtect


def client_address() -> str:
    """The client's address, as the rate limiter keys it."""
    return request.remote_addr or "unknown"


csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "accounts.login"
login_manager.login_message = "请先登录。"
login_manager.login_message_category = "warning"
login_manager.session_protection = "strong"
limiter = Limiter(key_func=client_address, default_limits=[])
bootstrap = Bootstrap5()


def _public_rate() -> str:
    return current_app.config["PUBLIC_RATE_LIMIT"]


# Every page the public opens without logging in (the public blueprint, a published draw) shares one budget
# per client address: a shared limit keeps one count across all of them, so no page is a way around it.
public_limit = limiter.shared_limit(_public_rate, scope="public", key_func=lambda: "public:" + client_address())
