"""The importer's bulk path (app/bulk.py): what it writes is what an ORM insert would have written,
its column list comes from the table definition, and it binds values the way SQLAlchemy does."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import insert, select

from app.bulk import Stored, bind_processor, bulk_insert, column_defaults, insert_with_ids
from app.imports.models import ImportBatch, ImportedRecord, ImportRow, ImportStatus, RowAction
from app.instruments.models import Verification, VerificationResult
from app.merchants.models import Industry, Merchant

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
AT = dt.datetime(2026, 3, 1, 9, 30, tzinfo=SHANGHAI)


def _batch(session, world) -> ImportBatch:
    batch = ImportBatch(station_id=world.station_a.id, file_name="台账.xlsx", file_hash="0" * 64, file_size=1,
                        stored_path="/nowhere", status=ImportStatus.PREVIEW)
    session.add(batch)
    session.flush()
    return batch


def _columns(row) -> dict:
    return {k: v for k, v in row._mapping.items() if k != "id"}


def test_a_bulk_row_reads_back_as_the_same_row_inserted_by_sqlalchemy(session, world):
    table = Verification.__table__
    row = {"instrument_id": world.instrument_a.id, "verified_on": dt.date(2026, 2, 27), "institution": "市计量所",
           "certificate_no": "JD-1", "result": VerificationResult.PASS.value, "valid_until": dt.date(2027, 2, 26),
           "created_at": AT, "updated_at": AT, "voided_at": AT}
    ours = insert_with_ids(session, table, 1, [dict(row)])[0]
    theirs = session.execute(insert(table).returning(table.c.id), dict(row)).scalar_one()
    got = {i: _columns(session.execute(select(table).where(table.c.id == i)).one()) for i in (ours, theirs)}
    assert got[ours] == got[theirs]
    assert got[ours]["voided_at"] == AT and got[ours]["voided_at"].utcoffset() == dt.timedelta(0)
    assert got[ours]["result"] is VerificationResult.PASS
    assert got[ours]["notes"] == "" and got[ours]["void_reason"] == ""  # the model's defaults, not NULL


def test_json_values_and_stored_json_text_read_back_alike(session, world):
    batch = _batch(session, world)
    base = {"batch_id": batch.id, "merchant_action": RowAction.CREATE.value, "instrument_action": "create",
            "verification_action": "skip", "summary": "加油机 A1"}
    cells = ["A1", 3, None, "二〇二六年"]
    bulk_insert(session, ImportRow.__table__, [
        {**base, "row_no": 2, "errors": [{"column": "出厂编号", "message": "缺少"}], "cells": cells},
        {**base, "row_no": 3, "errors": Stored("[]"), "cells": Stored(json.dumps(cells))},
    ])
    rows = session.scalars(select(ImportRow).where(ImportRow.batch_id == batch.id).order_by(ImportRow.row_no)).all()
    assert [r.cells for r in rows] == [cells, cells]
    assert rows[0].errors == [{"column": "出厂编号", "message": "缺少"}] and rows[1].errors == []
    assert rows[0].merchant_action is RowAction.CREATE


def test_columns_the_rows_leave_out_get_the_models_defaults(session, world):
    batch = _batch(session, world)
    assert column_defaults(ImportedRecord.__table__, ["batch_id", "entity_type", "entity_id", "action", "at"]) == {
        "before": {}, "version_after": None}
    bulk_insert(session, ImportedRecord.__table__, [{"batch_id": batch.id, "entity_type": "merchants",
                                                     "entity_id": 7, "action": "create", "at": AT}])
    record = session.scalars(select(ImportedRecord).where(ImportedRecord.batch_id == batch.id)).one()
    assert record.before == {} and record.version_after is None and record.at == AT


def test_a_key_that_is_no_column_or_a_required_column_left_out_is_refused(session, world):
    batch = _batch(session, world)
    row = {"batch_id": batch.id, "entity_type": "merchants", "entity_id": 7, "action": "create", "at": AT}
    with pytest.raises(ValueError, match="no column colour"):
        bulk_insert(session, ImportedRecord.__table__, [{**row, "colour": "red"}])
    del row["entity_id"]
    with pytest.raises(ValueError, match="entity_id needs a value"):
        bulk_insert(session, ImportedRecord.__table__, [row])


def test_the_bind_processor_is_the_columns_own_including_the_type_decorators(session):
    dialect = session.connection().dialect
    at = bind_processor(Verification.__table__.c.voided_at, dialect)
    sent = at(AT)
    # The UTC column turns a Shanghai time into UTC (SQLite then stores it as text), and refuses a time without a zone.
    if isinstance(sent, str):
        assert sent.startswith("2026-03-01 01:30:00")
    else:
        assert sent == AT and sent.utcoffset() == dt.timedelta(0)
    with pytest.raises(ValueError, match="naive"):
        at(AT.replace(tzinfo=None))
    industry = bind_processor(Merchant.__table__.c.industry, dialect)
    assert industry(Industry.FUEL_STATION) == "fuel_station"
    with pytest.raises(LookupError):  # the enum's values only
        industry("petrol")
    cells = bind_processor(ImportRow.__table__.c.cells, dialect)
    sent = cells(["甲", 1])  # JSON text on SQLite, psycopg's JSON wrapper on PostgreSQL
    assert (json.loads(sent) if isinstance(sent, str) else sent.obj) == ["甲", 1]


def test_new_ids_come_back_in_the_rows_order(session, world):
    now = dt.datetime.now(dt.timezone.utc)
    rows = [{"name": f"商户{i}", "name_key": f"商户{i}", "industry": Industry.FUEL_STATION.value,
             "station_id": world.station_a.id, "created_at": now, "updated_at": now} for i in range(5)]
    ids = insert_with_ids(session, Merchant.__table__, len(rows), rows)
    assert len(set(ids)) == 5 and world.merchant_a.id not in ids
    names = dict(session.execute(select(Merchant.id, Merchant.name).where(Merchant.id.in_(ids))).all())
    assert [names[i] for i in ids] == [f"商户{i}" for i in range(5)]
    merchant = session.get(Merchant, ids[0])
    assert merchant.version == 1 and merchant.notes == "" and merchant.parent_id is None


def test_bulk_rows_of_a_searched_table_are_found_and_a_broken_one_is_refused_whole(session, world):
    """Merchants feed a search index by trigger: bulk rows (staged then moved in on SQLite) are found by the
    search like any other, and a row that breaks a constraint refuses the whole insert with IntegrityError."""
    from sqlalchemy import exc as sa_exc

    from app.search.keys import search_key
    from app.search.match import Contains

    now = dt.datetime.now(dt.timezone.utc)
    rows = [{"name": f"批量商户（{i}号店）", "name_key": f"批量商户{i}", "industry": Industry.MARKET_VENDOR.value,
             "station_id": world.station_a.id, "created_at": now, "updated_at": now} for i in range(3)]
    bulk_insert(session, Merchant.__table__, rows)
    found = session.scalars(select(Merchant.name).where(Contains(Merchant, search_key("批量商户(1号店)")))).all()
    assert found == ["批量商户（1号店）"]
    broken = [{**rows[0], "name": "再来一家", "station_id": 999_999}]  # no such station
    with pytest.raises(sa_exc.IntegrityError):
        with session.begin_nested():
            bulk_insert(session, Merchant.__table__, broken)
    assert session.scalar(select(Merchant.id).where(Merchant.name == "再来一家")) is None
    bulk_insert(session, Merchant.__table__, [{**rows[0], "name": "又一家（东门）"}])  # the staging starts clean
    assert session.scalars(select(Merchant.name).where(Contains(Merchant, search_key("一家(东门")))).all() == [
        "又一家（东门）"]
