"""The load of `make prod-check` (deploy/prod_check.py starts locust with this file; see there).

Four kinds of user, each with its own client address (the servers trust X-Forwarded-For from the check, as from a
proxy), so one user's public budget or login failures are not another's:
- staff: the supervisor opens the dashboard, the instrument list, the overdue worklist and the merchant list;
- public: the merchant search and an instrument's public page (under the public limit);
- importer: uploads a ledger of new instruments, waits for the preview, applies it, waits for the outcome;
- reporter: builds the monthly report now and then.
What the importers saw is written to PRODCHECK_OUT (one JSON line a batch), for the check to compare with the
database. Any 5xx is a failure; so is a 429 on a page that should be under its limit.
"""
from __future__ import annotations

import io
import itertools
import json
import os
import random
import re
import threading
import time

import openpyxl
from locust import HttpUser, between, task

# The demo's logins (app/demo/cli.py): the supervisor reads every station; an inspector may import.
USERNAME, PASSWORD = "supervisor", "supervisor-demo-1"
IMPORT_USERNAME, IMPORT_PASSWORD = "inspector1", "inspector-demo-1"
TOKENS = [t for t in os.environ.get("PRODCHECK_TOKENS", "").split(",") if t]
NAME_PART = os.environ.get("PRODCHECK_NAME_PART", "市场")
OUT = os.environ.get("PRODCHECK_OUT", "")
RUN = os.environ.get("PRODCHECK_RUN", "run")
IMPORT_ROWS = int(os.environ.get("PRODCHECK_IMPORT_ROWS", "20"))
WAIT_LIMIT = float(os.environ.get("PRODCHECK_IMPORT_WAIT", "180"))

TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
OPTION_RE = re.compile(r'<option[^>]*value="(\d+)"')
FIRST_OPTION_RE = re.compile(r'<option[^>]*value="([^"]*)"')
STATION_SELECT_RE = re.compile(r'<select[^>]*name="station_id"[^>]*>(.*?)</select>', re.S)
APPLY_FORM_RE = re.compile(r'<form[^>]*action="[^"]*/apply"[^>]*>(.*?)</form>', re.S)
VERSION_RE = re.compile(r'name="version"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="version"')
BATCH_RE = re.compile(r"/imports/(\d+)")
HEADER = ["序号", "使用单位名称", "器具名称", "出厂编号", "检定日期", "有效期至", "检定结论", "备注"]

_addresses = itertools.count(1)
_imports = itertools.count(1)
_out_lock = threading.Lock()


def _address() -> str:
    n = next(_addresses)
    return f"10.77.{n // 250}.{n % 250 + 1}"


def _csrf(text: str) -> str:
    match = TOKEN_RE.search(text)
    return (match.group(1) or match.group(2)) if match else ""


def _record(line: dict) -> None:
    if OUT:
        with _out_lock, open(OUT, "a", encoding="utf-8") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")


class Base(HttpUser):
    abstract = True

    def on_start(self) -> None:
        self.client.headers.update({"X-Forwarded-For": _address(), "User-Agent": "prod-check"})

    def get(self, path: str, name: str | None = None, ok=(200,)):
        with self.client.get(path, name=name or path, catch_response=True) as resp:
            if resp.status_code == 0:  # no answer at all: the connection was cut (a killed worker)
                resp.failure(f"connection cut: {type(resp.error).__name__}")
            elif resp.status_code not in ok:
                resp.failure(f"HTTP {resp.status_code}")
            else:
                resp.success()
            return resp

    def login(self, username: str = USERNAME, password: str = PASSWORD) -> None:
        page = self.get("/login")
        with self.client.post("/login", name="/login [POST]", catch_response=True,
                              data={"username": username, "password": password, "csrf_token": _csrf(page.text)}) as resp:
            # Followed to the dashboard: a failed login stays on /login.
            if resp.status_code != 200 or "/login" in resp.url:
                resp.failure(f"login failed: HTTP {resp.status_code} at {resp.url}")


class Staff(Base):
    weight = 20
    wait_time = between(0.5, 2)

    def on_start(self) -> None:
        super().on_start()
        self.login()

    @task(3)
    def dashboard(self):
        self.get("/", "/ (dashboard)")

    @task(3)
    def instruments(self):
        self.get(f"/instruments/?page={random.randint(1, 40)}", "/instruments/?page=N")

    @task(2)
    def overdue(self):
        self.get("/worklists/overdue")

    @task(1)
    def merchants(self):
        self.get("/merchants/")


class Public(Base):
    weight = 9
    # About 20 requests a minute from each address: well under PUBLIC_RATE_LIMIT (60 per minute).
    wait_time = between(2, 4)

    @task(2)
    def search(self):
        self.get(f"/public/?q={NAME_PART}", "/public/?q=")

    @task(3)
    def instrument(self):
        if TOKENS:
            self.get(f"/public/i/{random.choice(TOKENS)}", "/public/i/<token>")


class Importer(Base):
    """Upload, preview, apply: a ledger of new instruments with serial numbers no other batch uses."""

    fixed_count = 2
    wait_time = between(1, 3)

    def on_start(self) -> None:
        super().on_start()
        self.login(IMPORT_USERNAME, IMPORT_PASSWORD)

    def _ledger(self, prefix: str) -> bytes:
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "计量器具台账"
        ws.append(HEADER)
        for i in range(IMPORT_ROWS):
            ws.append([i + 1, f"压测经营户{prefix}-{i % 4}", "电子计价秤", f"{prefix}-{i:03d}", "2026-03-01", "2027-02-28",
                       "合格", ""])
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()

    def _wait(self, batch_id: int, busy: tuple[str, ...]) -> str:
        deadline = time.monotonic() + WAIT_LIMIT
        status = "?"
        while time.monotonic() < deadline:
            resp = self.get(f"/imports/{batch_id}/progress", "/imports/<id>/progress")
            if resp.status_code == 200:
                status = resp.json().get("status", "?")
                if status not in busy:
                    return status
            time.sleep(1)
        return f"timeout:{status}"

    @task
    def import_ledger(self):
        prefix = f"PC{RUN}-{next(_imports):04d}"
        page = self.get("/imports/new")
        select = STATION_SELECT_RE.search(page.text)
        stations = OPTION_RE.findall(select.group(1)) if select else []
        if not stations:
            return
        with self.client.post("/imports/new", name="/imports/new [POST]", catch_response=True, allow_redirects=False,
                              data={"csrf_token": _csrf(page.text), "kind": "ledger", "sheets": "one",
                                    "station_id": random.choice(stations)},
                              files={"file": (f"{prefix}.xlsx", self._ledger(prefix),
                                              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}) as r:
            match = BATCH_RE.search(r.headers.get("Location", ""))
            if r.status_code != 302 or not match:
                r.failure(f"upload: HTTP {r.status_code}")
                return
        batch_id = int(match.group(1))
        line = {"batch": batch_id, "prefix": prefix, "rows": IMPORT_ROWS, "uploaded": time.time()}
        line["preview"] = self._wait(batch_id, ("planning",))
        if line["preview"] == "preview":
            detail = self.get(f"/imports/{batch_id}", "/imports/<id>")
            form = APPLY_FORM_RE.search(detail.text)
            version = VERSION_RE.search(form.group(1)) if form else None
            if version:
                with self.client.post(f"/imports/{batch_id}/apply", name="/imports/<id>/apply", catch_response=True,
                                      allow_redirects=False,
                                      data={"csrf_token": _csrf(form.group(1)), "only_valid": "y",
                                            "version": version.group(1) or version.group(2)}) as r:
                    if r.status_code != 302:
                        r.failure(f"apply: HTTP {r.status_code}")
                line["applied_at"] = time.time()
                line["outcome"] = self._wait(batch_id, ("applying",))
        line["finished"] = time.time()
        _record(line)


class Reporter(Base):
    """Asks for last month's report of the form's first choice (a background task) and opens its status page."""

    fixed_count = 1
    wait_time = between(5, 10)

    def on_start(self) -> None:
        super().on_start()
        self.login()

    @task
    def build(self):
        page = self.get("/reports/monthly/")
        month = re.search(r'name="month"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="month"', page.text)
        month = (month.group(1) or month.group(2)) if month else time.strftime("%Y-%m")
        # The form's first choice, as a browser sends it: "全部监管所" for a supervisor of every station, the
        # region's edition for one of a region (the demo's supervisor), which has no "all stations" choice.
        select = STATION_SELECT_RE.search(page.text)
        first = FIRST_OPTION_RE.search(select.group(1)) if select else None
        with self.client.post("/reports/monthly/build", name="/reports/monthly/build", catch_response=True,
                              allow_redirects=False,
                              data={"csrf_token": _csrf(page.text), "month": month,
                                    "station_id": first.group(1) if first else ""}) as r:
            if r.status_code not in (302, 303):
                r.failure(f"HTTP {r.status_code}")
        location = r.headers.get("Location", "")
        # Queued: the answer is the task's status page (/tasks/<id>), which a user may open now or later.
        if "/tasks/" in location:
            self.get(location, "/tasks/<id>")
        _record({"report": month, "status": r.status_code, "location": location, "at": time.time()})
