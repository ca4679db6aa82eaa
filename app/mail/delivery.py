"""Delivering the outbox: claim, send, mark, each step committed on its own (no Flask).

Why this commits, when services only flush: "marked sent only after the server accepts it, and never
sent twice" needs the database to know two things before and after each SMTP conversation.

1. The claim (status 'sending' under a token) is committed before the server is contacted, so any
   other sender process sees the message taken and skips it.
2. The sent-mark is committed right after the server accepts that one message, so a failure later
   in the run (the next message, the scheduler's own bookkeeping) cannot roll it back and make the
   next run send it again.

Held in one long transaction instead, a crash after 50 accepted messages would roll back all 50
marks and they would go out a second time. If the process dies in the instant between the server's
acceptance and the commit of the mark, the claim goes stale and is requeued after
MAIL_CLAIM_TIMEOUT_SECONDS; the message then keeps its Message-ID, so the receiving server can
recognise the copy. That window is the only way a message could be sent twice, and nothing is lost.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from app.mail import services, transport

log = logging.getLogger(__name__)
Sender = Callable[[transport.SmtpSettings, Any], None]


def deliver(session: Session, *, now: dt.datetime, config: Mapping[str, Any], commit: Callable[[], None],
            send: Sender = transport.send) -> dict[str, int]:
    """Send the due pending messages, committing the claim and each outcome through `commit`."""
    counts = {"sent": 0, "retry": 0, "released": 0, "lost_claim": 0}
    settings = transport.SmtpSettings.from_config(config)
    if settings is None:
        # No server configured: messages stay queued (and visible to admins) until one is.
        return counts
    counts["released"] = services.release_stale_claims(session, now=now, config=config)
    token = services.new_claim_token()
    messages = services.claim(session, now=now, token=token, limit=services.setting(config, "MAIL_BATCH_SIZE"))
    commit()
    for message in messages:
        try:
            send(settings, message)
        except Exception as err:  # noqa: BLE001 - any refusal or network error means: try again later
            log.warning("mail %s to %s not sent: %s", message.id, message.to_addr, err)
            services.record_failure(session, message, token, now, transport.describe(err), config)
            counts["retry"] += 1
        else:
            if services.record_sent(session, message, token, now):
                counts["sent"] += 1
            else:  # pragma: no cover - only when an operator released the claim by hand meanwhile
                counts["lost_claim"] += 1
        commit()
    return counts
