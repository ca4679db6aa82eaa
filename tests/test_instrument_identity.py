"""One instrument, one record (issue 13): kind + serial (+ maker when known) compared case-, width- and
space-insensitively in the forms, the import and a unique index on the stored key."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from app.bulk import bulk_insert
from app.errors import Duplicate
from app.instruments.models import Instrument
from app.instruments.services import duplicate_groups, update_instrument
from tests import factories as f
from tests.conftest import login


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(Instrument))


@pytest.mark.parametrize("typed", ["a-001", "ａ－００１", " A - 001 ", "A-0 01", "Ａ-001"])
def test_the_form_refuses_the_same_serial_in_another_spelling(client, session, world, typed):
    login(client, "insp_a")
    before = _count(session)
    kind = f.kind(session, "elec_price_scale")
    resp = client.post(f"/instruments/new?merchant_id={world.merchant_a.id}",
                       data={"type_id": kind.id, "serial_no": typed, "status": "in_use"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "该器具已登记" in html and "A-001" in html and "甲市场摊位1" in html and "不区分大小写" in html
    assert f'href="/instruments/{world.instrument_a.id}"' in html  # a link to the existing record
    assert _count(session) == before


def test_maker_when_known(session, world):
    """A serial with no maker is the same instrument as that serial with any maker, and the other way round;
    two known, different makers may share a serial."""
    kind = "elec_price_scale"
    with pytest.raises(Duplicate):  # world's A-001 has no maker
        f.instrument(session, world.merchant_a, kind, serial="a-001", maker="上海友声")
    f.instrument(session, world.merchant_a, kind, serial="FM-9", maker="上海友声")
    with pytest.raises(Duplicate):
        f.instrument(session, world.merchant_a, kind, serial="fm-9")
    with pytest.raises(Duplicate):
        f.instrument(session, world.merchant_a, kind, serial="ｆｍ -9", maker="上海 友声")
    other = f.instrument(session, world.merchant_a, kind, serial="fm-9", maker="凯丰集团")
    assert other.serial_key == "FM-9" and other.maker_key == "凯丰集团"
    # Another kind is another instrument.
    assert f.instrument(session, world.merchant_a, "bp_auto", serial="FM-9").id


def test_editing_an_instrument_is_not_refused_by_its_own_record(session, world):
    inst = world.instrument_a
    update_instrument(session, None, f.ALL, inst, expected_version=inst.version,
                      values={"type_id": inst.type_id, "merchant_id": inst.merchant_id, "serial_no": "a-001",
                              "location": "3号摊位（东）"})
    assert (inst.serial_no, inst.serial_key, inst.location) == ("a-001", "A-001", "3号摊位（东）")
    second = f.instrument(session, world.merchant_a, serial="A-002")
    with pytest.raises(Duplicate):
        update_instrument(session, None, f.ALL, second, expected_version=second.version,
                          values={"type_id": second.type_id, "merchant_id": second.merchant_id, "serial_no": "a -001"})


def test_the_database_refuses_a_second_record(session, world):
    """The unique index on (type_id, serial_key, maker_key) holds even past the services."""
    inst = world.instrument_a
    now = dt.datetime.now(dt.timezone.utc)
    row = {"type_id": inst.type_id, "merchant_id": inst.merchant_id, "station_id": inst.station_id,
           "serial_no": "a-001", "serial_key": "A-001", "maker": "", "maker_key": "", "status": "in_use",
           "version": 1, "created_at": now, "updated_at": now}
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(insert(Instrument.__table__).values(**row))
    with pytest.raises(IntegrityError), session.begin_nested():
        bulk_insert(session, Instrument.__table__, [row])
    with pytest.raises(IntegrityError), session.begin_nested():  # the ORM fills the key from the serial itself
        session.add(Instrument(type_id=inst.type_id, merchant_id=inst.merchant_id, station_id=inst.station_id,
                               serial_no="Ａ－００１"))
        session.flush()
    assert _count(session) == 2
    assert duplicate_groups(session) == []


def test_the_import_reports_the_same_serial_in_another_spelling(app, session, world, tmp_path):
    from tests.test_import_pipeline import Flow, row, xlsx

    flow = Flow(app, world, tmp_path / "uploads")
    before = flow.counts()
    batch_id = flow.upload(xlsx(tmp_path, [
        row("甲市场摊位1", "电子计价秤", "a-001"),  # 3: the world's A-001, spelled in lower case
        row("甲市场摊位1", "电子计价秤", "N-1"),  # 4: new
        row("甲市场摊位1", "电子计价秤", "n -1"),  # 5: row 4's instrument again, spelled differently
        row("甲市场摊位1", "电子计价秤", "A-001"),  # 6: the world's A-001 as registered: the same instrument
    ]))
    counts = flow.preview(batch_id)
    assert counts["errors"] == 2 and counts["instruments"]["create"] == 1
    rows = {r.row_no: r for r in flow.rows(batch_id)}
    [e3] = rows[3].errors
    assert e3["column"] == "出厂编号" and "a-001" in e3["message"] and "已登记的器具 A-001" in e3["message"]
    assert "甲市场摊位1" in e3["message"] and "不能重复登记" in e3["message"]
    [e5] = rows[5].errors
    assert "n -1" in e5["message"] and "与第4行的N-1 是同一台器具" in e5["message"]
    assert rows[6].errors == []
    flow.confirm(batch_id, only_valid=True)
    flow.apply(batch_id)
    assert flow.counts()["instruments"] == before["instruments"] + 1
    with flow.step() as s:
        assert s.scalar(select(func.count()).select_from(Instrument).where(Instrument.serial_key == "A-001")) == 1
        assert s.scalars(select(Instrument.serial_key).where(Instrument.serial_no == "N-1")).one() == "N-1"


def test_a_held_copy_is_listed_shown_and_still_editable(client, session, world):
    """A copy registered before the key was unique (as migration 0014 leaves it: "<key> <id>") is listed for a
    person, flagged on its page, and can still be edited as long as its identity does not change."""
    inst = world.instrument_a
    copy = Instrument(type_id=inst.type_id, merchant_id=inst.merchant_id, station_id=inst.station_id,
                      serial_no="a-001")
    session.add(copy)
    copy.serial_key = "A-001 held"  # below the index, as the migration holds it (then given its id)
    session.flush()
    copy.serial_key = f"A-001 {copy.id}"
    session.flush()
    groups = duplicate_groups(session)
    assert [[i.id for i in g] for g in groups] == [[inst.id, copy.id]]
    update_instrument(session, None, f.ALL, copy, expected_version=copy.version,
                      values={"type_id": copy.type_id, "merchant_id": copy.merchant_id, "serial_no": "a-001",
                              "status": "stopped", "notes": "与 A-001 重复，待合并"})
    assert copy.serial_key == f"A-001 {copy.id}"  # still held: nothing merged or rekeyed silently
    session.commit()
    login(client, "insp_a")
    assert 'id="held-copy"' in client.get(f"/instruments/{copy.id}").get_data(as_text=True)
    assert 'id="held-copy"' not in client.get(f"/instruments/{inst.id}").get_data(as_text=True)
    with pytest.raises(Duplicate):  # changing its serial to another spelling of the same one is refused
        update_instrument(session, None, f.ALL, copy, expected_version=copy.version,
                          values={"type_id": copy.type_id, "merchant_id": copy.merchant_id, "serial_no": "A-001"})
    session.rollback()
    update_instrument(session, None, f.ALL, copy, expected_version=copy.version,
                      values={"type_id": copy.type_id, "merchant_id": copy.merchant_id, "serial_no": "A-0012"})
    assert copy.serial_key == "A-0012" and duplicate_groups(session) == []
