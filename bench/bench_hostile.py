"""Send hostile spreadsheets through the real upload path and measure the web process meanwhile.

    .venv/bin/python bench/bench_hostile.py            # SQLite in a temporary folder
    .venv/bin/python bench/bench_hostile.py --rows 60000000

Starts the app in its own process (werkzeug, threaded, background import runner, uploads read in
the limited child process as in production), logs in two inspectors of different stations, and for
each hostile file built here (bytes written by tests/importers/builders.py):

- uploads it as one inspector and follows the batch until its analysis ends;
- meanwhile, as the other inspector, requests the batch list again and again;
- prints the outcome (the Chinese message), the web process's peak resident memory while the file
  was handled (VmHWM, reset before each file) against the 300 MB target, and how many of the other
  user's requests were answered and how slowly.

A last round uploads every hostile file and a small valid ledger at once: the valid one's preview
must not wait behind the bad ones (dry runs run side by side).
"""
from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MEMORY_TARGET_MB = 300
PASSWORD = "password-123"  # tests/factories.PASSWORD


# ----- the server process --------------------------------------------------------------------------

def serve(url: str, storage: str, port: int) -> None:
    """Child process: the app on a threaded werkzeug server, imports in the background."""
    from werkzeug.serving import make_server

    from app import create_app
    from config import TestConfig

    from app.tasks.runtime import start_in_process

    # Imports on the task queue (a SQLite queue file), taken by worker threads of this process as `make run` does.
    app = create_app(TestConfig, DATABASE_URL=url, IMPORT_STORAGE=storage, IMPORT_SANDBOX=True, TASKS_IMMEDIATE=False,
                     TASK_QUEUE_URL=f"sqlite:///{storage}/tasks.db")
    start_in_process(app, 2)
    make_server("127.0.0.1", port, app, threaded=True).serve_forever()


def prepare(url: str) -> dict:
    """A migrated database with the catalogue, two stations and their inspectors."""
    from app import create_app
    from app import migrate as migrations
    from app.catalog.services import seed_catalogue
    from config import TestConfig
    from tests import factories

    migrations.upgrade(url)
    app = create_app(TestConfig, DATABASE_URL=url)
    with app.extensions["database"].session_scope() as session:
        seed_catalogue(session)
        world = factories.build_world(session)
        ids = {"a": world.station_a.id, "b": world.station_b.id}
    app.extensions["database"].dispose()
    return ids


# ----- a small HTTP client (the standard library's) ------------------------------------------------

class Client:
    """A logged-in browser: cookies kept, redirects followed."""

    def __init__(self, base: str, username: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.post("/login", {"username": username, "password": PASSWORD})

    def get(self, path: str) -> tuple[int, str, str]:
        """(status, final URL, body)."""
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, fields: dict, files: dict | None = None) -> tuple[int, str, str]:
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for name, (filename, data) in (files or {}).items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                         f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        request = urllib.request.Request(self.base + path, data=body, method="POST",
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        return self._open(request)

    def _open(self, request) -> tuple[int, str, str]:
        try:
            with self.opener.open(request, timeout=600) as resp:
                return resp.status, resp.url, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            return err.code, request.full_url, err.read().decode("utf-8", "replace")


def upload_and_follow(client: Client, station_id: int, name: str, data: bytes) -> tuple[str, str, float]:
    """Upload a file and poll its batch until the analysis ends: (status, message, seconds)."""
    started = time.perf_counter()
    status, url, body = client.post("/imports/new", {"station_id": station_id}, {"file": (name, data)})
    found = re.search(r"/imports/(\d+)$", url)
    if status != 200 or not found:
        return f"HTTP {status}", body[:200], time.perf_counter() - started
    batch_id = int(found.group(1))
    while True:
        _, _, body = client.get(f"/imports/{batch_id}/progress")
        progress = json.loads(body)
        if not progress["busy"]:
            break
        time.sleep(0.1)
    _, _, page = client.get(f"/imports/{batch_id}")
    alert = re.search(r'class="alert[^"]*"[^>]*>\s*(.*?)\s*<', page, re.S)
    message = alert.group(1) if alert else ""
    return progress["status_label"], message, time.perf_counter() - started


class Bystander(threading.Thread):
    """Another user, asking for the batch list over and over; records each answer's time."""

    def __init__(self, client: Client) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.times: list[float] = []
        self.failures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            status, _, _ = self.client.get("/imports/")
            if status == 200:
                self.times.append(time.perf_counter() - started)
            else:
                self.failures += 1
            self.stop.wait(0.05)


# ----- memory of the web process -------------------------------------------------------------------

def peak_mb(pid: int) -> float:
    """The process's peak resident memory since the last reset (VmHWM)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def reset_peak(pid: int) -> None:
    """Start a new peak (Linux: writing 5 to clear_refs resets VmHWM)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


# ----- the files -----------------------------------------------------------------------------------

def hostile_files(folder: Path, rows: int) -> dict[str, bytes]:
    """Each hostile file, built byte by byte."""
    from tests.importers.builders import far_cell_xlsx, write_xls, zip_bomb_xlsx

    header = [["使用单位名称", "器具名称", "出厂编号"]]
    started = time.perf_counter()
    files = {
        "声明四十亿行.xls": write_xls(folder / "dims.xls", {"台账": header}, dimensions=(0xFFFFFFF0, 3)),
        "A1与XFD1048576.xlsx": far_cell_xlsx(folder / "far.xlsx"),
        f"{rows // 1_000_000}百万行.xlsx": zip_bomb_xlsx(folder / "bomb.xlsx", max(1, rows // 40_000)),
        "A1与IV65536.xls": write_xls(folder / "iv.xls", {"台账": [["a"]] + [[]] * 65534 + [[""] * 255 + ["z"]]}),
    }
    print(f"built the hostile files in {time.perf_counter() - started:.1f} s")
    return {name: path.read_bytes() for name, path in files.items()}


def valid_ledger() -> bytes:
    from tests.test_import_views import ledger_xlsx

    return ledger_xlsx()


# ----- main ----------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=60_000_000, help="rows of the zip-bomb xlsx (default 60,000,000)")
    p.add_argument("--serve", nargs=3, metavar=("URL", "STORAGE", "PORT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        serve(args.serve[0], args.serve[1], int(args.serve[2]))
        return

    folder = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    stations = prepare(url)
    files = hostile_files(folder, args.rows)
    port = free_port()
    log = open(folder / "server.log", "wb")
    server = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve", url, str(folder / "uploads"),
                               str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/login", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        uploader, other = Client(base, "insp_a"), Client(base, "insp_b")
        uploader.get("/imports/")
        other.get("/imports/")
        print(f"web process {server.pid}: {peak_mb(server.pid):.0f} MB resident after start-up; "
              f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}\n")
        print(f"| file | size | outcome | seconds | web peak MB (target < {MEMORY_TARGET_MB}) | "
              "other user: answered, slowest s |")
        print("| --- | ---: | --- | ---: | ---: | ---: |")
        worst = 0.0
        for name, data in files.items():
            reset_peak(server.pid)
            bystander = Bystander(other)
            bystander.start()
            status, message, seconds = upload_and_follow(uploader, stations["a"], name, data)
            bystander.stop.set()
            bystander.join()
            peak = peak_mb(server.pid)
            worst = max(worst, peak)
            slowest = max(bystander.times, default=float("nan"))
            print(f"| {name} | {len(data) / 1024:,.1f} KB | {message[:70]} | {seconds:.2f} | {peak:.0f} "
                  f"{'ok' if peak < MEMORY_TARGET_MB else 'OVER'} | {len(bystander.times)} ({bystander.failures} "
                  f"failed), {slowest:.2f} |")

        # All at once, with a valid ledger among them.
        reset_peak(server.pid)
        ledger = valid_ledger()
        alone = upload_and_follow(uploader, stations["a"], "正常台账.xlsx", ledger)[2]
        results: dict[str, tuple] = {}
        threads = [threading.Thread(target=lambda n=n, d=d: results.__setitem__(
            n, upload_and_follow(Client(base, "insp_a"), stations["a"], n, d)))
            for n, d in [*files.items(), ("正常台账（同时）.xlsx", ledger)]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        together = results["正常台账（同时）.xlsx"]
        peak = peak_mb(server.pid)
        worst = max(worst, peak)
        print(f"\nAll four hostile files and a valid ledger uploaded at once: the ledger's preview took "
              f"{together[2]:.2f} s ({together[0]}), {alone:.2f} s alone; the bad ones were "
              + "、".join(results[n][0] for n in files) + f"; web peak {peak:.0f} MB.")
        print(f"\nWorst web-process peak: {worst:.0f} MB (target < {MEMORY_TARGET_MB} MB): "
              f"{'met' if worst < MEMORY_TARGET_MB else 'NOT met'}. Server still answering: "
              f"{other.get('/imports/')[0] == 200}.")
    finally:
        server.terminate()
        server.wait(30)
        log.close()


if __name__ == "__main__":
    main()
