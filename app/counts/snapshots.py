"""A page's figures computed once per key for a short time, one computation at a time per key (no Flask).

Eight supervisors opening the dashboard at once on `make run` (one process) each recomputed the same figures
under one interpreter lock and waited 21 s; with a snapshot the first computes and the others wait for it and
share the result. A snapshot is dropped when any write of this process commits (so `make run` always shows what
is committed) and after SECONDS in any case (another process's writes); the page says when it was counted.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from app.db import utcnow

SECONDS = 60
MAX_KEYS = 256

_generation = 0
_generation_lock = threading.Lock()


def bump() -> None:
    """A write committed in this process: every snapshot taken before is stale."""
    global _generation
    with _generation_lock:
        _generation += 1


def generation() -> int:
    """The count of commits that wrote something in this process."""
    return _generation


class Snapshots:
    """Figures by key, each computed once until a write commits or SECONDS pass."""

    def __init__(self, seconds: float = SECONDS, max_keys: int = MAX_KEYS) -> None:
        self.seconds = seconds
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[int, float, dt.datetime, Any]] = OrderedDict()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def _fresh(self, key: Hashable) -> tuple[dt.datetime, Any] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        gen, taken, at, value = entry
        if gen != generation() or time.monotonic() - taken > self.seconds:
            return None
        return at, value

    def get(self, key: Hashable, compute: Callable[[], Any]) -> tuple[Any, dt.datetime]:
        """(value, when it was counted): the snapshot of `key`, computed now when there is none fresh."""
        with self._lock:
            found = self._fresh(key)
            if found is not None:
                return found[1], found[0]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # one computation per key: the others wait for it rather than repeat it
            with self._lock:
                found = self._fresh(key)
            if found is not None:
                return found[1], found[0]
            gen, at = generation(), utcnow()
            value = compute()
            with self._lock:
                self._entries[key] = (gen, time.monotonic(), at, value)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_keys:
                    old, _ = self._entries.popitem(last=False)
                    self._key_locks.pop(old, None)
            return value, at
