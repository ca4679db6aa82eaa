"""Named queries on verification bodies."""
from __future__ import annotations

from sqlalchemy import Select, func, select

from app.bodies.models import VerificationBody
from app.instruments.models import Verification


def bodies(active_only: bool = False) -> Select:
    """Bodies by name (only active ones, when asked)."""
    stmt = select(VerificationBody).order_by(VerificationBody.is_active.desc(), VerificationBody.name)
    return stmt.where(VerificationBody.is_active.is_(True)) if active_only else stmt


def linked_counts() -> Select:
    """(body id, number of verifications linked to it)."""
    return (select(Verification.body_id, func.count()).where(Verification.body_id.is_not(None))
            .group_by(Verification.body_id))


def by_key(key: str) -> Select:
    """The body whose name has this match key."""
    return select(VerificationBody).where(VerificationBody.name_key == key)
