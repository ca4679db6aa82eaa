"""The scheduled monthly report job."""
from __future__ import annotations

from app.clock import LOCAL_TZ
from app.monthly.services import build_all_for, last_month, mail_report


def monthly_report(*, session, now, config) -> dict[str, int]:
    """On the 1st: build last month's reports (all stations, each station, each region's edition) into the
    archive and mail the all-station one and each region's edition to those who asked for it."""
    reports = build_all_for(session, "定时任务", last_month(now.astimezone(LOCAL_TZ).date()))
    mailed = sum(mail_report(session, r) for r in reports if r.station_id is None)
    return {"reports": len(reports), "mailed": mailed}
