"""Route guards by capability, and the anonymous visitor's capabilities (none).

What each role may do is said once, in app/accounts/models.py (ROLE_CAPABILITIES); guards here and templates
(`current_user.can_edit_ledger` ...) ask for capabilities only, so a new role cannot leave them out of step.
"""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import AnonymousUserMixin, current_user, login_required

from app.accounts.models import Capabilities, Capability


class AnonymousUser(Capabilities, AnonymousUserMixin):
    """The visitor who has not logged in: every capability answers False (login_manager.anonymous_user)."""


def capability_required(capability: Capability):
    """Allow a view only to logged-in users holding this capability (login first; 403 otherwise)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not current_user.can(capability):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def api_capability_required(capability: Capability):
    """capability_required for a JSON API: 401 when not logged in (no redirect to the login page), 403 without
    the capability; the app answers both in JSON under /field/api/."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                abort(401)
            if not current_user.can(capability):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


# The guards the views use, by what they protect.
staff_required = capability_required(Capability.VIEW_RECORDS)
ledger_write_required = capability_required(Capability.EDIT_LEDGER)
campaign_required = capability_required(Capability.RUN_CAMPAIGNS)
admin_required = capability_required(Capability.ADMINISTER)
# The installation's shared things (regions, catalogue, jobs, outbox, API tokens, webhooks, the whole audit log).
installation_admin_required = capability_required(Capability.ADMINISTER_INSTALLATION)
api_staff_required = api_capability_required(Capability.VIEW_RECORDS)
api_ledger_write_required = api_capability_required(Capability.EDIT_LEDGER)
