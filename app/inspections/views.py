"""Special inspection pages (专项检查): campaigns, random draws and their public results, inspections,
findings, evidence, rectification and re-checks, print views and figures."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select

from app.accounts.models import Station, User
from app.audit.queries import entries_for, entries_for_many
from app.catalog.models import FindingCode
from app.catalog.queries import instrument_types
from app.clock import today
from app.errors import DomainError, Invalid, NotFound
from app.extensions import public_limit
from app.inspections import queries, services
from app.inspections.forms import (CampaignForm, DrawForm, EvidenceForm, FindingForm, InspectionForm, RecheckForm,
                                   TargetForm)
from app.inspections.models import CREDIT_CLASSES, UNCLASSED, CheckOutcome, Measure, PublicOutcome, RandomDraw
from app.instruments.queries import instruments_of_merchant
from app.merchants.models import Industry, Merchant
from app.merchants.queries import merchant_list
from app.merchants.services import get_merchant
from app.scope import Scope
from app.security import campaign_required, ledger_write_required, staff_required
from app.web import arg_int, chosen_merchant, db, paginate, save, scope, scoped_stations, xlsx_download
from reports.lists import (FINDING_COLUMNS, INSPECTION_COLUMNS, RECTIFICATION_COLUMNS, finding_rows, inspection_rows,
                          rectification_rows)

bp = Blueprint("inspections", __name__, template_folder="templates")


def _stations() -> dict[int, Station]:
    return {s.id: s for s in db().scalars(select(Station).order_by(Station.code))}


def _users(ids) -> dict[int, User]:
    ids = list(ids)
    return {u.id: u for u in db().scalars(select(User).where(User.id.in_(ids)))} if ids else {}


# --- campaigns ------------------------------------------------------------------------------------

@bp.route("/campaigns/")
@staff_required
def campaigns():
    """Campaigns, newest first."""
    return render_template("inspections/campaigns.html", page=paginate(queries.campaign_list()),
                           stations=_stations(), today=today())


def _prepare_campaign(form: CampaignForm) -> None:
    form.station_ids.choices = [(s.id, s.name) for s in _stations().values()]
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
        response, error = save(form, lambda: services.create_campaign(db(), current_user, _campaign_values(form)),
                               lambda new: (f"已创建专项检查行动“{new.name}”。", _campaign_page(new.id)))
        if response:
            return response
    return render_template("inspections/campaign_form.html", form=form, campaign=None, error=error)


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@campaign_required
def campaign_edit(campaign_id: int):
    """Edit a campaign; refused when someone else saved it meanwhile."""
    session = db()
    campaign = services.get_campaign(session, campaign_id)
    form = CampaignForm(obj=campaign)
    _prepare_campaign(form)
    error = None
    if form.validate_on_submit():
        response, error = save(form, lambda: services.update_campaign(
            session, current_user, campaign, expected_version=form.version.data, values=_campaign_values(form)),
            lambda _: ("已保存。", _campaign_page(campaign.id)))
        if response:
            return response
    return render_template("inspections/campaign_form.html", form=form, campaign=campaign, error=error)


def _figures(user_scope: Scope, on: dt.date, **filters) -> dict:
    """Totals and per-station rows of the inspection figures, each from one set-based statement."""
    session = db()
    totals: dict = {}
    per_station: dict[int, dict] = {}
    campaign_id = filters.get("campaign_id")
    statements = [queries.inspection_figures(user_scope, **filters), queries.instrument_figures(user_scope, **filters),
                  queries.finding_figures(user_scope, on, **filters)]
    if campaign_id is not None:
        statements.append(queries.planned_figures(campaign_id, user_scope))
    for stmt in statements:
        totals.update(session.execute(stmt).one()._asdict())
    by_station = [queries.inspection_figures(user_scope, by_station=True, **filters),
                  queries.instrument_figures(user_scope, by_station=True, **filters),
                  queries.finding_figures(user_scope, on, by_station=True, **filters)]
    if campaign_id is not None:
        by_station.append(queries.planned_figures(campaign_id, user_scope, by_station=True))
    for stmt in by_station:
        for row in session.execute(stmt):
            values = row._asdict()
            per_station.setdefault(values.pop("station_id"), {}).update(values)
    by_code = session.execute(queries.findings_by_code(user_scope, **filters)).all()
    return {"totals": totals, "per_station": per_station, "by_code": by_code}


@bp.route("/campaigns/<int:campaign_id>")
@staff_required
def campaign(campaign_id: int):
    """A campaign's scope, draw, progress figures, station breakdown and planned merchants."""
    session = db()
    campaign = services.get_campaign(session, campaign_id)
    on = today()
    figures = _figures(scope(), on, campaign_id=campaign.id)
    targets = paginate(queries.targets_of(campaign.id, scope()))
    found = services.draw_of(session, campaign.id)
    kinds = {t.id: t.name_zh for t in session.scalars(instrument_types())}
    users = _users({uid for t in targets.items for uid in t.inspector_ids})
    entries = session.scalars(entries_for("campaigns", campaign.id, limit=50)).all()
    return render_template("inspections/campaign.html", campaign=campaign, figures=figures, targets=targets,
                           draw=found, stations=_stations(), kinds=kinds, users=users, today=on,
                           industries=dict(Industry.choices()), entries=entries)


@bp.route("/campaigns/<int:campaign_id>/targets/new", methods=["GET", "POST"])
@campaign_required
def target_new(campaign_id: int):
    """Plan a merchant into the campaign by hand (search, then add)."""
    session = db()
    campaign = services.get_campaign(session, campaign_id)
    form = TargetForm()
    q = request.args.get("q", "")
    found = []
    if q:
        found = [m for m in session.scalars(merchant_list(scope(), q=q).limit(50))
                 if m.station_id in campaign.station_ids]
    if form.validate_on_submit():
        def change():
            try:
                merchant = get_merchant(session, scope(), form.merchant_id.data)
            except NotFound:
                raise Invalid("使用单位不存在，或不在您负责的监管所范围内", field="merchant_id") from None
            return services.add_target(session, current_user, campaign, merchant)
        response, _ = save(form, change, lambda t: (f"已将“{t.merchant.name}”列入检查计划。", _campaign_page(campaign.id)))
        if response:
            return response
    return render_template("inspections/target_new.html", form=form, campaign=campaign, merchants=found, q=q)


# --- random draws ---------------------------------------------------------------------------------

RATE_KEYS = (*CREDIT_CLASSES, UNCLASSED)


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
    stations = _stations()
    form.station_ids.choices = [(sid, stations[sid].name) for sid in campaign.station_ids if sid in stations]
    roster = session.scalars(queries.inspector_roster()).all()
    form.roster_ids.choices = [(u.id, f"{u.display_name}（{u.role.label}{'，' if u.stations else ''}"
                                      f"{'、'.join(s.name for s in u.stations)}）") for u in roster]
    if request.method == "GET":
        form.station_ids.data = list(campaign.station_ids)
        form.industries.data = list(campaign.industries)
        form.roster_ids.data = [u.id for u in roster]
    error = None
    if form.validate_on_submit():
        rates = {key: getattr(form, f"rate_{key}").data for key in RATE_KEYS}
        response, error = save(form, lambda: services.run_draw(
            session, current_user, campaign, station_ids=form.station_ids.data, industries=form.industries.data,
            rates=rates, inspectors_per_target=form.inspectors_per_target.data,
            exclude_own_station=form.exclude_own_station.data, roster_ids=form.roster_ids.data,
            seed=form.seed.data), lambda d: (f"已抽取 {len(d.result)} 家检查对象，已列入检查计划。",
                                             url_for("inspections.draw", draw_id=d.id)))
        if response:
            return response
    return render_template("inspections/draw_form.html", form=form, campaign=campaign, error=error,
                           rate_keys=RATE_KEYS)


@bp.route("/draws/<int:draw_id>")
@staff_required
def draw(draw_id: int):
    """A draw: seed, inputs, result (the user's stations), whether re-running it reproduces it, lock state."""
    session = db()
    found = services.get_draw(session, draw_id)
    user_scope = scope()
    rows = [r for r in found.result if user_scope.allows(r["station_id"])]
    merchants = {m.id: m for m in session.scalars(select(Merchant).where(
        Merchant.id.in_([r["merchant_id"] for r in rows])))} if rows else {}
    users = _users({uid for r in rows for uid in r["inspector_ids"]})
    by_class: dict[str, list[int]] = {}
    for row in found.inputs["pool"]:
        by_class.setdefault(row[2] or UNCLASSED, []).append(row[0])
    drawn: dict[str, int] = {}
    for r in found.result:
        drawn[r["credit_class"]] = drawn.get(r["credit_class"], 0) + 1
    return render_template("inspections/draw.html", draw=found, rows=rows, merchants=merchants, users=users,
                           reproduces=services.draw_reproduces(found), stations=_stations(), today=today(),
                           pool_sizes={k: len(v) for k, v in by_class.items()}, drawn=drawn, rate_keys=RATE_KEYS,
                           industries=dict(Industry.choices()))


@bp.route("/draws/<int:draw_id>/publish", methods=["POST"])
@campaign_required
def draw_publish(draw_id: int):
    """Publish the results of a drawn campaign (一公开) once it has ended."""
    session = db()
    found = services.get_draw(session, draw_id)
    try:
        services.publish_draw(session, current_user, found, today())
    except DomainError as err:
        session.rollback()
        flash(err.message, "danger")
        return redirect(url_for("inspections.draw", draw_id=draw_id))
    session.commit()
    flash("抽查结果已公示。", "success")
    return redirect(url_for("inspections.draw", draw_id=draw_id))


def published_rows(found: RandomDraw) -> list[dict]:
    """The public rows of a draw: merchant name, station and outcome category, nothing else."""
    stations = _stations()
    rows = []
    for row in db().execute(queries.target_outcomes(found.campaign_id, found.id)):
        rows.append({"name": row.name, "station": stations[row.station_id].name,
                     "outcome": services.public_outcome(row)})
    return rows


@bp.route("/public/draws/<int:draw_id>")
@public_limit
def public_draw(draw_id: int):
    """The published results of a random inspection (双随机、一公开), for anyone, without login."""
    found = db().get(RandomDraw, draw_id)
    if found is None or found.published_at is None:
        abort(404)
    return render_template("inspections/public_draw.html", draw=found, rows=published_rows(found),
                           outcomes=[o for o in PublicOutcome if o != PublicOutcome.NOT_YET])


# --- inspections ----------------------------------------------------------------------------------

def _inspection_list():
    """The inspection list's statement for the request's filter, and the merchant it names (404 outside scope)."""
    merchant_id = arg_int("merchant_id")
    merchant = get_merchant(db(), scope(), merchant_id) if merchant_id else None
    return queries.inspection_list(scope(), campaign_id=arg_int("campaign_id"), merchant_id=merchant_id,
                                   station_id=arg_int("station_id")), merchant


@bp.route("/inspections/")
@staff_required
def inspections():
    """Inspections in the user's stations, newest first; filter by campaign, station or merchant."""
    stmt, merchant = _inspection_list()
    campaigns = db().scalars(queries.campaign_list().limit(100)).all()
    return render_template("inspections/inspections.html", page=paginate(stmt), stations=scoped_stations(),
                           campaigns=campaigns, merchant=merchant)


@bp.route("/inspections/export.xlsx")
@staff_required
def inspections_export():
    """The inspection list with its current filter, as a workbook."""
    stmt, _ = _inspection_list()
    return xlsx_download(stmt, "监督检查", INSPECTION_COLUMNS, inspection_rows, url_for("inspections.inspections"))


@bp.route("/inspections/findings.xlsx")
@staff_required
def findings_export():
    """Every finding of the inspections the list shows, as a workbook."""
    stmt, _ = _inspection_list()
    return xlsx_download(stmt, "检查发现问题", FINDING_COLUMNS, finding_rows, url_for("inspections.inspections"))


def _prepare_inspection(form: InspectionForm, merchant: Merchant) -> None:
    session = db()
    form.inspector_ids.choices = [(u.id, f"{u.display_name}（{u.role.label}）")
                                  for u in session.scalars(queries.inspector_roster())]
    form.campaign_id.choices = [("", "（不属于专项行动）")] + [
        (c.id, c.name) for c in session.scalars(queries.campaign_list().limit(100))
        if merchant.station_id in c.station_ids]
    form.new_type_id.choices = [("", "（无）")] + [(t.id, t.name_zh) for t in
                                                  session.scalars(instrument_types(active_only=True))]


def _checks_from_request(instrument_ids: list[int]) -> list[tuple[int, str]]:
    """The per-instrument outcomes ticked on the form (inst_<id> = ok / problem; blank = not checked)."""
    checks = []
    for instrument_id in instrument_ids:
        value = request.form.get(f"inst_{instrument_id}", "")
        if value in {o.value for o in CheckOutcome}:
            checks.append((instrument_id, value))
    return checks


@bp.route("/inspections/new", methods=["GET", "POST"])
@ledger_write_required
def inspection_new():
    """Record an inspection of a merchant (chosen first): inspectors, campaign, instruments checked."""
    merchant, picker = chosen_merchant("inspections/pick_merchant.html")
    if picker is not None:
        return picker
    session = db()
    # A utility company may own thousands of meters: the form lists the first 200 (register the rest by serial).
    registry = session.scalars(instruments_of_merchant(merchant.id).limit(200)).all()
    form = InspectionForm()
    _prepare_inspection(form, merchant)
    if request.method == "GET":
        form.inspected_on.data = today()
        form.campaign_id.data = arg_int("campaign_id")
        if current_user.id in dict(form.inspector_ids.choices):
            form.inspector_ids.data = [current_user.id]
    error = None
    if form.validate_on_submit():
        values = {"inspected_on": form.inspected_on.data, "visit_outcome": form.visit_outcome.data,
                  "campaign_id": form.campaign_id.data, "inspector_ids": form.inspector_ids.data,
                  "notes": form.notes.data, "checks": _checks_from_request([i.id for i in registry])}
        if form.new_type_id.data or form.new_serial_no.data:
            values["new_instrument"] = {"type_id": form.new_type_id.data, "serial_no": form.new_serial_no.data,
                                        "maker": form.new_maker.data, "outcome": CheckOutcome.PROBLEM}
        response, error = save(form, lambda: services.record_inspection(session, current_user, scope(), merchant,
                                                                        values, today()),
                               lambda new: ("已记录检查。发现问题请在本页登记。",
                                            url_for("inspections.inspection", inspection_id=new.id)))
        if response:
            return response
    return render_template("inspections/inspection_form.html", form=form, merchant=merchant, registry=registry,
                           error=error, outcomes=CheckOutcome.choices(), picked=dict(request.form))


@bp.route("/inspections/<int:inspection_id>")
@staff_required
def inspection(inspection_id: int):
    """An inspection with its instruments (as they were), findings, orders, re-checks and evidence."""
    session = db()
    found = services.get_inspection(session, scope(), inspection_id)
    rects = {r.finding_id: r for r in session.scalars(queries.rectifications_of(found.id))}
    evidence = session.scalars(queries.evidence_of(found.id)).all()
    # The visit's history: the inspection, its findings, orders (re-checks) and evidence files.
    entries = list(session.scalars(entries_for("inspections", found.id)))
    related = (("findings", [f.id for f in found.findings]), ("rectifications", [r.id for r in rects.values()]),
               ("evidence_files", [e.id for e in evidence]))
    for entity_type, ids in related:
        if ids:
            entries += session.scalars(entries_for_many(entity_type, ids))
    entries.sort(key=lambda e: e.id, reverse=True)
    return render_template("inspections/inspection.html", inspection=found, rects=rects, evidence=evidence,
                           entries=entries, today=today())


@bp.route("/inspections/<int:inspection_id>/findings/new", methods=["GET", "POST"])
@ledger_write_required
def finding_new(inspection_id: int):
    """Record a finding: code (with its legal basis), instrument, measure, deadline or case number."""
    session = db()
    found = services.get_inspection(session, scope(), inspection_id)
    form = FindingForm()
    codes = session.scalars(select(FindingCode).where(FindingCode.is_active.is_(True)).order_by(FindingCode.id)).all()
    form.code_id.choices = [(c.id, f"{c.name_zh}（{c.code}）") for c in codes]
    form.check_id.choices = [("", "（不涉及具体器具）")] + [(c.id, c.label) for c in found.checks]
    if request.method == "GET":
        form.deadline.data = found.inspected_on + dt.timedelta(days=services.DEFAULT_RECTIFY_DAYS)
    error = None
    if form.validate_on_submit():
        values = {k: getattr(form, k).data for k in ("code_id", "check_id", "description", "measure", "case_no",
                                                     "deadline")}
        response, error = save(form, lambda: services.add_finding(session, current_user, found, values),
                               lambda _: ("已登记问题。", url_for("inspections.inspection", inspection_id=found.id)))
        if response:
            return response
    return render_template("inspections/finding_form.html", form=form, inspection=found, codes=codes, error=error)


@bp.route("/inspections/<int:inspection_id>/evidence", methods=["GET", "POST"])
@ledger_write_required
def evidence_new(inspection_id: int):
    """Attach a photo or scan to an inspection or one of its findings."""
    session = db()
    found = services.get_inspection(session, scope(), inspection_id)
    form = EvidenceForm()
    form.finding_id.choices = [("", "（整次检查）")] + [(f.id, f"问题 {n}：{f.code.name_zh}")
                                                   for n, f in enumerate(found.findings, 1)]
    error = None
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.read() if upload else b""
        response, error = save(form, lambda: services.store_evidence(
            session, current_user, found, file_name=getattr(upload, "filename", "") or "", data=data,
            storage_dir=current_app.config["EVIDENCE_STORAGE"], max_bytes=current_app.config["EVIDENCE_MAX_BYTES"],
            finding_id=form.finding_id.data), lambda _: ("已上传证据文件。",
                                                        url_for("inspections.inspection", inspection_id=found.id)))
        if response:
            return response
    return render_template("inspections/evidence_form.html", form=form, inspection=found, error=error,
                           limit_mb=current_app.config["EVIDENCE_MAX_BYTES"] // (1024 * 1024))


@bp.route("/evidence/<int:evidence_id>")
@staff_required
def evidence(evidence_id: int):
    """An evidence file, only for users who may see its inspection."""
    ev = services.get_evidence(db(), scope(), evidence_id)
    path = services.evidence_path(current_app.config["EVIDENCE_STORAGE"], ev)
    # A download, never rendered as a page of this site (the security headers add nosniff to every response);
    # kept out of shared caches.
    response = send_file(path, mimetype=ev.content_type, as_attachment=True, download_name=ev.original_name,
                         conditional=True)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _print(inspection_id: int, template: str):
    session = db()
    found = services.get_inspection(session, scope(), inspection_id)
    rects = {r.finding_id: r for r in session.scalars(queries.rectifications_of(found.id))}
    return render_template(template, inspection=found, rects=rects, today=today(), measures=Measure)


@bp.route("/inspections/<int:inspection_id>/print/notice")
@staff_required
def print_notice(inspection_id: int):
    """The rectification order (责令改正通知书) of an inspection, laid out for A4."""
    return _print(inspection_id, "inspections/print_notice.html")


@bp.route("/inspections/<int:inspection_id>/print/record")
@staff_required
def print_record(inspection_id: int):
    """The on-site inspection record (现场检查笔录), laid out for A4."""
    return _print(inspection_id, "inspections/print_record.html")


# --- rectification --------------------------------------------------------------------------------

def _rectification_list():
    state = request.args.get("state", "open")
    if state not in queries.RECTIFICATION_STATES and state != "all":
        state = "open"
    return state, queries.rectification_list(scope(), today(), "" if state == "all" else state)


@bp.route("/rectifications/export.xlsx")
@staff_required
def rectifications_export():
    """The rectification list with its current filter, as a workbook."""
    _, stmt = _rectification_list()
    return xlsx_download(stmt, "责令改正", RECTIFICATION_COLUMNS, rectification_rows,
                         url_for("inspections.rectifications"))


@bp.route("/rectifications/")
@staff_required
def rectifications():
    """Rectification orders in the user's stations: open, late (past the deadline) or closed."""
    state, stmt = _rectification_list()
    page = paginate(stmt)
    return render_template("inspections/rectifications.html", page=page, state=state, today=today(),
                           states=queries.RECTIFICATION_STATES)


@bp.route("/rectifications/<int:rectification_id>/recheck", methods=["GET", "POST"])
@ledger_write_required
def recheck(rectification_id: int):
    """Record a re-check (复查); put right closes the order."""
    session = db()
    rect = services.get_rectification(session, scope(), rectification_id)
    form = RecheckForm(obj=rect)
    if request.method == "GET":
        form.rechecked_on.data = today()
    error = None
    if form.validate_on_submit():
        values = {"rechecked_on": form.rechecked_on.data, "rectified": form.rectified.data == "yes",
                  "notes": form.notes.data}
        response, error = save(form, lambda: services.record_recheck(session, current_user, rect,
                                                                     expected_version=form.version.data,
                                                                     values=values, today=today()),
                               lambda r: ("已记录复查，整改已关闭。" if r.rectified else "已记录复查：尚未改正，整改继续。",
                                          url_for("inspections.inspection", inspection_id=rect.finding.inspection_id)))
        if response:
            return response
    return render_template("inspections/recheck_form.html", form=form, rect=rect, error=error, today=today())


# --- figures --------------------------------------------------------------------------------------

def _arg_date(name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.route("/inspections/stats")
@staff_required
def stats():
    """Station statistics over a period: inspected merchants and instruments, findings by code, orders, cases."""
    on = today()
    date_from = _arg_date("from") or on.replace(month=1, day=1)
    date_to = _arg_date("to") or on
    figures = _figures(scope(), on, date_from=date_from, date_to=date_to)
    return render_template("inspections/stats.html", figures=figures, stations=_stations(), date_from=date_from,
                           date_to=date_to)


