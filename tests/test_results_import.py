"""A body's results file through the import pipeline (issue 16 point 2): upload as a results batch, preview with
each row's outcome, all-or-nothing apply, undo; a garbage file gets a Chinese message."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from app.bodies import services as bodies
from app.errors import Invalid
from app.imports import services
from app.imports.models import BatchKind, ImportBatch, ImportRow, ImportStatus
from app.instruments.models import Instrument, Verification
from app.results.models import LeadState, ResultLead
from tests import factories as f

TODAY = dt.date(2026, 12, 3)
HEADER = "器具名称,出厂编号,制造单位,型号,证书编号,检定日期,检定结论,有效期至,送检单位,不合格原因"


def _csv(*lines: str) -> bytes:
    return ("\n".join((HEADER, *lines)) + "\n").encode("utf-8")


def _step(app):
    return app.extensions["database"].session_scope()


def _upload(app, world, tmp_path, data: bytes, body_id=None, name="检定结果.csv") -> int:
    with _step(app) as s:
        return services.create_batch(s, world.admin, f.ALL, station_id=world.station_a.id, file_name=name, data=data,
                                     storage_dir=tmp_path, kind=BatchKind.RESULTS, body_id=body_id).id


def _preview(app, batch_id) -> dict:
    with _step(app) as s:
        batch = s.get(ImportBatch, batch_id)
        services.plan_batch(s, batch, today=TODAY)
        return batch.counts


def _apply(app, world, batch_id, only_valid=False) -> None:
    with _step(app) as s:
        batch = s.get(ImportBatch, batch_id)
        services.start_apply(s, world.admin, batch, expected_version=batch.version, only_valid=only_valid)
    with _step(app) as s:
        services.apply_batch(s, world.admin, s.get(ImportBatch, batch_id), today=TODAY)


def test_results_batch_preview_apply_all_or_nothing_and_undo(app, session, world, tmp_path):
    body, _ = bodies.create_body(session, None, {"name": "县计量检定所", "type_ids": [world.instrument_a.type_id]})
    session.commit()
    good = ("电子计价秤,A-001,,ACS-15,JD-100,2026-11-20,合格,2027-11-19,甲市场摊位1,",
            "电子计价秤,NEW-1,某衡器厂,ACS-30,JD-101,2026-11-21,不合格,,乙加油站,示值超差",
            "电子计价秤,NEW-1,某衡器厂,ACS-30,JD-101,2026-11-21,不合格,,乙加油站,示值超差")
    bad = "电子计价秤,A-001,,ACS-15,JD-100,2026-11-20,不合格,,甲市场摊位1,"  # the same certificate, changed
    batch_id = _upload(app, world, tmp_path, _csv(*good, bad), body_id=body.id)
    counts = _preview(app, batch_id)
    assert counts["results"] == {"recorded": 1, "unchanged": 0, "queued": 2, "refused": 1} and counts["errors"] == 1
    with _step(app) as s:
        rows = s.scalars(select(ImportRow).where(ImportRow.batch_id == batch_id).order_by(ImportRow.row_no)).all()
        assert [r.summary.split("：")[0] for r in rows] == ["记录检定结果", "转入未备案器具线索", "转入未备案器具线索",
                                                           "拒收"]
        assert "不同" in rows[3].errors[0]["message"]
    # A refused row keeps the whole file out: nothing is written.
    with _step(app) as s, pytest.raises(Invalid):
        batch = s.get(ImportBatch, batch_id)
        services.start_apply(s, world.admin, batch, expected_version=batch.version, only_valid=False)
    assert session.scalar(select(func.count()).select_from(ResultLead)) == 0

    batch_id = _upload(app, world, tmp_path, _csv(*good), body_id=body.id)
    assert _preview(app, batch_id)["results"]["refused"] == 0
    _apply(app, world, batch_id)
    session.expire_all()
    inst = session.get(Instrument, world.instrument_a.id)
    assert (inst.last_verified_on, inst.next_due_on) == (dt.date(2026, 11, 20), dt.date(2027, 11, 19))
    lead = session.scalars(select(ResultLead)).one()
    assert (lead.station_id, lead.merchant_id, lead.fail_reason, lead.batch_id) == (
        world.station_b.id, world.merchant_b.id, "示值超差", batch_id)
    assert lead.state == LeadState.PENDING and lead.result.value == "fail"
    # The same file again: nothing new (the lead is already there, the verification recorded).
    again = _upload(app, world, tmp_path, _csv(*good), name="再次.csv")
    assert _preview(app, again)["results"] == {"recorded": 0, "unchanged": 1, "queued": 2, "refused": 0}
    # Undo takes the verification and the lead away and puts the dates back.
    with _step(app) as s:
        services.undo_batch(s, world.admin, s.get(ImportBatch, batch_id))
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(ResultLead)) == 0
    assert session.scalar(select(func.count()).select_from(Verification).where(
        Verification.certificate_no == "JD-100")) == 0
    assert session.get(Instrument, world.instrument_a.id).last_verified_on == dt.date(2024, 1, 10)


def test_a_garbage_results_file_gets_a_chinese_message(app, world, tmp_path):
    batch_id = _upload(app, world, tmp_path, b"PK\x03\x04 not really a workbook \x00\xff" * 50, name="结果.xlsx")
    with _step(app) as s:
        batch = s.get(ImportBatch, batch_id)
        if batch.status == ImportStatus.PLANNING:
            with pytest.raises(Exception):
                services.plan_batch(s, batch, today=TODAY)
    with _step(app) as s:
        batch = s.get(ImportBatch, batch_id)
        assert batch.status in (ImportStatus.REJECTED, ImportStatus.NEEDS_MAPPING)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in batch.message)
