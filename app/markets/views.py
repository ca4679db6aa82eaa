"""Market pages: an organiser's fair scales and re-weigh log, and the organiser-duty checklist of an inspection."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.clock import today
from app.inspections import services as inspections
from app.instruments.models import Instrument
from app.markets import queries, services
from app.markets.forms import DutiesForm, FairScaleForm, ReweighForm, UnmarkForm
from app.markets.models import Duty, DutyOutcome
from app.merchants.models import Industry
from app.security import ledger_write_required, staff_required
from app.voiding.forms import VoidForm
from app.web import db, form_error, in_scope, scope, unit_of_work
from app.errors import Invalid

bp = Blueprint("markets", __name__, template_folder="templates")

WATCH_DAYS = 365  # the page flags a stall with repeated shortfalls over the past year


def _scale_choices(market) -> list[tuple[int, str]]:
    return [(i.id, f"{i.type.name_zh} {i.serial_no}{'（' + i.location + '）' if i.location else ''}")
            for i in db().scalars(queries.organiser_scales(market.id)) if i.type.category == services.WEIGHING_CATEGORY]


def _page(market, form: FairScaleForm | None = None, status: int = 200):
    session = db()
    form = form or FairScaleForm(formdata=None)
    form.instrument_id.choices = _scale_choices(market)
    since = today() - dt.timedelta(days=WATCH_DAYS)
    shortfalls = dict(session.execute(queries.shortfall_counts(scope(), since)).all())
    flagged = set(session.scalars(queries.repeated_shortfall_merchants(since)))
    stalls = [(s, shortfalls.get(s.id, 0), s.id in flagged) for s in session.scalars(queries.market_stalls(market.id))]
    return render_template("markets/market.html", market=market, form=form, unmark_form=UnmarkForm(formdata=None),
                           scales=session.scalars(queries.fair_scales_of(market.id, active_only=False)).all(),
                           reweighs=session.scalars(queries.reweighs_of(market.id)).all(), stalls=stalls,
                           watch_days=WATCH_DAYS), status


@bp.route("/markets/<int:market_id>")
@staff_required
def market(market_id: int):
    """A market organiser's fair scales, its stalls' shortfalls and the re-weigh log."""
    return _page(in_scope(services.get_market, market_id))


@bp.route("/markets/<int:market_id>/fair-scales", methods=["POST"])
@ledger_write_required
def fair_scale_mark(market_id: int):
    """Mark one of the organiser's scales as a fair scale at a place in the market."""
    found = in_scope(services.get_market, market_id)
    form = FairScaleForm()
    form.instrument_id.choices = _scale_choices(found)
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            instrument = uow.session.get(Instrument, form.instrument_id.data)
            services.mark_fair_scale(uow.session, current_user, scope(), instrument, form.location.data)
        if uow.ok:
            return uow.redirect("已设为公平秤，公众查询页将显示其位置。", url_for("markets.market", market_id=found.id))
    return _page(found, form)


@bp.route("/markets/fair-scales/<int:fair_scale_id>/unmark", methods=["POST"])
@ledger_write_required
def fair_scale_unmark(fair_scale_id: int):
    """Stop using an instrument as a fair scale."""
    row = in_scope(services.get_fair_scale, fair_scale_id)
    form = UnmarkForm()
    if form.validate_on_submit():
        with unit_of_work() as uow:
            services.unmark_fair_scale(uow.session, current_user, row)
        if uow.ok:
            return uow.redirect("已不再作为公平秤。", url_for("markets.market", market_id=row.market_id))
    return redirect(url_for("markets.market", market_id=row.market_id))


@bp.route("/markets/fair-scales/<int:fair_scale_id>/reweigh", methods=["GET", "POST"])
@ledger_write_required
def reweigh_new(fair_scale_id: int):
    """Log a re-weigh at a fair scale."""
    scale = in_scope(services.get_fair_scale, fair_scale_id)
    form = ReweighForm()
    form.stall_id.choices = [("", "（不清楚摊位）")] + [(s.id, s.name) for s in db().scalars(
        queries.market_stalls(scale.market_id))]
    if request.method == "GET":
        form.weighed_on.data = today()
    if form.validate_on_submit():
        values = {k: getattr(form, k).data for k in ("weighed_on", "goods", "category", "claimed_g", "found_g",
                                                     "stall_id", "notes")}
        with unit_of_work(form) as uow:
            row = services.record_reweigh(uow.session, current_user, scale, values, today())
        if uow.ok:
            verdict = (f"短缺 {row.shortfall_g} 克，超过允许的 {row.tolerance_g} 克" if row.is_short
                       else f"在允许的 {row.tolerance_g} 克负偏差之内")
            return uow.redirect(f"已记录复秤：{verdict}。", url_for("markets.market", market_id=scale.market_id))
    return render_template("markets/reweigh_form.html", form=form, scale=scale)


@bp.route("/markets/reweighs/<int:reweigh_id>/void", methods=["GET", "POST"])
@ledger_write_required
def reweigh_void(reweigh_id: int):
    """Void a wrong re-weigh with a reason."""
    row = in_scope(services.get_reweigh, reweigh_id)
    form = VoidForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.void_reweigh(uow.session, current_user, row, form.reason.data)
        if uow.ok:
            return uow.redirect("复秤记录已作废，不再计入统计。", url_for("markets.market", market_id=row.market_id))
    return render_template("markets/reweigh_void.html", form=form, row=row)


@bp.route("/inspections/<int:inspection_id>/duties", methods=["GET", "POST"])
@ledger_write_required
def duties(inspection_id: int):
    """The checklist of a market organiser's duties in an inspection; an unmet duty may raise its finding."""
    found = in_scope(inspections.get_inspection, inspection_id)
    if found.merchant.industry != Industry.MARKET_ORGANISER:
        flash("主办者义务检查只适用于集贸市场主办者。", "info")
        return redirect(url_for("inspections.inspection", inspection_id=found.id))
    session = db()
    done = {c.duty: c for c in session.scalars(queries.duty_checks_of(found.id))}
    form = DutiesForm()
    values = {d: {"outcome": request.form.get(f"duty_{d.value}", ""), "note": request.form.get(f"note_{d.value}", ""),
                  "finding": request.form.get(f"finding_{d.value}") == "y"} for d in Duty if d not in done}
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        outcomes = {}
        for duty, v in values.items():
            if not v["outcome"]:
                continue
            try:
                outcome = DutyOutcome(v["outcome"])
            except ValueError:
                errors[duty.value] = "请选择检查结论"
                continue
            if len(v["note"]) > 500:
                errors[duty.value] = "说明不能超过500个字"
            outcomes[duty] = (outcome, v["note"], v["finding"])
        if not outcomes and not errors:
            form_error(form, Invalid("请至少填写一项检查结论"))
        elif not errors:
            with unit_of_work(form) as uow:
                made = services.record_duty_checks(uow.session, current_user, found, outcomes)
            if uow.ok:
                raised = sum(1 for c in made if c.finding_id)
                return uow.redirect(f"已登记 {len(made)} 项主办者义务检查" + (f"，登记问题 {raised} 个" if raised else "") + "。",
                                    url_for("inspections.inspection", inspection_id=found.id))
    elif request.method == "POST":
        form_error(form, Invalid("表单已过期，请刷新后重试"))
    return render_template("markets/duties.html", form=form, inspection=found, done=done, values=values,
                           errors=errors, duties=list(Duty), outcomes=list(DutyOutcome))
