"""Small records kept in the queue's own storage, readable by every app server and worker that shares the queue.

A task's progress, and "one of these is already queued", belong with the queue rather than the database: on
SQLite an import's apply holds the database's only writer lock for minutes, so nothing else could write a row
while it runs. Huey's key-value store is the queue's storage (a table of the SQLite queue file on one machine,
a Redis hash across hosts, a dict in immediate mode), so every process bound to the same TASK_QUEUE_URL reads
the same records. No Flask here.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from huey.constants import EmptyData

from app.tasks.queue import huey

PREFIX = "metrology:"


def put(key: str, record: dict) -> None:
    """Keep `record` (a dict of plain values) under `key`, replacing what was there."""
    huey.put(PREFIX + key, record)


def get(key: str) -> dict | None:
    """The record under `key`, or None (it stays in the store)."""
    return huey.get(PREFIX + key, peek=True)


def get_many(keys: Iterable[str]) -> dict[str, dict]:
    """The records under these keys that exist, by key (one round trip on Redis and SQLite)."""
    keys = list(keys)
    if not keys:
        return {}
    found = huey.storage.peek_many([PREFIX + k for k in keys])
    return {k.removeprefix(PREFIX) if isinstance(k, str) else k.decode().removeprefix(PREFIX):
            huey.serializer.deserialize(v) for k, v in found.items() if v is not EmptyData}


def drop(key: str, *, token: str | None = None) -> None:
    """Remove the record under `key`; with `token`, only if it is still the record of that token."""
    if token is not None:
        record = get(key)
        if record is None or record.get("token") != token:
            return
    huey.delete(PREFIX + key)


def claim(key: str, record: dict) -> bool:
    """Keep `record` under `key` only if nothing is there; True when this call put it (atomic on every storage)."""
    return bool(huey.put_if_empty(PREFIX + key, record))


def enqueue_once(key: str, call: Callable[[], object], *, stale_after: float) -> bool:
    """Queue a task unless one queued under `key` is still pending or running; True when this call queued it.

    The task releases the key when it ends (`release`). A worker killed mid-task never does: a key older than
    `stale_after` seconds no longer holds a new task back (a second task meanwhile is harmless for work that
    claims its rows, as delivery does).
    """
    now = time.time()
    if not claim(key, {"at": now}):
        held = get(key)
        if held is not None and now - float(held.get("at", 0)) < stale_after:
            return False
        put(key, {"at": now})
    try:
        call()
    except Exception:
        drop(key)  # the queue refused it: the next attempt may try again at once
        raise
    return True


def running(key: str) -> None:
    """Mark the task queued under `key` as running (its staleness counts from now)."""
    put(key, {"at": time.time(), "running": True})


def release(key: str) -> None:
    """The task queued under `key` has ended: the next one may be queued."""
    drop(key)
