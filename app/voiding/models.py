"""The columns of a voidable record (no Flask)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from app.db import UTCDateTime

# The columns voiding may still change on a record that is otherwise append-only (app/audit/services.py).
VOID_COLUMNS = frozenset({"voided_at", "voided_by_id", "void_reason"})


class Voidable:
    """voided_at / voided_by_id / void_reason, and the condition that keeps a record in the counts."""

    voided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str] = mapped_column(Text, default="")

    @declared_attr
    def voided_by_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("users.id"))

    @declared_attr
    def voided_by(cls):
        return relationship("User", foreign_keys=[cls.voided_by_id])

    @property
    def is_voided(self) -> bool:
        """True once voided."""
        return self.voided_at is not None

    @classmethod
    def in_force(cls):
        """SQL condition: not voided (every count and figure uses it)."""
        return cls.voided_at.is_(None)
