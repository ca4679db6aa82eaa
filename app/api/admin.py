"""API token pages (系统管理 → API 令牌): admins issue, list and revoke tokens; the secret is shown once."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from app.accounts.queries import stations
from app.api import services
from app.api.forms import RevokeForm, TokenForm
from app.api.models import ApiToken, TokenScope
from app.bodies.queries import bodies
from app.clock import LOCAL_TZ
from app.db import utcnow
from app.scope import Scope
from app.security import installation_admin_required
from app.web import db, unit_of_work

bp = Blueprint("api_tokens", __name__, template_folder="templates", url_prefix="/admin/api-tokens")


def _choices(form: TokenForm) -> None:
    form.station_ids.choices = [(s.id, s.name) for s in db().scalars(stations(Scope.everything()))]
    form.body_id.choices = [(0, "（不适用）")] + [(b.id, b.name) for b in db().scalars(bodies())]


@bp.route("/")
@installation_admin_required
def index():
    """Every token with its prefix, scope, stations, expiry, last use and state."""
    tokens = db().scalars(select(ApiToken).order_by(ApiToken.id.desc())).all()
    return render_template("api/tokens.html", tokens=tokens, now=utcnow(), revoke_form=RevokeForm(formdata=None))


@bp.route("/new", methods=["GET", "POST"])
@installation_admin_required
def new():
    """Issue a token; the page after saving shows its secret, once."""
    form = TokenForm()
    _choices(form)
    if form.validate_on_submit():
        # Valid through the chosen day, local time.
        expires = dt.datetime.combine(form.expires_on.data + dt.timedelta(days=1), dt.time(), LOCAL_TZ)
        with unit_of_work(form) as uow:
            token, secret = services.issue_token(
                uow.session, current_user, name=form.name.data, scope=TokenScope(form.scope.data),
                station_ids=form.station_ids.data or [], body_id=form.body_id.data or None,
                merchant_id=form.merchant_id.data, expires_at=expires.astimezone(dt.timezone.utc),
                rate_per_minute=form.rate_per_minute.data, now=utcnow())
        if uow.ok:
            # Rendered, not redirected: the secret must not travel in a URL or sit in the session; 201 with the
            # list as the new record's place, and never kept by a cache.
            return render_template("api/issued.html", token=token, secret=secret), 201, {
                "Location": url_for("api_tokens.index"), "Cache-Control": "no-store"}
    return render_template("api/token_form.html", form=form)


@bp.route("/<int:token_id>/revoke", methods=["GET", "POST"])
@installation_admin_required
def revoke(token_id: int):
    """Ask to confirm (GET), then revoke at once (POST)."""
    token = services.get_token(db(), token_id)
    form = RevokeForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.revoke_token(uow.session, current_user, token, utcnow())
        if uow.ok:
            return uow.redirect(f"已吊销令牌“{token.name}”，使用它的请求从现在起被拒绝。", url_for("api_tokens.index"))
    return render_template("api/revoke.html", token=token, form=form)
