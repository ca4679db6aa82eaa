"""Station scope: which stations' data a user may see and change (no Flask)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Integer, Select, false, func, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, object_session
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.models import User
from app.regions.queries import station_ids_under


@dataclass(frozen=True)
class Scope:
    """A set of station ids, or None meaning every station."""

    station_ids: frozenset[int] | None

    @classmethod
    def everything(cls) -> "Scope":
        """The scope of admins, supervisors, jobs and the CLI."""
        return cls(None)

    @classmethod
    def for_user(cls, user: User | None, session: Session | None = None) -> "Scope":
        """Admins and supervisors see every station of their region (all when they have none); inspectors their
        assigned ones."""
        if user is None or not getattr(user, "is_authenticated", False):
            return cls(frozenset())
        if user.sees_every_station:
            region_id = getattr(user, "region_id", None)
            if region_id is None:
                return cls(None)
            session = session or object_session(user)
            if session is None:  # a detached user cannot be looked up: see nothing rather than everything
                return cls(frozenset())
            return cls(frozenset(station_ids_under(session, region_id)))
        return cls(frozenset(s.id for s in user.stations))

    @property
    def is_all(self) -> bool:
        return self.station_ids is None

    def allows(self, station_id: int | None) -> bool:
        """True when a record of this station is inside the scope."""
        return self.station_ids is None or station_id in self.station_ids

    def condition(self, station_column: ColumnElement) -> ColumnElement | None:
        """The WHERE condition for a station column (None when unrestricted)."""
        if self.station_ids is None:
            return None
        if not self.station_ids:
            return false()
        return station_column.in_(sorted(self.station_ids))

    def apply(self, stmt: Select, station_column: ColumnElement) -> Select:
        """Restrict a select to the scope's stations; the one place this filter is built."""
        cond = self.condition(station_column)
        return stmt if cond is None else stmt.where(cond)


def station_table(station_ids):
    """PostgreSQL: the station ids as a one-column table (`sid`), to join a LATERAL read of each station's part of an
    index; one array parameter, so the statement is planned once whatever the number of stations."""
    return func.unnest(literal(sorted(station_ids), ARRAY(Integer))).table_valued("sid").render_derived()

