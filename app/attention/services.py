"""Reading the 重点关注 flag for pages (no Flask)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from app.attention.queries import REASON_SOURCES, reasons_of


def labels_by_merchant(session: Session, merchant_ids: list[int], today: dt.date) -> dict[int, list[str]]:
    """merchant_id -> the labels of the reasons it is flagged for (flagged merchants only)."""
    if not merchant_ids:
        return {}
    labels = {s.code: s.label for s in REASON_SOURCES}
    order = [s.code for s in REASON_SOURCES]
    found: dict[int, list[str]] = {}
    for merchant_id, reason in session.execute(reasons_of(merchant_ids, today)):
        found.setdefault(merchant_id, []).append(reason)
    return {m: [labels[r] for r in sorted(rs, key=order.index)] for m, rs in found.items()}
