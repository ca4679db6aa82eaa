"""The scheduled monthly report job."""
from __future__ import annotations

from app.clock import LOCAL_TZ
from app.monthly.services import build_all_for, last_month, mail_report


def monthly_report(*, session, now, config) -> dict[str, int]:
    """On the 1st: build last month's reports (all stations and each station) into the archive and mail the
    all-station one to those who asked for it."""
    reports = build_all_for(session, "定时任务", last_month(now.astimezone(LOCAL_TZ).date()))
    # The first report is the all-station one: it goes to supervisors and admins who asked for it.
    return {"reports": len(reports), "mailed": mail_report(session, reports[0])}
