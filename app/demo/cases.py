"""Demo cases and a repeat offender: a brigade, a published penalty decision, a late case assigned to the brigade,
a merchant flagged 重点关注 for the same problem twice (no Flask)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import Role, User
from app.cases import services as cases
from app.cases.models import Case
from app.catalog.models import FindingCode
from app.inspections import services as inspections
from app.instruments.models import Instrument, InstrumentStatus
from app.merchants.models import Merchant
from app.scope import Scope


def _merchants_with_instruments(session: Session, station_id: int, at_least: int) -> list[Merchant]:
    owned = (select(Instrument.merchant_id).where(Instrument.status == InstrumentStatus.IN_USE)
             .group_by(Instrument.merchant_id).having(func.count() >= at_least))
    return list(session.scalars(select(Merchant).where(Merchant.station_id == station_id, Merchant.id.in_(owned))
                                .order_by(Merchant.id.desc()).limit(2)))


def add_demo_cases(session: Session, today: dt.date) -> dict[str, int]:
    """Two cases in the first inspector's station, a brigade, and a merchant found twice without a valid mark."""
    inspector = session.scalars(select(User).where(User.username == "inspector1")).first()
    supervisor = session.scalars(select(User).where(User.role == Role.SUPERVISOR).order_by(User.id)).first()
    if inspector is None or supervisor is None or not inspector.stations:
        return {"cases": 0}
    station_id = inspector.stations[0].id
    merchants = _merchants_with_instruments(session, station_id, 2)
    if len(merchants) < 2:
        return {"cases": 0}
    helpers = session.scalars(select(User).where(User.role == Role.INSPECTOR, User.id != inspector.id)
                              .order_by(User.id.desc()).limit(1)).all()
    team = cases.save_team(session, "演示数据", None, name="县市场监管综合执法大队", is_active=True,
                           member_ids=[u.id for u in helpers])
    codes = {c.code: c.id for c in session.scalars(select(FindingCode))}
    crew = [inspector.id, supervisor.id]

    def visit(merchant: Merchant, days_ago: int, findings: list[dict]):
        first = session.scalars(select(Instrument).where(Instrument.merchant_id == merchant.id,
                                                         Instrument.status == InstrumentStatus.IN_USE)
                                .order_by(Instrument.id)).first()
        inspection = inspections.record_inspection(session, supervisor, Scope.everything(), merchant, {
            "inspected_on": today - dt.timedelta(days=days_ago), "inspector_ids": crew,
            "checks": [(first.id, "problem")], "notes": "演示数据：日常监督检查。"}, today)
        for values in findings:
            inspections.add_finding(session, supervisor, inspection, {"check_id": inspection.checks[0].id,
                                                                      "description": "演示数据", **values})
        return inspection

    # 重点关注: the same problem (no valid verification mark) 14 months and 40 days ago; the second visit also
    # found short weight and opened a case, now decided (a fine and confiscated earnings) and published.
    flagged, late_one = merchants
    visit(flagged, 420, [{"code_id": codes["NO_VALID_MARK"], "measure": "rectify"}])
    year = today.year
    visit(flagged, 40, [{"code_id": codes["NO_VALID_MARK"], "measure": "rectify"},
                        {"code_id": codes["SHORT_MEASURE"], "measure": "case", "case_no": f"演示市监立〔{year}〕1号"}])
    decided = session.scalars(select(Case).where(Case.case_no == f"演示市监立〔{year}〕1号")).one()
    spare = session.scalars(select(Instrument).where(Instrument.merchant_id == flagged.id,
                                                     Instrument.status == InstrumentStatus.IN_USE)
                            .order_by(Instrument.id.desc())).first()
    for days_ago, stage, extra in (
            (35, "investigation", {"notes": "调取交易记录，对计价秤进行检定。"}),
            (20, "notice", {"notes": "送达行政处罚告知书，当事人未提出陈述申辩。"}),
            (12, "decision", {"decision": "penalty", "fine": "5000", "confiscation": "1200.50",
                              "instrument_ids": [spare.id], "notes": "演示数据"})):
        cases.add_stage(session, "演示数据", decided, expected_version=decided.version, today=today,
                        values={"stage": stage, "stage_on": today - dt.timedelta(days=days_ago), **extra})
    cases.publish(session, "演示数据", decided, on=today - dt.timedelta(days=5), today=today)
    # A case handed to the brigade for investigation that is past its 60-day limit: the sweep raises an alert.
    visit(late_one, 80, [{"code_id": codes["CHEAT_DEVICE"], "measure": "case", "case_no": f"演示市监立〔{year}〕2号"}])
    late = session.scalars(select(Case).where(Case.case_no == f"演示市监立〔{year}〕2号")).one()
    cases.add_stage(session, "演示数据", late, expected_version=late.version, today=today,
                    values={"stage": "investigation", "stage_on": today - dt.timedelta(days=75), "team_id": team.id,
                            "notes": "移交执法大队调查取证。"})
    return {"cases": 2}
