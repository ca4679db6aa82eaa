"""`flask webhooks deliver`: post the due webhook events now (a thin wrapper over the job)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

webhooks_cli = AppGroup("webhooks", help="Deliver change notifications (webhooks).")


@webhooks_cli.command("deliver")
def deliver_cmd() -> None:
    """Post every due event once (as the scheduled job does) and print the counts."""
    from app.webhooks.jobs import deliver_now

    counts = deliver_now(current_app.extensions["database"], config=current_app.config)
    click.echo(f"已送达 {counts['delivered']} 条，待重试 {counts['retry']} 条，多次失败后放弃 {counts['failed']} 条，"
               f"超时后重新排队 {counts['released']} 条。")
