"""Real task-queue workers for tests: Huey worker threads in the test's process on a real queue (a SQLite file, or
Redis db 7), and the queue's Redis keys cleaned up after. The other tests run tasks in immediate mode.

Redis tests of several pytest-xdist workers would share one queue in db 7 (and take each other's tasks), so they
take turns under a Redis lock; they delete only the queue's own keys (never FLUSHDB/FLUSHALL).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import pytest

from app.tasks import queue
from app.tasks.runtime import init_app, run_tasks_in

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
TURN_KEY = "metrology:test-queue-turn"


def redis_or_skip():
    """A client of the test Redis database (db 7), or skip the test when no Redis answers."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip("Redis is not running")
    return client


@contextmanager
def redis_turn() -> Iterator[str]:
    """This test's turn on the Redis queue (db 7): the queue URL, its keys emptied before and after."""
    client = redis_or_skip()
    with client.lock(TURN_KEY, timeout=900, blocking_timeout=900):
        flush_queue_keys(client)
        try:
            yield REDIS_URL
        finally:
            flush_queue_keys(client)


def flush_queue_keys(client) -> None:
    """Delete the task queue's own keys in the test Redis database."""
    from huey.storage import RedisStorage

    storage = RedisStorage(queue.QUEUE_NAME, connection_pool=client.connection_pool)
    client.delete(storage.queue_key, storage.schedule_key, storage.result_key, storage.counter_key)


@contextmanager
def bound_queue(app, url: str) -> Iterator:
    """The app's queue bound to `url` (not immediate) for the block; then immediate mode again, as TestConfig has it."""
    saved = app.config["TASK_QUEUE_URL"], app.config["TASKS_IMMEDIATE"]
    app.config["TASK_QUEUE_URL"], app.config["TASKS_IMMEDIATE"] = url, False
    init_app(app)
    try:
        yield queue.huey
    finally:
        queue.huey.storage.flush_all()
        app.config["TASK_QUEUE_URL"], app.config["TASKS_IMMEDIATE"] = saved
        init_app(app)


@contextmanager
def queue_workers(app, url: str, workers: int = 2) -> Iterator:
    """Huey worker threads in this process taking the app's tasks from the queue at `url`, stopped after the block."""
    saved_context = queue._context
    with bound_queue(app, url) as huey:
        run_tasks_in(app)
        consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=False,
                                        check_worker_health=False, initial_delay=0.02, max_delay=0.2)
        consumer.scheduler.start()
        for _worker, thread in consumer.worker_threads:
            thread.start()
        try:
            yield huey
        finally:
            consumer.stop(graceful=True)
            queue.set_context(saved_context)
