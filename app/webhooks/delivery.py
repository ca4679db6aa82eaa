"""Delivering the webhook outbox: claim, post, mark, each step committed on its own (no Flask).

As in app/mail/delivery.py: the claim is committed before any receiver is called, so another deliverer
skips the claimed events, and each outcome is committed right after its request, so a failure later in
the run cannot undo a delivered-mark and send the event again. A deliverer that dies between the
receiver's 2xx and the commit leaves a stale claim, requeued after WEBHOOK_CLAIM_TIMEOUT_SECONDS: the
only way an event is sent twice, and the receiver recognises it by its event id.

Order per record: a claim takes only the first undelivered event of each record (app/webhooks/queries.py),
so the run claims again after each batch until nothing is due or WEBHOOK_MAX_PER_RUN events went out.
"""
from __future__ import annotations

import datetime as dt
import http.client
import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from app.db import utcnow
from app.webhooks import services, transport

log = logging.getLogger(__name__)


def deliver(session: Session, *, now: dt.datetime, config: Mapping[str, Any], commit: Callable[[], None],
            clock: Callable[[], dt.datetime] = utcnow) -> dict[str, int]:
    """Send the due pending events, committing each claim and each outcome through `commit`.

    `now` stamps the bookkeeping (due times, back-off); `clock` gives the signature's timestamp, which the
    receiver compares with its own clock.
    """
    counts = {"delivered": 0, "retry": 0, "failed": 0, "released": 0, "lost_claim": 0}
    counts["released"] = services.release_stale_claims(session, now=now, config=config)
    commit()
    batch, budget = services.setting(config, "WEBHOOK_BATCH_SIZE"), services.setting(config, "WEBHOOK_MAX_PER_RUN")
    timeout = float(config.get("WEBHOOK_TIMEOUT_SECONDS") or services.DEFAULTS["WEBHOOK_TIMEOUT_SECONDS"])
    private = services.allow_private(config)
    sent = 0
    while sent < budget:
        token = services.new_claim_token()
        events = services.claim(session, now=now, token=token, limit=min(batch, budget - sent))
        commit()
        if not events:
            break
        for event in events:
            sent += 1
            body = services.body_of(event)
            status_code, error = None, ""
            try:
                target = transport.resolve(event.subscription.url, allow_private=private)
                answer = transport.post(target, body, services.headers_of(event, event.subscription.secret, body,
                                                                           clock()), timeout=timeout)
            except (transport.Refused, OSError, http.client.HTTPException) as err:
                error = transport.describe(err)
            else:
                status_code = answer.status
                if not answer.ok:
                    error = f"接收方答复状态码 {answer.status}" + (f"：{answer.text[:300]}" if answer.text else "")
            at = now
            if not error:
                if services.record_delivered(session, event, token, at, status_code):
                    counts["delivered"] += 1
                else:  # pragma: no cover - only when an operator released the claim by hand meanwhile
                    counts["lost_claim"] += 1
            else:
                log.warning("webhook event %s to %s not delivered: %s", event.id, event.subscription.url, error)
                due = services.record_failure(session, event, token, at, error, config, status_code)
                counts["retry" if due else "failed"] += 1
            commit()
    return counts
