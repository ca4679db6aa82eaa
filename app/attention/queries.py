"""Which merchants are flagged 重点关注 and why: a list of reason sources, each a named query (no Flask).

The flag is computed when read, never stored: a voided finding leaves it at once and the 24-month window slides
by itself, with no table to refresh and no job to miss. Each source reads the findings (or complaints) of the
window through their own indexes; lists ask only about the merchants of their page, exports and the credit
recomputation join one grouped subquery.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Select, case, func, literal, select, union

from app.catalog.models import FindingCode
from app.inspections.models import Finding, Inspection

# How far back a repeat counts: both occurrences within the last 24 months.
WINDOW_MONTHS = 24


@dataclass(frozen=True)
class ReasonSource:
    """One reason a merchant may be flagged: its code, its Chinese label and the query of the merchants it flags
    (a select of merchant_id over events since a date)."""

    code: str
    label: str
    merchants: Callable[[dt.date], Select]


def repeated_finding_merchants(since: dt.date) -> Select:
    """merchant_id of the merchants with the same finding code (in force) on two or more inspections after `since`."""
    repeats = (select(Inspection.merchant_id.label("merchant_id")).select_from(Finding)
               .join(Inspection, Inspection.id == Finding.inspection_id)
               .where(Inspection.inspected_on > since, Finding.in_force())
               .group_by(Inspection.merchant_id, Finding.code_id)
               .having(func.count(func.distinct(Inspection.id)) >= 2).subquery())
    return select(repeats.c.merchant_id).distinct()


def repeated_complaint_merchants_of(since: dt.date) -> Select:
    """merchant_id of the merchants with two or more substantiated complaints received after `since`."""
    from app.complaints.queries import repeated_complaint_merchants

    return repeated_complaint_merchants(since, at_least=2)


def repeated_shortfall_merchants_of(since: dt.date) -> Select:
    """merchant_id of the stalls found short at a fair scale two or more times after `since` (issue 20)."""
    from app.markets.queries import repeated_shortfall_merchants

    return repeated_shortfall_merchants(since, at_least=2)


# The reasons, in the order pages list them; a new reason is one line here.
REASON_SOURCES: list[ReasonSource] = [
    ReasonSource("repeat_finding", "两年内同一问题重复出现", repeated_finding_merchants),
    ReasonSource("repeat_complaint", "两年内多次被投诉属实", repeated_complaint_merchants_of),
    ReasonSource("repeat_shortfall", "两年内公平秤复秤多次短缺", repeated_shortfall_merchants_of),
]


def window_start(today: dt.date) -> dt.date:
    """The day before the window: events after it count."""
    from app.instruments.engine import add_months

    return add_months(today, -WINDOW_MONTHS)


def flagged_merchants(today: dt.date) -> Select:
    """merchant_id of every flagged merchant (any reason), once each."""
    since = window_start(today)
    selects = [source.merchants(since) for source in REASON_SOURCES]
    if len(selects) == 1:
        return selects[0]
    combined = union(*selects).subquery()
    return select(combined.c[0].label("merchant_id"))


def reasons_of(merchant_ids: list[int], today: dt.date) -> Select:
    """(merchant_id, reason code) of some merchants' reasons: one row per merchant and reason that holds."""
    since = window_start(today)
    ids = sorted(set(merchant_ids)) or [0]
    parts = []
    for source in REASON_SOURCES:
        held = source.merchants(since).subquery()
        parts.append(select(held.c[0].label("merchant_id"), literal(source.code).label("reason"))
                     .where(held.c[0].in_(ids)))
    return union(*parts) if len(parts) > 1 else parts[0]


def reason_flags(merchant_id_column, today: dt.date) -> list:
    """One column per reason source over a statement of merchants: the reason's label when it holds, else ''
    (for exports, which join them into one text)."""
    since = window_start(today)
    return [case((merchant_id_column.in_(source.merchants(since)), source.label), else_="")
            for source in REASON_SOURCES]


def repeated_codes(merchant_id: int, today: dt.date) -> Select:
    """The finding codes a merchant repeated in the window: (code, name, inspections, last date)."""
    return (select(FindingCode.code, FindingCode.name_zh, func.count(func.distinct(Inspection.id)),
                   func.max(Inspection.inspected_on))
            .select_from(Finding).join(Inspection, Inspection.id == Finding.inspection_id)
            .join(FindingCode, FindingCode.id == Finding.code_id)
            .where(Inspection.merchant_id == merchant_id, Inspection.inspected_on > window_start(today),
                   Finding.in_force())
            .group_by(FindingCode.code, FindingCode.name_zh)
            .having(func.count(func.distinct(Inspection.id)) >= 2)
            .order_by(FindingCode.code))
