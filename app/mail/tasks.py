"""Mail delivery as a queue task (app/tasks/delivery.py): the scheduler's `outbox_delivery` job and a commit that
wrote mail queue it; app/mail/delivery.py sends (claim, send, mark, each committed)."""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.mail.jobs import deliver_now
from app.mail.models import OutboxMessage
from app.tasks.delivery import Delivery
from app.tasks.queue import task

DELIVERY = Delivery("mail:delivery", "mail_due", "mail delivery", deliver_now)
KEY = DELIVERY.key
queue_delivery = DELIVERY.queue
queue_delivery_job = DELIVERY.job


@task()
def deliver() -> dict[str, int]:
    """Send every due outbox message over SMTP; the counts."""
    return DELIVERY.deliver()


def _after_flush(session: Session, _context) -> None:
    if any(isinstance(obj, OutboxMessage) for obj in session.new):
        session.info[DELIVERY.flag] = True


def install() -> None:
    """Queue a delivery as soon as a transaction that wrote mail commits (idempotent)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
    DELIVERY.install(deliver)


install()
