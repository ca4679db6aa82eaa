"""Certificate files (检定证书) of verifications: a PDF or image kept on disk like inspection evidence (no Flask)."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.db import Base, TimestampMixin
from app.instruments.models import Verification
from app.voiding.models import Voidable

CERTIFICATE_TYPE_LABELS = {"image/jpeg": "JPEG 图片", "image/png": "PNG 图片", "application/pdf": "PDF 文件"}


class Certificate(Voidable, TimestampMixin, Base):
    """The certificate file of one verification; evidence: never replaced or deleted, a wrong file is voided
    with a reason and a new one attached."""

    __tablename__ = "verification_certificates"
    __table_args__ = (Index("ix_verification_certificates_verification_id", "verification_id", "id"),)
    __labels__ = {"original_name": "文件名", "sha256": "SHA-256", "voided_at": "作废时间", "void_reason": "作废原因"}

    id: Mapped[int] = mapped_column(primary_key=True)
    verification_id: Mapped[int] = mapped_column(ForeignKey("verifications.id"))
    # Copied from the instrument, so the scope check needs no join (as evidence files do).
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    original_name: Mapped[str] = mapped_column(String(200))
    # Relative to the evidence storage directory; a generated name, never the user's.
    stored_name: Mapped[str] = mapped_column(String(120), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    verification: Mapped[Verification] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    @property
    def type_label(self) -> str:
        """The kind of file in words."""
        return CERTIFICATE_TYPE_LABELS.get(self.content_type, "文件")

    def __str__(self) -> str:
        return f"检定证书 {self.original_name}"
