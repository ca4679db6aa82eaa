"""Webhook delivery as a queue task (app/tasks/delivery.py): the scheduler's `webhook_delivery` job and a commit
that captured events (app/webhooks/capture.py sets the flag) queue it; app/webhooks/delivery.py posts (claim,
post, mark, each committed)."""
from __future__ import annotations

from app.tasks.delivery import Delivery
from app.tasks.queue import task
from app.webhooks.jobs import deliver_now

DELIVERY = Delivery("webhooks:delivery", "webhook_events", "webhook delivery", deliver_now)
KEY = DELIVERY.key
queue_delivery = DELIVERY.queue
queue_delivery_job = DELIVERY.job


@task()
def deliver() -> dict[str, int]:
    """Post every due webhook event (as `flask webhooks deliver` does); the counts."""
    return DELIVERY.deliver()


def install() -> None:
    """Queue a delivery as soon as a transaction that captured events commits (idempotent)."""
    DELIVERY.install(deliver)


install()
