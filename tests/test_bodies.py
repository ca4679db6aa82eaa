"""Verification bodies (检定机构): admin edits, stale edits, matching existing free text, the unauthorised-kind
warning when recording a verification, and the import linking institution text to a body."""
import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.audit.models import AuditEntry
from app.bodies import services as bodies
from app.bodies.models import VerificationBody
from app.instruments.models import Verification
from app.instruments.services import record_verification
from tests import factories as f
from tests.conftest import login


def runs_on_postgresql(test: str, params: dict) -> bool:
    """On PostgreSQL: the unique name key and the set-based link (the pages are not about the database)."""
    return test == "test_matching_free_text_on_create_and_the_unique_name_key"


def _body(session, name="县计量检定测试所", **values) -> VerificationBody:
    body, _ = bodies.create_body(session, None, {"name": name, **values})
    session.commit()
    return body


def _form(body=None, **values):
    data = {"name": body.name if body else "", "code": (body.code or "") if body else "", "contact_person": "",
            "contact_phone": "", "is_active": "y", "version": body.version if body else ""}
    data.update(values)
    return data


def test_matching_free_text_on_create_and_the_unique_name_key(session, world):
    # Existing records name the institute with other spacing and width; one names another institute.
    ver_a = record_verification(session, None, world.instrument_a, {
        "verified_on": dt.date(2024, 5, 1), "result": "pass", "institution": "县计量检定 测试所"})
    ver_b = record_verification(session, None, world.instrument_b, {
        "verified_on": dt.date(2024, 5, 1), "result": "pass", "institution": "市计量院"})
    session.commit()
    body, linked = bodies.create_body(session, None, {"name": "县计量检定测试所"})
    session.commit()
    session.expire_all()
    assert linked == 1
    assert (ver_a.body_id, ver_a.institution) == (body.id, "县计量检定 测试所")  # the text stays as written
    assert ver_b.body_id is None
    assert "关联了 1 条" in session.scalars(select(AuditEntry.note).where(
        AuditEntry.entity_type == "verification_bodies")).one()
    # The database itself refuses a second body of the same name key.
    session.add(VerificationBody(name="县计量检定测试所 ", name_key=body.name_key, type_ids=[]))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_admin_creates_edits_and_deactivates(client, session, world):
    login(client, "admin1")
    scale = f.kind(session, "elec_price_scale")
    resp = client.post("/admin/bodies/new", data=_form(name="县计量检定测试所", code="JD-9",
                                                       type_ids=[str(scale.id)], contact_person="王工"))
    assert resp.status_code == 302
    body = session.scalars(select(VerificationBody)).one()
    assert (body.code, body.type_ids, body.contact_person, body.is_active) == ("JD-9", [scale.id], "王工", True)
    # A second body of the same name (other width) is refused in Chinese.
    resp = client.post("/admin/bodies/new", data=_form(name="县计量检定测试所 "))
    assert resp.status_code == 200 and "已有同名的检定机构" in resp.get_data(as_text=True)
    resp = client.post(f"/admin/bodies/{body.id}/edit", data=_form(body, contact_phone="0512-1234567",
                                                                    type_ids=[str(scale.id)]))
    assert resp.status_code == 302
    session.expire_all()
    assert body.contact_phone == "0512-1234567" and body.version == 2
    assert client.post(f"/admin/bodies/{body.id}/deactivate").status_code == 302
    session.expire_all()
    assert body.is_active is False
    # A deactivated body is not offered when recording a verification.
    page = client.get(f"/instruments/{world.instrument_a.id}/verifications/new").get_data(as_text=True)
    assert "其他（手工填写）</option>" in page and "县计量检定测试所</option>" not in page
    # Staff read the list with the count of linked records; only admins see the buttons.
    client.post("/logout")
    login(client, "insp_a")
    page = client.get("/admin/bodies/").get_data(as_text=True)
    assert "县计量检定测试所" in page and "0 条" in page and "编辑" not in page


def test_a_stale_edit_is_refused(client, session, world):
    body = _body(session)
    login(client, "admin1")
    stale = body.version
    assert client.post(f"/admin/bodies/{body.id}/edit", data=_form(body, contact_person="王工")).status_code == 302
    resp = client.post(f"/admin/bodies/{body.id}/edit", data=_form(body, contact_person="李工", version=stale))
    assert resp.status_code == 200 and "已被其他人修改" in resp.get_data(as_text=True)
    session.expire_all()
    assert body.contact_person == "王工"


def _verify(client, instrument, **values):
    data = {"verified_on": "2024-06-01", "result": "pass", "valid_until": "", "certificate_no": "", "notes": "",
            "body_id": "0", "institution": ""}
    data.update(values)
    return client.post(f"/instruments/{instrument.id}/verifications/new", data=data, follow_redirects=True)


def test_recording_with_a_body_and_the_unauthorised_kind_warning(client, session, world):
    scale, dispenser = f.kind(session, "elec_price_scale"), f.kind(session, "fuel_dispenser")
    body = _body(session, type_ids=[scale.id])
    login(client, "admin1")
    # Chosen from the list: linked, recorded under the body's name, no warning for an authorised kind.
    page = _verify(client, world.instrument_a, body_id=str(body.id)).get_data(as_text=True)
    assert "已记录检定结果" in page and "未登记对此类器具的授权" not in page
    ver = session.scalars(select(Verification).where(Verification.instrument_id == world.instrument_a.id)
                          .order_by(Verification.id.desc())).first()
    assert (ver.body_id, ver.institution) == (body.id, "县计量检定测试所")
    # Typed text that names the body links it too; a fuel dispenser is not among its kinds: saved, with a warning.
    assert world.instrument_b.type_id == dispenser.id
    page = _verify(client, world.instrument_b, institution="县计量检定测试所　").get_data(as_text=True)
    assert "该检定机构未登记对此类器具的授权" in page and "已记录检定结果" in page
    ver = session.scalars(select(Verification).where(Verification.instrument_id == world.instrument_b.id)
                          .order_by(Verification.id.desc())).first()
    assert ver.body_id == body.id and ver.institution == "县计量检定测试所"
    # Text that names no body is kept as typed, unlinked.
    _verify(client, world.instrument_a, institution="外省计量院", verified_on="2024-06-02")
    ver = session.scalars(select(Verification).where(Verification.instrument_id == world.instrument_a.id)
                          .order_by(Verification.id.desc())).first()
    assert (ver.body_id, ver.institution) == (None, "外省计量院")
    # The instrument page names the body.
    page = client.get(f"/instruments/{world.instrument_b.id}").get_data(as_text=True)
    assert "/admin/bodies/" in page


def test_an_import_links_institution_text_to_a_body(app, world, session, tmp_path):
    from tests.test_import_pipeline import Flow

    body = _body(session)
    csv = ("使用单位名称,器具名称,出厂编号,检定日期,检定机构\n"
           "甲市场摊位7,电子计价秤,IMP-B1,2024-03-01,县计量检定 测试所\n"
           "甲市场摊位7,电子计价秤,IMP-B2,2024-03-01,外省计量院\n").encode("utf-8")
    Flow(app, world, tmp_path / "uploads").run(csv, "台账.csv")
    session.expire_all()
    rows = dict(session.execute(select(Verification.institution, Verification.body_id)
                                .where(Verification.institution != "")).all())
    assert rows == {"县计量检定 测试所": body.id, "外省计量院": None}  # the text as written, linked by its key
