"""Demo complaints (投诉举报): the 2026 calendar, and a few complaints in every state (no Flask)."""
from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Role, User
from app.complaints import services
from app.inspections.models import Inspection
from app.merchants.models import Merchant
from app.scope import Scope
from app.workdays.services import seed_china_2026

DAYS = services.DEFAULT_DEADLINE_WORKING_DAYS


def add_demo_complaints(session: Session, today: dt.date) -> dict[str, int]:
    """One complaint of each kind the worklist shows: new from a QR label, transferred and being handled, closed
    as 属实 after an inspection, past its deadline (an alert), and one whose outcome was corrected."""
    seed_china_2026(session)
    admin = session.scalars(select(User).where(User.role == Role.ADMIN).order_by(User.id)).first()
    inspected = session.scalars(select(Inspection).order_by(Inspection.id)).all()
    merchants = session.scalars(select(Merchant).order_by(Merchant.id).limit(10)).all()
    if admin is None or not merchants:
        return {"complaints": 0}
    everywhere = Scope.everything()

    def public(merchant, category, text, received_on):
        return services.receive_public(session, merchant=merchant, instrument=None,
                                       values={"category": category, "description": text},
                                       photo=None, nonce=secrets.token_urlsafe(18), received_on=received_on,
                                       deadline_days=DAYS, storage_dir="", max_bytes=0)

    def transfer(merchant, channel, number, category, text, received_on):
        return services.receive_transfer(session, admin, everywhere, merchant,
                                         {"channel": channel, "transfer_no": number, "received_on": received_on,
                                          "category": category, "description": text, "phone": "13800000000",
                                          "phone_consent": True}, DAYS, today)

    def handler_of(complaint):
        return session.scalars(services.assignees(complaint.station_id)).first()

    made = [public(merchants[0], "short_weight", "买了两斤苹果，回家称只有一斤七两，摊主不认。", today)]
    handled = transfer(merchants[1 % len(merchants)], "12315", f"12315-{today:%Y%m%d}-0001", "refused_reweigh",
                       "消费者反映在该摊位买肉后要求复秤被拒绝。", today - dt.timedelta(days=3))
    if handler_of(handled):
        services.assign(session, admin, handled, handler_of(handled).id, expected_version=handled.version)
    made.append(handled)
    # Closed as 属实 after an inspection of the merchant.
    if inspected:
        visit = inspected[0]
        closed = transfer(visit.merchant, "12345", f"12345-{today:%Y}-0042", "no_valid_mark",
                          "市民反映该店电子秤没有检定合格标志。", max(visit.inspected_on - dt.timedelta(days=2),
                                                               today - dt.timedelta(days=60)))
        services.link_inspection(session, admin, closed, visit.id, expected_version=closed.version)
        services.record_outcome(session, admin, closed, "substantiated", "现场检查发现1台电子计价秤无检定合格标志，已责令改正。")
        services.close(session, admin, closed, reply="经核查，您反映的情况属实，已责令经营者停用并送检，感谢您的监督。",
                       reward_eligible=True, on=today, expected_version=closed.version)
        made.append(closed)
    # Past its deadline: the sweep raises 投诉举报逾期.
    made.append(public(merchants[2 % len(merchants)], "other", "加油机显示的升数和实际加油量不符。",
                       today - dt.timedelta(days=40)))
    # An outcome recorded, then corrected by a new entry (both stay visible).
    corrected = transfer(merchants[3 % len(merchants)], "12315", f"12315-{today:%Y%m%d}-0007", "short_weight",
                         "反映该摊位电子秤称量不准。", today - dt.timedelta(days=10))
    first = services.record_outcome(session, admin, corrected, "unfounded", "现场复秤未发现问题。")
    services.record_outcome(session, admin, corrected, "partly", "更正：调取监控发现当日确有一笔少称，其余属正常。",
                            corrects_id=first.id)
    made.append(corrected)
    return {"complaints": len(made)}
