"""Real outages for tests: a small file system that is really full, and a TCP link to the database that can be cut."""
from __future__ import annotations

import ctypes
import errno
import os
import socket
import threading
from pathlib import Path

import pytest

MNT_DETACH = 2


class SmallDisk:
    """A tmpfs of a few hundred KB mounted at `path`, which `fill()` makes full and `free()` empties again."""

    def __init__(self, path: Path, size_kb: int = 256) -> None:
        self.path = path
        self.filler = path / "filler"
        self._libc = ctypes.CDLL(None, use_errno=True)
        path.mkdir(parents=True, exist_ok=True)
        if self._libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", 0, f"size={size_kb}k".encode()) != 0:
            err = ctypes.get_errno()
            pytest.skip(f"the kernel refused to mount a small tmpfs ({os.strerror(err)}); "
                        "a full disk needs root or CAP_SYS_ADMIN")

    def fill(self) -> None:
        """Write until the file system answers ENOSPC: nothing more fits."""
        with self.filler.open("ab", buffering=0) as file:
            try:
                while True:
                    file.write(b"\0" * 4096)
            except OSError as err:
                assert err.errno == errno.ENOSPC
        # Not even one more byte.
        with pytest.raises(OSError):
            with (self.path / "probe").open("wb", buffering=0) as probe:
                probe.write(b"x")
        (self.path / "probe").unlink(missing_ok=True)

    def free(self) -> None:
        """Make room again, as an administrator would."""
        self.filler.unlink()

    def files(self) -> list[str]:
        """Every file under the disk other than the filler, as paths relative to it."""
        return sorted(str(p.relative_to(self.path)) for p in self.path.rglob("*")
                      if p.is_file() and p != self.filler)

    def unmount(self) -> None:
        """Take the file system away again."""
        self._libc.umount2(os.fsencode(self.path), MNT_DETACH)


class CuttableLink:
    """A TCP proxy to `upstream` on a local port; `cut()` drops every connection and refuses new ones."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        """Accept connections again (on the same port)."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Close the port and every open connection: the database is unreachable."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
            listener, self._listener = self._listener, None
        for sock in [listener, *sockets]:
            if sock is None:
                continue
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
