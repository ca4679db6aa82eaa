"""Public pages, no login: merchant search, an instrument's page by its token and the published results of a
random inspection. Rate-limited per address."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app.clock import today
from app.extensions import public_limit
from app.inspections import services as inspections
from app.inspections.models import PublicOutcome
from app.instruments.models import InstrumentStatus
from app.integrity.models import Pledge
from app.markets.queries import public_fair_scales
from app.public import queries
from app.public.services import (MIN_TOKEN_LENGTH, institution_of, ledger_updated_on, other_station,
                                 public_state)
from app.text import as_typed
from app.web import db, scope

bp = Blueprint("public", __name__, template_folder="templates", url_prefix="/public")

MIN_QUERY = 2


# Every page of the blueprint counts against the one public budget (app/extensions.py).
public_limit(bp)


@bp.route("/")
def search():
    """Search merchants by name: pledge status, demonstration unit and per-kind counts of instruments."""
    q = as_typed(request.args.get("q", ""))
    results, message = [], ""
    if q and len(q) < MIN_QUERY:
        message = f"请输入至少 {MIN_QUERY} 个字的名称"
    elif q:
        session, now, days = db(), today(), current_app.config["DUE_SOON_DAYS"]
        merchants = session.execute(queries.merchant_search(q)).all()
        ids = [m.id for m in merchants]
        pledged = {mid: model for mid, model in session.execute(queries.pledge_states(ids, now))} if ids else {}
        counts: dict[int, list] = {}
        for mid, kind, valid, due, overdue, never in (session.execute(queries.kind_counts(ids, now, days))
                                                      if ids else []):
            counts.setdefault(mid, []).append((kind, valid, due, overdue, never))
        fair: dict[int, list] = {}
        for mid, location, kind, due in (session.execute(public_fair_scales(ids)) if ids else []):
            fair.setdefault(mid, []).append((location, kind, due))
        results = [{"name": m.name, "pledged": m.id in pledged, "model_unit": pledged.get(m.id, False),
                    "kinds": counts.get(m.id, []), "fair_scales": fair.get(m.id, [])} for m in merchants]
        if not results:
            message = "没有找到名称包含该文字的经营者"
    return render_template("public/search.html", q=q, results=results, message=message,
                           days=current_app.config["DUE_SOON_DAYS"], limit=queries.SEARCH_LIMIT)


@bp.route("/i/<token>")
def instrument(token: str):
    """An instrument's public page, reached only by its unguessable token (the address on its QR label).

    A logged-in staff member whose stations include the instrument is sent on to its internal page, where the
    field actions are; other staff see the public page with a notice saying whose instrument it is.
    """
    if len(token) < MIN_TOKEN_LENGTH:
        abort(404)
    session = db()
    inst = session.scalars(queries.instrument_by_token(token)).first()
    if inst is None:
        abort(404)
    notice = None
    if current_user.can_view_records:
        if scope().allows(inst.station_id):
            return _personal(redirect(url_for("instruments.detail", instrument_id=inst.id)))
        notice = other_station(inst) + "，这里显示的是公开信息。"
    now = today()
    pledged = session.scalars(queries.pledge_states([inst.merchant_id], now).with_only_columns(Pledge.is_model_unit)
                              ).first()
    latest = session.scalars(queries.latest_verification(inst.id)).first()
    # Out of use (stopped, scrapped, replaced): the page says so and shows no validity that no longer holds.
    return _personal(make_response(render_template(
        "public/instrument.html", inst=inst, in_use=inst.status == InstrumentStatus.IN_USE,
        state=public_state(inst, now, current_app.config["DUE_SOON_DAYS"]), pledged=pledged is not None,
        model_unit=bool(pledged), notice=notice, institution=institution_of(latest),
        ledger_updated_on=ledger_updated_on(inst, latest))))


def _personal(response):
    """A label's answer depends on who is logged in: no shared cache may keep it for someone else."""
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("Cookie")
    return response


@bp.route("/draws/<int:draw_id>")
def draw(draw_id: int):
    """The published results of a random inspection (双随机、一公开), for anyone, without login."""
    session = db()
    found = inspections.get_published_draw(session, draw_id)
    return render_template("public/draw.html", draw=found, rows=inspections.published_rows(session, found),
                           outcomes=[o for o in PublicOutcome if o != PublicOutcome.NOT_YET])
