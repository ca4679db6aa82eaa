"""Attaching, finding and voiding verification certificate files (flush, never commit; no Flask).

A certificate is evidence like an inspection's photos: its type is read from its content (a renamed .exe or
HTML page is refused whatever its name says), a PDF must look whole, an image must decode (in the sandbox's
child process), an iPhone's HEIC photo is kept as the JPEG it converts to, the bytes are kept outside the web
root under a generated name with their SHA-256, and a file is never replaced or deleted, only voided.
"""
from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import images, uploads
from app.audit import services as audit
from app.certificates.models import Certificate
from app.errors import Invalid, NotFound
from app.instruments.models import Instrument, Verification
from app.scope import Scope
from app.text import as_typed
from app.voiding.services import void_record

EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}
# A PDF names its version right after the magic, and its last 1 KB holds startxref and %%EOF (the window
# PDF readers themselves allow for trailing bytes).
PDF_HEADER = re.compile(rb"%PDF-[12]\.\d")
PDF_TAIL = 1024
UNKNOWN = "文件“{name}”无法识别：检定证书只能是 PDF 文件或 JPEG、PNG、HEIC 图片（按文件内容识别，不看扩展名）"
BROKEN_PDF = "PDF 文件“{name}”不完整或已损坏（缺少文件头或结尾标记），未保存。请重新导出或扫描后上传。"


def file_name_of(file_name: str) -> str:
    """The upload's own name without any folder, as typed (at most 200 characters)."""
    return as_typed(os.path.basename((file_name or "").replace("\\", "/")))[:200] or "未命名"


def check_pdf(data: bytes, name: str) -> None:
    """Refuse a file that starts like a PDF but is not a whole one (Invalid in Chinese); no PDF parser runs on the
    server: the reader's browser shows it, sandboxed."""
    tail = data[-PDF_TAIL:]
    if not PDF_HEADER.match(data) or b"%%EOF" not in tail or b"startxref" not in data[-PDF_TAIL - 64:]:
        raise Invalid(BROKEN_PDF.format(name=name), field="file")


def attach_certificate(session: Session, actor, ver: Verification, *, file_name: str, data: bytes,
                       storage_dir: str, max_bytes: int,
                       photo_limits: images.ImageLimits | None = None) -> Certificate:
    """Check a certificate file by its content and keep it with the verification; refused on a voided record."""
    name = file_name_of(file_name)
    if ver.is_voided:
        raise Invalid("该检定记录已作废，不能附加证书", field="file")
    if not data:
        raise Invalid("请选择证书文件", field="file")
    if len(data) > max_bytes:
        raise Invalid(f"文件过大：“{name}”超过了 {max_bytes // (1024 * 1024)} MB 的上限", field="file")
    content_type = uploads.sniff(data, heif=True)
    if content_type is None:
        raise Invalid(UNKNOWN.format(name=name), field="file")
    limits = photo_limits or images.ImageLimits()
    changes = [audit.change_row("certificate", "检定证书", None, name)]
    if content_type == "application/pdf":
        check_pdf(data, name)
    elif content_type == uploads.HEIC:
        changes.append(audit.change_row("original", "原始 HEIC 照片 SHA-256", None, hashlib.sha256(data).hexdigest()))
        data, content_type = images.heif_to_jpeg(data, name, limits), "image/jpeg"
    else:
        images.verify_image(data, name, limits)
    instrument = session.get(Instrument, ver.instrument_id)
    stored = f"certificates/{ver.verified_on:%Y/%m}/{uuid.uuid4().hex}{EXTENSIONS[content_type]}"
    digest = hashlib.sha256(data).hexdigest()
    uploads.keep(storage_dir, stored, data, sha256=digest, session=session)
    cert = Certificate(verification_id=ver.id, station_id=instrument.station_id, original_name=name,
                       stored_name=stored, content_type=content_type, size=len(data), sha256=digest,
                       created_by_id=getattr(actor, "id", None))
    session.add(cert)
    session.flush()
    changes.append(audit.change_row("sha256", "证书文件 SHA-256", None, digest))
    # Logged on the verification, so the instrument page's history shows it.
    audit.record(session, actor, "certificate", ver, changes,
                 entity_label=f"{instrument} {ver.verified_on:%Y-%m-%d} 检定记录")
    return cert


def get_certificate(session: Session, scope: Scope, certificate_id: int) -> Certificate:
    """A certificate of an instrument inside the scope, else NotFound (another station's is not there)."""
    cert = session.get(Certificate, certificate_id)
    if cert is None or not scope.allows(cert.station_id):
        raise NotFound("检定证书不存在")
    return cert


def certificate_path(storage_dir: str, cert: Certificate) -> Path:
    """Where the certificate's bytes are kept, while they are still those uploaded; else NotFound."""
    return uploads.kept_file(storage_dir, cert.stored_name, cert.size, cert.sha256, "检定证书文件")


def certificates_of(session: Session, verification_ids: list[int]) -> dict[int, list[Certificate]]:
    """The certificates (voided ones too) of these verifications, oldest first, by verification id."""
    found: dict[int, list[Certificate]] = {}
    if verification_ids:
        stmt = (select(Certificate).where(Certificate.verification_id.in_(verification_ids))
                .order_by(Certificate.verification_id, Certificate.id))
        for cert in session.scalars(stmt):
            found.setdefault(cert.verification_id, []).append(cert)
    return found


def void_certificate(session: Session, actor, cert: Certificate, reason: str) -> list[dict]:
    """Void a wrong certificate file with a reason; it stays listed (struck through) and downloadable."""
    return void_record(session, actor, cert, reason, what="检定证书", entity_label=str(cert))
