"""Campaigns (专项检查行动), the merchants planned into them and their random draws (双随机)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.audit.queries import entries_for
from app.catalog.queries import instrument_types
from app.clock import today
from app.errors import Invalid, NotFound
from app.inspections import queries, services
from app.inspections.forms import RATE_KEYS, CampaignForm, DrawForm, PublishForm, TargetForm
from app.inspections.views import bp, stations_by_id, users_by_id
from app.merchants.models import Industry
from app.merchants.queries import merchant_list, merchants_by_ids
from app.merchants.services import get_merchant
from app.security import campaign_required, staff_required
from app.web import db, in_scope, paginate, scope, shared_figures, unit_of_work, xlsx_download
from reports.lists import CAMPAIGN_TARGET_COLUMNS, campaign_target_rows


@bp.route("/campaigns/")
@staff_required
def campaigns():
    """Campaigns, newest first."""
    return render_template("inspections/campaigns.html", page=paginate(queries.campaign_list()),
                           stations=stations_by_id(), today=today())


def _station_choices(stations) -> list[tuple[int, str]]:
    """(id, label) of stations; with two counties or more (a city's campaign) each label names its county
    first and the stations come county by county, so a campaign over several counties is chosen at a glance."""
    from app.web import region_tree

    tree = region_tree()
    counties = {tree.station_county.get(s.id) for s in stations} - {None}
    if len(counties) < 2:
        return [(s.id, s.name) for s in stations]

    def county_of(s) -> int | None:
        return tree.station_county.get(s.id)

    ordered = sorted(stations, key=lambda s: (tree.codes.get(county_of(s), "999999"), s.code))
    return [(s.id, f"{tree.label(county_of(s))} · {s.name}" if county_of(s) else s.name) for s in ordered]


def _prepare_campaign(form: CampaignForm) -> None:
    form.station_ids.choices = _station_choices(list(stations_by_id().values()))
    form.type_ids.choices = [(t.id, t.name_zh) for t in db().scalars(instrument_types(active_only=True))]


def _campaign_values(form: CampaignForm) -> dict:
    return {k: getattr(form, k).data for k in services.CAMPAIGN_FIELDS}


def _campaign_page(campaign_id: int) -> str:
    return url_for("inspections.campaign", campaign_id=campaign_id)


@bp.route("/campaigns/new", methods=["GET", "POST"])
@campaign_required
def campaign_new():
    """Plan a campaign: name, period, kinds, industries and stations."""
    form = CampaignForm()
    _prepare_campaign(form)
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            new = services.create_campaign(uow.session, current_user, _campaign_values(form))
        if uow.ok:
            return uow.redirect(f"已创建专项检查行动“{new.name}”。", _campaign_page(new.id))
        error = uow.error
    return render_template("inspections/campaign_form.html", form=form, campaign=None, error=error)


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@campaign_required
def campaign_edit(campaign_id: int):
    """Edit a campaign; refused when someone else saved it meanwhile."""
    campaign = services.get_campaign(db(), campaign_id)
    form = CampaignForm(obj=campaign)
    _prepare_campaign(form)
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.update_campaign(uow.session, current_user, campaign, expected_version=form.version.data,
                                     values=_campaign_values(form))
        if uow.ok:
            return uow.redirect("已保存。", _campaign_page(campaign.id))
        error = uow.error
    return render_template("inspections/campaign_form.html", form=form, campaign=campaign, error=error)


@bp.route("/campaigns/<int:campaign_id>")
@staff_required
def campaign(campaign_id: int):
    """A campaign's scope, draw, progress figures, station breakdown and planned merchants with where each stands
    (filterable by state), each linking to its inspection."""
    session = db()
    campaign = services.get_campaign(session, campaign_id)
    on = today()
    for_scope = scope()
    figures, counted_at = shared_figures(("campaign", campaign.id, on), lambda: {
        "figures": services.figures(session, for_scope, on, campaign_id=campaign.id),
        "states": dict(session.execute(queries.target_state_counts(campaign.id, for_scope)).all())}, for_scope)
    state = _target_state()
    state_counts = figures["states"]
    # The counts by state give the list's total: no second pass over the campaign to count it.
    total = state_counts.get(state, 0) if state else sum(state_counts.values())
    targets = paginate(queries.target_states(campaign.id, scope(), state), scalars=False, total=total)
    found = services.draw_of(session, campaign.id)
    kinds = {t.id: t.name_zh for t in session.scalars(instrument_types())}
    users = users_by_id({uid for t in targets.items for uid in t.inspector_ids})
    entries = session.scalars(entries_for("campaigns", campaign.id, limit=50)).all()
    return render_template("inspections/campaign.html", campaign=campaign, figures=figures["figures"], targets=targets,
                           counted_at=counted_at,
                           draw=found, stations=stations_by_id(), kinds=kinds, users=users, today=on,
                           industries=dict(Industry.choices()), entries=entries, state=state,
                           states=queries.TARGET_STATES, state_counts=state_counts)


def _target_state() -> str | None:
    """The ?state= filter of the planned merchants, when it is a known state."""
    value = request.args.get("state") or None
    return value if value in queries.TARGET_STATES else None


@bp.route("/campaigns/<int:campaign_id>/targets.xlsx")
@staff_required
def campaign_targets_export(campaign_id: int):
    """The campaign's planned merchants with their state (the page's filter), as a workbook."""
    campaign = services.get_campaign(db(), campaign_id)
    return xlsx_download(queries.target_states(campaign.id, scope(), _target_state()), "检查计划进度",
                         CAMPAIGN_TARGET_COLUMNS, campaign_target_rows, _campaign_page(campaign.id))


@bp.route("/campaigns/<int:campaign_id>/targets/new", methods=["GET", "POST"])
@campaign_required
def target_new(campaign_id: int):
    """Plan a merchant into the campaign by hand (search, then add)."""
    campaign = services.get_campaign(db(), campaign_id)
    form = TargetForm()
    q = request.args.get("q", "")
    found = []
    if q:
        found = [m for m in db().scalars(merchant_list(scope(), q=q).limit(50))
                 if m.station_id in campaign.station_ids]
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            try:
                merchant = in_scope(get_merchant, form.merchant_id.data)
            except NotFound:
                raise Invalid("使用单位不存在，或不在您负责的监管所范围内", field="merchant_id") from None
            target = services.add_target(uow.session, current_user, campaign, merchant)
        if uow.ok:
            return uow.redirect(f"已将“{target.merchant.name}”列入检查计划。", _campaign_page(campaign.id))
    return render_template("inspections/target_new.html", form=form, campaign=campaign, merchants=found, q=q)


# --- random draws ---------------------------------------------------------------------------------

@bp.route("/campaigns/<int:campaign_id>/draw", methods=["GET", "POST"])
@campaign_required
def draw_new(campaign_id: int):
    """Run the campaign's random draw (双随机): merchants by credit class and rate, inspectors from a roster."""
    session = db()
    campaign = services.get_campaign(session, campaign_id)
    existing = services.draw_of(session, campaign.id)
    if existing is not None:
        flash("本次行动已进行过随机抽取。", "info")
        return redirect(url_for("inspections.draw", draw_id=existing.id))
    form = DrawForm()
    stations = stations_by_id()
    form.station_ids.choices = _station_choices([stations[sid] for sid in campaign.station_ids if sid in stations])
    roster = session.scalars(queries.inspector_roster()).all()
    form.roster_ids.choices = [(u.id, f"{u.display_name}（{u.role.label}{'，' if u.stations else ''}"
                                      f"{'、'.join(s.name for s in u.stations)}）") for u in roster]
    if request.method == "GET":
        form.station_ids.data = list(campaign.station_ids)
        form.industries.data = list(campaign.industries)
        form.roster_ids.data = [u.id for u in roster]
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            drawn = services.run_draw(
                uow.session, current_user, campaign, station_ids=form.station_ids.data,
                industries=form.industries.data, rates=form.rates(),
                inspectors_per_target=form.inspectors_per_target.data,
                exclude_own_station=form.exclude_own_station.data, roster_ids=form.roster_ids.data,
                seed=form.seed.data, today=today(), attention_only=form.attention_only.data)
        if uow.ok:
            return uow.redirect(f"已抽取 {len(drawn.result)} 家检查对象，已列入检查计划。",
                                url_for("inspections.draw", draw_id=drawn.id))
        error = uow.error
    return render_template("inspections/draw_form.html", form=form, campaign=campaign, error=error,
                           rate_keys=RATE_KEYS, ended=campaign.has_ended(today()))


@bp.route("/draws/<int:draw_id>")
@staff_required
def draw(draw_id: int):
    """A draw: seed, inputs, result (the user's stations), whether re-running it reproduces it, lock state."""
    session = db()
    found = services.get_draw(session, draw_id)
    summary = services.draw_summary(found, scope())
    rows = summary["rows"]
    merchants = {m.id: m for m in session.scalars(merchants_by_ids(r["merchant_id"] for r in rows))} if rows else {}
    users = users_by_id({uid for r in rows for uid in r["inspector_ids"]})
    return render_template("inspections/draw.html", draw=found, rows=rows, merchants=merchants, users=users,
                           reproduces=services.draw_reproduces(found), stations=stations_by_id(), today=today(),
                           pool_sizes=summary["pool_sizes"], drawn=summary["drawn"], rate_keys=RATE_KEYS,
                           industries=dict(Industry.choices()))


@bp.route("/draws/<int:draw_id>/publish", methods=["GET", "POST"])
@campaign_required
def draw_publish(draw_id: int):
    """Publish the results of a drawn campaign (一公开) once it has ended: first shows what will be public and how
    many planned merchants are still uninspected, and publishes only when that is confirmed."""
    session = db()
    found = services.get_draw(session, draw_id)
    back = url_for("inspections.draw", draw_id=draw_id)
    if found.published_at is not None:
        flash("抽查结果已公示。", "info")
        return redirect(back)
    form = PublishForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.publish_draw(uow.session, current_user, found, today())
        if uow.ok:
            return uow.redirect("抽查结果已公示。", back)
    preview = services.publication_preview(session, found)
    return render_template("inspections/publish_confirm.html", form=form, draw=found, preview=preview,
                           today=today(), ended=found.campaign.has_ended(today()))
