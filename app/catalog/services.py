"""Catalogue seeding and edits (services flush, never commit)."""
from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.catalog.models import Confirmation, FindingCode, InstrumentType, InstrumentTypeAlias, Severity, VerificationRule
from app.text import as_typed
from app.errors import Invalid, NotFound, StaleEdit
from importers.kinds import kind_key

SEED_DIR = Path(__file__).with_name("seed")


def get_instrument_type(session: Session, type_id: int) -> InstrumentType:
    """An instrument kind, else NotFound."""
    itype = session.get(InstrumentType, type_id)
    if itype is None:
        raise NotFound("器具种类不存在")
    return itype


def _int_or_none(text: str) -> int | None:
    return int(text) if text and text.strip() else None


def _read(name: str) -> list[dict[str, str]]:
    with open(SEED_DIR / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def seed_catalogue(session: Session) -> dict[str, int]:
    """Insert missing instrument kinds and finding codes; existing rows are left as admins edited them."""
    added = {"instrument_types": 0, "finding_codes": 0, "aliases": 0}
    have = set(session.scalars(select(InstrumentType.code)))
    for order, row in enumerate(_read("instrument_types.csv")):
        if row["code"] in have:
            continue
        session.add(InstrumentType(
            code=row["code"], name_zh=row["name_zh"], name_en=row["name_en"],
            catalogue_item=row["catalogue_item"], category=row["category"], subcategory=row["subcategory"],
            management=row["management"],
            regulation=row["regulation"], regulation_title=row["regulation_title"],
            rule=VerificationRule(row["rule"]), cycle_months=_int_or_none(row["cycle_months"]),
            service_life_years=_int_or_none(row["service_life_years"]),
            confirmed=Confirmation(row["confirmed"]), note=row["note"], sort_order=order, lead_days=30,
        ))
        added["instrument_types"] += 1
    have = set(session.scalars(select(FindingCode.code)))
    for row in _read("finding_codes.csv"):
        if row["code"] in have:
            continue
        session.add(FindingCode(
            code=row["code"], name_zh=row["name_zh"], name_en=row["name_en"],
            legal_basis=row["legal_basis"], typical_measure=row["typical_measure"],
            severity=Severity(row["severity"]),
        ))
        added["finding_codes"] += 1
    session.flush()
    added["aliases"] = _seed_aliases(session)
    if any(added.values()):
        note = (f"导入种子数据：器具种类 {added['instrument_types']} 项，问题代码 {added['finding_codes']} 项，"
                f"器具种类别名 {added['aliases']} 项")
        audit.record(session, None, "seed", entity_type="catalogue", entity_label="器具目录", note=note)
    return added


def _seed_aliases(session: Session) -> int:
    """Give each kind that has no aliases yet the shipped ones (a kind whose aliases an admin edited keeps
    them as edited); a spelling another kind already has is left out. Returns how many were added."""
    types = {t.code: t for t in session.scalars(select(InstrumentType))}
    with_aliases = set(session.scalars(select(InstrumentTypeAlias.type_id).distinct()))
    taken = set(session.scalars(select(InstrumentTypeAlias.alias_key)))
    added = 0
    for row in _read("instrument_type_aliases.csv"):
        itype = types.get(row["code"])
        key = kind_key(row["alias"])
        if itype is None or itype.id in with_aliases or not key or key in taken:
            continue
        session.add(InstrumentTypeAlias(type_id=itype.id, alias=row["alias"], alias_key=key))
        taken.add(key)
        added += 1
    session.flush()
    return added


def add_alias(session: Session, actor, itype: InstrumentType, alias: str) -> InstrumentTypeAlias:
    """Another spelling of a kind for the import; one spelling names one kind."""
    text = alias.strip()
    key = kind_key(text)
    if not key:
        raise Invalid("请填写别名", field="alias")
    if len(text) > 60:
        raise Invalid("别名不能超过60个字", field="alias")
    if key in {kind_key(t.name_zh) for t in session.scalars(select(InstrumentType))} | {kind_key(itype.code)}:
        raise Invalid(f"“{text}”已是器具种类的名称", field="alias")
    existing = session.scalars(select(InstrumentTypeAlias).where(InstrumentTypeAlias.alias_key == key)).first()
    if existing is not None:
        owner = "本种类" if existing.type_id == itype.id else f"“{existing.instrument_type.name_zh}”"
        raise Invalid(f"“{text}”已是{owner}的别名（{existing.alias}）", field="alias")
    row = InstrumentTypeAlias(type_id=itype.id, alias=text, alias_key=key)
    session.add(row)
    session.flush()
    audit.record(session, actor, "create", row, entity_label=f"{itype.name_zh}：{text}",
                 note=f"为器具种类“{itype.name_zh}”添加别名“{text}”，导入台账时按此识别")
    return row


def remove_alias(session: Session, actor, itype: InstrumentType, alias_id: int) -> None:
    """Stop recognising a spelling; imports already made are not changed."""
    row = session.get(InstrumentTypeAlias, alias_id)
    if row is None or row.type_id != itype.id:
        raise NotFound("该别名不存在")
    audit.record(session, actor, "delete", row, entity_label=f"{itype.name_zh}：{row.alias}",
                 note=f"删除器具种类“{itype.name_zh}”的别名“{row.alias}”")
    session.delete(row)
    session.flush()


def update_instrument_type(session: Session, actor, itype: InstrumentType, *, expected_version: int,
                           values: dict, recompute: bool) -> tuple[list[dict], int]:
    """Edit a kind's rule, cycle or life; optionally recompute existing due dates. Returns (changes, recomputed)."""
    if itype.version != expected_version:
        raise StaleEdit("该器具种类")
    rule = VerificationRule(values.get("rule", itype.rule))
    if rule == VerificationRule.PERIODIC and not values.get("cycle_months"):
        raise Invalid("周期检定的器具种类必须填写检定周期（月）", field="cycle_months")
    if rule == VerificationRule.SERVICE_LIFE and not values.get("service_life_years"):
        raise Invalid("到期轮换的器具种类必须填写使用年限（年）", field="service_life_years")
    values = {k: (as_typed(v or "") if k in ("category", "subcategory") else v) for k, v in values.items()}
    changes = audit.apply_changes(itype, values)
    recomputed = 0
    if changes:
        session.flush()
        if recompute:
            from app.instruments.services import recompute_kind

            recomputed = recompute_kind(session, itype)
        note = f"已重新计算该种类 {recomputed} 台器具的到期日期" if recompute else "未重新计算已登记器具的到期日期"
        audit.record(session, actor, "update", itype, changes, note=note)
    return changes, recomputed
