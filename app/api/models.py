"""API tokens: who may call /api/v1, over which stations or for which verification body (no Flask)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Station, User
from app.bodies.models import VerificationBody
from app.db import Base, LabeledEnum, UTCDateTime, VersionedMixin, enum_column, one_of, positive, utcnow
from app.merchants.models import Merchant


class TokenScope(LabeledEnum):
    """What a token may do: read its stations, read and write them, or submit one body's results."""

    READ = "read"
    WRITE = "write"
    INSTITUTION = "institution"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        # LabeledEnum reads `_labels` by stored value (the skeleton named it `labels`, so .label raised).
        return {"read": "只读（所选站点）", "write": "读写（所选站点）", "institution": "检定机构报送结果"}


api_token_stations = Table(
    "api_token_stations",
    Base.metadata,
    Column("token_id", ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True),
    Column("station_id", ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True),
)


class ApiToken(VersionedMixin, Base):
    """A bearer token for /api/v1. Only the SHA-256 of the secret is stored; the secret is shown once."""

    __tablename__ = "api_tokens"
    __labels__ = {
        "name": "令牌名称",
        "scope": "权限",
        "stations": "站点",
        "body_id": "检定机构",
        "merchant_id": "限定单位",
        "expires_at": "有效期至",
        "revoked_at": "吊销时间",
        "last_used_at": "最近使用",
        "rate_per_minute": "每分钟请求上限",
    }
    __table_args__ = (one_of("scope", TokenScope), positive("rate_per_minute"))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    # First characters of the secret, shown in lists so a person can tell tokens apart; not enough to use one.
    prefix: Mapped[str] = mapped_column(String(12))
    # hex SHA-256 of the whole secret: a token is looked up by it, the secret itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[TokenScope] = mapped_column(enum_column(TokenScope))
    # INSTITUTION tokens: the body whose results they submit (NULL for station tokens).
    body_id: Mapped[int | None] = mapped_column(ForeignKey("verification_bodies.id"), index=True)
    # WRITE tokens of a utility company: the one merchant whose instruments (household meters) it registers.
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    rate_per_minute: Mapped[int] = mapped_column(Integer, default=600)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    stations: Mapped[list[Station]] = relationship(secondary=api_token_stations, order_by=Station.code,
                                                   lazy="selectin")
    body: Mapped[VerificationBody | None] = relationship()
    merchant: Mapped[Merchant | None] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])

    def is_usable(self, now: dt.datetime) -> bool:
        """Neither revoked nor expired at `now`."""
        return self.revoked_at is None and self.expires_at > now

    def __str__(self) -> str:
        return self.name


class IdempotentRequest(Base):
    """A write request answered under an Idempotency-Key: the same key from the same token gets the same answer.

    Written in the same transaction as the write itself, so a key is stored exactly when its changes are; a
    second request with the key replays `status` and `body` (the request's SHA-256 must match, else 422).
    Any write endpoint reuses it through app/api/idempotency.py (`operation` tells them apart).
    """

    __tablename__ = "api_idempotent_requests"
    __table_args__ = (UniqueConstraint("token_id", "key", name="uq_api_idempotent_requests_token_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    # e.g. "POST /api/v1/instruments": a key reused on another operation is refused, not replayed.
    operation: Mapped[str] = mapped_column(String(80))
    # hex SHA-256 of the request body: the same key with another body is a client error, never a replay.
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
