"""Verification results from the bodies (issue 16 point 2): matching to the ledger by serial/maker and by
certificate, idempotent re-submission, refused certificate changes, leads created once, registering and dismissing
a lead, the lead worklist's scope."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from app.bodies import services as bodies
from app.errors import Invalid, NotFound
from app.instruments.models import Instrument, Verification
from app.results import services as results
from app.results.models import LeadState, ResultLead
from app.results.services import ResultRow
from app.scope import Scope
from tests import factories as f

TODAY = dt.date(2026, 12, 3)


def _row(serial, on=dt.date(2026, 11, 20), cert="", kind="电子计价秤", **values) -> ResultRow:
    return ResultRow(kind=kind, serial_no=serial, verified_on=on, certificate_no=cert, **values)


def _submit(session, rows, body=None, station_id=None):
    out = results.submit_results(session, rows, body=body, station_id=station_id, actor=None,
                                 actor_label="测试令牌", today=TODAY)
    session.commit()
    return out


def test_matching_recording_idempotence_refusals_and_leads(session, world):
    body, _ = bodies.create_body(session, None, {"name": "县计量检定所", "type_ids": [world.instrument_a.type_id]})
    # Same serial, two makers: a result naming the maker finds its own; one without the maker is ambiguous.
    ma = world.merchant_a
    made_x = f.instrument(session, ma, serial="M-1", maker="甲厂")
    made_y = f.instrument(session, ma, serial="M-1", maker="乙厂")
    session.commit()
    rows = [
        _row("a-001", cert="JD-1", valid_until=dt.date(2027, 11, 19), result="合格"),  # folded serial matches
        _row("M-1", maker="乙厂", on=dt.date(2026, 11, 21), cert="JD-2"),
        _row("M-1", on=dt.date(2026, 11, 21), cert="JD-3"),
        _row("B-001", kind="加油机", cert="JD-4", valid_until="2027-11-19"),  # body not authorised: a warning
        _row("NEW-9", cert="JD-5", submitter="乙加油站", model="ACS-15"),  # no such instrument: a lead in B
        _row("NEW-9", cert="JD-5", submitter="乙加油站", model="ACS-15"),  # the same result twice: one lead
        _row("X-1", kind="不存在的器具"),
        _row("X-2", on=dt.date(2027, 1, 1)),
        _row("X-3", on="2026-13-45"),
    ]
    out = _submit(session, rows, body=body, station_id=world.station_a.id)
    assert [o.outcome for o in out] == ["recorded", "recorded", "refused", "recorded", "queued", "queued",
                                        "refused", "refused", "refused"]
    assert "2 台已登记器具" in out[2].reason
    assert "未登记为可检定" in out[3].warnings[0] and not out[0].warnings
    assert "不在目录" in out[6].reason or "不是" in out[6].reason or "器具名称" in out[6].reason
    assert "晚于今天" in out[7].reason and out[8].reason
    assert out[1].instrument_id == made_y.id and out[4].lead_id == out[5].lead_id
    # The engine moved the dates at once.
    inst = session.get(Instrument, world.instrument_a.id)
    session.refresh(inst)
    assert inst.last_verified_on == dt.date(2026, 11, 20) and inst.next_due_on == dt.date(2027, 11, 19)
    ver = session.get(Verification, out[0].verification_id)
    assert (ver.body_id, ver.institution, ver.certificate_no) == (body.id, "县计量检定所", "JD-1")
    lead = session.get(ResultLead, out[4].lead_id)
    assert (lead.station_id, lead.merchant_id, lead.state, lead.model, lead.received_from) == (
        world.station_b.id, world.merchant_b.id, LeadState.PENDING, "ACS-15", "测试令牌")
    assert made_x.last_verified_on is None

    # Re-submitting changes nothing and makes no second lead.
    before = session.scalar(select(func.count()).select_from(Verification))
    again = _submit(session, rows[:2] + rows[4:6], body=body, station_id=world.station_a.id)
    assert [o.outcome for o in again] == ["unchanged", "unchanged", "queued", "queued"]
    assert again[2].lead_id == out[4].lead_id and "未重复登记" in again[2].reason
    assert session.scalar(select(func.count()).select_from(Verification)) == before
    assert session.scalar(select(func.count()).select_from(ResultLead)) == 1

    # A stored certificate is never changed; a certificate of another instrument is refused.
    changed = _submit(session, [_row("A-001", cert="JD-1", result="不合格"),
                                _row("M-1", maker="甲厂", cert="JD-1"),
                                _row("A-001", on=dt.date(2026, 11, 25), cert="JD-6")], body=body)
    assert [o.outcome for o in changed] == ["refused", "refused", "recorded"]
    assert "不能修改" in changed[0].reason and "另一台器具" in changed[1].reason
    # Without a certificate, the record of the same date plays its part.
    plain = _submit(session, [_row("A-001", on=dt.date(2026, 11, 26)), _row("A-001", on=dt.date(2026, 11, 26)),
                              _row("A-001", on=dt.date(2026, 11, 26), result="不合格")])
    assert [o.outcome for o in plain] == ["recorded", "unchanged", "refused"]
    with pytest.raises(Invalid):
        results.submit_results(session, [_row("A-001")] * 1001, body=None, station_id=None, actor=None,
                               actor_label="x", today=TODAY)


def test_register_and_dismiss_leads_and_their_scope(session, world):
    out = _submit(session, [_row("L-1", cert="C-1", maker="丙厂", valid_until=dt.date(2027, 11, 19),
                                 submitter="新开的水果店"),
                            _row("L-2", cert="C-2", submitter="甲市场摊位1")], station_id=world.station_a.id)
    first, second = (session.get(ResultLead, o.lead_id) for o in out)
    assert (first.station_id, first.merchant_id) == (world.station_a.id, None)
    assert second.merchant_id == world.merchant_a.id
    # Another station's staff cannot open them.
    with pytest.raises(NotFound):
        results.get_lead(session, Scope.for_user(world.inspector_b), first.id)
    scope = Scope.for_user(world.inspector_a)
    assert results.get_lead(session, scope, first.id) is first
    # Registering creates the merchant, the instrument and its verification, with the due date computed.
    inst = results.register_lead(session, world.inspector_a, scope, first, expected_version=first.version,
                                 merchant_id=None,
                                 merchant_values={"name": "新开的水果店", "industry": "market_vendor",
                                                  "station_id": world.station_a.id},
                                 instrument_values={"type_id": first.type_id, "serial_no": first.serial_no,
                                                    "maker": first.maker},
                                 today=TODAY)
    session.commit()
    session.refresh(inst)
    assert inst.merchant.name == "新开的水果店" and inst.next_due_on == dt.date(2027, 11, 19)
    assert [v.certificate_no for v in inst.verifications] == ["C-1"]
    assert (first.state, first.instrument_id, first.handled_by_id) == (LeadState.REGISTERED, inst.id,
                                                                       world.inspector_a.id)
    with pytest.raises(Invalid):
        results.dismiss_lead(session, world.inspector_a, first, expected_version=first.version, reason="重复")
    # Dismissing needs a reason and keeps the lead.
    with pytest.raises(Invalid):
        results.dismiss_lead(session, world.inspector_a, second, expected_version=second.version, reason=" ")
    results.dismiss_lead(session, world.inspector_a, second, expected_version=second.version, reason="已停业")
    session.commit()
    assert (second.state, second.reason) == (LeadState.DISMISSED, "已停业")
    # The dismissed result sent again stays dismissed: no new lead.
    again = _submit(session, [_row("L-2", cert="C-2", submitter="甲市场摊位1")], station_id=world.station_a.id)
    assert again[0].lead_id == second.id and "已忽略" in again[0].reason


def runs_on_postgresql(test: str, params: dict) -> bool:
    """The pages are not about the database: their test runs on SQLite only."""
    return test != "test_the_worklist_count_and_registering_from_the_page"


def test_the_worklist_count_and_registering_from_the_page(client, session, world):
    from tests.conftest import login

    out = _submit(session, [_row("P-1", cert="P-C-1", submitter="甲市场摊位1", valid_until=dt.date(2027, 11, 19)),
                            _row("P-2", cert="P-C-2", submitter="乙加油站")], station_id=world.station_a.id)
    login(client, "insp_a")
    home = client.get("/").get_data(as_text=True)
    assert 'id="nav-count-leads">1<' in home and 'id="card-leads">1<' in home
    page = client.get("/leads/").get_data(as_text=True)
    assert "P-1" in page and "P-2" not in page
    lead = session.get(ResultLead, out[0].lead_id)
    form = client.get(f"/leads/{lead.id}").get_data(as_text=True)
    assert 'value="P-1"' in form  # prefilled from the lead
    resp = client.post(f"/leads/{lead.id}/register", data={
        "merchant_id": str(world.merchant_a.id), "industry": "other", "station_id": str(world.station_a.id),
        "type_id": str(lead.type_id), "serial_no": "P-1", "maker": "", "model": "", "location": "1号摊位",
        "version": str(lead.version)})
    assert resp.status_code == 302 and "/instruments/" in resp.headers["Location"]
    session.expire_all()
    inst = session.scalars(select(Instrument).where(Instrument.serial_no == "P-1")).one()
    assert (inst.merchant_id, inst.location, inst.next_due_on) == (world.merchant_a.id, "1号摊位", dt.date(2027, 11, 19))
    assert session.get(ResultLead, lead.id).state == LeadState.REGISTERED
    assert 'id="nav-count-leads">0<' in client.get("/").get_data(as_text=True)
