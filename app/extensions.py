"""Unbound extension instances, bound to the app in create_app()."""
from flask import request
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
