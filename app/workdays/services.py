"""Working days: deadlines counted over the calendar, and keeping the calendar (flush, never commit)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.errors import Duplicate, Invalid, NotFound
from app.text import as_typed
from app.workdays import queries
from app.workdays.models import CalendarDay, DayKind

# The longest stretch a deadline may span: a year is far more than any handling period in working days.
MAX_SPAN_DAYS = 400

SOURCE_2026 = "国务院办公厅关于2026年部分节假日安排的通知（2025年11月4日发布）"

# China's 2026 holidays and adjusted working days as the State Council published them.
CHINA_2026: list[tuple[str, str, str]] = [
    *((f"2026-01-0{d}", "holiday", "元旦") for d in (1, 2, 3)), ("2026-01-04", "workday", "元旦"),
    *((f"2026-02-{d}", "holiday", "春节") for d in range(15, 24)),
    ("2026-02-14", "workday", "春节"), ("2026-02-28", "workday", "春节"),
    *((f"2026-04-0{d}", "holiday", "清明节") for d in (4, 5, 6)),
    *((f"2026-05-0{d}", "holiday", "劳动节") for d in (1, 2, 3, 4, 5)), ("2026-05-09", "workday", "劳动节"),
    *((f"2026-06-{d}", "holiday", "端午节") for d in (19, 20, 21)),
    *((f"2026-09-{d}", "holiday", "中秋节") for d in (25, 26, 27)),
    *((f"2026-10-0{d}", "holiday", "国庆节") for d in range(1, 8)),
    ("2026-09-20", "workday", "国庆节"), ("2026-10-10", "workday", "国庆节"),
]


def is_working_day(day: dt.date, listed: dict[dt.date, DayKind]) -> bool:
    """Monday to Friday unless listed as a holiday; a weekend day only when listed as worked."""
    kind = listed.get(day)
    if kind is not None:
        return kind == DayKind.WORKDAY
    return day.weekday() < 5


def add_working_days(session: Session, start: dt.date, days: int) -> dt.date:
    """The day `days` working days after `start` (the day itself not counted), over the calendar."""
    if days <= 0:
        return start
    listed = {day: kind for day, kind in session.execute(
        queries.days_between(start, start + dt.timedelta(days=MAX_SPAN_DAYS)))}
    day, left = start, days
    while left:
        day += dt.timedelta(days=1)
        if (day - start).days > MAX_SPAN_DAYS:
            raise Invalid("办理期限超出了工作日历的计算范围")
        if is_working_day(day, listed):
            left -= 1
    return day


def add_day(session: Session, actor, values: dict) -> CalendarDay:
    """List a holiday or an adjusted working day (logged); refused when the day is listed already."""
    day = values.get("day")
    if not isinstance(day, dt.date):
        raise Invalid("请填写日期", field="day")
    try:
        kind = DayKind(values.get("kind"))
    except ValueError:
        raise Invalid("请选择放假或调休上班", field="kind") from None
    if session.scalars(select(CalendarDay.id).where(CalendarDay.day == day)).first() is not None:
        raise Duplicate(f"{day.isoformat()} 已在日历中，如需更改请先删除", field="day")
    name, source = as_typed(values.get("name")), as_typed(values.get("source"))
    if len(name) > 50:
        raise Invalid("名称不能超过50个字", field="name")
    if len(source) > 200:
        raise Invalid("依据不能超过200个字", field="source")
    if kind == DayKind.WORKDAY and day.weekday() < 5:
        raise Invalid("调休上班日应是周六或周日（工作日本来就上班）", field="kind")
    entry = CalendarDay(day=day, kind=kind, name=name, source=source)
    session.add(entry)
    session.flush()
    audit.record(session, actor, "create", entry, audit.snapshot(entry, ["day", "kind", "name", "source"]))
    return entry


def get_day(session: Session, day_id: int) -> CalendarDay:
    """A listed day, else NotFound."""
    entry = session.get(CalendarDay, day_id)
    if entry is None:
        raise NotFound("日历中没有这一天")
    return entry


def remove_day(session: Session, actor, entry: CalendarDay) -> CalendarDay:
    """Take a day off the calendar (logged). Deadlines already set keep their date."""
    session.delete(entry)
    session.flush()
    audit.record(session, actor, "delete", None, [audit.change_row("day", "日期", entry.day, None)],
                 entity_type="calendar_days", entity_label=str(entry))
    return entry


def seed_china_2026(session: Session, actor=None) -> int:
    """List China's 2026 calendar where its days are not listed yet; how many days were added (idempotent)."""
    listed = set(session.scalars(select(CalendarDay.day).where(
        CalendarDay.day.between(dt.date(2026, 1, 1), dt.date(2026, 12, 31)))))
    added = 0
    for text, kind, name in CHINA_2026:
        day = dt.date.fromisoformat(text)
        if day in listed:
            continue
        session.add(CalendarDay(day=day, kind=DayKind(kind), name=name, source=SOURCE_2026))
        added += 1
    session.flush()
    if added:
        audit.record(session, actor, "seed", entity_type="calendar_days", entity_label="2026年工作日历",
                     note=f"按{SOURCE_2026}写入 {added} 天")
    return added
