"""The first dashboard: worklist counts and instruments by kind and status."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

from app.clock import today
from app.dashboard.services import kind_status_table
from app.instruments.models import InstrumentStatus
from app.instruments.queries import WORKLISTS
from app.security import staff_required
from app.web import arg_int, db, scope, scoped_stations

bp = Blueprint("dashboard", __name__, template_folder="templates")


@bp.route("/")
@staff_required
def index():
    """Counts by kind and status for the user's scope, with the worklists."""
    station_id = arg_int("station_id")
    rows = kind_status_table(db(), scope(), today(), station_id)
    totals = {k: sum(r[k] for r in rows) for k in ["total", "overdue"] + [s.value for s in InstrumentStatus]}
    return render_template("dashboard/index.html", rows=rows, totals=totals, statuses=InstrumentStatus,
                           worklists=WORKLISTS, stations=scoped_stations(), station_id=station_id,
                           days=current_app.config["DUE_SOON_DAYS"])
