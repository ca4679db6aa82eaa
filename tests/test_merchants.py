"""Merchants: credit codes, duplicates, market organisers, station moves, optimistic locking."""
import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.errors import Duplicate, Invalid, StaleEdit
from app.instruments.models import Instrument
from app.merchants import credit_code as cc
from app.merchants.models import Merchant
from app.merchants.services import update_merchant
from app.scope import Scope
from tests import factories as f
from tests.conftest import login


@pytest.mark.parametrize("code", ["91350100M000100Y43", "914403001922038216", "9144030071526726XG"])
def test_credit_code_valid_vectors(code):
    assert cc.is_valid(code)


@pytest.mark.parametrize("code", ["91350100M000100Y4Z", "91350100M000100Y44", "91350100M000100Y4",
                                  "9135010OM000100Y43"])
def test_credit_code_invalid(code):
    assert not cc.is_valid(code)


def test_credit_code_normalised_to_half_width_upper_case(session, world):
    m = f.merchant(session, world.station_a, "全角公司", credit_code=" ９１３５０１００ｍ０００１００ｙ４３ ")
    assert m.credit_code == "91350100M000100Y43"


def test_bad_credit_code_is_refused_with_the_reason(session, world):
    with pytest.raises(Invalid) as err:
        f.merchant(session, world.station_a, "错码公司", credit_code="91350100M000100Y44")
    assert "校验位" in err.value.message and "3" in err.value.message


def test_individual_stall_needs_no_credit_code(session, world):
    assert f.merchant(session, world.station_a, "个体摊位").credit_code is None
    assert f.merchant(session, world.station_a, "个体摊位2", credit_code="").credit_code is None


def test_same_credit_code_twice_names_the_existing_merchant(session, world):
    f.merchant(session, world.station_a, "甲公司", credit_code="914403001922038216")
    with pytest.raises(Duplicate) as err:
        f.merchant(session, world.station_b, "乙公司", credit_code="914403001922038216")
    assert "甲公司" in err.value.message and err.value.link


def test_duplicate_credit_code_via_form_keeps_input_and_links(client, session, world):
    f.merchant(session, world.station_a, "甲公司", credit_code="914403001922038216")
    session.commit()
    login(client, "insp_a")
    resp = client.post("/merchants/new", data={"name": "新公司", "credit_code": "914403001922038216",
                                               "industry": "retail", "station_id": world.station_a.id})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "甲公司" in html and 'value="新公司"' in html
    assert session.scalar(select(func.count()).select_from(Merchant).where(Merchant.name == "新公司")) == 0


def test_vendor_belongs_to_market_organiser_only(session, world):
    organiser = f.merchant(session, world.station_a, "城东农贸市场", industry="market_organiser")
    vendor = f.merchant(session, world.station_a, "摊位8", parent_id=organiser.id)
    assert vendor.parent is organiser
    with pytest.raises(Invalid):
        f.merchant(session, world.station_a, "摊位9", parent_id=world.merchant_a.id)


def test_moving_a_merchant_moves_its_instruments(session, world):
    m = world.merchant_a
    changes = update_merchant(session, None, Scope.everything(), m, expected_version=m.version,
                              values={"name": m.name, "industry": m.industry, "station_id": world.station_b.id})
    assert [c["new"] for c in changes if c["field"] == "station_id"] == [world.station_b.name]
    inst = session.get(Instrument, world.instrument_a.id)
    session.refresh(inst)
    assert inst.station_id == world.station_b.id


def test_inspector_cannot_put_a_merchant_in_another_station(session, world):
    with pytest.raises(Invalid):
        update_merchant(session, world.inspector_a, Scope.for_user(world.inspector_a), world.merchant_a,
                        expected_version=world.merchant_a.version,
                        values={"name": "x", "industry": "other", "station_id": world.station_b.id})


def test_stale_edit_is_refused(session, world):
    m = world.merchant_a
    opened = m.version
    update_merchant(session, None, Scope.everything(), m, expected_version=opened,
                    values={"name": "先保存的名称", "industry": m.industry, "station_id": m.station_id})
    session.commit()
    with pytest.raises(StaleEdit):
        update_merchant(session, None, Scope.everything(), m, expected_version=opened,
                        values={"name": "后保存的名称", "industry": m.industry, "station_id": m.station_id})


def test_stale_edit_via_form_is_refused_with_a_message(client, session, world):
    m = world.merchant_a
    login(client, "insp_a")
    form = {"name": "第一人", "industry": m.industry.value, "station_id": m.station_id, "version": m.version}
    assert client.post(f"/merchants/{m.id}/edit", data=form).status_code == 302
    resp = client.post(f"/merchants/{m.id}/edit", data={**form, "name": "第二人"})
    assert resp.status_code == 200
    assert "已被其他人修改" in resp.get_data(as_text=True)
    session.expire_all()
    assert session.get(Merchant, m.id).name == "第一人"


def test_edit_is_audited_with_old_and_new(client, session, world):
    m = world.merchant_a
    login(client, "insp_a")
    client.post(f"/merchants/{m.id}/edit", data={"name": "改名后", "industry": m.industry.value,
                                                 "station_id": m.station_id, "version": m.version,
                                                 "phone": "0571-1234567"})
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "merchants",
                                                     AuditEntry.action == "update")).one()
    rows = {c["field"]: c for c in entry.changes}
    assert rows["name"]["old"] == "甲市场摊位1" and rows["name"]["new"] == "改名后"
    assert rows["name"]["label"] == "名称"
    assert rows["phone"]["new"] == "0571-1234567"
    assert entry.actor.startswith("insp_a")
    assert "改名后" in client.get(f"/merchants/{m.id}").get_data(as_text=True)
