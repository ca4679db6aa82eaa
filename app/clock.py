"""The station's calendar: dates are shown, entered and reckoned in Asia/Shanghai."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def today() -> dt.date:
    """Today's date in Asia/Shanghai."""
    return dt.datetime.now(LOCAL_TZ).date()


def local(moment: dt.datetime | None) -> dt.datetime | None:
    """An aware datetime converted to Asia/Shanghai for display."""
    return moment.astimezone(LOCAL_TZ) if moment is not None else None
