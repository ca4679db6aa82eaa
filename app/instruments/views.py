"""Instrument pages: list, worklists, register, view, edit, verify, void, replace."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_login import current_user

from app.alerts.queries import alerts_of_instrument
from app.audit.queries import entries_for, entries_for_many
from app.catalog.queries import instrument_types
from app.clock import today
from app.instruments import queries, services
from app.instruments.forms import InstrumentForm, ReplaceForm, VerificationForm, VoidForm
from app.instruments.models import InstrumentStatus, Verification
from app.merchants.queries import merchant_list
from app.merchants.services import get_merchant
from app.security import ledger_write_required, staff_required
from app.web import arg_int, db, paginate, save, scope, scoped_stations, xlsx_download
from reports.lists import INSTRUMENT_COLUMNS, instrument_rows

bp = Blueprint("instruments", __name__, template_folder="templates")


def _filter() -> queries.InstrumentFilter:
    status = request.args.get("status") or None
    if status not in {s.value for s in InstrumentStatus}:
        status = None
    return queries.InstrumentFilter(station_id=arg_int("station_id"), type_id=arg_int("type_id"),
                                    merchant_id=arg_int("merchant_id"), status=status,
                                    q=request.args.get("q", ""))


def _list_context() -> dict:
    merchant_id = arg_int("merchant_id")
    merchant = get_merchant(db(), scope(), merchant_id) if merchant_id else None
    return {"stations": scoped_stations(), "types": db().scalars(instrument_types()).all(),
            "statuses": InstrumentStatus.choices(), "today": today(), "merchant": merchant}


@bp.route("/instruments/")
@staff_required
def index():
    """Instruments in the user's stations, filtered, sorted and paginated."""
    page = paginate(queries.instrument_list(scope(), _filter(), request.args.get("sort", "new")))
    return render_template("instruments/index.html", page=page, title="计量器具", worklist=None,
                           **_list_context())


def _worklist(name: str):
    """The named worklist's statement and horizon in days (404 for an unknown name)."""
    if name not in queries.WORKLISTS:
        abort(404)
    days = arg_int("days") or current_app.config["DUE_SOON_DAYS"]
    return queries.worklist(name, scope(), _filter(), today(), days, request.args.get("sort", "")), days


@bp.route("/worklists/<name>")
@staff_required
def worklist(name: str):
    """A worklist: due soon, overdue, past service life, never verified or failed."""
    stmt, days = _worklist(name)
    return render_template("instruments/index.html", page=paginate(stmt), title=queries.WORKLISTS[name],
                           worklist=name, days=days, **_list_context())


@bp.route("/instruments/export.xlsx")
@staff_required
def export():
    """The instrument list with its current filter and sort, as a workbook."""
    stmt = queries.instrument_list(scope(), _filter(), request.args.get("sort", "new"))
    return xlsx_download(stmt, "计量器具", INSTRUMENT_COLUMNS, instrument_rows, url_for("instruments.index"))


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
    merchant_id = arg_int("merchant_id")
    if merchant_id is None:
        q = request.args.get("q", "")
        found = db().scalars(merchant_list(scope(), q=q).limit(50)).all() if q else []
        return render_template("instruments/pick_merchant.html", merchants=found, q=q)
    session = db()
    merchant = get_merchant(session, scope(), merchant_id)
    form = InstrumentForm()
    form.type_id.choices = _type_choices()
    error = None
    if form.validate_on_submit():
        response, error = save(form, lambda: services.create_instrument(session, current_user, scope(),
                                                                        _values(form, merchant.id)),
                               lambda new: (f"已登记 {new}。请记录其检定情况。", _page(new.id)))
        if response:
            return response
    return render_template("instruments/form.html", form=form, merchant=merchant, instrument=None, error=error)


@bp.route("/instruments/<int:instrument_id>")
@staff_required
def detail(instrument_id: int):
    """An instrument with its verification records (voided ones too) and its history."""
    session = db()
    instrument = services.get_instrument(session, scope(), instrument_id)
    records = session.scalars(queries.verifications_of(instrument.id)).all()
    replaced = session.scalars(queries.replaced_by(instrument.id)).all()
    entries = list(session.scalars(entries_for("instruments", instrument.id)))
    entries += session.scalars(entries_for_many("verifications", [v.id for v in records]))
    entries.sort(key=lambda e: e.id, reverse=True)
    open_alerts = session.scalars(alerts_of_instrument(instrument.id)).all()
    return render_template("instruments/detail.html", instrument=instrument, records=records, entries=entries,
                           replaced=replaced, today=today(), open_alerts=open_alerts)


@bp.route("/instruments/<int:instrument_id>/edit", methods=["GET", "POST"])
@ledger_write_required
def edit(instrument_id: int):
    """Edit an instrument; refused when someone else saved it meanwhile."""
    session = db()
    instrument = services.get_instrument(session, scope(), instrument_id)
    form = InstrumentForm(obj=instrument)
    form.type_id.choices = _type_choices()
    if request.method == "GET":
        form.status.data = instrument.status.value
    error = None
    if form.validate_on_submit():
        response, error = save(form, lambda: services.update_instrument(
            session, current_user, scope(), instrument, expected_version=form.version.data,
            values=_values(form, instrument.merchant_id)), lambda _: ("已保存。", _page(instrument.id)))
        if response:
            return response
    return render_template("instruments/form.html", form=form, merchant=instrument.merchant, instrument=instrument,
                           error=error)


@bp.route("/instruments/<int:instrument_id>/verifications/new", methods=["GET", "POST"])
@ledger_write_required
def verify(instrument_id: int):
    """Record a verification; the instrument's due dates follow."""
    session = db()
    instrument = services.get_instrument(session, scope(), instrument_id)
    form = VerificationForm()
    if form.validate_on_submit():
        values = {k: getattr(form, k).data for k in
                  ("verified_on", "institution", "certificate_no", "result", "valid_until", "notes")}
        response, _ = save(form, lambda: services.record_verification(session, current_user, instrument, values),
                           lambda _: ("已记录检定结果，到期日期已更新。", _page(instrument.id)))
        if response:
            return response
    return render_template("instruments/verify.html", form=form, instrument=instrument)


@bp.route("/verifications/<int:verification_id>/void", methods=["GET", "POST"])
@ledger_write_required
def void(verification_id: int):
    """Void a wrong verification record with a reason; it stays visible."""
    session = db()
    ver: Verification = services.get_verification(session, scope(), verification_id)
    form = VoidForm()
    if form.validate_on_submit():
        response, _ = save(form, lambda: services.void_verification(session, current_user, ver, form.reason.data),
                           lambda _: ("检定记录已作废，到期日期已按其余记录重新计算。", _page(ver.instrument_id)))
        if response:
            return response
    return render_template("instruments/void.html", form=form, ver=ver)


@bp.route("/instruments/<int:instrument_id>/replace", methods=["GET", "POST"])
@ledger_write_required
def replace(instrument_id: int):
    """Replace a meter: the old one is retired and linked to the new one."""
    session = db()
    instrument = services.get_instrument(session, scope(), instrument_id)
    form = ReplaceForm()
    error = None
    if form.validate_on_submit():
        first = None
        if form.verified_on.data:
            first = {"verified_on": form.verified_on.data, "institution": form.institution.data,
                     "certificate_no": form.certificate_no.data, "result": "pass",
                     "valid_until": form.valid_until.data}
        new_values = {"serial_no": form.serial_no.data, "maker": form.maker.data, "model": form.model.data}
        response, error = save(form, lambda: services.replace_instrument(session, current_user, scope(), instrument,
                                                                         new_values, first),
                               lambda new: (f"已更换为 {new}，原器具状态为“已更换”。", _page(new.id)))
        if response:
            return response
    return render_template("instruments/replace.html", form=form, instrument=instrument, error=error)
