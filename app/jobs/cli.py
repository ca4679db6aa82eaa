"""`flask scheduler run` and `flask jobs list|run NAME`: thin wrappers over app.scheduler."""
from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import AppGroup

from app.clock import local
from app.jobs.models import RunOutcome, RunTrigger

scheduler_cli = AppGroup("scheduler", help="Run the job scheduler.")
jobs_cli = AppGroup("jobs", help="List or run scheduled jobs.")


def _registry():
    from app.scheduler import load_registry

    return load_registry(current_app.config["SCHEDULER_JOBS"])


@scheduler_cli.command("run")
def scheduler_run() -> None:
    """Run the scheduler in the foreground until SIGINT/SIGTERM (one leader among all such processes)."""
    from app.scheduler import Scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    scheduler = Scheduler(current_app.extensions["database"], current_app.config, _registry())
    click.echo(f"调度进程 {scheduler.runner} 已启动，任务：{'、'.join(s.label for s in scheduler.registry.values())}")
    scheduler.run_forever()
    click.echo("调度进程已停止。")


@jobs_cli.command("list")
def jobs_list() -> None:
    """Print the registered jobs with their triggers."""
    for spec in _registry().values():
        click.echo(f"{spec.name:<20} {spec.label:<12} {spec.trigger}")


@jobs_cli.command("run")
@click.argument("name")
def jobs_run(name: str) -> None:
    """Run one job now, record the run, and exit non-zero if it failed."""
    from app.scheduler import run_job, runner_id

    registry = _registry()
    spec = registry.get(name)
    if spec is None:
        raise click.ClickException(f"没有名为 {name} 的任务。可用的任务：{', '.join(registry)}")
    run = run_job(current_app.extensions["database"], spec, trigger=RunTrigger.COMMAND, runner=runner_id(),
                  config=current_app.config)
    counts = "，".join(f"{k}={v}" for k, v in run.counts.items()) or "无"
    click.echo(f"{spec.label}（{spec.name}）{run.outcome.label}，开始于 {local(run.started_at):%Y-%m-%d %H:%M:%S}，"
               f"用时 {run.seconds:.2f} 秒，计数：{counts}")
    if run.outcome is not RunOutcome.SUCCEEDED:
        click.echo(run.error, err=True)
        raise SystemExit(1)
