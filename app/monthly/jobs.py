"""The scheduled monthly report job."""
from __future__ import annotations

from app.clock import LOCAL_TZ
from app.monthly.services import build_all_for, last_month


def monthly_report(*, session, now, config) -> dict[str, int]:
    """On the 1st: build last month's reports (all stations and each station) into the archive."""
    reports = build_all_for(session, "定时任务", last_month(now.astimezone(LOCAL_TZ).date()))
    return {"reports": len(reports)}
