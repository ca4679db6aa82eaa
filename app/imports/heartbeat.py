"""Heartbeats: a process at work on a batch says so every few seconds, where every app server can see it.

A batch left 'planning' or 'applying' by a process that was killed would otherwise look busy
until its row grew old. The batch's row cannot carry the heartbeat: on SQLite the apply's
transaction holds the writer lock, so another connection could not write it. Two places can:
a file next to the upload (IMPORT_STORAGE, shared by every app server; the `flask import` commands
use it) and the queue's record of the batch's task (app/imports/tasks.py: Redis across hosts, the
queue's SQLite file on one machine), which also carries the task's progress.
"""
from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Protocol


def heartbeat_path(storage_dir: str | Path, batch_id: int) -> Path:
    """The heartbeat file of a batch, in the folder of the uploads (IMPORT_STORAGE)."""
    return Path(storage_dir) / f"batch-{batch_id}.alive"


def last_beat(path: Path) -> dt.datetime | None:
    """When the file was last touched (aware UTC), or None when there is none."""
    try:
        return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
    except OSError:
        return None


class Beat(Protocol):
    """Something a heartbeat keeps fresh: `beat()` every few seconds, `end()` once the work is done."""

    def beat(self) -> None: ...

    def end(self) -> None: ...


class FileBeat:
    """A heartbeat file: touched on each beat, removed at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def beat(self) -> None:
        """Touch the file (a storage hiccup costs a beat, not the import)."""
        try:
            self.path.touch()
        except OSError:
            pass

    def end(self) -> None:
        """Remove the file (the batch's outcome is committed by now)."""
        self.path.unlink(missing_ok=True)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FileBeat) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)


class Heartbeats:
    """Beats for the batches this process holds, from one daemon thread."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self._beats: set = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, item: Path | Beat) -> Beat:
        """Start beating (a first beat at once); a path is a heartbeat file."""
        beat = FileBeat(item) if isinstance(item, Path) else item
        beat.beat()
        with self._lock:
            self._beats.add(beat)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="import-heartbeat", daemon=True)
                self._thread.start()
        return beat

    def release(self, item: Path | Beat) -> None:
        """Stop beating, and end the beat (a file is removed)."""
        beat = FileBeat(item) if isinstance(item, Path) else item
        with self._lock:
            self._beats.discard(beat)
        beat.end()

    def _run(self) -> None:
        stop = threading.Event()
        while not stop.wait(self.every):
            with self._lock:  # held while beating, so a released beat is not beaten again
                beats = list(self._beats)
                for beat in beats:
                    try:
                        beat.beat()
                    except Exception:  # noqa: BLE001 - a queue hiccup costs a beat, not the thread
                        pass
