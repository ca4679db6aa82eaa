"""Catalogue seeding and edits (services flush, never commit)."""
from __future__ import annotations

import csv
import re
from pathlib import Path

from sqlalchemy import func, select
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


CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
# Separators admins type between aliases: new lines, Chinese and Western commas and enumeration commas.
ALIAS_SEPARATORS = re.compile(r"[\n\r,，、;；]+")
NEW_KIND_FIELDS = ("name_zh", "rule", "cycle_months", "service_life_years", "lead_days", "regulation",
                   "regulation_title", "category", "subcategory", "catalogue_item", "management", "confirmed", "note")


def _check_rule(rule: VerificationRule, values: dict) -> None:
    if rule == VerificationRule.PERIODIC and not values.get("cycle_months"):
        raise Invalid("周期检定的器具种类必须填写检定周期（月）", field="cycle_months")
    if rule == VerificationRule.SERVICE_LIFE and not values.get("service_life_years"):
        raise Invalid("到期轮换的器具种类必须填写使用年限（年）", field="service_life_years")


def _name_taken(session: Session, name: str, exclude_id: int | None = None) -> str | None:
    """The kind whose name or alias reads as `name` (the import could not tell them apart), else None."""
    key = kind_key(name)
    for itype in session.scalars(select(InstrumentType)):
        if itype.id != exclude_id and kind_key(itype.name_zh) == key:
            return f"已有名为“{itype.name_zh}”的器具种类"
    alias = session.scalars(select(InstrumentTypeAlias).where(InstrumentTypeAlias.alias_key == key)).first()
    if alias is not None and alias.type_id != exclude_id:
        return f"“{name}”已是器具种类“{alias.instrument_type.name_zh}”的别名（{alias.alias}）"
    return None


def split_aliases(text: str) -> list[str]:
    """The aliases typed into one box, one per line or separated by commas, each as typed; blanks dropped."""
    return [part.strip() for part in ALIAS_SEPARATORS.split(text or "") if part.strip()]


def create_instrument_type(session: Session, actor, values: dict, aliases: list[str] | None = None) -> InstrumentType:
    """Add a kind to the catalogue (with its aliases); a code is made up when the admin gives none."""
    name = as_typed(values.get("name_zh") or "").strip()
    if not kind_key(name):
        raise Invalid("请填写器具种类名称", field="name_zh")
    if len(name) > 60:
        raise Invalid("器具种类名称不能超过60个字", field="name_zh")
    problem = _name_taken(session, name)
    if problem:
        raise Invalid(problem, field="name_zh")
    code = (values.get("code") or "").strip().lower()
    if code and not CODE.match(code):
        raise Invalid("代码应为2至40位小写英文字母、数字或下划线，以字母开头（可不填，由系统生成）", field="code")
    if code and session.scalar(select(InstrumentType.id).where(InstrumentType.code == code)) is not None:
        raise Invalid(f"代码“{code}”已被其他器具种类使用", field="code")
    rule = VerificationRule(values.get("rule") or VerificationRule.PERIODIC.value)
    _check_rule(rule, values)
    fields = {k: values[k] for k in NEW_KIND_FIELDS if values.get(k) is not None and k not in ("name_zh", "rule")}
    for k in ("category", "subcategory", "catalogue_item", "management", "regulation", "regulation_title", "note"):
        fields[k] = as_typed(fields.get(k) or "")
    fields["confirmed"] = Confirmation(fields.get("confirmed") or Confirmation.NO.value)
    if rule == VerificationRule.PERIODIC:
        fields["service_life_years"] = None
    else:
        fields["cycle_months"] = None
    last = session.scalar(select(func.max(InstrumentType.sort_order))) or 0
    itype = InstrumentType(code=code or _free_code(session), name_zh=name, rule=rule, sort_order=last + 1,
                           lead_days=fields.pop("lead_days", None) or 30, **fields)
    session.add(itype)
    session.flush()
    audit.record(session, actor, "create", itype, audit.snapshot(itype, [
        "name_zh", "rule", "cycle_months", "service_life_years", "regulation", "regulation_title", "category",
        "subcategory", "lead_days", "note"]), note=f"新增器具种类（代码 {itype.code}，{itype.confirmed.label}）")
    for alias in aliases or []:
        add_alias(session, actor, itype, alias)
    return itype


def _free_code(session: Session) -> str:
    """A code no kind has: kind_<n>, n one past the highest id (admins rarely care about codes)."""
    n = (session.scalar(select(func.max(InstrumentType.id))) or 0) + 1
    taken = set(session.scalars(select(InstrumentType.code)))
    while f"kind_{n}" in taken:
        n += 1
    return f"kind_{n}"


def set_instrument_type_active(session: Session, actor, itype: InstrumentType, active: bool,
                               reason: str = "") -> bool:
    """Retire a kind (no new instruments of it; those registered keep their dates and alerts) or bring it back.
    Returns whether anything changed."""
    reason = (reason or "").strip()
    if not active and not reason:
        raise Invalid("请填写停用原因", field="reason")
    if len(reason) > 200:
        raise Invalid("停用原因不能超过200个字", field="reason")
    if itype.is_active == active:
        return False
    changes = audit.apply_changes(itype, {"is_active": active})
    session.flush()
    if active:
        note = "恢复启用：可再登记该种类的器具"
    else:
        note = f"停用：{reason}。不能再登记该种类的新器具，已登记的器具照常管理"
    audit.record(session, actor, "retire" if not active else "restore", itype, changes, note=note)
    return True


def update_instrument_type(session: Session, actor, itype: InstrumentType, *, expected_version: int,
                           values: dict, recompute: bool) -> tuple[list[dict], int]:
    """Edit a kind's rule, cycle or life; optionally recompute existing due dates. Returns (changes, recomputed)."""
    if itype.version != expected_version:
        raise StaleEdit("该器具种类")
    rule = VerificationRule(values.get("rule", itype.rule))
    _check_rule(rule, values)
    if "name_zh" in values:
        values["name_zh"] = as_typed(values["name_zh"] or "").strip()
        if not kind_key(values["name_zh"]):
            raise Invalid("请填写器具种类名称", field="name_zh")
        problem = _name_taken(session, values["name_zh"], exclude_id=itype.id)
        if problem:
            raise Invalid(problem, field="name_zh")
    if "confirmed" in values:
        values["confirmed"] = Confirmation(values["confirmed"] or Confirmation.NO.value)
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
