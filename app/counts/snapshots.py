"""A page's figures computed once per key for a short time, one computation at a time per key (no Flask).

Eight supervisors opening the dashboard at once on `make run` (one process) each recomputed the same figures
under one interpreter lock and waited 21 s; with a snapshot the first computes and the others wait for it and
share the result. A snapshot is dropped when any write commits and after SECONDS in any case. "Any write": with
configure(redis://...) (production: several web processes, the scheduler and the queue workers), every commit
that wrote something increments one counter in Redis and a snapshot taken before it is not used again, whichever
process wrote; without Redis (`make run`, one process) the counter is this process's own. The page says when it
was counted.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from app.db import utcnow

log = logging.getLogger(__name__)

SECONDS = 60
MAX_KEYS = 256

_generation = 0
_generation_lock = threading.Lock()
# (Redis client, key) of the counter shared by every process of the installation, or None.
_shared: tuple[Any, str] | None = None
# A generation that matches no snapshot: the shared counter could not be read, so nothing is reused.
UNKNOWN = object()
# After Redis fails, it is not asked again for this many seconds (each try may wait for its timeout).
RETRY_AFTER = 5.0
_down_until = 0.0


def configure(url: str | None, prefix: str = "metrology") -> None:
    """Share the write counter through Redis when `url` is a Redis URL (several processes); else keep it here."""
    global _shared, _down_until
    _down_until = 0.0
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        import redis

        # Short timeouts: a Redis that does not answer makes pages count live, it must not hold them.
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        _shared = (client, f"{prefix}:snapshot-generation")
    else:
        _shared = None


def bump() -> None:
    """A write committed: every snapshot taken before is stale, in this process and (shared) in every other."""
    global _generation
    with _generation_lock:
        _generation += 1
    if _shared is not None and _redis_up():
        client, key = _shared
        try:
            client.incr(key)
        except Exception:  # noqa: BLE001 - any Redis failure: the other processes fall back to SECONDS
            _redis_failed("snapshot counter not incremented in Redis")


def generation() -> Hashable:
    """This process's count of commits that wrote something, with the shared count when configured (UNKNOWN when
    Redis cannot be read)."""
    if _shared is None:
        return _generation
    if not _redis_up():
        return UNKNOWN
    client, key = _shared
    try:
        return _generation, client.get(key)
    except Exception:  # noqa: BLE001
        _redis_failed("snapshot counter not read from Redis: pages count live")
        return UNKNOWN


def _redis_up() -> bool:
    return time.monotonic() >= _down_until


def _redis_failed(what: str) -> None:
    global _down_until
    _down_until = time.monotonic() + RETRY_AFTER
    log.warning("%s (not asked again for %g s)", what, RETRY_AFTER, exc_info=True)


class Snapshots:
    """Figures by key, each computed once until a write commits or SECONDS pass."""

    def __init__(self, seconds: float = SECONDS, max_keys: int = MAX_KEYS) -> None:
        self.seconds = seconds
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[Hashable, float, dt.datetime, Any]] = OrderedDict()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def _fresh(self, key: Hashable, current: Hashable) -> tuple[dt.datetime, Any] | None:
        entry = self._entries.get(key)
        if entry is None or current is UNKNOWN:
            return None
        gen, taken, at, value = entry
        if gen != current or time.monotonic() - taken > self.seconds:
            return None
        return at, value

    def get(self, key: Hashable, compute: Callable[[], Any]) -> tuple[Any, dt.datetime]:
        """(value, when it was counted): the snapshot of `key`, computed now when there is none fresh."""
        current = generation()  # read outside the lock: it may be a round trip to Redis
        with self._lock:
            found = self._fresh(key, current)
            if found is not None:
                return found[1], found[0]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # one computation per key: the others wait for it rather than repeat it
            current = generation()
            with self._lock:
                found = self._fresh(key, current)
            if found is not None:
                return found[1], found[0]
            gen, at = current, utcnow()
            value = compute()
            if gen is UNKNOWN:
                return value, at
            with self._lock:
                self._entries[key] = (gen, time.monotonic(), at, value)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_keys:
                    old, _ = self._entries.popitem(last=False)
                    self._key_locks.pop(old, None)
            return value, at
