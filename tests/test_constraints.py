"""The database refuses a row that breaks the domain's rules (the CHECK constraints of migration 0013), on both
backends and whatever wrote it: a Core statement that skips the services, or the importer's bulk insert."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.bulk import bulk_insert
from app.catalog.models import Confirmation, InstrumentType
from app.inspections.models import Rectification
from app.instruments.models import Instrument, Verification
from app.integrity.models import Pledge
from tests import factories

DAY = dt.date(2026, 3, 2)


def _row(session, world, table: str) -> int:
    """The id of a valid row of `table`, committed, to break with an update."""
    if table in ("instruments", "merchants", "users", "instrument_types"):
        return {"instruments": world.instrument_a.id, "merchants": world.merchant_a.id,
                "users": world.admin.id, "instrument_types": world.instrument_a.type_id}[table]
    if table == "verifications":
        row = factories.verify(session, world.instrument_a, DAY, valid_until=DAY + dt.timedelta(days=365))
    elif table == "campaigns":
        row = factories.campaign(session, [world.station_a])
    elif table in ("inspections", "findings", "rectifications"):
        insp = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor])
        row = insp if table == "inspections" else factories.finding(session, insp)
        if table == "rectifications":
            session.flush()
            row = session.scalars(sa.select(Rectification).where(Rectification.finding_id == row.id)).one()
    elif table == "pledges":
        row = Pledge(merchant_id=world.merchant_a.id, signed_on=DAY)
        session.add(row)
    else:
        raise AssertionError(table)
    session.flush()
    row_id = row.id
    session.commit()
    return row_id


# (table, values that break a rule) for an update of a valid row. The values go in through an untyped table,
# so nothing on the Python side (the enum types' own validation) stands between them and the database.
BROKEN = [
    ("instruments", {"status": "lost"}),
    ("instruments", {"last_result": "maybe"}),
    ("instruments", {"nozzle_count": 0}),
    ("verifications", {"result": "ok"}),
    ("verifications", {"valid_until": DAY - dt.timedelta(days=1)}),
    ("merchants", {"industry": "bank"}),
    ("users", {"role": "root"}),
    ("instrument_types", {"confirmed": "maybe"}),
    ("instrument_types", {"rule": "never"}),
    ("instrument_types", {"cycle_months": 0}),
    ("instrument_types", {"service_life_years": -1}),
    ("instrument_types", {"lead_days": -1}),
    ("campaigns", {"ends_on": dt.date(2000, 1, 1)}),
    ("inspections", {"visit_outcome": "skipped"}),
    ("findings", {"measure": "fine"}),
    ("rectifications", {"deadline": dt.date(2000, 1, 1)}),
    ("rectifications", {"closed_on": dt.date(2000, 1, 1)}),
    ("pledges", {"status": "gone"}),
    ("pledges", {"review_on": DAY - dt.timedelta(days=1)}),
    ("pledges", {"revoked_on": DAY - dt.timedelta(days=1)}),
]


@pytest.mark.parametrize(("table", "values"), BROKEN, ids=[f"{t}-{next(iter(v))}" for t, v in BROKEN])
def test_the_database_refuses_a_row_that_breaks_a_rule(session, world, table, values):
    row_id = _row(session, world, table)
    untyped = sa.table(table, sa.column("id"), *map(sa.column, values))
    with pytest.raises(IntegrityError):
        session.execute(sa.update(untyped).where(untyped.c.id == row_id).values(**values))
        session.flush()


def test_the_edges_of_the_rules_are_allowed(session, world):
    """Same-day dates, an unknown nozzle count and no result yet are true states, not broken ones."""
    now = dt.datetime.now(dt.timezone.utc)
    # The importer accepts a certificate valid only on its day (the form asks for a later date).
    ver_id = session.execute(sa.insert(Verification.__table__).returning(Verification.id).values(
        instrument_id=world.instrument_a.id, verified_on=DAY, valid_until=DAY, result="pass", created_at=now,
        updated_at=now)).scalar_one()
    world.instrument_a.nozzle_count = None
    session.execute(sa.update(Instrument.__table__).where(Instrument.id == world.instrument_b.id)
                    .values(last_result=None))
    session.add(Pledge(merchant_id=world.merchant_a.id, signed_on=DAY, review_on=DAY, revoked_on=DAY))
    session.commit()
    ver = session.get(Verification, ver_id)
    assert ver.valid_until == ver.verified_on == DAY


# The refused row aborts PostgreSQL's transaction, which the test rolls back for real before writing again.
@pytest.mark.commits
def test_the_importers_bulk_path_cannot_write_a_broken_row(session, world):
    now = dt.datetime.now(dt.timezone.utc)
    row = {"type_id": world.instrument_a.type_id, "merchant_id": world.merchant_a.id,
           "station_id": world.station_a.id, "serial_no": "BULK-1", "serial_key": "BULK-1", "status": "in_use",
           "nozzle_count": 0,
           "created_at": now, "updated_at": now}
    with pytest.raises(IntegrityError):
        bulk_insert(session, Instrument.__table__, [row])
    session.rollback()
    bulk_insert(session, Instrument.__table__, [{**row, "nozzle_count": 4}])
    session.commit()
    assert session.scalars(sa.select(Instrument.nozzle_count).where(Instrument.serial_no == "BULK-1")).one() == 4


def test_the_catalogue_confirmation_is_an_enum(session, world):
    kinds = session.scalars(sa.select(InstrumentType)).all()
    assert kinds and all(isinstance(k.confirmed, Confirmation) for k in kinds)
    assert {k.confirmed for k in kinds} == {Confirmation.YES, Confirmation.PARTLY, Confirmation.NO}
    assert Confirmation.PARTLY.label == "部分确认"


def test_the_ledger_form_refuses_no_nozzles_in_chinese_before_the_database_would(session, world):
    from app.errors import Invalid
    from app.instruments.services import create_instrument

    with pytest.raises(Invalid) as err:
        create_instrument(session, None, factories.ALL, {
            "type_id": factories.kind(session, "fuel_dispenser").id, "merchant_id": world.merchant_a.id,
            "serial_no": "JYJ-0", "nozzle_count": 0})
    assert err.value.field == "nozzle_count" and "正整数" in err.value.message
