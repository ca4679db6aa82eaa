"""The pictures of docs/使用手册.md, taken from the demo data in a real browser, so they never go stale.

Every page the guide shows is opened as the user the guide speaks to, at desktop width and, for the
public lookup, at a phone's 390 × 844 (the staff pages' phone pictures are taken by test_phone_pages.py);
each must render its Chinese heading, without JavaScript errors, HTTP errors, requests leaving the server or
CSP violations.

The pictures go to a temporary folder; with UPDATE_SCREENSHOTS=1 they replace docs/images/:

    UPDATE_SCREENSHOTS=1 CI=true .venv/bin/python -m pytest -q tests/browser/test_guide_screenshots.py
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.demo.cli import DEMO_PASSWORDS
from tests.browser.conftest import TIMEOUT_MS, PageProblems, sqlite_only

# The guide's pictures are taken once, on SQLite.
runs_on_postgresql = sqlite_only

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
DESKTOP = {"width": 1200, "height": 720}
PHONE = {"width": 390, "height": 844}
# The navigation bar names the user by display name and role.
ROLE_LABELS = {"inspector": "所检查员", "supervisor": "监管科室"}


@pytest.fixture()
def shots_dir(tmp_path) -> Path:
    """docs/images when the pictures are to be renewed, else the test's own folder."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        IMAGES.mkdir(parents=True, exist_ok=True)
        return IMAGES
    return tmp_path


@pytest.fixture()
def demo_app(live_app):
    """The live app's database filled by `flask demo load`, as a newcomer's `make demo` fills it."""
    result = live_app.test_cli_runner().invoke(args=["demo", "load", "--reset"])
    assert result.exit_code == 0, result.output
    return live_app


class Camera:
    """Opens pages as one user at one size, checks their heading and saves a picture of the viewport."""

    def __init__(self, browser, base_url: str, folder: Path, viewport: dict, problems: PageProblems):
        self.context = browser.new_context(base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai",
                                           viewport=viewport, device_scale_factor=1)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        problems.attach(self.page)
        self.folder = folder
        self.taken: list[str] = []

    def login(self, username: str) -> None:
        role = "inspector" if username.startswith("inspector") else username
        self.page.goto("/login")
        self.page.get_by_label("用户名").fill(username)
        self.page.get_by_label("密码").fill(DEMO_PASSWORDS[role])
        self.page.get_by_role("button", name="登录").click()
        expect(self.page.locator(".navbar-text")).to_contain_text(ROLE_LABELS[role])

    def shoot(self, name: str, heading: str, url: str | None = None) -> None:
        """Open `url` (or stay), require `heading` in the page's first h1, save `name`.png."""
        if url is not None:
            self.page.goto(url)
        expect(self.page.locator("h1").first).to_contain_text(heading)
        self.page.screenshot(path=str(self.folder / f"{name}.png"))
        self.taken.append(name)

    def close(self) -> None:
        self.context.close()


def test_the_guide_pictures(browser, demo_app, live_server, shots_dir):
    problems = PageProblems(live_server)
    cameras = []

    def camera(viewport: dict) -> Camera:
        cameras.append(Camera(browser, live_server, shots_dir, viewport, problems))
        return cameras[-1]

    try:
        public = camera(DESKTOP)
        public.shoot("login", "登录", "/login")

        inspector = camera(DESKTOP)
        inspector.login("inspector1")
        inspector.shoot("dashboard", "台账概况", "/")
        inspector.shoot("worklist-overdue", "已超期", "/worklists/overdue")
        first = inspector.page.locator("#instrument-list tbody tr a[href*='/instruments/']").first
        serial = first.inner_text().strip()
        first.click()
        inspector.shoot("instrument", serial)
        inspector.shoot("alerts", "预警中心", "/alerts/")
        inspector.shoot("imports", "台账导入", "/imports/")
        inspector.shoot("integrity", "诚信计量承诺", "/integrity/")
        inspector.shoot("change-password", "修改密码", "/me/password")

        supervisor = camera(DESKTOP)
        supervisor.login("supervisor")
        supervisor.page.goto("/campaigns/")
        expect(supervisor.page.locator("h1").first).to_contain_text("专项检查行动")
        first = supervisor.page.locator("#campaign-list a").first
        name = first.inner_text().strip()
        first.click()
        supervisor.shoot("campaign", name)
        supervisor.shoot("monthly", "计量监管月报", "/reports/monthly/")

        phone = camera(PHONE)
        phone.login("inspector1")
        phone.shoot("phone-public", "查询经营者的计量器具与诚信计量承诺", "/public/?q=加油站")

        taken = [name for c in cameras for name in c.taken]
        assert len(taken) == len(set(taken)) == 11
        for name in taken:
            assert (shots_dir / f"{name}.png").stat().st_size > 10_000, name  # a real picture, not a blank page
        problems.assert_clean()
    finally:
        for c in cameras:
            c.close()
