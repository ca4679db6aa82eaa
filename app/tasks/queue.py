"""The task queue: one Huey instance for the whole app; the configuration picks where its queue is kept.

Background work (import analysis and apply, report builds, label sheets, large exports, delivery) is a task of
this instance. Its storage comes from TASK_QUEUE_URL:

- `sqlite:///path/tasks.db` (the default, next to the database): one machine, no extra server; `make run` runs
  the workers as threads of the web process (TASKS_IN_APP=1);
- `redis://host:port/db`: several machines; `flask tasks worker` processes on any of them take the tasks;
- `memory://`: one process only (tests that start a consumer in the test's process).

The tests run tasks at once in the caller's thread (TASKS_IMMEDIATE, Huey's immediate mode), so they are
deterministic; a few tests start real workers against SQLite and Redis. No Flask here: app/tasks/runtime.py
gives a task its app context.
"""
from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from pathlib import Path

from huey import Huey
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

QUEUE_NAME = "metrology"

# The modules that define tasks: a worker imports them all before it takes a task.
TASK_MODULES: list[str] = ["app.tasks.background"]

huey = Huey(QUEUE_NAME, storage_class=MemoryStorage, utc=True)

# Set by app/tasks/runtime.py: runs a task's function inside the app's context (a worker has no request).
_context: Callable[[Callable[[], object]], object] | None = None


class QueueUrlError(ValueError):
    """TASK_QUEUE_URL names a storage this app does not support."""


def storage_for(url: str) -> tuple[type, dict]:
    """The Huey storage class and its arguments for a TASK_QUEUE_URL."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStorage, {"url": url}
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteStorage, {"filename": str(path)}
    if url == "memory://":
        return MemoryStorage, {}
    raise QueueUrlError(f"TASK_QUEUE_URL 不支持：{url}（可用 sqlite:///路径、redis://主机:端口/库 或 memory://）")


def bind(url: str, *, immediate: bool = False) -> Huey:
    """Point the queue at TASK_QUEUE_URL's storage, or run tasks at once in the caller (immediate)."""
    storage_class, kwargs = storage_for(url)
    huey.immediate = False
    if (huey.storage_class, huey.storage_kwargs) != (storage_class, kwargs) or huey.storage is None:
        huey.storage_class, huey.storage_kwargs = storage_class, kwargs
        huey.storage = huey.create_storage()
    huey.immediate = immediate
    return huey


def set_context(runner: Callable[[Callable[[], object]], object] | None) -> None:
    """Install how a task's function is run inside the app (called by app/tasks/runtime.py)."""
    global _context
    _context = runner


def task(**options) -> Callable:
    """Register a function as a queue task (Huey's options: retries, retry_delay, priority, expires, timeout)."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args, **kwargs):
            if _context is None:
                return fn(*args, **kwargs)
            return _context(lambda: fn(*args, **kwargs))

        return huey.task(name=f"{fn.__module__}.{fn.__name__}", **options)(run)

    return decorate


def load_tasks() -> None:
    """Import every module that defines tasks, so a worker knows them all."""
    for module in TASK_MODULES:
        importlib.import_module(module)
