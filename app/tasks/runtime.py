"""The queue inside the app: binding it at start-up, the worker command and the in-process workers of `make run`."""
from __future__ import annotations

import atexit
import logging

import click
from flask import Flask, current_app, has_app_context
from flask.cli import AppGroup

from app.tasks import queue

log = logging.getLogger(__name__)

tasks_cli = AppGroup("tasks", help="Run the task queue's workers.")


def init_app(app: Flask) -> None:
    """Bind the queue to TASK_QUEUE_URL (or immediate mode) and import the modules that define tasks."""
    queue.bind(app.config["TASK_QUEUE_URL"], immediate=bool(app.config.get("TASKS_IMMEDIATE")))
    queue.load_tasks()


def run_tasks_in(app: Flask) -> None:
    """Make the workers of this process run each task inside `app`'s context.

    Only a process that runs workers calls this, with its one app: a process that builds several apps (the
    tests) must not have its workers use whichever app was built last. In immediate mode a task runs inside the
    request (or test) that queued it, in that app's context.
    """

    def in_context(call):
        if has_app_context():
            return call()
        with app.app_context():
            return call()

    queue.set_context(in_context)


def start_in_process(app: Flask, workers: int = 2, *, stop_at_exit: bool = True):
    """Run queue workers as threads of this (web) process, for the single-machine `make run` (and tests).

    Huey's Consumer.start() would also take over SIGINT and SIGTERM, which belong to the web server here, so
    only its scheduler and worker threads are started. Returns the consumer (`consumer.stop()` ends them).
    """
    run_tasks_in(app)
    consumer = queue.huey.create_consumer(workers=workers, worker_type="thread", periodic=False,
                                          check_worker_health=False)
    consumer.scheduler.start()
    for _worker, thread in consumer.worker_threads:
        thread.start()
    if stop_at_exit:
        atexit.register(consumer.stop, graceful=False)
    log.info("queue workers started in this process: %s threads", workers)
    return consumer


@tasks_cli.command("worker")
@click.option("--workers", default=2, show_default=True, help="worker threads in this process")
def worker_cmd(workers: int) -> None:
    """Take tasks from the queue until SIGINT/SIGTERM (run as many such processes as needed)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if queue.huey.immediate:
        raise click.ClickException("TASKS_IMMEDIATE 已开启：任务在提交时即执行，无需工作进程。")
    run_tasks_in(current_app._get_current_object())
    click.echo(f"任务队列工作进程已启动（{current_app.config['TASK_QUEUE_URL']}，{workers} 个线程）。")
    consumer = queue.huey.create_consumer(workers=workers, worker_type="thread", periodic=False)
    consumer.run()
    click.echo("任务队列工作进程已停止。")
