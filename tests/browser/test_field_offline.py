"""Working without signal (issue 15): on a 390x844 phone, the field page is opened online once (the service
worker keeps the shell, the page keeps the packet); offline, an inspection with a finding and two camera photos
is recorded and survives a reload (the page then comes from the service worker); meanwhile the instrument is
changed in the office, so the first send is a conflict shown with its reason, resent after the inspector looked
at the fresh data; then the database holds exactly one inspection with its finding and photos. Sending the same
draft again (its answer lost, say) still leaves one."""
from __future__ import annotations

import base64
import datetime as dt
import io
import re

from PIL import ExifTags, Image

from sqlalchemy import func, select

from app.inspections.models import EvidenceFile, Finding, Inspection, Signature
from app.inspections.services import add_target
from app.instruments.models import Instrument
from tests import factories
from tests.browser.conftest import TIMEOUT_MS, PageProblems

PHONE = {"width": 390, "height": 844}

# A detailed photo drawn in the page and returned as a base64 JPEG.
PHOTO_JS = """([w, h, seed]) => {
  const c = document.createElement('canvas'); c.width = w; c.height = h;
  const x = c.getContext('2d'); let s = seed; const r = () => (s = (s * 16807) % 2147483647) / 2147483647;
  for (let i = 0; i < 800; i++) {
    x.fillStyle = `hsl(${r() * 360},70%,${20 + r() * 60}%)`; x.fillRect(r() * w, r() * h, 5 + r() * 200, 5 + r() * 150);
  }
  return c.toDataURL('image/jpeg', 0.9).split(',')[1];
}"""


# When the camera took photo 1, as its EXIF DateTimeOriginal says (local time, here Asia/Shanghai).
TAKEN = "2026:12:01 09:41:05"
TAKEN_UTC = dt.datetime(2026, 12, 1, 1, 41, 5, tzinfo=dt.timezone.utc)


def with_camera_time(jpeg: bytes, taken: str) -> bytes:
    """The JPEG with an EXIF block naming when it was taken, as a phone's camera writes it."""
    image = Image.open(io.BytesIO(jpeg))
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def runs_on_postgresql(test: str, params: dict) -> bool:
    """SQLite only: what is tested is the browser's offline work; the API's own tests run on PostgreSQL."""
    return False


def test_an_inspection_recorded_offline_is_sent_once(browser, live_server, live_app):
    database = live_app.extensions["database"]
    with database.session_scope() as session:
        world = factories.build_world(session)
        merchant_id, instrument_id = world.merchant_a.id, world.instrument_a.id
        # The merchant is planned in a running campaign: the phone puts the visit in it.
        campaign = factories.campaign(session, [world.station_a])
        add_target(session, None, campaign, world.merchant_a)
        campaign_id = campaign.id
        description = "未张贴检定合格标志（离线记录）"
    context = browser.new_context(base_url=live_server, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport=PHONE, service_workers="allow", permissions=["geolocation"],
                                  geolocation={"latitude": 31.2304, "longitude": 121.4737, "accuracy": 15})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems = PageProblems(live_server)
    problems.attach(page)
    page.goto("/login")
    page.get_by_label("用户名").fill("insp_a")
    page.get_by_label("密码").fill(factories.PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/login" not in url)

    # Online once: the worker installs (keeping the shell) and the page keeps the packet.
    page.goto("/field/")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.locator("#packet-info", has_text="离线资料更新于").wait_for()
    photos = [{"name": f"IMG_{n}.jpg", "mimeType": "image/jpeg",
               "buffer": base64.b64decode(page.evaluate(PHOTO_JS, [2400, 1800, n + 3]))} for n in (1, 2)]
    photos[0]["buffer"] = with_camera_time(photos[0]["buffer"], TAKEN)

    context.set_offline(True)
    page.goto(f"/field/inspect?merchant_id={merchant_id}&instrument_id={instrument_id}")
    page.locator("#inspectors input:not(:checked)").first.check()  # a second inspector (two are required)
    assert page.locator("#campaign").input_value() == str(campaign_id)
    card = page.locator(f"[data-instrument-id='{instrument_id}']")
    assert "field-scanned" in card.get_attribute("class")
    card.get_by_role("button", name="发现问题", exact=True).click()
    finding = card.locator(".field-finding")
    finding.locator(".finding-code").select_option(index=1)
    finding.locator(".finding-description").fill(description)
    finding.locator(".finding-photos").set_input_files(photos[:1])
    page.locator("#inspection-photos").set_input_files(photos[1:])
    finding.locator(".field-thumb img").wait_for()
    page.locator("[data-thumbs-for] .field-thumb img").wait_for()
    page.get_by_role("button", name="记录当前位置（需您允许）").click()
    page.locator("#location-text", has_text="已记录位置（精度约 15 米）").wait_for()
    page.get_by_label("被检查单位代表姓名").fill("张三")
    pad = page.locator(".field-signature[data-role=merchant] canvas")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 30)
    page.mouse.down()
    page.mouse.move(box["x"] + 160, box["y"] + 120, steps=8)
    page.mouse.up()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("button", name="保存检查记录").click()
    page.wait_for_url(re.compile(r"/field/$"))
    draft = page.locator("#drafts [data-state=pending]")
    draft.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.reload()  # still offline: the page comes from the service worker, the draft from IndexedDB
    draft.wait_for()
    assert "待发送" in draft.inner_text() and "照片 2 张" in draft.inner_text()
    assert "无信号" in page.locator("#net-state").inner_text()

    with database.session_scope() as session:  # the office edits the instrument while the phone is offline
        session.get(Instrument, instrument_id).model = "ACS-30（已更换铭牌）"
    context.set_offline(False)
    page.get_by_role("button", name="立即同步").click()
    conflict = page.locator("#drafts [data-state=conflict]")
    conflict.wait_for()
    assert "A-001" in conflict.inner_text()
    with database.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Inspection)) == 0
    conflict.get_by_role("button", name="刷新器具资料并查看").click()
    conflict.get_by_role("button", name="已查看，按最新资料重新发送").click()
    sent = page.locator("#drafts [data-state=sent]")
    sent.wait_for()
    link = sent.get_by_role("link", name="查看检查记录").get_attribute("href")

    def recorded():
        with database.session_scope() as session:
            inspections = session.scalars(select(Inspection).where(Inspection.merchant_id == merchant_id)).all()
            assert len(inspections) == 1
            inspection = inspections[0]
            assert (inspection.latitude, inspection.longitude, inspection.location_accuracy) == (31.2304, 121.4737, 15)
            assert inspection.campaign_id == campaign_id
            evidence = session.scalars(select(EvidenceFile).where(EvidenceFile.inspection_id == inspection.id)).all()
            assert len(evidence) == 2 and all(re.fullmatch(r"[0-9a-f]{64}", e.sha256) for e in evidence)
            # The camera's time survives the phone's re-encoding (09:41:05 in Shanghai is 01:41:05 UTC).
            assert TAKEN_UTC in [e.taken_at for e in evidence], [e.taken_at for e in evidence]
            findings = session.scalars(select(Finding).where(Finding.inspection_id == inspection.id)).all()
            assert [f.description for f in findings] == [description]
            assert sum(e.finding_id == findings[0].id for e in evidence) == 1
            signatures = session.scalars(select(Signature).where(Signature.inspection_id == inspection.id)).all()
            assert [(s.role.value, s.signer_name) for s in signatures] == [("merchant", "张三")]
            return inspection.id

    inspection_id = recorded()
    assert link.endswith(f"/inspections/{inspection_id}")

    # The same draft sent again (as after an answer lost on the way): the server knows its id; still one.
    page.evaluate("""() => window.FieldStore.drafts().then(ds => window.FieldStore.updateDraft(ds[0].client_id,
                       d => Object.assign(d, {state: 'pending'})))""")
    page.reload()  # sending starts when a field page loads
    sent.wait_for()
    assert recorded() == inspection_id
    with database.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Inspection)) == 1
    # The one refusal expected: the conflict this test provoked.
    assert [r for r in problems.bad_responses if r.startswith("409 ")] == [f"409 {live_server}/field/api/inspections"]
    problems.bad_responses = [r for r in problems.bad_responses if not r.startswith("409 ")]
    problems.assert_clean()
    context.close()
