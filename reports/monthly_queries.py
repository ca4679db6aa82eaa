"""Named queries behind the monthly report (月报). Each returns a select(); grouped by station and kind."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import aliased

from app.catalog.models import InstrumentType
from app.instruments.models import Instrument, InstrumentStatus, Verification, VerificationResult
from app.merchants.models import Industry, Merchant

IN_USE = Instrument.status == InstrumentStatus.IN_USE
FUEL_DISPENSER = "fuel_dispenser"


def stations_condition(column, stations: "int | frozenset[int] | None"):
    """The WHERE condition for a report's stations: one station's id, a set of them (a city's edition), or None
    for every station (no condition)."""
    if stations is None or stations == 0:
        return None
    if isinstance(stations, int):
        return column == stations
    return column.in_(sorted(stations)) if stations else column.is_(None)


def _station(stmt: Select, column, station_id: "int | frozenset[int] | None") -> Select:
    cond = stations_condition(column, station_id)
    return stmt if cond is None else stmt.where(cond)


def registered(station_id: int | None) -> Select:
    """(station_id, type_id, in-use instruments)."""
    stmt = (select(Instrument.station_id, Instrument.type_id, func.count()).where(IN_USE)
            .group_by(Instrument.station_id, Instrument.type_id))
    return _station(stmt, Instrument.station_id, station_id)


def verified_between(first: dt.date, last: dt.date, station_id: int | None) -> Select:
    """(station_id, type_id, records, instruments, passed) of the valid records dated first..last."""
    stmt = (select(Instrument.station_id, Instrument.type_id, func.count(Verification.id),
                   func.count(Verification.instrument_id.distinct()),
                   func.sum(case((Verification.result == VerificationResult.PASS, 1), else_=0)))
            .join(Instrument, Instrument.id == Verification.instrument_id)
            .where(Verification.in_force(), Verification.verified_on.between(first, last))
            .group_by(Instrument.station_id, Instrument.type_id))
    return _station(stmt, Instrument.station_id, station_id)


def due_between(first: dt.date, last: dt.date, station_id: int | None) -> Select:
    """(station_id, type_id, in-use instruments whose next verification falls in first..last)."""
    stmt = (select(Instrument.station_id, Instrument.type_id, func.count())
            .where(IN_USE, Instrument.next_due_on.between(first, last))
            .group_by(Instrument.station_id, Instrument.type_id))
    return _station(stmt, Instrument.station_id, station_id)


def overdue_on(day: dt.date, station_id: int | None) -> Select:
    """(station_id, type_id, in-use instruments due before `day`)."""
    stmt = (select(Instrument.station_id, Instrument.type_id, func.count())
            .where(IN_USE, Instrument.next_due_on < day).group_by(Instrument.station_id, Instrument.type_id))
    return _station(stmt, Instrument.station_id, station_id)


def past_life_on(day: dt.date, station_id: int | None) -> Select:
    """(station_id, type_id, in-use meters whose service life ended before `day`)."""
    stmt = (select(Instrument.station_id, Instrument.type_id, func.count())
            .where(IN_USE, Instrument.replace_by < day).group_by(Instrument.station_id, Instrument.type_id))
    return _station(stmt, Instrument.station_id, station_id)


def verifications_with_previous(first: dt.date, last: dt.date, station_id: int | None) -> Select:
    """Each valid record dated first..last with the instrument's previous valid record (date, valid-until,
    result) and the kind's cycle, to tell whether it was verified before the previous one expired."""
    prev = aliased(Verification)
    previous_id = (select(prev.id).where(prev.instrument_id == Verification.instrument_id, prev.voided_at.is_(None),
                                         or_(prev.verified_on < Verification.verified_on,
                                             and_(prev.verified_on == Verification.verified_on,
                                                  prev.id < Verification.id)))
                   .order_by(prev.verified_on.desc(), prev.id.desc()).limit(1).correlate(Verification)
                   .scalar_subquery())
    before = aliased(Verification)
    stmt = (select(Instrument.station_id, Instrument.type_id, Verification.verified_on, before.verified_on,
                   before.valid_until, before.result, InstrumentType.cycle_months)
            .join(Instrument, Instrument.id == Verification.instrument_id)
            .join(InstrumentType, InstrumentType.id == Instrument.type_id)
            .outerjoin(before, before.id == previous_id)
            .where(Verification.in_force(), Verification.verified_on.between(first, last)))
    return _station(stmt, Instrument.station_id, station_id)


def fuel_stations(station_id: int | None) -> Select:
    """(station_id, fuel-station merchants)."""
    stmt = (select(Merchant.station_id, func.count()).where(Merchant.industry == Industry.FUEL_STATION)
            .group_by(Merchant.station_id))
    return _station(stmt, Merchant.station_id, station_id)


def fuel_dispensers(station_id: int | None) -> Select:
    """(station_id, in-use fuel dispensers, their nozzles)."""
    stmt = (select(Instrument.station_id, func.count(), func.coalesce(func.sum(Instrument.nozzle_count), 0))
            .join(InstrumentType, InstrumentType.id == Instrument.type_id)
            .where(IN_USE, InstrumentType.code == FUEL_DISPENSER).group_by(Instrument.station_id))
    return _station(stmt, Instrument.station_id, station_id)


def verification_details(first: dt.date, last: dt.date, station_id: int | None) -> Select:
    """The month's valid records with their instrument and merchant, for the detail sheet."""
    from app.accounts.models import Station

    stmt = (select(Station.name, Merchant.name, InstrumentType.name_zh, Instrument.serial_no, Verification.verified_on,
                   Verification.result, Verification.certificate_no, Verification.valid_until,
                   Verification.institution)
            .join(Instrument, Instrument.id == Verification.instrument_id)
            .join(Merchant, Merchant.id == Instrument.merchant_id)
            .join(Station, Station.id == Instrument.station_id)
            .join(InstrumentType, InstrumentType.id == Instrument.type_id)
            .where(Verification.in_force(), Verification.verified_on.between(first, last))
            .order_by(Station.code, Verification.verified_on, Verification.id))
    return _station(stmt, Instrument.station_id, station_id)


def overdue_details(day: dt.date, station_id: int | None) -> Select:
    """In-use instruments due before `day`, most overdue first, for the detail sheet."""
    from app.accounts.models import Station

    stmt = (select(Station.name, Merchant.name, Merchant.phone, InstrumentType.name_zh, Instrument.serial_no,
                   Instrument.location, Instrument.last_verified_on, Instrument.next_due_on)
            .join(Merchant, Merchant.id == Instrument.merchant_id)
            .join(Station, Station.id == Instrument.station_id)
            .join(InstrumentType, InstrumentType.id == Instrument.type_id)
            .where(IN_USE, Instrument.next_due_on < day)
            .order_by(Instrument.next_due_on, Instrument.id))
    return _station(stmt, Instrument.station_id, station_id)
