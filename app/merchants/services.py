"""Registering and editing merchants (services flush, never commit)."""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.counts.services import counts_changed
from app.errors import Duplicate, Invalid, NotFound, StaleEdit
from app.instruments.models import Instrument
from app.merchants import credit_code as cc
from app.merchants.models import Industry, Merchant
from app.scope import Scope
from app.text import as_typed, identifier, match_key
from app.webhooks import capture as webhooks

FIELDS = ["name", "credit_code", "industry", "address", "contact", "phone", "station_id", "parent_id", "notes"]


def normalise_values(values: dict) -> dict:
    """Clean text fields and the credit code; '' credit code becomes None."""
    out = dict(values)
    for key in ("name", "address", "contact", "notes"):
        if key in out:
            out[key] = as_typed(out[key])
    if "phone" in out:
        out["phone"] = identifier(out["phone"])
    if "credit_code" in out:
        code = cc.normalise(out["credit_code"])
        out["credit_code"] = code or None
    if "industry" in out and not isinstance(out["industry"], Industry):
        out["industry"] = Industry(out["industry"])
    return out


def _validate(session: Session, scope: Scope, values: dict, merchant: Merchant | None) -> None:
    if not values.get("name"):
        raise Invalid("请填写使用单位名称", field="name")
    if not scope.allows(values.get("station_id")):
        raise Invalid("只能在您负责的监管所登记使用单位", field="station_id")
    code = values.get("credit_code")
    if code:
        why = cc.problem(code)
        if why:
            raise Invalid(why, field="credit_code")
        stmt = select(Merchant).where(Merchant.credit_code == code)
        if merchant is not None:
            stmt = stmt.where(Merchant.id != merchant.id)
        existing = session.scalars(stmt).first()
        if existing is not None:
            raise Duplicate(
                f"统一社会信用代码 {code} 已登记为“{existing.name}”（{existing.station.name}），不能重复登记",
                field="credit_code", link=f"/merchants/{existing.id}", link_text=existing.name,
            )
    parent_id = values.get("parent_id")
    if parent_id:
        parent = session.get(Merchant, parent_id)
        if parent is None or (merchant is not None and parent.id == merchant.id):
            raise Invalid("所属市场无效", field="parent_id")
        if parent.industry != Industry.MARKET_ORGANISER:
            raise Invalid("所属市场必须是行业为“集贸市场主办者”的使用单位", field="parent_id")


def create_merchant(session: Session, actor, scope: Scope, values: dict) -> Merchant:
    """Register a merchant after checking its credit code and station."""
    values = normalise_values(values)
    _validate(session, scope, values, None)
    merchant = Merchant(**{k: values.get(k) for k in FIELDS if k in values})
    merchant.name_key = match_key(merchant.name)
    session.add(merchant)
    session.flush()
    audit.record(session, actor, "create", merchant, audit.snapshot(merchant, [
        "name", "credit_code", "industry", "address", "contact", "phone", "station", "parent", "notes"]))
    return merchant


def update_merchant(session: Session, actor, scope: Scope, merchant: Merchant, *, expected_version: int,
                    values: dict) -> list[dict]:
    """Save an edit unless someone else saved first; moves the merchant's instruments with it."""
    if merchant.version != expected_version:
        raise StaleEdit("该使用单位")
    values = normalise_values(values)
    _validate(session, scope, values, merchant)
    old_station, old_parent = merchant.station, merchant.parent
    changes = audit.apply_changes(merchant, {k: values[k] for k in FIELDS if k in values})
    if not changes:
        return []
    merchant.name_key = match_key(merchant.name)
    session.flush()
    session.refresh(merchant, ["station", "parent"])
    changes = _named_relations(changes, {"station_id": (old_station, merchant.station),
                                         "parent_id": (old_parent, merchant.parent)})
    if any(c["field"] == "station_id" for c in changes):
        session.execute(update(Instrument).where(Instrument.merchant_id == merchant.id)
                        .values(station_id=merchant.station_id).execution_options(synchronize_session=False))
        counts_changed(session, [old_station.id if old_station else None, merchant.station_id])
        if webhooks.wanted(session):
            moved = session.scalars(select(Instrument.id).where(Instrument.merchant_id == merchant.id)).all()
            webhooks.capture(session, webhooks.INSTRUMENT, "instrument.updated", moved)
    audit.record(session, actor, "update", merchant, changes)
    return changes


def _named_relations(changes: list[dict], pairs: dict) -> list[dict]:
    """Replace foreign-key ids in change rows by the related records' names."""
    for row in changes:
        if row["field"] in pairs:
            old, new = pairs[row["field"]]
            row["old"], row["new"] = audit.display(old), audit.display(new)
    return changes


def get_merchant(session: Session, scope: Scope, merchant_id: int) -> Merchant:
    """A merchant inside the scope, else NotFound."""
    merchant = session.get(Merchant, merchant_id)
    if merchant is None or not scope.allows(merchant.station_id):
        raise NotFound("使用单位不存在")
    return merchant
