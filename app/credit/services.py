"""The credit rule and the set-based recomputation of every merchant's class (flush only)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.credit.models import CreditRule, CreditScore
from app.credit.queries import scored_merchants
from app.errors import Invalid, StaleEdit
from app.merchants.models import Merchant

RULE_FIELDS = list(CreditRule.__labels__)


def get_rule(session: Session) -> CreditRule:
    """The installation's saved rule, or (until an admin saves one) the default weights, not stored: reading
    writes nothing. A region's own rule: app/rollups/settings.py."""
    rule = session.scalars(select(CreditRule).where(CreditRule.region_id.is_(None))).first()
    if rule is None:
        rule = default_rule()
    return rule


def default_rule(region_id: int | None = None) -> CreditRule:
    """The default weights as an unsaved rule (of a region, or the installation's)."""
    return CreditRule(region_id=region_id, version=1, **{c.name: c.default.arg for c in CreditRule.__table__.columns
                                                         if c.name in RULE_FIELDS})


def update_rule(session: Session, actor, rule: CreditRule, *, expected_version: int, values: dict) -> list:
    """Change the weights and thresholds (logged); refused when stale or when thresholds are out of order."""
    if rule.version != expected_version:
        raise StaleEdit("信用分类规则")
    if not values["a_max"] < values["b_max"] < values["c_max"]:
        raise Invalid("分类阈值须满足 A 类最高分 < B 类最高分 < C 类最高分", field="b_max")
    changes = audit.apply_changes(rule, {k: values[k] for k in RULE_FIELDS})
    if changes:
        session.add(rule)  # the first save stores the default rule with its changes
        session.flush()
        audit.record(session, actor, "update", rule, changes)
    return changes


def drop_region_rule(session: Session, actor, region_id: int, region_name: str) -> bool:
    """Delete a region's own rule (logged); False when it had none."""
    rule = session.scalars(select(CreditRule).where(CreditRule.region_id == region_id)).first()
    if rule is None:
        return False
    session.delete(rule)
    session.flush()
    audit.record(session, actor, "delete", None, [], entity_type="credit_rules",
                 entity_label=f"信用分类规则（{region_name}）")
    return True


def recompute(session: Session, today: dt.date, now: dt.datetime) -> dict[str, int]:
    """Score every merchant with one INSERT ... SELECT per rule in force (the installation's, and each region's
    own for the stations it reaches) and set its class in one UPDATE; counts by class and changed."""
    from app.rollups.settings import rule_groups

    groups = rule_groups(session)
    session.execute(delete(CreditScore))
    columns = ["merchant_id", "severe", "major", "minor", "overdue", "failed", "complaints", "pledged", "model_unit",
               "repeat_offender", "score",
               "credit_class", "computed_at"]
    elsewhere = sorted(s for _, ids in groups if ids for s in ids)
    for rule, station_ids in groups:
        rows = scored_merchants(rule, today, now)
        # The installation's rule scores every merchant no region rule reaches.
        rows = rows.where(Merchant.station_id.in_(station_ids)) if station_ids is not None else (
            rows.where(Merchant.station_id.not_in(elsewhere)) if elsewhere else rows)
        session.execute(insert(CreditScore).from_select(columns, rows))
    new_class = (select(CreditScore.credit_class).where(CreditScore.merchant_id == Merchant.id).scalar_subquery())
    changed = session.scalar(select(func.count()).select_from(Merchant)
                             .where(Merchant.credit_class.is_distinct_from(new_class)))
    session.execute(update(Merchant).values(credit_class=new_class).execution_options(synchronize_session=False))
    session.expire_all()
    counts = dict(session.execute(select(CreditScore.credit_class, func.count())
                                  .group_by(CreditScore.credit_class)).all())
    session.flush()
    return {"merchants": sum(counts.values()), "changed": changed or 0, **{k: counts.get(k, 0) for k in "ABCD"}}
