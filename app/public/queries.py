"""Named queries of the public lookup: only what the public may see (each a select())."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, and_, case, func, or_, select

from app.catalog.models import InstrumentType
from app.instruments.models import Instrument, InstrumentStatus, Verification
from app.integrity.models import Pledge
from app.integrity.queries import is_active
from app.merchants.models import Merchant
from app.text import match_key

SEARCH_LIMIT = 20


def merchant_search(q: str, limit: int = SEARCH_LIMIT) -> Select:
    """(merchant id, name) of merchants whose name contains the text (either bracket style, any width or case);
    the caller checks its length."""
    key = match_key(q)
    return (select(Merchant.id, Merchant.name).where(Merchant.name_key.contains(key, autoescape=True))
            .order_by(Merchant.name, Merchant.id).limit(limit))


def pledge_states(merchant_ids: list[int], today: dt.date) -> Select:
    """(merchant id, is demonstration unit) for the merchants with a pledge in force."""
    return select(Pledge.merchant_id, Pledge.is_model_unit).where(Pledge.merchant_id.in_(merchant_ids),
                                                                 is_active(today))


def overdue_condition(today: dt.date):
    """An in-use instrument past its due date or its service life."""
    return or_(Instrument.next_due_on < today, Instrument.replace_by < today)


def due_condition(today: dt.date, days: int):
    """Not overdue, and due for verification within `days`."""
    return and_(~func.coalesce(overdue_condition(today), False),
                Instrument.next_due_on.between(today, today + dt.timedelta(days=days)))


def kind_counts(merchant_ids: list[int], today: dt.date, days: int) -> Select:
    """(merchant id, kind name, within validity, due soon, overdue, never verified) of in-use instruments."""
    overdue = func.coalesce(overdue_condition(today), False)
    due = func.coalesce(due_condition(today, days), False)
    never = Instrument.last_verified_on.is_(None)
    one = lambda cond: func.sum(case((cond, 1), else_=0))  # noqa: E731
    return (select(Instrument.merchant_id, InstrumentType.name_zh,
                   one(and_(~overdue, ~due, ~never)), one(due), one(overdue), one(and_(never, ~overdue, ~due)))
            .join(InstrumentType, Instrument.type_id == InstrumentType.id)
            .where(Instrument.merchant_id.in_(merchant_ids), Instrument.status == InstrumentStatus.IN_USE)
            .group_by(Instrument.merchant_id, InstrumentType.name_zh, InstrumentType.id)
            .order_by(Instrument.merchant_id, InstrumentType.id))


def instrument_by_token(token: str) -> Select:
    """The instrument a public token names."""
    return select(Instrument).where(Instrument.public_token == token)


def latest_verification(instrument_id: int) -> Select:
    """The instrument's latest verification in force (its institution is public; its notes and file are not)."""
    return (select(Verification).where(Verification.instrument_id == instrument_id, Verification.in_force())
            .order_by(Verification.verified_on.desc(), Verification.id.desc()).limit(1))
