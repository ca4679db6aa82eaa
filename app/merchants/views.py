"""Merchant pages: list, register, view, edit."""
from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user

from app.attention.queries import flagged_merchants, repeated_codes
from app.attention.services import labels_by_merchant
from app.audit.queries import entries_for
from app.cases.queries import cases_of_merchant
from app.clock import today
from app.credit.queries import credit_of
from app.credit.services import get_rule
from app.instruments.queries import instruments_of_merchant
from app.integrity.queries import pledges_of_merchant
from app.merchants import queries, services
from app.merchants.forms import MerchantForm
from app.merchants.models import Industry, Merchant
from app.security import ledger_write_required, staff_required
from app.web import (arg_choice, arg_int, case_access, db, in_scope, paginate, scope, scoped_stations, unit_of_work,
                     xlsx_download)
from reports.lists import MERCHANT_COLUMNS, merchant_rows

bp = Blueprint("merchants", __name__, template_folder="templates", url_prefix="/merchants")


def _list_stmt():
    stmt = queries.merchant_list(scope(), q=request.args.get("q", ""), station_id=arg_int("station_id"),
                                 industry=arg_choice("industry", Industry), sort=request.args.get("sort", "name"))
    if request.args.get("attention") == "1":
        stmt = stmt.where(Merchant.id.in_(flagged_merchants(today())))
    return stmt


@bp.route("/")
@staff_required
def index():
    """Merchants in the user's stations, filtered and paginated."""
    station_id = arg_int("station_id")
    # A searched list is read from the search index, not station by station (app/instruments/views.py _stations).
    stations = None if request.args.get("q", "").strip() else (
        Merchant.station_id, frozenset({station_id}) if station_id else scope().station_ids)
    page = paginate(_list_stmt(), stations=stations)
    attention = labels_by_merchant(db(), [m.id for m in page.items], today())
    return render_template("merchants/index.html", page=page, stations=scoped_stations(),
                           industries=Industry.choices(), attention=attention)


@bp.route("/export.xlsx")
@staff_required
def export():
    """The merchant list with its current filter and sort, as a workbook."""
    return xlsx_download(_list_stmt(), "使用单位", MERCHANT_COLUMNS, merchant_rows, url_for("merchants.index"))


def _prepare(form: MerchantForm, merchant: Merchant | None) -> None:
    form.station_id.choices = [(s.id, s.name) for s in scoped_stations()]
    organisers = db().scalars(queries.market_organisers(scope())).all()
    form.parent_id.choices = [("", "（无）")] + [(m.id, m.name) for m in organisers
                                                 if merchant is None or m.id != merchant.id]


def _page(merchant_id: int) -> str:
    return url_for("merchants.detail", merchant_id=merchant_id)


def _values(form: MerchantForm) -> dict:
    return {k: getattr(form, k).data for k in services.FIELDS}


@bp.route("/new", methods=["GET", "POST"])
@ledger_write_required
def new():
    """Register a merchant."""
    form = MerchantForm()
    _prepare(form, None)
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            new = services.create_merchant(uow.session, current_user, scope(), _values(form))
        if uow.ok:
            return uow.redirect(f"已登记使用单位“{new.name}”。", _page(new.id))
        error = uow.error
    return render_template("merchants/form.html", form=form, merchant=None, error=error)


@bp.route("/<int:merchant_id>")
@staff_required
def detail(merchant_id: int):
    """A merchant, its instruments, its vendors, its integrity pledges and its history."""
    session = db()
    merchant = in_scope(services.get_merchant, merchant_id)
    # A utility company can own a hundred thousand meters: page them.
    instruments = paginate(instruments_of_merchant(merchant.id))
    vendors = paginate(queries.vendors_of(merchant.id), per_page=200)
    entries = session.scalars(entries_for("merchants", merchant.id)).all()
    credit = session.scalars(credit_of(merchant.id)).first()
    pledges = session.scalars(pledges_of_merchant(merchant.id)).all()
    attention = labels_by_merchant(session, [merchant.id], today()).get(merchant.id, [])
    return render_template("merchants/detail.html", merchant=merchant, instruments=instruments, vendors=vendors,
                           entries=entries, credit=credit, credit_rule=get_rule(session) if credit else None,
                           pledges=pledges, today=today(), attention=attention,
                           repeated_codes=session.execute(repeated_codes(merchant.id, today())).all(),
                           cases=session.scalars(cases_of_merchant(case_access(), merchant.id)).all())


@bp.route("/<int:merchant_id>/edit", methods=["GET", "POST"])
@ledger_write_required
def edit(merchant_id: int):
    """Edit a merchant; refused when someone else saved it meanwhile."""
    merchant = in_scope(services.get_merchant, merchant_id)
    form = MerchantForm(obj=merchant)
    _prepare(form, merchant)
    if request.method == "GET":
        form.industry.data = merchant.industry.value
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.update_merchant(
                uow.session, current_user, scope(), merchant, expected_version=form.version.data, values=_values(form))
        if uow.ok:
            return uow.redirect("已保存。", _page(merchant.id))
        error = uow.error
    return render_template("merchants/form.html", form=form, merchant=merchant, error=error)
