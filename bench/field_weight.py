"""How heavy the phone's inspection page is on a phone network (issue 15, point 6), in Debian's Chromium.

    .venv/bin/python bench/field_weight.py                       # a demo county in a temporary SQLite file
    .venv/bin/python bench/field_weight.py --merchants 300 --instruments 3000

Chromium (/usr/bin/chromium, driven by Playwright) at 390x844 on a "Slow 4G" profile set through the DevTools
protocol (Network.emulateNetworkConditions: 150 ms round trip, 1.6 Mbit/s down, 675 kbit/s up, Lighthouse's
mobile figures) opens the inspection page of a merchant of the inspector's stations:

- first load: a fresh browser (empty cache, no service worker) opens the page; counted until the service worker
  has kept the shell, so what the worker fetches counts too;
- repeat visit: the same browser opens the page again;
- a photo of 4,000x3,000 px with real detail (thousands of coloured shapes and pixel noise, drawn in the page,
  saved as a 92 % JPEG of about 5 MB) is chosen on the page and reduced there; the figure is the photo as kept
  for upload, and the whole POST when the server's API answers.

Bytes are counted where they leave the server (a WSGI wrapper: status line, headers and body as sent, so
compressed files count compressed), not as the browser reports them, which leaves out the service worker's own
fetches. The offline packet (GET /field/api/packet) is listed on its own line: its size follows the stations'
size (bounded by the packet's limits), the page's does not. Targets: first load < 300 KB, repeat < 50 KB,
photo < 600 KB.
"""
from __future__ import annotations

import argparse
import base64
import logging
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from config import TestConfig  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
# Lighthouse's "Slow 4G" (mobile) throttling, in the units Network.emulateNetworkConditions takes (bytes/s).
SLOW_4G = {"offline": False, "latency": 150, "downloadThroughput": 1.6 * 1024 * 1024 / 8,
           "uploadThroughput": 675 * 1024 / 8}
TARGETS = {"first": 300 * 1024, "repeat": 50 * 1024, "photo": 600 * 1024}
DEMO_INSPECTOR, DEMO_PASSWORD = "inspector1", "inspector-demo-1"

# Draws a detailed photo in the page and returns it as a base64 JPEG (no image library needed in Python).
PHOTO_JS = """([w, h, seed]) => {
  const c = document.createElement('canvas'); c.width = w; c.height = h;
  const x = c.getContext('2d'); let s = seed; const r = () => (s = (s * 16807) % 2147483647) / 2147483647;
  for (let i = 0; i < 6000; i++) {
    x.fillStyle = `hsl(${r() * 360},${30 + r() * 70}%,${15 + r() * 70}%)`;
    if (r() < .5) { x.fillRect(r() * w, r() * h, 4 + r() * 260, 4 + r() * 180); }
    else { x.beginPath(); x.arc(r() * w, r() * h, 3 + r() * 120, 0, 7); x.fill(); }
  }
  x.font = '48px sans-serif';
  for (let i = 0; i < 400; i++) { x.fillStyle = r() < .5 ? '#000' : '#fff'; x.fillText('计量器具 ' + i, r() * w, r() * h); }
  const img = x.getImageData(0, 0, w, h);
  for (let i = 0; i < img.data.length; i += 4) {
    const n = (r() - .5) * 36; img.data[i] += n; img.data[i + 1] += n; img.data[i + 2] += n;
  }
  x.putImageData(img, 0, 0);
  return c.toDataURL('image/jpeg', 0.92).split(',')[1];
}"""


class Meter:
    """WSGI wrapper counting what the server sends (status line, headers, body) and receives, per path."""

    def __init__(self, app):
        self.app = app
        self.sent: list[tuple[str, int]] = []
        self.received: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def reset(self) -> None:
        with self.lock:
            self.sent, self.received = [], []

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "") + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else "")
        head = [0]

        def counting_start(status, headers, exc_info=None):
            head[0] = len(f"HTTP/1.1 {status}\r\n") + sum(len(k) + len(v) + 4 for k, v in headers) + 2
            return start_response(status, headers, exc_info)

        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = 0
        for chunk in self.app(environ, counting_start):
            body += len(chunk)
            yield chunk
        with self.lock:
            self.sent.append((path, head[0] + body))
            if length:
                self.received.append((path, length))

    def total(self, exclude: str = "") -> int:
        with self.lock:
            return sum(n for path, n in self.sent if not (exclude and path.startswith(exclude)))

    def of(self, prefix: str) -> int:
        with self.lock:
            return sum(n for path, n in self.sent if path.startswith(prefix))


def demo_app(merchants: int, instruments: int, stations: int, folder: str):
    """A migrated SQLite database with the demo county, and the app on it."""
    from app import migrate

    url = f"sqlite:///{folder}/field_weight.db"
    migrate.upgrade(url)
    app = create_app(TestConfig, DATABASE_URL=url, WTF_CSRF_ENABLED=True, TESTING=False)
    result = app.test_cli_runner().invoke(args=["demo", "load", "--merchants", str(merchants), "--instruments",
                                                str(instruments), "--stations", str(stations)])
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return app


def merchant_of(app) -> int:
    """A merchant of the demo inspector's stations with the most instruments (the heaviest page)."""
    from sqlalchemy import func, select

    from app.accounts.models import User
    from app.instruments.models import Instrument

    with app.extensions["database"].session_scope() as session:
        user = session.scalars(select(User).where(User.username == DEMO_INSPECTOR)).one()
        stations = [s.id for s in user.stations]
        return session.execute(select(Instrument.merchant_id).where(Instrument.station_id.in_(stations))
                               .group_by(Instrument.merchant_id).order_by(func.count().desc()).limit(1)).scalar_one()


def log_in(context, base: str) -> None:
    """Log in through the form's POST (with its CSRF token) without loading any page into the browser's cache."""
    login = context.request.get(f"{base}/login").text()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', login)
    answer = context.request.post(f"{base}/login", form={"username": DEMO_INSPECTOR, "password": DEMO_PASSWORD,
                                                          "csrf_token": token.group(1) or token.group(2)},
                                  max_redirects=0)
    if answer.status != 302:
        raise SystemExit(f"login failed: {answer.status}")


def open_inspection(context, url: str):
    """Open the inspection page on the slow profile; return (page, seconds until it could be used)."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_4G)
    started = time.perf_counter()
    page.goto(url)
    page.locator("#inspect-form:not(.d-none)").wait_for(timeout=120_000)
    ready = time.perf_counter() - started
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_load_state("networkidle")
    time.sleep(1)  # the worker's last cache writes
    return page, ready


def kb(n: float) -> str:
    return f"{n / 1024:7.1f} KB"


def line(label: str, value: int, target: int | None = None) -> None:
    verdict = "" if target is None else f"   target < {target // 1024} KB   {'ok' if value < target else 'OVER'}"
    print(f"  {label:<58} {kb(value)}{verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merchants", type=int, default=300)
    parser.add_argument("--instruments", type=int, default=3000)
    parser.add_argument("--stations", type=int, default=4)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        app = demo_app(args.merchants, args.instruments, args.stations, folder)
        merchant_id = merchant_of(app)
        meter = Meter(app.wsgi_app)
        app.wsgi_app = meter
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        url = f"{base}/field/inspect?merchant_id={merchant_id}"
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--headless", "--no-sandbox", "--disable-gpu"])
                context = browser.new_context(viewport=PHONE, locale="zh-CN", service_workers="allow")
                log_in(context, base)
                print(f"field_weight: Chromium {browser.version}, 390x844, Slow 4G (150 ms, 1.6 Mbit/s down, "
                      f"675 kbit/s up); demo county of {args.merchants} merchants, {args.instruments} instruments, "
                      f"{args.stations} stations; merchant {merchant_id}")
                meter.reset()
                page, seconds = open_inspection(context, url)
                packet = meter.of("/field/api/packet")
                print(f"first load (usable after {seconds:.1f} s on Slow 4G)")
                line("inspection page, its files and the shell the worker keeps", meter.total("/field/api/packet"),
                     TARGETS["first"])
                counts = page.evaluate("window.FieldStore.getPacket().then(p => [p.merchants.length, "
                                       "p.instruments.length, p.worklist.length])")
                line(f"offline packet: {counts[0]} merchants, {counts[1]} instruments, gzipped", packet)
                line("all together", meter.total())
                page.close()
                meter.reset()
                page, seconds = open_inspection(context, url)
                print(f"repeat visit (usable after {seconds:.1f} s)")
                line("inspection page again", meter.total(), TARGETS["repeat"])
                photo = base64.b64decode(page.evaluate(PHOTO_JS, [4000, 3000, 11]))
                meter.reset()
                page.set_input_files("#inspection-photos", files=[
                    {"name": "IMG_4000x3000.jpg", "mimeType": "image/jpeg", "buffer": photo}])
                page.locator("[data-thumbs-for] .field-thumb").first.wait_for(timeout=60_000)
                page.locator("#inspectors input:not(:checked)").first.check()  # two inspectors are required
                page.click("#save-draft")
                page.wait_for_url(f"{base}/field/", timeout=120_000)
                kept = page.evaluate("window.FieldStore.drafts().then(ds => ds[0].photos[0].blob.size)")
                print(f"photo of 4000x3000 px ({kb(len(photo)).strip()} as taken)")
                line("as reduced on the phone for upload", kept, TARGETS["photo"])
                posted = sum(n for path, n in meter.received if path.startswith("/field/api/inspections"))
                if posted:
                    line("the whole POST of the draft (photo, form)", posted)
                browser.close()
        finally:
            server.shutdown()
            app.extensions["database"].dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
