"""Named queries of the working-day calendar (each a select())."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, func, select

from app.workdays.models import CalendarDay


def days_between(first: dt.date, last: dt.date) -> Select:
    """(day, kind) of the listed days from `first` to `last`, both included."""
    return select(CalendarDay.day, CalendarDay.kind).where(CalendarDay.day.between(first, last))


def days_of_year(year: int) -> Select:
    """The listed days of a year, in date order."""
    return (select(CalendarDay).where(CalendarDay.day.between(dt.date(year, 1, 1), dt.date(year, 12, 31)))
            .order_by(CalendarDay.day))


def listed_years() -> Select:
    """The years that have at least one listed day (the page's year picker)."""
    year = func.extract("year", CalendarDay.day)
    return select(year).group_by(year).order_by(year)
