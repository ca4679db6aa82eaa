"""Public pages, no login: merchant search, an instrument's page by its token and the published results of a
random inspection. Rate-limited per address."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app.cases.queries import published_decisions
from app.clock import today
from app.complaints import challenge
from app.complaints import services as complaints
from app.complaints.forms import PublicComplaintForm
from app.errors import Invalid
from app.extensions import limiter, public_limit
from app.images import limits_from
from app.inspections import services as inspections
from app.inspections.models import PublicOutcome
from app.instruments.models import InstrumentStatus
from app.integrity.models import Pledge
from app.markets.queries import public_fair_scales
from app.public import queries
from app.public.services import (MIN_TOKEN_LENGTH, institution_of, ledger_updated_on, other_station,
                                 public_state)
from app.text import as_typed
from app.merchants.models import Merchant
from app.web import db, scope, unit_of_work

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
        secret = current_app.config["SECRET_KEY"]
        published: dict[int, list] = {}
        for case in session.scalars(published_decisions(ids)):
            published.setdefault(case.merchant_id, []).append(case)
        results = [{"name": m.name, "pledged": m.id in pledged, "model_unit": pledged.get(m.id, False),
                    "kinds": counts.get(m.id, []), "fair_scales": fair.get(m.id, []),
                    "penalties": published.get(m.id, []), "ref": challenge.merchant_ref(secret, m.id)} for m in merchants]
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
        ledger_updated_on=ledger_updated_on(inst, latest),
        penalties=session.scalars(published_decisions([inst.merchant_id])).all())))


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


# --- complaints (我要反映问题) ---------------------------------------------------------------------------

def _complaint_rate() -> str:
    return current_app.config["COMPLAINT_RATE_LIMIT"]


# On top of the public budget: how many complaints one address may send (sending, not opening the form).
complaint_limit = limiter.limit(_complaint_rate, methods=["POST"], scope="public-complaint",
                                key_func=lambda: "complaint:" + (request.remote_addr or "unknown"))


def _complaint_page(merchant: Merchant, instrument=None):
    """The public complaint form about a merchant (and one of its instruments): checked, challenged, kept."""
    secret = current_app.config["SECRET_KEY"]
    form = PublicComplaintForm()
    error = None
    if form.validate_on_submit():
        upload = form.photo.data
        max_bytes = current_app.config["EVIDENCE_MAX_BYTES"]
        photo = (complaints.Photo(upload.filename or "", upload.read(max_bytes + 1))
                 if upload is not None and getattr(upload, "filename", "") else None)
        with unit_of_work(form) as uow:
            nonce = challenge.check(secret, form.challenge.data, form.answer.data, form.website.data,
                                    max_age=current_app.config["COMPLAINT_CHALLENGE_SECONDS"])
            found = complaints.receive_public(
                uow.session, merchant=merchant, instrument=instrument, values=form.data, photo=photo, nonce=nonce,
                received_on=today(), deadline_days=current_app.config["COMPLAINT_DEADLINE_WORKING_DAYS"],
                storage_dir=current_app.config["EVIDENCE_STORAGE"], max_bytes=max_bytes,
                photo_limits=limits_from(current_app.config))
        if uow.ok:
            return redirect(url_for("public.complaint_lookup", ref=found.reference, new=1))
        error = uow.error
    elif request.method == "POST" and not form.errors:
        error = Invalid("提交失败，请重新填写。")
    # A new question every time the form is shown: a failed answer is never asked again.
    issued = challenge.issue(secret)
    form.challenge.data, form.answer.data = issued.token, ""
    response = make_response(render_template("public/complaint.html", form=form, merchant=merchant,
                                             instrument=instrument, question=issued.question, error=error))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/i/<token>/report", methods=["GET", "POST"])
@complaint_limit
def complaint_instrument(token: str):
    """我要反映问题 about an instrument, from its public page (its QR label)."""
    if len(token) < MIN_TOKEN_LENGTH:
        abort(404)
    inst = db().scalars(queries.instrument_by_token(token)).first()
    if inst is None:
        abort(404)
    return _complaint_page(inst.merchant, inst)


@bp.route("/m/<ref>/report", methods=["GET", "POST"])
@complaint_limit
def complaint_merchant(ref: str):
    """我要反映问题 about a merchant found by the public search (a signed reference, not its id)."""
    merchant_id = challenge.merchant_of(current_app.config["SECRET_KEY"], ref)
    merchant = db().get(Merchant, merchant_id) if merchant_id is not None else None
    if merchant is None:
        abort(404)
    return _complaint_page(merchant)


@bp.route("/complaints/")
def complaint_lookup():
    """Look a complaint up by its reference: the reference, its state and the reply, nothing else."""
    ref = as_typed(request.args.get("ref", ""))[:40]
    found = complaints.public_view(db(), ref) if ref else None
    response = make_response(render_template("public/complaint_lookup.html", ref=ref, found=found,
                                             new=request.args.get("new") == "1"))
    response.headers["Cache-Control"] = "private, no-store"
    return response
