"""Public tokens of instruments, given lazily and in bulk (flush, never commit)."""
from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import Select, case, select, update
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.clock import local
from app.instruments.models import Instrument, InstrumentStatus, VerificationResult

CHUNK = 500
# 24 random bytes: 32 URL-safe characters, far beyond guessing; ids are never used in public URLs.
TOKEN_BYTES = 24
MIN_TOKEN_LENGTH = 32


def other_station(instrument: Instrument) -> str:
    """What staff of another station are told of a label they scanned (the label page and the 扫码 page)."""
    return f"该器具属于{instrument.merchant.station.name}，不在您负责的监管所范围内"


def new_token() -> str:
    """A fresh unguessable token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def assign_public_tokens(session: Session, actor, list_stmt: Select) -> int:
    """Give a token to each instrument of a list that lacks one: one UPDATE per chunk; returns how many."""
    ids = list(session.scalars(list_stmt.with_only_columns(Instrument.id, maintain_column_froms=True)
                               .where(Instrument.public_token.is_(None)).order_by(None)))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        tokens = {i: new_token() for i in chunk}
        # A set-based UPDATE, past the version counter on purpose: a token is not an edit of the instrument,
        # so it must not make someone's open edit form stale. "IS NULL" keeps a token given meanwhile.
        session.execute(update(Instrument)
                        .where(Instrument.id.in_(chunk), Instrument.public_token.is_(None))
                        .values(public_token=case(tokens, value=Instrument.id))
                        .execution_options(synchronize_session=False))
    if ids:
        audit.record(session, actor, "public_token", None, note=f"为 {len(ids)} 台计量器具生成公开查询码",
                     entity_type="instruments", entity_label="计量器具公开查询码")
    return len(ids)


def ensure_public_token(session: Session, actor, instrument: Instrument) -> str:
    """The instrument's token, given now if it has none."""
    if instrument.public_token is None:
        assign_public_tokens(session, actor, select(Instrument).where(Instrument.id == instrument.id))
        session.refresh(instrument, ["public_token"])
    return instrument.public_token


# What the public reads for an instrument no longer in use: said plainly, and no validity shown beside it.
NOT_IN_USE = {InstrumentStatus.STOPPED: "已停用", InstrumentStatus.SCRAPPED: "已报废",
              InstrumentStatus.REPLACED: "已更换"}


def public_state(instrument: Instrument, today: dt.date, days: int) -> str:
    """The instrument's state in words the public reads: in use and valid, due soon, overdue, failed, not in use."""
    if instrument.status != InstrumentStatus.IN_USE:
        return NOT_IN_USE[instrument.status]
    if instrument.last_result == VerificationResult.FAIL:
        return "检定不合格，暂停使用"
    if ((instrument.next_due_on is not None and instrument.next_due_on < today)
            or (instrument.replace_by is not None and instrument.replace_by < today)):
        return "已超过有效期"
    if instrument.last_verified_on is None:
        return "尚无检定记录"
    if instrument.next_due_on is not None and instrument.next_due_on <= today + dt.timedelta(days=days):
        return "即将到期"
    return "在有效期内"


def institution_of(ver) -> str:
    """The public name of a verification's institution: the registered body's, else the text as typed."""
    if ver is None:
        return ""
    return ver.body.name if ver.body is not None else ver.institution


def ledger_updated_on(inst, latest) -> dt.date:
    """The local date the ledger last changed for this instrument: its own record or its latest verification."""
    moments = [inst.updated_at] + ([latest.created_at] if latest is not None else [])
    return local(max(m for m in moments if m is not None)).date()
