"""Table-driven tests of the due-date engine (pure function, no database)."""
import datetime as dt

import pytest

from app.instruments.engine import DueDates, add_months, compute_due_dates
from app.instruments.engine import VerificationFacts as V

D = dt.date


@pytest.mark.parametrize("day, months, expected", [
    (D(2024, 1, 31), 1, D(2024, 2, 29)),    # leap year: clamped to 29 February
    (D(2023, 1, 31), 1, D(2023, 2, 28)),    # common year: 28 February
    (D(2024, 3, 31), 1, D(2024, 4, 30)),    # 30-day month
    (D(2024, 2, 29), 12, D(2025, 2, 28)),   # leap day + a year
    (D(2024, 2, 29), 48, D(2028, 2, 29)),   # leap day + four years
    (D(2024, 8, 31), 6, D(2025, 2, 28)),    # across the year end
    (D(2024, 12, 15), 1, D(2025, 1, 15)),
    (D(2024, 5, 6), 12, D(2025, 5, 6)),
    (D(2024, 5, 6), 36, D(2027, 5, 6)),
    (D(2024, 5, 31), 0, D(2024, 5, 31)),
])
def test_add_months_clamps_to_month_end(day, months, expected):
    assert add_months(day, months) == expected


CASES = [
    # (name, rule, cycle, life, records, expected)
    ("no records: never verified", "periodic", 12, None, [], DueDates()),
    ("pass without certificate date: date + cycle", "periodic", 12, None,
     [V(D(2024, 5, 6), "pass")],
     DueDates(D(2024, 5, 6), D(2024, 5, 6), "pass", D(2025, 5, 6), None)),
    ("pass at month end: clamped", "periodic", 6, None,
     [V(D(2024, 8, 31), "pass")],
     DueDates(D(2024, 8, 31), D(2024, 8, 31), "pass", D(2025, 2, 28), None)),
    ("certificate valid-until is authoritative", "periodic", 12, None,
     [V(D(2024, 5, 6), "pass", valid_until=D(2025, 5, 5))],
     DueDates(D(2024, 5, 6), D(2024, 5, 6), "pass", D(2025, 5, 5), None)),
    ("latest record decides", "periodic", 12, None,
     [V(D(2023, 5, 6), "pass"), V(D(2024, 6, 1), "pass")],
     DueDates(D(2023, 5, 6), D(2024, 6, 1), "pass", D(2025, 6, 1), None)),
    ("records in any order", "periodic", 12, None,
     [V(D(2024, 6, 1), "pass"), V(D(2023, 5, 6), "pass")],
     DueDates(D(2023, 5, 6), D(2024, 6, 1), "pass", D(2025, 6, 1), None)),
    ("failed: due now, not usable", "periodic", 12, None,
     [V(D(2024, 5, 6), "pass"), V(D(2024, 9, 1), "fail")],
     DueDates(D(2024, 5, 6), D(2024, 9, 1), "fail", D(2024, 9, 1), None)),
    ("failed then passed: usable again", "periodic", 12, None,
     [V(D(2024, 9, 1), "fail"), V(D(2024, 9, 10), "pass")],
     DueDates(D(2024, 9, 10), D(2024, 9, 10), "pass", D(2025, 9, 10), None)),
    ("failed certificate's valid-until is ignored", "periodic", 12, None,
     [V(D(2024, 9, 1), "fail", valid_until=D(2025, 9, 1))],
     DueDates(None, D(2024, 9, 1), "fail", D(2024, 9, 1), None)),
    ("voided latest record: previous decides", "periodic", 12, None,
     [V(D(2023, 5, 6), "pass"), V(D(2024, 5, 6), "pass", voided=True)],
     DueDates(D(2023, 5, 6), D(2023, 5, 6), "pass", D(2024, 5, 6), None)),
    ("voided failure: usable again", "periodic", 12, None,
     [V(D(2024, 5, 6), "pass"), V(D(2024, 9, 1), "fail", voided=True)],
     DueDates(D(2024, 5, 6), D(2024, 5, 6), "pass", D(2025, 5, 6), None)),
    ("only voided records: never verified", "periodic", 12, None,
     [V(D(2024, 5, 6), "pass", voided=True)], DueDates()),
    ("same day: the later entry wins", "periodic", 12, None,
     [V(D(2024, 5, 6), "fail", seq=1), V(D(2024, 5, 6), "pass", seq=2)],
     DueDates(D(2024, 5, 6), D(2024, 5, 6), "pass", D(2025, 5, 6), None)),
    ("six-month dispenser cycle", "periodic", 6, None,
     [V(D(2024, 1, 31), "pass")],
     DueDates(D(2024, 1, 31), D(2024, 1, 31), "pass", D(2024, 7, 31), None)),
    ("service life: replace_by = first pass + life, no re-verification", "service_life", None, 6,
     [V(D(2020, 3, 15), "pass")],
     DueDates(D(2020, 3, 15), D(2020, 3, 15), "pass", None, D(2026, 3, 15))),
    ("service life from a leap day", "service_life", None, 10,
     [V(D(2024, 2, 29), "pass")],
     DueDates(D(2024, 2, 29), D(2024, 2, 29), "pass", None, D(2034, 2, 28))),
    ("service life: certificate date is authoritative", "service_life", None, 6,
     [V(D(2020, 3, 15), "pass", valid_until=D(2026, 3, 14))],
     DueDates(D(2020, 3, 15), D(2020, 3, 15), "pass", None, D(2026, 3, 14))),
    ("service life counts from the FIRST pass", "service_life", None, 6,
     [V(D(2020, 3, 15), "pass"), V(D(2022, 1, 1), "pass")],
     DueDates(D(2020, 3, 15), D(2022, 1, 1), "pass", None, D(2026, 3, 15))),
    ("service life: failed first verification is due now, no life yet", "service_life", None, 6,
     [V(D(2020, 3, 15), "fail")],
     DueDates(None, D(2020, 3, 15), "fail", D(2020, 3, 15), None)),
    ("service life: fail then pass counts life from the pass", "service_life", None, 6,
     [V(D(2020, 3, 15), "fail"), V(D(2020, 3, 20), "pass")],
     DueDates(D(2020, 3, 20), D(2020, 3, 20), "pass", None, D(2026, 3, 20))),
    ("service life: voided first verification", "service_life", None, 8,
     [V(D(2019, 1, 1), "pass", voided=True), V(D(2019, 2, 1), "pass")],
     DueDates(D(2019, 2, 1), D(2019, 2, 1), "pass", None, D(2027, 2, 1))),
    ("missing cycle and no certificate: no due date", "periodic", None, None,
     [V(D(2024, 5, 6), "pass")],
     DueDates(D(2024, 5, 6), D(2024, 5, 6), "pass", None, None)),
]


@pytest.mark.parametrize("name, rule, cycle, life, records, expected", CASES, ids=[c[0] for c in CASES])
def test_due_dates(name, rule, cycle, life, records, expected):
    assert compute_due_dates(rule, cycle, life, records) == expected


def test_usable_flag_follows_latest_result():
    assert compute_due_dates("periodic", 12, None, [V(D(2024, 1, 1), "fail")]).usable is False
    assert compute_due_dates("periodic", 12, None, [V(D(2024, 1, 1), "pass")]).usable is True
    assert DueDates().usable is True
