"""What the API reads: one named select per kind of record, scoped, filtered and walked by keyset (no Flask).

Every list is ordered by (updated_at, id) and continued after the last row of the previous page (a keyset,
never an offset), over an index on exactly those columns (migration 0029):

- a row that does not change during the walk is returned exactly once: the walk only moves forward over a
  fixed order, and rows are never deleted from under it (evidence is voided, not deleted);
- a row that changes during the walk gets a later updated_at, so it moves ahead of the cursor and is returned
  (again, with its new values) later in the same walk: a change is never skipped, and a client that stores
  rows by id keeps the newest;
- each page reads at most limit + 1 index entries past the cursor (plus those of other stations it skips), so a
  page costs the same at row 1 and at row 1,000,000.

The selects name the columns the answer shows (app/api/schemas.py), not whole ORM rows: a page of 1,000
instruments then skips the eager joins and long columns (search_text) of the ledger pages' loads.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import Select, exists, select, tuple_

from app.alerts.models import Alert
from app.api import schemas
from app.catalog.models import InstrumentType
from app.errors import Invalid
from app.inspections.models import Finding, Inspection, Rectification
from app.instruments.models import Instrument, Verification
from app.merchants.models import Merchant
from app.scope import Scope

BAD_CURSOR = "游标无效：请使用上一页响应中的 next_cursor 原样传回，或不带游标从第一页开始。"


@dataclass(frozen=True)
class Cursor:
    """Where a walk stands: after the row with this (updated_at, id)."""

    updated_at: dt.datetime
    id: int

    def encode(self) -> str:
        """Opaque to clients: URL-safe base64 of a small JSON array."""
        raw = json.dumps([self.updated_at.isoformat(), self.id], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> "Cursor":
        """The cursor a page gave; Invalid (400) for anything else."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            at, row_id = json.loads(raw)
            when = dt.datetime.fromisoformat(at)
            if when.tzinfo is None or not isinstance(row_id, int) or not 0 < row_id < 2 ** 31:
                raise ValueError(text)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise Invalid(BAD_CURSOR, field="cursor") from None
        return cls(when.astimezone(dt.timezone.utc), row_id)


def keyset(stmt: Select, model, cursor: Cursor | None, limit: int, updated_since: dt.datetime | None) -> Select:
    """The page after `cursor` in (updated_at, id) order, one row more than `limit` (to know if more follow)."""
    if updated_since is not None:
        stmt = stmt.where(model.updated_at >= updated_since)
    if cursor is not None:
        stmt = stmt.where(tuple_(model.updated_at, model.id) > tuple_(cursor.updated_at, cursor.id))
    return stmt.order_by(model.updated_at, model.id).limit(limit + 1)


def answer_columns(model, schema) -> list:
    """The model's columns the schema shows (by name), plus voided_at for `voided`."""
    names = set(schema._declared_fields) | ({"voided_at"} if "voided" in schema._declared_fields else set())
    return [column for name, column in model.__table__.c.items() if name in names]


def _station(stmt: Select, scope: Scope, column, station_id: int | None) -> Select:
    stmt = scope.apply(stmt, column)
    return stmt if station_id is None else stmt.where(column == station_id)


def merchants(scope: Scope, station_id: int | None = None) -> Select:
    """Merchants of the scope's stations."""
    return _station(select(*answer_columns(Merchant, schemas.MerchantOut)), scope, Merchant.station_id, station_id)


def instruments(scope: Scope, *, station_id: int | None = None, type_id: int | None = None,
                merchant_id: int | None = None, status: str | None = None, due_after: dt.date | None = None,
                due_before: dt.date | None = None, body_id: int | None = None) -> Select:
    """Instruments of the scope's stations, filtered; with `body_id`, only those that body has verified."""
    # No join to the kinds (their names come from `type_names`): with a join, PostgreSQL right after a large
    # change (statistics not yet updated) hash-joined and sorted every changed row instead of walking the index.
    stmt = _station(select(*answer_columns(Instrument, schemas.InstrumentOut)), scope, Instrument.station_id,
                    station_id)
    if body_id is not None:
        stmt = stmt.where(exists().where(Verification.instrument_id == Instrument.id,
                                         Verification.body_id == body_id))
    if type_id is not None:
        stmt = stmt.where(Instrument.type_id == type_id)
    if merchant_id is not None:
        stmt = stmt.where(Instrument.merchant_id == merchant_id)
    if status is not None:
        stmt = stmt.where(Instrument.status == status)
    if due_after is not None:
        stmt = stmt.where(Instrument.next_due_on >= due_after)
    if due_before is not None:
        stmt = stmt.where(Instrument.next_due_on <= due_before)
    return stmt


def type_names() -> Select:
    """(id, Chinese name) of every instrument kind: a few dozen rows, read once a page."""
    return select(InstrumentType.id, InstrumentType.name_zh)


def verifications(scope: Scope, *, station_id: int | None = None, instrument_id: int | None = None,
                  body_id: int | None = None) -> Select:
    """Verification records (voided ones too, marked) of instruments in the scope, or those of one body."""
    stmt = select(*answer_columns(Verification, schemas.VerificationOut))
    if body_id is not None:
        stmt = stmt.where(Verification.body_id == body_id)
    if not scope.is_all or station_id is not None:
        stmt = _station(stmt.join(Instrument, Instrument.id == Verification.instrument_id), scope,
                        Instrument.station_id, station_id)
    if instrument_id is not None:
        stmt = stmt.where(Verification.instrument_id == instrument_id)
    return stmt


def inspections(scope: Scope, station_id: int | None = None) -> Select:
    """Inspections of the scope's stations."""
    return _station(select(*answer_columns(Inspection, schemas.InspectionOut)), scope, Inspection.station_id,
                    station_id)


def findings(scope: Scope, station_id: int | None = None) -> Select:
    """Findings (voided ones too, marked) of inspections in the scope's stations."""
    stmt = select(*answer_columns(Finding, schemas.FindingOut)).join(Inspection, Inspection.id == Finding.inspection_id)
    return _station(stmt, scope, Inspection.station_id, station_id)


def rectifications(scope: Scope, station_id: int | None = None) -> Select:
    """Rectification orders of the scope's stations."""
    return _station(select(*answer_columns(Rectification, schemas.RectificationOut)), scope,
                    Rectification.station_id, station_id)


def alerts(scope: Scope, station_id: int | None = None) -> Select:
    """Alerts of the scope's stations."""
    return _station(select(*answer_columns(Alert, schemas.AlertOut)), scope, Alert.station_id, station_id)
