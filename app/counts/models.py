"""Per-station summary of the instrument ledger: counts by kind, status and worklist, as of a day."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime

# The figures of a (station, kind) row: instruments by status, then the in-use ones on each worklist.
STATUS_FIGURES = ("in_use", "stopped", "scrapped", "replaced")
WORKLIST_FIGURES = ("due_soon", "overdue", "past_service_life", "never_verified", "failed")
FIGURES = STATUS_FIGURES + WORKLIST_FIGURES


class StationCount(Base):
    """One station's instruments of one kind, counted as of its StationCountDay (no row: none of that kind)."""

    __tablename__ = "station_counts"

    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("instrument_types.id", ondelete="CASCADE"), primary_key=True)
    in_use: Mapped[int] = mapped_column(Integer, default=0)
    stopped: Mapped[int] = mapped_column(Integer, default=0)
    scrapped: Mapped[int] = mapped_column(Integer, default=0)
    replaced: Mapped[int] = mapped_column(Integer, default=0)
    due_soon: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    past_service_life: Mapped[int] = mapped_column(Integer, default=0)
    never_verified: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)


class StationCountDay(Base):
    """The day a station's rows were counted for (the worklists depend on it) and the due-soon window used;
    a station without this row, or with another day, is counted live until its rows are rebuilt."""

    __tablename__ = "station_count_days"

    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    due_soon_days: Mapped[int] = mapped_column(Integer)
    counted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class StationMonth(Base):
    """One station's valid verification records dated in one month of the twelve before its StationCountDay
    (the current month up to that day): the dashboard's trend."""

    __tablename__ = "station_months"

    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    verified: Mapped[int] = mapped_column(Integer, default=0)
