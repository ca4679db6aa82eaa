"""The dashboard: worklist counts, instruments by kind and status, due and overdue by kind, 12-month trend."""
from __future__ import annotations

from types import SimpleNamespace

from flask import Blueprint, current_app, render_template, url_for

from app.clock import today
from app.dashboard.services import inspection_summary, kind_status_table, pledge_summary, trend, worklist_counts
from app.instruments.models import InstrumentStatus
from app.instruments.queries import WORKLISTS
from app.security import staff_required
from app.web import (arg_int, chosen_county, county_choices, db, region_tree, scoped_stations, shared_figures,
                     view_scope)

bp = Blueprint("dashboard", __name__, template_folder="templates")


@bp.route("/")
@staff_required
def index():
    """Counts by kind and status for the user's scope, with the worklists; a city or province user sees its
    counties side by side first, and ?county_id= opens one county (this page narrowed to it)."""
    from app.complaints.queries import open_counts as open_complaints
    from app.rollups.services import county_rows

    station_id = arg_int("station_id")
    days = current_app.config["DUE_SOON_DAYS"]
    county_id, counties = chosen_county(), county_choices()
    scope = view_scope()
    on_day = today()

    def compute() -> dict:
        # Plain values, not the session's objects: a snapshot outlives the request that computed it.
        rows = [{**r, "type": SimpleNamespace(id=r["type"].id, name_zh=r["type"].name_zh)}
                for r in kind_status_table(db(), scope, on_day, station_id, days)]
        totals = {k: sum(r[k] for r in rows)
                  for k in ["total", "overdue", "due_soon"] + [s.value for s in InstrumentStatus]}
        return {"rows": rows, "totals": totals,
                "rollup": county_rows(db(), region_tree(), scope, on_day, days) if counties and county_id is None
                else [],
                "counts": worklist_counts(db(), scope, on_day, days) if county_id else None,
                "trend": trend(db(), scope, on_day, station_id),
                "inspections": inspection_summary(db(), scope, on_day, station_id),
                "pledges": pledge_summary(db(), scope, on_day, station_id, county_id),
                "complaints": tuple(db().execute(open_complaints(scope, on_day)).one())}

    # One snapshot per scope and day shared by everyone asking at once, until any write commits (app/web.py).
    figures, counted_at = shared_figures(("dashboard", station_id, county_id, on_day, days), compute, scope)
    stations = [s for s in scoped_stations() if scope.allows(s.id)]
    return render_template("dashboard/index.html", rows=figures["rows"], totals=figures["totals"],
                           statuses=InstrumentStatus, worklists=WORKLISTS, stations=stations, station_id=station_id,
                           days=days, counts=figures["counts"], counties=counties, county_id=county_id,
                           rollup=figures["rollup"], county_name=region_tree().label(county_id) if county_id else "",
                           counted_at=counted_at,
                           charts=_charts(figures["trend"], station_id, county_id),
                           inspections=_inspection_charts(figures["inspections"]), pledges=figures["pledges"],
                           complaints=figures["complaints"])


def _inspection_charts(summary: dict) -> dict:
    """Findings by code and the state of rectification orders, as chart bars linking to their lists."""
    stats = url_for("inspections.stats", **{"from": summary["since"].isoformat()})
    # The axis shows the Chinese name, shortened to fit a bar's slot; the tooltip has it in full with the code.
    codes = [{"label": name if len(name) <= 6 else name[:5] + "…", "value": n, "title": f"{name}（{code}）",
              "href": stats} for code, name, n in summary["codes"][:10]]
    orders = [{"label": label, "value": summary[key], "title": label,
               "href": url_for("inspections.rectifications", state=state)}
              for key, label, state in (("closed_on_time", "按期整改", "closed"), ("closed_late", "逾期整改", "closed"),
                                        ("open", "整改中", "open"), ("late", "逾期未改", "late"))]
    return {**summary, "code_bars": codes, "order_bars": orders}


def _charts(rows: list[dict], station_id: int | None, county_id: int | None = None) -> dict[str, list[dict]]:
    """The trend as chart bars, each linking to the list behind it."""
    overdue_list = url_for("instruments.worklist", name="overdue", station_id=station_id or "",
                           county_id=county_id or None)
    verified, overdue = [], []
    for row in rows:
        month = row["month"]
        label, title = f"{month.month}月", f"{month.year}年{month.month}月"
        verified.append({"label": label, "value": row["verified"], "title": title,
                         "href": url_for("monthly.index", month=f"{month:%Y-%m}")})
        overdue.append({"label": label, "value": row["overdue"], "title": title, "href": overdue_list})
    return {"verified": verified, "overdue": overdue}
