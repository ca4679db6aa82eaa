"""Heartbeat files: a process at work on a batch touches a file next to the upload every few seconds.

A batch left 'planning' or 'applying' by a process that was killed would otherwise look busy
until its row grew old. The batch's row cannot carry the heartbeat: on SQLite the apply's
transaction holds the writer lock, so another connection could not write it. A file in
IMPORT_STORAGE works on both databases and for every app server that shares the storage.
"""
from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path


def heartbeat_path(storage_dir: str | Path, batch_id: int) -> Path:
    """The heartbeat file of a batch, in the folder of the uploads (IMPORT_STORAGE)."""
    return Path(storage_dir) / f"batch-{batch_id}.alive"


def last_beat(path: Path) -> dt.datetime | None:
    """When the file was last touched (aware UTC), or None when there is none."""
    try:
        return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
    except OSError:
        return None


class Heartbeats:
    """Touches the files of the batches this process holds, from one daemon thread."""

    def __init__(self, every: float = 20.0) -> None:
        self.every = every
        self._paths: set[Path] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, path: Path) -> None:
        """Start beating for a batch (touched at once)."""
        _touch(path)
        with self._lock:
            self._paths.add(path)
            if self._thread is None:
                self._thread = threading.Thread(target=self._beat, name="import-heartbeat", daemon=True)
                self._thread.start()

    def release(self, path: Path) -> None:
        """Stop beating for a batch and remove its file (its outcome is committed by now)."""
        with self._lock:
            self._paths.discard(path)
        path.unlink(missing_ok=True)

    def _beat(self) -> None:
        stop = threading.Event()
        while not stop.wait(self.every):
            with self._lock:  # held while touching, so a released file is not touched again
                for path in self._paths:
                    _touch(path)


def _touch(path: Path) -> None:
    try:
        path.touch()
    except OSError:  # a storage hiccup costs a beat, not the import
        pass
