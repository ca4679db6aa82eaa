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
    """The saved rule, or (until an admin saves one) the default weights, not stored: reading writes nothing."""
    rule = session.get(CreditRule, 1)
    if rule is None:
        rule = CreditRule(id=1, version=1, **{c.name: c.default.arg for c in CreditRule.__table__.columns
                                              if c.name in RULE_FIELDS})
    return rule


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


def recompute(session: Session, today: dt.date, now: dt.datetime) -> dict[str, int]:
    """Score every merchant in one INSERT ... SELECT and set its class in one UPDATE; counts by class and changed."""
    rule = get_rule(session)
    session.execute(delete(CreditScore))
    columns = ["merchant_id", "severe", "major", "minor", "overdue", "failed", "pledged", "model_unit", "score",
               "credit_class", "computed_at"]
    session.execute(insert(CreditScore).from_select(columns, scored_merchants(rule, today, now)))
    new_class = (select(CreditScore.credit_class).where(CreditScore.merchant_id == Merchant.id).scalar_subquery())
    changed = session.scalar(select(func.count()).select_from(Merchant)
                             .where(Merchant.credit_class.is_distinct_from(new_class)))
    session.execute(update(Merchant).values(credit_class=new_class).execution_options(synchronize_session=False))
    session.expire_all()
    counts = dict(session.execute(select(CreditScore.credit_class, func.count())
                                  .group_by(CreditScore.credit_class)).all())
    session.flush()
    return {"merchants": sum(counts.values()), "changed": changed or 0, **{k: counts.get(k, 0) for k in "ABCD"}}
