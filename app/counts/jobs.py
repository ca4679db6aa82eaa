"""The scheduled recount of every station's figures for the new day (the contract with the scheduler: keyword
arguments session, now and config; flushes, never commits; returns counts)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from app.clock import LOCAL_TZ
from app.counts.services import DEFAULT_DAYS, rebuild


def recount_stations(*, session: Session, now: dt.datetime, config: Mapping[str, Any]) -> dict[str, int]:
    """Recount every station's instruments by kind, status and worklist for the local day of `now`."""
    days = int(config.get("DUE_SOON_DAYS", DEFAULT_DAYS))
    return {"stations": rebuild(session, now.astimezone(LOCAL_TZ).date(), days)}
