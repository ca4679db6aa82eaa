"""Signatures on the 现场检查笔录 and the lock they put on it; the evidence form's several files at once."""
from __future__ import annotations

import base64
import datetime as dt
import io

import lxml.html
import pytest
from sqlalchemy import func, select

from app.db import utcnow
from app.errors import Duplicate, Invalid
from app.inspections import services
from app.inspections.models import EvidenceFile, Signature
from tests import factories
from tests.conftest import login

LOCKED = "现场检查笔录已签名，不能再修改；如需更正，请另行记录一次检查。"


def runs_on_postgresql(test: str, params: dict) -> bool:
    """On PostgreSQL: the lock in the services (the pages are not about the database)."""
    return test == "test_the_first_signature_locks_the_record_in_the_services"


@pytest.fixture()
def visit(session, world, tmp_path):
    """An inspection of merchant A with instrument A checked 未发现问题 and a finding about the merchant."""
    insp = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor],
                                checks=[(world.instrument_a, "ok")])
    factories.finding(session, insp, "NO_VALID_MARK", measure="rectify")
    session.commit()
    return insp


def sign(session, insp, folder, role="merchant", user_id=None, name="张三"):
    return services.add_signature(session, None, insp, role=role, user_id=user_id, name=name, signed_at=utcnow(),
                                  data=factories.PNG, storage_dir=str(folder))


def test_the_first_signature_locks_the_record_in_the_services(session, world, visit, tmp_path):
    sign(session, visit, tmp_path)
    finding = visit.findings[0]
    refused = [
        lambda: factories.finding(session, visit, "OVERDUE", measure="on_the_spot"),
        lambda: services.void_finding(session, None, finding, "登记错了", dt.date.today()),
        lambda: services.mark_check_problem(session, None, visit.checks[0], "复核发现问题"),
        lambda: services.store_evidence(session, None, visit, file_name="a.png", data=factories.PNG,
                                        storage_dir=str(tmp_path), max_bytes=10_000),
    ]
    for change in refused:
        with pytest.raises(Invalid, match=LOCKED):
            with session.begin_nested():
                change()
    # More signatures are what a signed record still takes: each inspector once, the merchant once.
    sign(session, visit, tmp_path, role="inspector", user_id=world.inspector_a.id, name="检查员甲")
    with pytest.raises(Duplicate):
        sign(session, visit, tmp_path, role="inspector", user_id=world.inspector_a.id, name="检查员甲")
    with pytest.raises(Duplicate):
        sign(session, visit, tmp_path, name="李四")
    with pytest.raises(Invalid, match="本次检查的检查人员"):
        sign(session, visit, tmp_path, role="inspector", user_id=world.inspector_b.id, name="检查员乙")
    assert session.scalar(select(func.count()).select_from(Signature)) == 2
    # A re-check of the order (复查) is a record of its own and stays possible.
    rect = finding.rectification
    services.record_recheck(session, None, rect, expected_version=rect.version,
                            values={"rechecked_on": visit.inspected_on, "rectified": True}, today=visit.inspected_on)
    assert rect.closed_on == visit.inspected_on


def test_signing_on_screen_then_the_page_hides_the_changes_and_the_print_shows_the_signatures(
        client, session, world, visit, tmp_path, monkeypatch, app):
    monkeypatch.setitem(app.config, "EVIDENCE_STORAGE", str(tmp_path))
    login(client, "insp_a")
    page = client.get(f"/inspections/{visit.id}").get_data(as_text=True)
    assert 'id="add-finding"' in page and "改为发现问题" in page and 'id="sign-link"' in page
    url = f"/inspections/{visit.id}/sign"
    form = client.get(url).get_data(as_text=True)
    assert "signature_pad-5.1.4.umd.min.js" in form and "<canvas" in form
    resp = client.post(url, data={"role": "merchant", "user_id": "", "name": "张三", "signature": ""})
    assert resp.status_code == 200 and "请先在签名框内签名" in resp.get_data(as_text=True)
    png = "data:image/png;base64," + base64.b64encode(factories.PNG).decode()
    resp = client.post(url, data={"role": "merchant", "user_id": "", "name": "张三", "signature": png})
    assert resp.status_code == 302
    resp = client.post(url, data={"role": "inspector", "user_id": str(world.inspector_a.id), "name": "检查员甲",
                                  "signature": png})
    assert resp.status_code == 302
    page = client.get(f"/inspections/{visit.id}").get_data(as_text=True)
    assert LOCKED in page
    assert 'id="add-finding"' not in page and "改为发现问题" not in page and 'id="add-evidence"' not in page
    assert "finding-void" not in page
    rows = lxml.html.fromstring(page).xpath('//table[@id="signatures"]/tbody/tr')
    assert [r.xpath("td")[1].text_content() for r in rows] == ["张三", "检查员甲"]
    printed = lxml.html.fromstring(client.get(f"/inspections/{visit.id}/print/record").get_data(as_text=True))
    signed = printed.xpath('//div[@id="record-signatures"]//div[@class="signed"]')
    assert len(signed) == 2 and "张三" in signed[0].text_content()
    image = client.get(signed[0].xpath(".//img")[0].get("src"))
    assert image.status_code == 200 and image.data == factories.PNG
    # The forms refuse too, not only the hidden buttons.
    resp = client.post(f"/inspections/{visit.id}/evidence", data={"file": (io.BytesIO(factories.PNG), "a.png")})
    assert LOCKED in resp.get_data(as_text=True)


def test_the_location_is_shown_on_the_inspection_page(client, session, world):
    from app.inspections.services import record_inspection
    from app.scope import Scope
    from app.clock import today

    insp = record_inspection(session, None, Scope.everything(), world.merchant_a, {
        "inspected_on": today(), "inspector_ids": [world.inspector_a.id, world.supervisor.id],
        "location": {"latitude": 31.2304, "longitude": 121.4737, "accuracy": 15.0}}, today())
    session.commit()
    login(client, "insp_a")
    text = lxml.html.fromstring(client.get(f"/inspections/{insp.id}").get_data(as_text=True)).xpath(
        '//*[@id="location"]')[0].text_content()
    assert "纬度 31.230400，经度 121.473700" in text and "± 15 米" in text


def test_the_evidence_form_takes_several_files_at_once_all_or_nothing(client, session, world, visit, tmp_path,
                                                                      monkeypatch, app):
    monkeypatch.setitem(app.config, "EVIDENCE_STORAGE", str(tmp_path))
    login(client, "insp_a")
    url = f"/inspections/{visit.id}/evidence"
    form = lxml.html.fromstring(client.get(url).get_data(as_text=True))
    (chooser,) = form.xpath('//input[@name="file"]')
    (camera,) = form.xpath('//input[@name="camera"]')
    assert chooser.get("multiple") is not None and chooser.get("accept") == "image/*,application/pdf"
    assert camera.get("capture") == "environment"
    resp = client.post(url, data={"file": [(io.BytesIO(factories.PNG), "a.png"), (io.BytesIO(b"GIF89a"), "b.gif")]})
    assert "文件“b.gif”无法识别" in resp.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(EvidenceFile)) == 0
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    resp = client.post(url, data={"file": [(io.BytesIO(factories.PNG), "a.png"), (io.BytesIO(factories.PDF), "b.pdf")],
                                  "camera": [(io.BytesIO(factories.JPEG), "相机.jpg")]})
    assert resp.status_code == 302
    session.expire_all()
    names = session.scalars(select(EvidenceFile.original_name).order_by(EvidenceFile.id)).all()
    assert names == ["a.png", "b.pdf", "相机.jpg"]
