"""Verification bodies (检定机构): the institutions whose results the ledger records."""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, VersionedMixin


class VerificationBody(VersionedMixin, Base):
    """A verification institution, the instrument kinds it is authorised for, and whom to call there."""

    __tablename__ = "verification_bodies"
    __labels__ = {
        "name": "机构名称",
        "code": "机构代码",
        "type_ids": "授权检定的器具种类",
        "contact_person": "联系人",
        "contact_phone": "联系电话",
        "is_active": "启用",
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # match_key(name): one body per name however it is spelled; verifications' free text is matched on it.
    name_key: Mapped[str] = mapped_column(String(120), unique=True)
    # NULL when not given (NULLs never collide in the unique constraint).
    code: Mapped[str | None] = mapped_column(String(40), unique=True)
    # Catalogue kind ids, as Campaign.type_ids: a short list read whole with the body, never queried by kind.
    type_ids: Mapped[list] = mapped_column(JSON, default=list)
    contact_person: Mapped[str] = mapped_column(String(50), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    def authorises(self, type_id: int) -> bool:
        """Whether the body is registered as authorised for this instrument kind."""
        return type_id in (self.type_ids or [])

    def __str__(self) -> str:
        return self.name
