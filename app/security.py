"""Roles and access decorators for views."""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from app.accounts.models import Role


def roles_required(*roles: Role):
    """Allow a view only to logged-in users with one of these roles (403 otherwise)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


admin_required = roles_required(Role.ADMIN)
staff_required = roles_required(Role.ADMIN, Role.SUPERVISOR, Role.INSPECTOR)
# Writing to the ledger: inspectors in their stations, admins everywhere; supervisors read.
ledger_write_required = roles_required(Role.ADMIN, Role.INSPECTOR)
# Campaigns and random draws are run by the bureau's supervisors (and admins).
campaign_required = roles_required(Role.ADMIN, Role.SUPERVISOR)
