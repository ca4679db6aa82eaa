"""Verification plans (检定计划): the page, its workbook and the printable notices (送检通知书)."""
from __future__ import annotations

import datetime as dt
import math
import tempfile
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request, send_file

from app.catalog.queries import instrument_types
from app.clock import today
from app.merchants.services import get_merchant
from app.plans import queries
from app.security import staff_required
from app.web import XLSX_MIMETYPE, Page, arg_int, db, in_scope, scope, scoped_stations, shared_figures
from reports.monthly import Month
from reports.plan import ACTION_LABELS, write_plan_workbook

bp = Blueprint("plans", __name__, template_folder="templates", url_prefix="/plans")


def _period() -> tuple[str, dt.date, dt.date, str | None]:
    """The requested period ("2026-12" or "2026"), its first and last day, and an error message."""
    text = (request.args.get("period") or "").strip()
    default = Month.of(today()).shift(1)
    if not text:
        return str(default), default.first, default.last, None
    if text.isdigit() and len(text) == 4 and 2000 <= int(text) <= 2100:
        return text, dt.date(int(text), 1, 1), dt.date(int(text), 12, 31), None
    try:
        month = Month.parse(text)
    except ValueError:
        return str(default), default.first, default.last, f"期间“{text}”无效，请写成 2026-12（某月）或 2026（全年）；已显示{default.label}。"
    return str(month), month.first, month.last, None


def _filter() -> tuple[queries.PlanFilter, str, str | None]:
    period, first, last, error = _period()
    f = queries.PlanFilter(first=first, last=last, station_id=arg_int("station_id"), type_id=arg_int("type_id"),
                           merchant_id=arg_int("merchant_id"), include_overdue=request.args.get("overdue") == "1")
    if f.merchant_id:
        in_scope(get_merchant, f.merchant_id)  # another station's merchant: 404
    return f, period, error


def _title(f: queries.PlanFilter, period: str) -> str:
    span = f"{f.first.year}年" if len(period) == 4 else Month.parse(period).label
    return f"{span}计量器具检定计划" + ("（含已超期）" if f.include_overdue else "")


def _merchant_page(f: queries.PlanFilter) -> tuple[Page, Any]:
    """The requested page of the plan's merchants and its total, and when they were counted.

    Both are snapshots (app/web.py shared_figures): the plan of a city groups every instrument falling due in the
    period, 0.4 s on PostgreSQL at 1,000,000 instruments, for each visitor."""
    for_scope, per_page = scope(), current_app.config["PAGE_SIZE"]
    number = max(1, arg_int("page") or 1)
    total, at = shared_figures(("plan-total", f), lambda: db().scalar(queries.plan_merchant_count(for_scope, f)),
                               for_scope)
    number = min(number, max(1, math.ceil(total / per_page)))
    rows, _ = shared_figures(("plan-page", f, number, per_page), lambda: db().execute(
        queries.plan_merchants(for_scope, f).limit(per_page).offset((number - 1) * per_page)).all(), for_scope)
    return Page(rows, total, number, per_page), at


@bp.route("/")
@staff_required
def index():
    """The merchants with instruments to verify or replace in the period, with links to notices and the workbook."""
    f, period, error = _filter()
    page, counted_at = _merchant_page(f)
    return render_template("plans/index.html", page=page, f=f, period=period, error=error, title=_title(f, period),
                           stations=scoped_stations(), types=db().scalars(instrument_types()).all(),
                           counted_at=counted_at)


@bp.route("/export.xlsx")
@staff_required
def export():
    """The plan as a workbook: every instrument grouped by merchant and kind, and counts per merchant."""
    f, period, _ = _filter()
    session = db()
    out = tempfile.TemporaryFile()
    write_plan_workbook(out, _title(f, period),
                        session.execute(queries.plan_instruments(scope(), f).execution_options(yield_per=2000)),
                        session.execute(queries.plan_merchants(scope(), f)).all())
    out.seek(0)
    return send_file(out, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=f"检定计划_{period}.xlsx")


@bp.route("/notices")
@staff_required
def notices():
    """送检通知书 for one merchant (merchant_id) or for the merchants on one page of the plan, one A4 page each."""
    f, period, _ = _filter()
    session = db()
    if f.merchant_id:
        merchant_ids = [f.merchant_id]
    else:
        merchant_ids = [row.id for row in _merchant_page(f)[0].items]
    groups: dict[int, dict] = {}
    for row in session.execute(queries.plan_instruments(scope(), f, merchant_ids)):
        station, merchant_id, name, address, contact, phone, kind, serial, model, location, last, deadline, action = row
        group = groups.setdefault(merchant_id, {"station": station, "name": name, "address": address,
                                                "contact": contact, "items": []})
        group["items"].append({"kind": kind, "serial": serial, "model": model, "location": location, "last": last,
                               "deadline": deadline, "action": ACTION_LABELS[action]})
    if f.merchant_id and not groups:
        abort(404)
    return render_template("plans/notices.html", groups=list(groups.values()), f=f, title=_title(f, period),
                           issued_on=today())
