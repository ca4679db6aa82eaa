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
    """Bind the queue to TASK_QUEUE_URL (or immediate mode) and let tasks run inside this app's context."""
    queue.bind(app.config["TASK_QUEUE_URL"], immediate=bool(app.config.get("TASKS_IMMEDIATE")))

    def in_context(call):
        # In immediate mode a task runs inside the request that queued it; in a worker, in the app's context.
        if has_app_context():
            return call()
        with app.app_context():
            return call()

    queue.set_context(in_context)
    queue.load_tasks()


def start_in_process(app: Flask, workers: int = 2):
    """Run queue workers as threads of this (web) process, for the single-machine `make run`.

    Huey's Consumer.start() would also take over SIGINT and SIGTERM, which belong to the web server here, so
    only its scheduler and worker threads are started.
    """
    consumer = queue.huey.create_consumer(workers=workers, worker_type="thread", periodic=False,
                                          check_worker_health=False)
    consumer.scheduler.start()
    for _worker, thread in consumer.worker_threads:
        thread.start()
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
    click.echo(f"任务队列工作进程已启动（{current_app.config['TASK_QUEUE_URL']}，{workers} 个线程）。")
    consumer = queue.huey.create_consumer(workers=workers, worker_type="thread", periodic=False)
    consumer.run()
    click.echo("任务队列工作进程已停止。")
