"""Instrument pages: list, worklists, register, view, edit, verify, void, replace, QR labels."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.alerts.queries import alerts_of_instrument
from app.audit.queries import entries_for, entries_for_many
from app.bodies import queries as body_queries
from app.catalog.queries import instrument_types
from app.certificates.services import certificates_of
from app.certificates.views import attach_upload, limit_mb
from app.clock import today
from app.counts.models import STATUS_FIGURES
from app.counts.services import list_total, one_station
from app.db import count_of
from app.instruments import queries, services
from app.instruments.forms import InstrumentForm, LabelsForm, ReplaceForm, VerificationForm, keep_legacy_choice
from app.instruments.models import Instrument, InstrumentStatus, Verification
from app.merchants.services import get_merchant
from app.public.labels import DEFAULT_SIZE, LABEL_SIZES, sheets
from app.errors import Invalid
from app.headers import csp_nonce
from app.public.qr import qr_svg
from app.public.services import assign_public_tokens, ensure_public_token
from app.security import ledger_write_required, staff_required
from app.voiding.forms import VoidForm
from app.web import (MAX_DAYS, arg_choice, arg_int, chosen_county, chosen_merchant, county_choices, db, in_scope,
                     paginate, scope, scoped_stations, unit_of_work, view_scope, xlsx_download)
from reports.ecqs import ECQS_COLUMNS, SHEET as ECQS_SHEET, ecqs_rows
from reports.lists import INSTRUMENT_COLUMNS, instrument_rows

bp = Blueprint("instruments", __name__, template_folder="templates")


def _filter() -> queries.InstrumentFilter:
    return queries.InstrumentFilter(station_id=arg_int("station_id"), type_id=arg_int("type_id"),
                                    merchant_id=arg_int("merchant_id"), status=arg_choice("status", InstrumentStatus),
                                    q=request.args.get("q", ""))


def _list_context() -> dict:
    merchant_id = arg_int("merchant_id")
    merchant = in_scope(get_merchant, merchant_id) if merchant_id else None
    return {"stations": scoped_stations(), "types": db().scalars(instrument_types()).all(),
            "statuses": InstrumentStatus.choices(), "today": today(), "merchant": merchant,
            "counties": county_choices(), "county_id": chosen_county()}


@bp.route("/instruments/")
@staff_required
def index():
    """Instruments in the user's stations, filtered, sorted and paginated."""
    f = _filter()
    list_scope = view_scope()
    stmt = queries.instrument_list(list_scope, f, request.args.get("sort", "new"))
    names = (f.status,) if f.status else STATUS_FIGURES
    page = paginate(stmt, stations=_stations(f), total=_total(stmt, list_scope, f, names,
                                                              current_app.config["DUE_SOON_DAYS"]))
    return render_template("instruments/index.html", page=page, title="计量器具", worklist=None,
                           sorts=queries.LIST_SORTS, **_list_context())


def _stations(f: queries.InstrumentFilter):
    """The list's stations for a per-station read (app/keyset.py): the filter's one, else the viewed scope's.

    None (no per-station read) for a merchant's or a searched list: those few rows come from their own index,
    while walking each station's sort index for them could read whole stations that hold none."""
    if f.merchant_id or f.q.strip():
        return None
    return Instrument.station_id, (frozenset({f.station_id}) if f.station_id else view_scope().station_ids)


def _total(stmt, list_scope, f: queries.InstrumentFilter, names: tuple[str, ...], days: int) -> int | None:
    """The list's row count read from the per-station counts when it spans several stations narrowed at most by
    kind (and status, or worklist); None otherwise, for paginate to count the few rows itself."""
    if f.station_id or f.merchant_id or f.q or one_station(list_scope):
        return None
    return list_total(db(), stmt, list_scope, today(), days, names, f.type_id)


def _worklist(name: str, page: bool = False):
    """The named worklist's statement and horizon in days (404 for an unknown name); a page offers only the
    worklist's indexed sorts, an export any."""
    if name not in queries.WORKLISTS:
        abort(404)
    days = arg_int("days", maximum=MAX_DAYS) or current_app.config["DUE_SOON_DAYS"]
    return queries.worklist(name, view_scope(), _filter(), today(), days, request.args.get("sort", ""),
                            queries.WORKLIST_SORTS[name] if page else None), days


@bp.route("/worklists/<name>")
@staff_required
def worklist(name: str):
    """A worklist: due soon, overdue, past service life, never verified or failed."""
    stmt, days = _worklist(name, page=True)
    f = _filter()
    total = _total(stmt, view_scope(), f, (name,), days) if f.status in (None, InstrumentStatus.IN_USE.value) else None
    return render_template("instruments/index.html", page=paginate(stmt, stations=_stations(f), total=total),
                           title=queries.WORKLISTS[name], worklist=name, days=days,
                           sorts=queries.WORKLIST_SORTS[name], **_list_context())


@bp.route("/instruments/export.xlsx")
@staff_required
def export():
    """The instrument list with its current filter and sort, as a workbook."""
    stmt = queries.instrument_list(view_scope(), _filter(), request.args.get("sort", "new"), queries.SORTS)
    return xlsx_download(stmt, "计量器具", INSTRUMENT_COLUMNS, instrument_rows, url_for("instruments.index"))


@bp.route("/instruments/ecqs.xlsx")
@staff_required
def export_ecqs():
    """The filtered ledger (a merchant's, a station's) in the e-CQS batch-import template layout; it imports back."""
    stmt = queries.instrument_list(view_scope(), _filter(), request.args.get("sort", "new"), queries.SORTS)
    merchant_id = arg_int("merchant_id")
    if merchant_id:
        in_scope(get_merchant, merchant_id)  # another station's merchant: 404, as its page
    return xlsx_download(stmt, ECQS_SHEET, ECQS_COLUMNS, ecqs_rows, url_for("instruments.index"))


@bp.route("/worklists/<name>/export.xlsx")
@staff_required
def worklist_export(name: str):
    """A worklist with its current filter and sort, as a workbook."""
    stmt, _days = _worklist(name)
    return xlsx_download(stmt, queries.WORKLISTS[name], INSTRUMENT_COLUMNS, instrument_rows,
                         url_for("instruments.worklist", name=name))


def _page(instrument_id: int) -> str:
    return url_for("instruments.detail", instrument_id=instrument_id)


def _type_choices() -> list[tuple[int, str]]:
    return [(t.id, f"{t.name_zh}（{t.rule_text}）") for t in db().scalars(instrument_types(active_only=True))]


def _values(form: InstrumentForm, merchant_id: int) -> dict:
    values = {k: getattr(form, k).data for k in services.FIELDS if hasattr(form, k)}
    values["merchant_id"] = merchant_id
    return values


@bp.route("/instruments/new", methods=["GET", "POST"])
@ledger_write_required
def new():
    """Register an instrument for a merchant (chosen first)."""
    merchant, picker = chosen_merchant("instruments/pick_merchant.html")
    if picker is not None:
        return picker
    form = InstrumentForm()
    form.type_id.choices = _type_choices()
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            new = services.create_instrument(uow.session, current_user, scope(), _values(form, merchant.id))
        if uow.ok:
            return uow.redirect(f"已登记 {new}。请记录其检定情况。", _page(new.id))
        error = uow.error
    return render_template("instruments/form.html", form=form, merchant=merchant, instrument=None, error=error)


@bp.route("/instruments/<int:instrument_id>")
@staff_required
def detail(instrument_id: int):
    """An instrument with its verification records (voided ones too) and its history."""
    session = db()
    instrument = in_scope(services.get_instrument, instrument_id)
    records = session.scalars(queries.verifications_of(instrument.id)).all()
    replaced = session.scalars(queries.replaced_by(instrument.id)).all()
    entries = list(session.scalars(entries_for("instruments", instrument.id)))
    entries += session.scalars(entries_for_many("verifications", [v.id for v in records]))
    entries.sort(key=lambda e: e.id, reverse=True)
    open_alerts = session.scalars(alerts_of_instrument(instrument.id)).all()
    certificates = certificates_of(session, [v.id for v in records])
    return render_template("instruments/detail.html", instrument=instrument, records=records, entries=entries,
                           replaced=replaced, today=today(), open_alerts=open_alerts, certificates=certificates)


@bp.route("/instruments/<int:instrument_id>/edit", methods=["GET", "POST"])
@ledger_write_required
def edit(instrument_id: int):
    """Edit an instrument; refused when someone else saved it meanwhile."""
    instrument = in_scope(services.get_instrument, instrument_id)
    form = InstrumentForm(obj=instrument)
    form.type_id.choices = _type_choices()
    keep_legacy_choice(form.purpose, instrument.purpose)
    keep_legacy_choice(form.submission, instrument.submission)
    if request.method == "GET":
        form.status.data = instrument.status.value
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.update_instrument(
                uow.session, current_user, scope(), instrument, expected_version=form.version.data,
                values=_values(form, instrument.merchant_id))
        if uow.ok:
            return uow.redirect("已保存。", _page(instrument.id))
        error = uow.error
    return render_template("instruments/form.html", form=form, merchant=instrument.merchant, instrument=instrument,
                           error=error)


@bp.route("/instruments/<int:instrument_id>/verifications/new", methods=["GET", "POST"])
@ledger_write_required
def verify(instrument_id: int):
    """Record a verification; the instrument's due dates follow."""
    instrument = in_scope(services.get_instrument, instrument_id)
    form = VerificationForm()
    form.body_id.choices = [(0, "其他（手工填写）")] + [
        (b.id, b.name) for b in db().scalars(body_queries.bodies(active_only=True))]
    if form.validate_on_submit():
        values = {k: getattr(form, k).data for k in
                  ("verified_on", "body_id", "institution", "certificate_no", "result", "valid_until", "notes")}
        with unit_of_work(form) as uow:
            ver = services.record_verification(uow.session, current_user, instrument, values)
            upload = form.certificate.data
            if upload and upload.filename:
                # One unit of work: a refused file leaves no verification either, and the form shows why.
                attach_upload(uow.session, ver, upload, field="certificate")
            unauthorised = ver.body is not None and not ver.body.authorises(instrument.type_id)
            body_name = ver.body.name if ver.body is not None else ""
        if uow.ok:
            if unauthorised:
                # A warning, not a refusal: the body's registered authorisations may be incomplete.
                flash(f"该检定机构未登记对此类器具的授权：“{body_name}”未登记可检定“{instrument.type.name_zh}”，"
                      "检定记录已保存，请核实其授权范围。", "warning")
            return uow.redirect("已记录检定结果，到期日期已更新。", _page(instrument.id))
    return render_template("instruments/verify.html", form=form, instrument=instrument, limit_mb=limit_mb())


@bp.route("/verifications/<int:verification_id>/void", methods=["GET", "POST"])
@ledger_write_required
def void(verification_id: int):
    """Void a wrong verification record with a reason; it stays visible."""
    ver: Verification = in_scope(services.get_verification, verification_id)
    form = VoidForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.void_verification(uow.session, current_user, ver, form.reason.data)
        if uow.ok:
            return uow.redirect("检定记录已作废，到期日期已按其余记录重新计算。", _page(ver.instrument_id))
    return render_template("instruments/void.html", form=form, ver=ver)


@bp.route("/instruments/<int:instrument_id>/replace", methods=["GET", "POST"])
@ledger_write_required
def replace(instrument_id: int):
    """Replace a meter: the old one is retired and linked to the new one."""
    instrument = in_scope(services.get_instrument, instrument_id)
    form = ReplaceForm()
    error = None
    if form.validate_on_submit():
        first = None
        if form.verified_on.data:
            first = {"verified_on": form.verified_on.data, "institution": form.institution.data,
                     "certificate_no": form.certificate_no.data, "result": "pass",
                     "valid_until": form.valid_until.data}
        new_values = {"serial_no": form.serial_no.data, "maker": form.maker.data, "model": form.model.data}
        with unit_of_work(form) as uow:
            new = services.replace_instrument(uow.session, current_user, scope(), instrument, new_values, first)
        if uow.ok:
            return uow.redirect(f"已更换为 {new}，原器具状态为“已更换”。", _page(new.id))
        error = uow.error
    return render_template("instruments/replace.html", form=form, instrument=instrument, error=error)


def _filter_args() -> dict:
    """The list filter's query parameters, to carry from the label form to the sheet."""
    return {k: v for k in ("station_id", "type_id", "merchant_id", "status", "q", "sort")
            if (v := request.args.get(k))}


def _public_base() -> str:
    """The address QR codes point at: PUBLIC_BASE_URL, else the address this page was opened at."""
    return (current_app.config.get("PUBLIC_BASE_URL") or request.host_url).rstrip("/")


def _labels_refused(total: int) -> str | None:
    """Why a label sheet of `total` instruments cannot be made, or None."""
    limit = current_app.config["LABELS_MAX"]
    if total > limit:
        return f"符合条件的器具有 {total} 台，超过单次打印上限 {limit} 台，请先缩小筛选范围。"
    return None


@bp.route("/instruments/labels", methods=["GET", "POST"])
@staff_required
def labels():
    """Choose a label stock for the filtered instruments; posting gives tokens to those lacking one and opens the
    sheet, or, past LABELS_INLINE labels, queues the sheet as a background task (tokens given by the task)."""
    context = _list_context()
    stmt = queries.instrument_list(view_scope(), _filter(), request.args.get("sort", "new"), queries.SORTS)
    total = db().execute(count_of(stmt)).scalar_one()
    limit = current_app.config["LABELS_MAX"]
    form = LabelsForm()
    form.size.choices = [(s.key, s.name) for s in LABEL_SIZES.values()]
    if request.method == "GET":
        form.size.data = request.args.get("size") if request.args.get("size") in LABEL_SIZES else DEFAULT_SIZE
    if form.validate_on_submit():
        sheet_args = {**_filter_args(), "size": form.size.data}
        if refused := _labels_refused(total):
            form.size.errors = [refused]
        elif total == 0:
            form.size.errors = ["没有符合条件的计量器具，请调整筛选条件。"]
        elif total > current_app.config["LABELS_INLINE"]:
            from app.tasks.models import TaskKind
            from app.tasks.views import start

            return start(TaskKind.LABELS, f"二维码标签（{total} 台）",
                         {"endpoint": "instruments.labels_sheet", "view_args": {},
                          "path": url_for("instruments.labels_sheet"), "query": urlencode(sheet_args),
                          "base_url": request.host_url},
                         f"共 {total} 张标签，已提交后台生成：完成后在本页打开打印，也可稍后在“我的后台任务”中打开。")
        else:
            with unit_of_work(form) as uow:
                assign_public_tokens(uow.session, current_user, stmt)
            if uow.ok:
                return uow.redirect(None, url_for("instruments.labels_sheet") + "?" + urlencode(sheet_args))
    return render_template("instruments/labels.html", form=form, total=total, limit=limit, args=_filter_args(),
                           inline=current_app.config["LABELS_INLINE"], **context)


@bp.route("/instruments/labels/sheet")
@staff_required
def labels_sheet():
    """The A4 sheet of QR labels for the filtered instruments that have a public token.

    Replayed by a background task for a large selection (app/tasks/background.py): it then gives the missing
    tokens itself and writes the sheet, a self-contained page, to the task's file."""
    from app.tasks.background import task_sink

    sink = task_sink()
    _list_context()  # a merchant filter outside the user's stations answers 404
    size = LABEL_SIZES.get(request.args.get("size", ""), LABEL_SIZES[DEFAULT_SIZE])
    stmt = queries.instrument_list(view_scope(), _filter(), request.args.get("sort", "new"), queries.SORTS)
    total = db().execute(count_of(stmt)).scalar_one()
    refused = _labels_refused(total)
    if sink is None and not refused and total > current_app.config["LABELS_INLINE"]:
        refused = f"符合条件的器具有 {total} 台，请在本页点击“生成标签页”，由后台生成后再打印。"
    if refused:
        if sink is not None:
            raise Invalid(refused)
        flash(refused, "warning")
        return redirect(url_for("instruments.labels", **_filter_args()))
    if sink is not None:
        with unit_of_work(show=False) as uow:
            assign_public_tokens(uow.session, current_user, stmt)
        if not uow.ok:
            raise uow.error
    items = db().scalars(stmt.where(Instrument.public_token.is_not(None))).all()
    base = _public_base()
    rows = sink.progress.counting(items, len(items), every=100) if sink is not None else items
    cards = [{"kind": i.type.name_zh, "serial": i.serial_no, "merchant": i.merchant.name,
              "qr": qr_svg(f"{base}{url_for('public.instrument', token=i.public_token)}")} for i in rows]
    html = render_template("instruments/labels_sheet.html", pages=sheets(cards, size), size=size,
                           missing=total - len(items), args=_filter_args())
    if sink is None:
        return html
    with sink.open() as out:
        out.write(html.encode("utf-8"))
    # The sheet's <style> carries this request's nonce: the download answers with the same one.
    return sink.done(f"二维码标签_{today():%Y%m%d}.html", len(items), ref={"nonce": csp_nonce()})


@bp.route("/instruments/<int:instrument_id>/public", methods=["POST"])
@staff_required
def public_page(instrument_id: int):
    """Open the instrument's public page, giving it a token first when it has none."""
    instrument = in_scope(services.get_instrument, instrument_id)
    with unit_of_work() as uow:
        token = ensure_public_token(uow.session, current_user, instrument)
    return redirect(url_for("public.instrument", token=token))
