"""The scheduled recomputation of credit classes."""
from __future__ import annotations

from app.clock import LOCAL_TZ
from app.credit.services import recompute


def recompute_credit_classes(*, session, now, config) -> dict[str, int]:
    """Every merchant's credit class from its findings, instruments and pledge (set-based)."""
    return recompute(session, now.astimezone(LOCAL_TZ).date(), now)
