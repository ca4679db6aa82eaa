"""Scheduled alert jobs (the contract with the scheduler): the due-date sweep and the daily digest.

Each takes keyword arguments session, now (aware UTC) and config (dict-like), flushes and never
commits (the scheduler commits through session_scope), and returns counts.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from app.alerts import services
from app.db import Database, utcnow


def due_date_sweep(*, session: Session, now: dt.datetime, config: Mapping[str, Any]) -> dict[str, int]:
    """Create, reopen and resolve instrument alerts for the local day of `now`; returns {"created", "reopened", "resolved"}."""
    return services.run_sweep(session, now=now, config=config)


def alert_digest(*, session: Session, now: dt.datetime, config: Mapping[str, Any]) -> dict[str, int]:
    """Enqueue each station's daily digest to its recipients, once per station and local day; returns counts."""
    return services.build_digests(session, now=now, config=config)


def sweep_now(database: Database, *, now: dt.datetime | None = None,
              config: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Run due_date_sweep once in its own committed transaction (tests, scripts)."""
    with database.session_scope() as session:
        return due_date_sweep(session=session, now=now or utcnow(), config=config or {})


def digest_now(database: Database, *, now: dt.datetime | None = None,
               config: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Run alert_digest once in its own committed transaction (tests, scripts)."""
    with database.session_scope() as session:
        return alert_digest(session=session, now=now or utcnow(), config=config or {})
