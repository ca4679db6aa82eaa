"""The alert centre (预警中心): open alerts of the user's stations, filtered, acknowledged."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.alerts import kinds, queries, services
from app.alerts.forms import AcknowledgeForm
from app.alerts.models import Alert, AlertStatus
from app.db import count_of, utcnow
from app.security import ledger_write_required, staff_required
from app.web import (arg_choice, arg_int, chosen_county, county_choices, db, in_scope, paginate, scoped_stations,
                     shared_figures, unit_of_work, view_scope, xlsx_download)
from reports.lists import ALERT_COLUMNS, alert_rows

bp = Blueprint("alerts", __name__, template_folder="templates")
STATUSES = [("open", "未解除"), ("resolved", "已解除"), ("all", "全部")]


def _filter() -> queries.AlertFilter:
    status = request.args.get("status") or AlertStatus.OPEN.value
    if status not in {s for s, _ in STATUSES}:
        status = AlertStatus.OPEN.value
    return queries.AlertFilter(kind=arg_choice("kind", kinds.KINDS), station_id=arg_int("station_id"),
                               status="" if status == "all" else status,
                               unacknowledged=request.args.get("unacknowledged") == "1")


@bp.route("/alerts/")
@staff_required
def index():
    """Alerts of the user's stations, by kind and station, earliest due date first."""
    f = _filter()
    for_scope = view_scope()
    stmt = queries.alert_list(for_scope, f)
    # The counts by kind (the filter's badges) and the list's total: one snapshot for everyone asking (163,000 open
    # alerts at 1,000,000 instruments: two counts of 30 ms each on PostgreSQL per visit).
    counts, counted_at = shared_figures(("alert-counts", f), lambda: {
        "by_kind": dict(db().execute(queries.counts_by_kind(for_scope, f)).all()),
        "total": db().execute(count_of(stmt)).scalar_one()}, for_scope)
    page = paginate(stmt, total=counts["total"],
                    stations=(Alert.station_id, frozenset({f.station_id}) if f.station_id else for_scope.station_ids))
    by_kind = counts["by_kind"]
    acknowledged = [a.id for a in page.items if a.acknowledged_at is not None]
    notes = {alert_id: note for alert_id, note in db().execute(queries.acknowledgement_notes(acknowledged))
             if note and note != queries.NO_NOTE} if acknowledged else {}
    return render_template("alerts/index.html", page=page, f=f, by_kind=by_kind, kinds=list(kinds.KINDS.values()),
                           stations=scoped_stations(), statuses=STATUSES, form=AcknowledgeForm(), notes=notes,
                           counties=county_choices(), county_id=chosen_county(), counted_at=counted_at)


@bp.route("/alerts/export.xlsx")
@staff_required
def export():
    """The alert list with its current filter, as a workbook."""
    return xlsx_download(queries.alert_list(view_scope(), _filter()), "预警", ALERT_COLUMNS, alert_rows,
                         url_for("alerts.index"))


def _back(target: str | None) -> str:
    # Only the alert centre's own relative URLs: never an open redirect.
    if target and target.startswith("/alerts/") and "//" not in target and "\\" not in target and target.isprintable():
        return target
    return url_for("alerts.index")


@bp.route("/alerts/<int:alert_id>/acknowledge", methods=["POST"])
@ledger_write_required
def acknowledge(alert_id: int):
    """Acknowledge an alert: who and when are kept and logged; the alert stays until its condition clears."""
    alert = in_scope(services.get_alert, alert_id)
    form = AcknowledgeForm()
    back = _back(form.next.data)
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for e in errors:
                flash(e, "danger")
        return redirect(back)
    with unit_of_work() as uow:
        done = services.acknowledge(uow.session, current_user, alert, now=utcnow(), note=form.note.data or "")
    if not uow.ok:
        return redirect(back)
    return uow.redirect(f"已确认预警：{alert}。" if done else "该预警此前已被确认。", back, "success" if done else "info")
