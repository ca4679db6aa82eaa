"""On a 390x844 phone in a real browser (CSRF on): the merchant signs the 现场检查笔录 on the canvas, the record
locks, the signature shows on the page and the printed record; the evidence form shows thumbnails of several
photos before they are uploaded."""
from __future__ import annotations

from playwright.sync_api import expect

from app.accounts.models import Role
from tests import factories
from tests.browser.test_corrections_flow import choose, login

# A 1x1 PNG a browser can draw.
PIXEL = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                      "1f15c4890000000d49444154789c6360f8cfc0f01f0005fe02fea7d6a4c30000000049454e44ae426082")


def runs_on_postgresql(test: str, params: dict) -> bool:
    """The browser's part is not about the database (the lock's PostgreSQL test is tests/test_signatures.py)."""
    return False


def make_visit(app) -> int:
    with app.extensions["database"].session_scope() as session:
        st = factories.station(session, "CG", "城关市场监管所")
        insp = factories.user(session, "insp_cg", Role.INSPECTOR, [st])
        sup = factories.user(session, "super_cg", Role.SUPERVISOR)
        m = factories.merchant(session, st, "城关农贸市场王记肉摊")
        scale = factories.instrument(session, m, serial="CG-001")
        return factories.inspection(session, m, [insp, sup], checks=[(scale, "ok")]).id


def test_sign_on_a_phone_then_the_record_is_locked_and_printed_with_the_signature(live_app, page, problems):
    inspection = make_visit(live_app)
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, "insp_cg")
    page.goto(f"/inspections/{inspection}/evidence")
    page.get_by_label("证据文件（JPEG、PNG、HEIC 或 PDF，可多选）").set_input_files([
        {"name": "现场1.png", "mimeType": "image/png", "buffer": PIXEL},
        {"name": "现场2.png", "mimeType": "image/png", "buffer": PIXEL}])
    expect(page.locator("#evidence-previews .evidence-preview img")).to_have_count(2)
    page.get_by_role("button", name="上传").click()
    expect(page.locator("#evidence li")).to_have_count(2)

    page.locator("#sign-link").click()
    choose(page, "签名人身份", "当事人")
    page.get_by_label("签名人姓名").fill("王记")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the signing page fits the phone
    page.get_by_role("button", name="确认签名").click()  # nothing drawn yet: said on the page, nothing sent
    expect(page.locator("#signature-empty")).to_be_visible()
    box = page.locator("#signature-pad").bounding_box()
    page.mouse.move(box["x"] + 40, box["y"] + 60)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(box["x"] + 40 + step * 25, box["y"] + 60 + (step % 3) * 30)
    page.mouse.up()
    page.get_by_role("button", name="确认签名").click()
    expect(page.locator("#signed-notice")).to_contain_text("现场检查笔录已签名，不能再修改")
    expect(page.locator("#add-finding")).to_have_count(0)
    thumb = page.locator("#signatures img.signature-thumb")
    expect(thumb).to_have_count(1)
    # The stored PNG is served and drawn (waited for: the page may be shown before the image has arrived).
    page.wait_for_function("() => { const img = document.querySelector('#signatures img.signature-thumb');"
                           " return img.complete && img.naturalWidth > 0; }")
    page.goto(f"/inspections/{inspection}/print/record")
    expect(page.locator("#record-signatures .signed")).to_contain_text("王记")
    problems.assert_clean()
