"""Named queries of the credit classes: each merchant's components, score and class, in one statement."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, and_, case, func, literal, select

from app.catalog.models import FindingCode, Severity
from app.credit.models import CreditRule, CreditScore
from app.db import count_if
from app.inspections.models import Finding, Inspection
from app.instruments.models import Instrument, InstrumentStatus, VerificationResult
from app.merchants.models import Merchant


def pledge_components(today: dt.date) -> Select:
    """(merchant_id, model_unit 0/1) of the merchants with a pledge in force on `today`."""
    from app.integrity.models import Pledge
    from app.integrity.queries import is_active

    return (select(Pledge.merchant_id.label("merchant_id"),
                   func.max(case((Pledge.is_model_unit.is_(True), 1), else_=0)).label("model_unit"))
            .where(is_active(today)).group_by(Pledge.merchant_id))


def scored_merchants(rule: CreditRule, today: dt.date, computed_at: dt.datetime) -> Select:
    """Every merchant with its finding counts by severity in the window, overdue and failed in-use instruments,
    upheld complaints received in the window,
    pledge and demonstration-unit flags, score and class: the rows of credit_scores."""
    from app.instruments.engine import add_months

    since = add_months(today, -rule.window_months)
    findings = (select(Inspection.merchant_id,
                       count_if(FindingCode.severity == Severity.SEVERE).label("severe"),
                       count_if(FindingCode.severity == Severity.MAJOR).label("major"),
                       count_if(FindingCode.severity == Severity.MINOR).label("minor"))
                .select_from(Finding).join(Inspection, Inspection.id == Finding.inspection_id)
                .join(FindingCode, FindingCode.id == Finding.code_id)
                .where(Inspection.inspected_on > since, Finding.in_force()).group_by(Inspection.merchant_id).subquery())
    in_use = Instrument.status == InstrumentStatus.IN_USE
    instruments = (select(Instrument.merchant_id,
                          count_if(Instrument.next_due_on < today).label("overdue"),
                          count_if(Instrument.last_result == VerificationResult.FAIL).label("failed"))
                   .where(in_use).group_by(Instrument.merchant_id).subquery())
    from app.complaints.queries import upheld_counts_since

    complaints = upheld_counts_since(since).subquery()
    pledges = pledge_components(today).subquery()
    severe, major, minor = (func.coalesce(findings.c[k], 0) for k in ("severe", "major", "minor"))
    overdue, failed = func.coalesce(instruments.c.overdue, 0), func.coalesce(instruments.c.failed, 0)
    upheld = func.coalesce(complaints.c.complaints, 0)
    pledged = pledges.c.merchant_id.is_not(None)
    model_unit = and_(pledged, pledges.c.model_unit == 1)
    score = (severe * rule.severe_points + major * rule.major_points + minor * rule.minor_points
             + case((overdue > rule.overdue_cap, rule.overdue_cap), else_=overdue) * rule.overdue_points
             + failed * rule.failed_points + upheld * rule.complaint_points
             - case((pledged, rule.pledge_points), else_=0) - case((model_unit, rule.model_unit_points), else_=0))
    # A merchant flagged 重点关注 (app/attention: the same problem twice in 24 months ...) is never in class A: a
    # score that would give A gives B; the flag does not add points, so B, C and D stay as the score says.
    from app.attention.queries import flagged_merchants

    flagged = Merchant.id.in_(flagged_merchants(today))
    credit_class = case((and_(score <= rule.a_max, ~flagged), "A"), (score <= rule.b_max, "B"),
                        (score <= rule.c_max, "C"), else_="D")
    return (select(Merchant.id, severe, major, minor, overdue, failed, upheld, pledged, model_unit, flagged, score,
                   credit_class,
                   literal(computed_at, CreditScore.computed_at.type))
            .select_from(Merchant)
            .outerjoin(findings, findings.c.merchant_id == Merchant.id)
            .outerjoin(instruments, instruments.c.merchant_id == Merchant.id)
            .outerjoin(complaints, complaints.c.merchant_id == Merchant.id)
            .outerjoin(pledges, pledges.c.merchant_id == Merchant.id))


def credit_of(merchant_id: int) -> Select:
    """One merchant's latest score."""
    return select(CreditScore).where(CreditScore.merchant_id == merchant_id)


def class_counts() -> Select:
    """(class, merchants) over all merchants; None for the unclassed."""
    return select(Merchant.credit_class, func.count()).group_by(Merchant.credit_class).order_by(Merchant.credit_class)
