"""Named queries of users and stations."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, select

from app.accounts.models import Station, User
from app.scope import Scope


def stations(scope: Scope | None = None) -> Select:
    """Stations by code: every one, or those of a scope."""
    stmt = select(Station).order_by(Station.code)
    return stmt if scope is None else scope.apply(stmt, Station.id)


def users() -> Select:
    """Every user, grouped by role, then by username (the admin's user list)."""
    return select(User).order_by(User.role, User.username)


def users_by_ids(ids: Iterable[int]) -> Select:
    """The users with these ids."""
    return select(User).where(User.id.in_(sorted(set(ids))))
