"""Child processes the tests start (servers, schedulers, queue workers): stopping them all, however they end."""
from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterable


def stop_processes(procs: Iterable[subprocess.Popen], sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    """Send `sig` to every process still running, then wait for each; one that outlives `timeout` is killed."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(sig)
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
