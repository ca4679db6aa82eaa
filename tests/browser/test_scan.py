"""The 扫码 page in a real Chromium on a phone (390x844), reading real label QR codes drawn by segno as the
label sheet draws them.

The camera test gives Chromium a fake camera (`--use-file-for-fake-video-capture`) whose picture is a label's
QR code: the page opens the rear camera, reads the code (this Linux Chromium has no BarcodeDetector for QR, so
the vendored ponyfill and its WebAssembly reader served by the app do the reading, under the page's policy) and
lands on the instrument's internal page with its field actions. A Chromium without a camera shows why, and the
从相册选择 path reads a PNG photo of another station's label and says whose it is."""
from __future__ import annotations

import pytest
import segno
from playwright.sync_api import expect
from sqlalchemy import select

from app.accounts.models import Role
from app.instruments.models import Instrument
from tests import factories
from tests.browser.conftest import CHROMIUM_ARGS, CHROMIUM_PATH, TIMEOUT_MS, PageProblems
from tests.browser.test_csp import VIEWPORTS, log_in

PHONE = VIEWPORTS["phone"]


def runs_on_postgresql(test: str, params: dict) -> bool:
    """Browser tests run on SQLite only: what they add (the page's script, camera and reader) no database changes;
    the label redirect itself is tested on both databases in tests/test_scan.py."""
    return False


def make_labels(app) -> dict:
    """Station 城关 with its inspector and a scale, station 南乡 with a scale; both scales have public tokens."""
    from app.public.services import assign_public_tokens

    with app.extensions["database"].session_scope() as session:
        own, other = factories.station(session, "GS", "城关市场监管所"), factories.station(session, "NX", "南乡市场监管所")
        factories.user(session, "insp_gs", Role.INSPECTOR, [own])
        mine = factories.instrument(session, factories.merchant(session, own, "城关菜场王记"), serial="GS-0001")
        theirs = factories.instrument(session, factories.merchant(session, other, "南乡菜场李记"), serial="NX-0001")
        assign_public_tokens(session, None, select(Instrument))
        token = {i: t for i, t in session.execute(select(Instrument.id, Instrument.public_token))}
        return {"own": mine.id, "own_token": token[mine.id], "other_token": token[theirs.id]}


def label_address(base: str, token: str) -> str:
    """What a printed label's QR code holds (app/instruments/views.py labels_sheet)."""
    return f"{base}/public/i/{token}"


def write_y4m(path, text: str, width: int = 640, height: int = 480, frames: int = 3) -> None:
    """A short grey-scale Y4M video of the QR code of `text` on white: Chromium's fake camera loops it."""
    matrix = [list(row) for row in segno.make(text, error="m", micro=False).matrix_iter(scale=1, border=4)]
    scale = min(width, height) * 8 // 10 // len(matrix)
    left, top = (width - scale * len(matrix)) // 2, (height - scale * len(matrix)) // 2
    luma = bytearray(b"\xeb" * (width * height))
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = (top + y * scale + dy) * width + left + x * scale
                    luma[start:start + scale] = b"\x10" * scale
    chroma = b"\x80" * (width * height // 2)  # both 4:2:0 planes, neutral
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + bytes(luma) + chroma)


@pytest.fixture()
def camera_browser(browser, tmp_path):
    """(video file, launch): launch() starts a second Chromium, by the session's Playwright, whose camera shows
    the video written to the file before."""
    video = tmp_path / "camera.y4m"

    def launch():
        return browser.browser_type.launch(executable_path=str(CHROMIUM_PATH), headless=True, args=CHROMIUM_ARGS + [
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"])
    return video, launch


def test_the_camera_reads_a_label_and_opens_the_instrument(live_app, live_server, camera_browser):
    video, launch = camera_browser
    ids = make_labels(live_app)
    write_y4m(video, label_address(live_server, ids["own_token"]))
    chromium = launch()
    try:
        context = chromium.new_context(base_url=live_server, locale="zh-CN", viewport=PHONE)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        problems = PageProblems(live_server)
        problems.attach(page)
        log_in(page, "insp_gs")
        # Reached from the navigation without opening the collapsed menu.
        page.locator("#nav-scan").click()
        page.wait_for_url(f"**/instruments/{ids['own']}")
        actions = page.locator("#field-actions")
        expect(actions.get_by_role("link", name="记录检定")).to_be_visible()
        expect(actions.get_by_role("link", name="开始检查")).to_be_visible()
        expect(actions.get_by_role("link", name="登记问题")).to_be_visible()
        assert actions.get_by_role("link", name="开始检查").bounding_box()["height"] >= 44
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
        problems.assert_clean()
    finally:
        chromium.close()


def test_without_a_camera_a_photo_of_another_stations_label_says_whose_it_is(live_app, live_server, page,
                                                                              problems, tmp_path):
    ids = make_labels(live_app)
    page.set_viewport_size(PHONE)
    log_in(page, "insp_gs")
    page.goto("/field/scan")
    # This Chromium has no camera: the page says so and offers the photo and the serial number instead.
    expect(page.locator("#scan-result")).to_contain_text("从相册选择")
    expect(page.locator("#scan-start")).to_be_visible()
    photo = tmp_path / "标签.png"
    segno.make(label_address(live_server, ids["other_token"]), error="m", micro=False).save(photo, scale=8, border=4)
    page.locator("#scan-photo").set_input_files(photo)
    expect(page.locator("#scan-result")).to_contain_text("该器具属于南乡市场监管所")
    expect(page.locator("#scan-result")).to_contain_text("NX-0001")
    page.locator("#scan-open").click()
    expect(page.locator("#other-station")).to_contain_text("不在您负责的监管所范围内")
    page.locator("#other-station").get_by_role("link", name="继续扫码").click()
    page.wait_for_url("**/field/scan")

    # A QR code that is not one of this system's labels shows what it holds.
    page.goto("/field/scan")
    segno.make("https://example.com/some/page", micro=False).save(photo, scale=8, border=4)
    page.locator("#scan-photo").set_input_files(photo)
    expect(page.locator("#scan-result")).to_contain_text("这不是本系统的器具标签")
    expect(page.locator("#scan-text")).to_contain_text("https://example.com/some/page")
    # Typed by hand, a serial number is searched for.
    page.locator("#scan-code").fill("GS-0001")
    page.locator("#scan-code").press("Enter")
    page.wait_for_url("**/search?q=GS-0001")
    expect(page.locator("main")).to_contain_text("GS-0001")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    problems.assert_clean()
