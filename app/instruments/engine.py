"""The due-date engine: a pure function from an instrument's verifications to its dates.

Rules (docs/architecture.md points here):

* Voided records are ignored, as if they had never been entered.
* periodic kinds: the latest record decides.
  - failed -> the instrument is not usable and due now (``next_due_on`` = that date);
  - passed with a valid-until date on the certificate -> ``next_due_on`` = valid-until
    (the certificate is authoritative);
  - passed without one -> verification date + cycle in calendar months, clamped to the
    last day of the month (2024-01-31 + 1 month = 2024-02-29).
* service_life kinds (utility meters: verified once, then replaced):
  - ``replace_by`` = valid-until of the first passing verification when the certificate
    gives one, else first passing verification date + life in years (clamped: a meter
    first verified on 29 February is replaced on 28 February);
  - they are never re-verified, so ``next_due_on`` stays empty while the latest record
    passed; a failed latest record makes them due now, like any failed instrument.
* No usable record -> no dates; the instrument is "never verified".

Ordering of records on the same day: the one entered last wins (by id).
"""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Iterable

PERIODIC = "periodic"
SERVICE_LIFE = "service_life"
PASS = "pass"
FAIL = "fail"


@dataclass(frozen=True)
class VerificationFacts:
    """What the engine needs from one verification record."""

    verified_on: dt.date
    result: str
    valid_until: dt.date | None = None
    voided: bool = False
    seq: int = 0  # entry order for same-day records (the record id)


@dataclass(frozen=True)
class DueDates:
    """The dates the engine derives for one instrument."""

    first_verified_on: dt.date | None = None
    last_verified_on: dt.date | None = None
    last_result: str | None = None
    next_due_on: dt.date | None = None
    replace_by: dt.date | None = None

    @property
    def usable(self) -> bool:
        return self.last_result != FAIL


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole calendar months, clamped to the end of the target month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(day.day, last))


def compute_due_dates(
    rule: str,
    cycle_months: int | None,
    service_life_years: int | None,
    records: Iterable[VerificationFacts],
) -> DueDates:
    """Derive an instrument's dates from its rule and verification records."""
    live = sorted((r for r in records if not r.voided), key=lambda r: (r.verified_on, r.seq))
    if not live:
        return DueDates()
    latest = live[-1]
    passes = [r for r in live if r.result == PASS]
    first_pass = passes[0] if passes else None

    next_due: dt.date | None
    replace_by: dt.date | None = None
    if latest.result == FAIL:
        next_due = latest.verified_on
    elif rule == SERVICE_LIFE:
        next_due = None
    elif latest.valid_until is not None:
        next_due = latest.valid_until
    elif cycle_months:
        next_due = add_months(latest.verified_on, cycle_months)
    else:
        next_due = None

    if rule == SERVICE_LIFE and first_pass is not None:
        if first_pass.valid_until is not None:
            replace_by = first_pass.valid_until
        elif service_life_years:
            replace_by = add_months(first_pass.verified_on, 12 * service_life_years)

    return DueDates(
        first_verified_on=first_pass.verified_on if first_pass else None,
        last_verified_on=latest.verified_on,
        last_result=latest.result,
        next_due_on=next_due,
        replace_by=replace_by,
    )
