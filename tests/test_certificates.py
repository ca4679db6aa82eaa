"""Certificate files of verifications: checked by content and size, kept outside the web root with their SHA-256,
shown only to staff of the station with safe headers, voided (never deleted) with a reason, never on the public
page; the public page names the institution and when the ledger last changed."""
from __future__ import annotations

import hashlib
import io

import pytest
from sqlalchemy import select

from app.audit.services import AppendOnlyViolation
from app.certificates import services
from app.certificates.models import Certificate
from app.errors import Invalid
from app.clock import today
from app.instruments.models import Verification
from app.instruments.services import record_verification
from app.public import services as public
from tests import factories
from tests.conftest import login

EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200  # a Windows program's first bytes
HTML = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"


@pytest.fixture()
def cert_app(database_url, tmp_path):
    from tests.conftest import fresh_app

    application = fresh_app(database_url, EVIDENCE_STORAGE=str(tmp_path / "evidence"), EVIDENCE_MAX_BYTES=2048)
    yield application
    application.extensions["database"].dispose()


def test_certificates_are_checked_kept_scoped_voided_and_never_public(cert_app, tmp_path):
    client = cert_app.test_client()
    database = cert_app.extensions["database"]
    with database.session_scope() as s:
        world = factories.build_world(s)
        ver_id = s.scalars(select(Verification.id).where(Verification.instrument_id == world.instrument_a.id)).one()
        inst_id = world.instrument_a.id
        record_verification(s, None, world.instrument_a, {"verified_on": today(), "result": "pass",
                                                          "institution": "县计量检定所", "notes": "内部备注"})
    login(client, "insp_a")
    url = f"/verifications/{ver_id}/certificates/new"
    refused = [(EXE, "证书.pdf", "只能是 PDF 文件或 JPEG、PNG、HEIC 图片"),  # a renamed .exe
               (HTML, "证书.pdf", "只能是 PDF 文件或 JPEG、PNG、HEIC 图片"),  # an HTML page named .pdf
               (b"%PDF-1.4\n<html><script>alert(1)</script>", "证书.pdf", "不完整或已损坏"),  # starts like a PDF only
               (factories.PNG, "证书.png", "无法读取"),  # a PNG's magic and nothing decodable
               (factories.WHOLE_PDF + b" " * 3000, "大.pdf", "文件过大")]
    for data, name, message in refused:
        resp = client.post(url, data={"file": (io.BytesIO(data), name)})
        assert resp.status_code == 200 and message in resp.get_data(as_text=True), name
    png = factories.image_bytes("PNG")
    assert client.post(url, data={"file": (io.BytesIO(factories.WHOLE_PDF), "证书.pdf")}).status_code == 302
    assert client.post(url, data={"file": (io.BytesIO(png), "证书照片.png")}).status_code == 302
    with database.session_scope() as s:
        certs = s.scalars(select(Certificate).order_by(Certificate.id)).all()
        assert [(c.content_type, c.sha256) for c in certs] == [
            ("application/pdf", hashlib.sha256(factories.WHOLE_PDF).hexdigest()),
            ("image/png", hashlib.sha256(png).hexdigest())]
        pdf_id, png_id = certs[0].id, certs[1].id
        stored = tmp_path / "evidence" / certs[0].stored_name
    assert stored.read_bytes() == factories.WHOLE_PDF and "证书" not in str(stored)

    # Staff of the station see it inline, sandboxed, never sniffed; or download it.
    resp = client.get(f"/certificates/{pdf_id}")
    assert resp.status_code == 200 and resp.data == factories.WHOLE_PDF and resp.mimetype == "application/pdf"
    assert resp.headers["Content-Disposition"].startswith("inline")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Security-Policy"].endswith("; sandbox")
    assert resp.headers["Cache-Control"] == "private, no-store"
    resp = client.get(f"/certificates/{png_id}/download")
    assert resp.status_code == 200 and resp.headers["Content-Disposition"].startswith("attachment")
    page = client.get(f"/instruments/{inst_id}").get_data(as_text=True)
    assert f"/certificates/{pdf_id}" in page and "证书照片.png" in page
    # Ordinary pages are not sandboxed.
    assert "sandbox" not in client.get(f"/instruments/{inst_id}").headers["Content-Security-Policy"]

    # Another station's inspector: the same 404 as a certificate that does not exist; anonymous: to login.
    other = cert_app.test_client()
    login(other, "insp_b")
    for path in (f"/certificates/{pdf_id}", f"/certificates/{pdf_id}/download", f"/certificates/{pdf_id}/void",
                 url):
        assert other.get(path).status_code == 404, path
    assert cert_app.test_client().get(f"/certificates/{pdf_id}").status_code == 302

    # A wrong file is voided with a reason, stays listed and downloadable; a blank reason is refused.
    resp = client.post(f"/certificates/{png_id}/void", data={"reason": ""})
    assert resp.status_code == 200 and "请填写作废原因" in resp.get_data(as_text=True)
    assert client.post(f"/certificates/{png_id}/void", data={"reason": "传成了另一台秤的证书"}).status_code == 302
    page = client.get(f"/instruments/{inst_id}").get_data(as_text=True)
    assert "已作废：传成了另一台秤的证书" in page and client.get(f"/certificates/{png_id}").status_code == 200
    with database.session_scope() as s:
        voided = s.get(Certificate, png_id)
        assert voided.void_reason == "传成了另一台秤的证书" and voided.voided_by_id is not None

    # The public page shows the validity and the institution, never the file.
    with database.session_scope() as s:
        from app.instruments.models import Instrument

        token = public.ensure_public_token(s, None, s.get(Instrument, inst_id))
    anonymous = cert_app.test_client()
    html = anonymous.get(f"/public/i/{token}").get_data(as_text=True)
    assert "有效期至" in html and "县计量检定所" in html and "内部备注" not in html
    updated = today()
    assert f"台账信息更新于 {updated.year}年{updated.month}月{updated.day}日" in html
    assert "/certificates/" not in html and "证书照片" not in html and "证书.pdf" not in html


def test_certificate_on_the_verification_form_is_all_or_nothing(cert_app):
    client = cert_app.test_client()
    database = cert_app.extensions["database"]
    with database.session_scope() as s:
        world = factories.build_world(s)
        inst_id = world.instrument_a.id
    login(client, "insp_a")
    values = {"verified_on": "2025-06-01", "result": "pass", "valid_until": "2026-06-01", "institution": "县计量所",
              "certificate_no": "JD-2025-1", "body_id": "0"}
    resp = client.post(f"/instruments/{inst_id}/verifications/new",
                       data={**values, "certificate": (io.BytesIO(HTML), "证书.pdf")})
    assert resp.status_code == 200 and "只能是 PDF 文件" in resp.get_data(as_text=True)
    with database.session_scope() as s:
        assert s.scalars(select(Verification).where(Verification.certificate_no == "JD-2025-1")).first() is None
    resp = client.post(f"/instruments/{inst_id}/verifications/new",
                       data={**values, "certificate": (io.BytesIO(factories.WHOLE_PDF), "证书.pdf")})
    assert resp.status_code == 302
    with database.session_scope() as s:
        ver = s.scalars(select(Verification).where(Verification.certificate_no == "JD-2025-1")).one()
        assert [c.original_name for c in s.scalars(select(Certificate).where(Certificate.verification_id == ver.id))
                ] == ["证书.pdf"]


def test_certificates_are_never_replaced_or_deleted(session, world, tmp_path):
    ver = session.scalars(select(Verification).where(Verification.instrument_id == world.instrument_a.id)).one()
    cert = services.attach_certificate(session, None, ver, file_name="C:\\扫描\\..\\证书.pdf",
                                       data=factories.WHOLE_PDF, storage_dir=str(tmp_path), max_bytes=10_000)
    session.commit()
    assert cert.original_name == "证书.pdf" and ".." not in cert.stored_name
    cert.original_name = "别的.pdf"
    with pytest.raises(AppendOnlyViolation):
        session.flush()
    session.rollback()
    session.delete(cert)
    with pytest.raises(AppendOnlyViolation):
        session.flush()
    session.rollback()
    services.void_certificate(session, None, cert, "错误文件")
    with pytest.raises(Invalid):
        services.void_certificate(session, None, cert, "再作废一次")
