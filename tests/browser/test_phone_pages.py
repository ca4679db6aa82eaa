"""Every staff page kind at a phone's 390 × 844, on the demo data, in a real Chromium.

The pages are not listed by hand: every GET route of the app is opened once (its path parameters filled from
the demo county's records), so a page added later is checked without anyone remembering to add it. Only what is
not a page is left out: the public blueprint (its own layout, checked on a phone in test_layout.py), files and
downloads (a path ending in a file name extension: Excel exports, the service worker...), the routes named in
NOT_PAGES with the reason, and answers that are not HTML (the JSON of the pages' own scripts). A route whose
parameters this module cannot fill fails the test by name: add a record for it to `add_the_rest`, or its
endpoint to NAMES or QUERIES.

Each page is opened as the station inspector; a page the inspector may not open (403, 404) as the admin. On
each, the document must be no wider than the screen (the failure names the page and the elements sticking
out), buttons, links of the menu and the pager, and form fields must be tall enough for a thumb, and nothing
may go wrong in the browser (JavaScript errors, CSP violations). The menu is opened too. A few lists are then
checked at desktop width, where they stay tables.

The phone pictures of the user guide (docs/images/phone-*.png) are taken here; with UPDATE_SCREENSHOTS=1 they
replace the guide's:

    UPDATE_SCREENSHOTS=1 CI=true .venv/bin/python -m pytest -q tests/browser/test_phone_pages.py
"""
from __future__ import annotations

import datetime as dt
import re
import tempfile
from pathlib import Path

import pytest
from flask import url_for
from playwright.sync_api import expect
from sqlalchemy import select

from app.accounts.models import Role, User
from app.clock import today
from app.demo.cli import DEMO_PASSWORDS
from app.instruments.queries import WORKLISTS
from tests.browser.conftest import TIMEOUT_MS, PageProblems
from tests.browser.test_guide_screenshots import IMAGES, shots_dir  # noqa: F401 - a fixture

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
THUMB_PX = 44  # Apple's and Google's guidance for a touch target: 44 pt / 48 dp
INSPECTOR = "inspector1"  # the demo inspector of the first two stations


def runs_on_postgresql(test: str, params: dict) -> bool:
    """SQLite only: what is tested is the markup and the style, which no database changes (keeps CI in time)."""
    return False


# Routes that are not pages a user works in at phone width, and why. Everything else is opened.
NOT_PAGES = {
    "static": "the app's own files (style, scripts)",
    "bootstrap.static": "Bootstrap's files",
    "accounts.login": "opened before logging in (see `Phone.log_in`), not as a logged-in user, who is sent home",
    "monthly.download": "the month's workbook, a download",
    "tasks.download": "a background task's result (a workbook, or a label sheet printed from a desktop)",
    "integrity.document": "the signed pledge's scan, a download",
    "inspections.evidence": "a photo or scan kept as evidence, a file",
    "complaints.photo": "a complainant's photo, a download",
    "outreach.photo": "a photo of an outreach activity kept as evidence, a file",
    "certificates.show": "a verification's certificate file (PDF or image) shown by the browser, a file",
    "certificates.download": "a verification's certificate file, a download",
    "inspections.signature_image": "a signature kept as an image, a file",
    "inspections.print_record": "an A4 print layout (the paper's width), printed from a desktop",
    "inspections.print_notice": "an A4 print layout (the paper's width), printed from a desktop",
    "instruments.labels_sheet": "the A4 sheet of QR labels, printed from a desktop",
    "plans.notices": "the notices to send instruments for verification, A4 print layout (the paper's width)",
}
NOT_PAGE_BLUEPRINTS = {"public": "the public pages: their own layout, checked on a phone in test_layout.py",
                       "api": "the REST API: JSON for other systems, no pages",
                       "api_docs": "the API's documentation (Swagger UI) for integrators' developers, read at a desk"}
FILE_PATH = re.compile(r"\.[A-Za-z0-9]+$")  # /plans/export.xlsx, /field/sw.js: downloads and files

# The <name> of routes that have one (a worklist, a scheduled job), and query strings a page needs.
NAMES = {"instruments.worklist": "overdue", "jobs.history": "due_date_sweep"}
QUERIES = {"field.inspect": lambda ids: {"merchant_id": ids["merchant_id"], "instrument_id": ids["instrument_id"]}}


def extra_urls(ids: dict) -> list[str]:
    """More than one URL of an endpoint where its pages differ: the other worklists, every alert and order, a
    search with results, a workbook's import page, an inspection signed on the phone where it was recorded."""
    return [*(f"/worklists/{name}" for name in WORKLISTS if name != NAMES["instruments.worklist"]),
            "/alerts/?status=all", "/rectifications/?state=all", f"/search?q={ids['merchant_name']}",
            "/complaints/?state=all", "/complaints/new?merchant_id=" + str(ids["merchant_id"]),
            f"/imports/{ids['workbook_id']}", f"/inspections/{ids['signed_inspection_id']}",
            f"/imports/{ids['results_batch_id']}", "/leads/?state=all",
            f"/inspections/{ids['market_inspection_id']}/duties"]


# Elements sticking out to the right of the screen, outermost first (an element inside a box that scrolls or
# clips on its own does not widen the page and is not listed), as "tag#id.class (right edge px)".
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth, found = [];
  const clipped = el => { for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") return true; } return false; };
  const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
      [...el.classList].slice(0, 3).map(c => "." + c).join("");
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= width + 0.5 || clipped(el)) continue;
    const parent = el.parentElement.getBoundingClientRect();
    if (el.parentElement !== document.body && parent.right > width + 0.5) continue;  // its parent is listed
    found.push(name(el) + " (" + Math.round(r.right) + " px: " + (el.innerText || "").trim().slice(0, 30) + ")");
  }
  return {width: document.documentElement.scrollWidth, viewport: window.innerWidth, found: found.slice(0, 6)};
}"""

# Visible controls a thumb must hit, lower than THUMB_PX, as "tag.class 'text' (height px)".
SMALL_TARGETS = """(limit) => {
  const small = [];
  for (const el of document.querySelectorAll(
      ".btn, .nav-link, .page-link, .dropdown-item, .form-control, .form-select, .navbar-toggler")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || el.closest(".d-none")) continue;
    if (r.height < limit - 0.5) small.push(el.tagName.toLowerCase() + "." + [...el.classList].slice(0, 2).join(".") +
        " '" + (el.innerText || el.value || el.name || "").trim().slice(0, 20) + "' (" + Math.round(r.height) + " px)");
  }
  return small.slice(0, 5);
}"""

# Table cells squeezed into a column a character or two wide (a name read downwards), outside boxes that scroll
# on their own, as "table#id: 'text' (width px)".
SQUEEZED = """() => {
  const found = [];
  for (const cell of document.querySelectorAll("td, th")) {
    if (getComputedStyle(cell).display !== "table-cell") continue;  // a card's line
    const text = cell.innerText.trim(), r = cell.getBoundingClientRect();
    if (r.width === 0 || [...text].length < 4) continue;
    const em = parseFloat(getComputedStyle(cell).fontSize);
    const style = getComputedStyle(cell);
    const inner = r.width - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    if (inner >= 2.5 * em) continue;
    let scrolls = false;
    for (let p = cell.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") { scrolls = true; break; }
    }
    const table = cell.closest("table");
    if (!scrolls) found.push("table" + (table.id ? "#" + table.id : "") + ": '" + text.slice(0, 12) + "' (" +
                             Math.round(inner) + " px)");
  }
  return found.slice(0, 5);
}"""


@pytest.fixture()
def demo(live_app):
    """The live app on a small demo county, plus what the demo does not make: an import (a file and a workbook),
    a monthly report, an outbox message and an evidence photo; and the ids the routes' parameters take."""
    result = live_app.test_cli_runner().invoke(
        args=["demo", "load", "--merchants", "40", "--instruments", "400", "--stations", "3"])
    assert result.exit_code == 0, result.output
    with live_app.extensions["database"].session_scope() as session:
        return add_the_rest(session, live_app.config)


def add_the_rest(session, config) -> dict:
    """Records the demo lacks, made through the services; the parameters of the routes, by name."""
    from app.alerts.jobs import alert_digest
    from app.bodies import services as bodies
    from app.cases.models import Case as CaseRow, EnforcementTeam
    from app.certificates.services import attach_certificate
    from app.db import utcnow
    from app.imports import services as imports
    from app.imports import workbooks
    from app.imports.models import ImportBatch
    from app.inspections import services as inspections
    from app.inspections.models import Campaign, Finding, Inspection, InspectionInstrument, RandomDraw, Rectification
    from app.instruments.models import Instrument, Verification
    from app.integrity.models import Pledge
    from app.mail.models import OutboxMessage
    from app.monthly.services import build_report
    from app.outreach.models import OutreachActivity
    from importers.sandbox import SandboxLimits
    from reports.monthly import Month
    from tests import factories
    from tests.importers.builders import write_xlsx

    admin = session.scalars(select(User).where(User.role == Role.ADMIN)).first()
    inspector = session.scalars(select(User).where(User.username == INSPECTOR)).one()
    mine = [s.id for s in inspector.stations]
    station = mine[0]
    # An inspection of my stations with a finding whose order (责令改正) is open: its merchant and instrument.
    rect = session.scalars(select(Rectification).where(Rectification.station_id.in_(mine))
                           .order_by(Rectification.id)).first() or session.scalars(select(Rectification)).first()
    finding = session.get(Finding, rect.finding_id)
    inspection = session.get(Inspection, finding.inspection_id)
    check = session.scalars(select(InspectionInstrument).where(InspectionInstrument.inspection_id == inspection.id)
                            .order_by(InspectionInstrument.id)).first()
    instrument = session.get(Instrument, check.instrument_id)
    verification = session.scalars(select(Verification).where(Verification.instrument_id == instrument.id)).first() \
        or session.scalars(select(Verification).join(Instrument).where(Instrument.station_id.in_(mine))).first()
    pledge = session.scalars(select(Pledge).where(Pledge.revoked_on.is_(None)).order_by(Pledge.id)).first()
    inspections.store_evidence(session, admin, inspection, file_name="现场.png", data=factories.PNG,
                               storage_dir=config["EVIDENCE_STORAGE"], max_bytes=1024 * 1024)
    # A certificate file on the verification: the instrument page lists it, its void page opens.
    certificate = attach_certificate(session, admin, verification, file_name="检定证书.pdf", data=factories.WHOLE_PDF,
                                     storage_dir=config["EVIDENCE_STORAGE"], max_bytes=1024 * 1024)
    # An inspection recorded on a phone where it took place and signed by the merchant's side: its page shows
    # the location and the signatures table.
    from app.scope import Scope
    roster = [u.id for u in inspection.inspectors]
    signed = inspections.record_inspection(
        session, admin, Scope.everything(), inspection.merchant,
        {"inspected_on": today(), "inspector_ids": roster, "checks": [(check.instrument_id, "ok")],
         "location": {"latitude": 34.596653, "longitude": 119.221611, "accuracy": 12.0}}, today())
    inspections.add_signature(session, admin, signed, role="merchant", user_id=None, name="城东菜场经营者代表",
                              signed_at=utcnow(), data=factories.PNG, storage_dir=config["EVIDENCE_STORAGE"])

    sandbox = SandboxLimits(enabled=False)
    csv = ("使用单位名称,器具名称,出厂编号,检定日期\n" "城东菜场摊位1,电子计价秤,IMP-1,2024-03-01\n"
           "城东菜场摊位2,电子计价秤,IMP-2,2024-13-01\n").encode("utf-8")
    batch = imports.create_batch(session, admin, factories.ALL, station_id=station, file_name="城东所台账.csv",
                                 data=csv, storage_dir=config["IMPORT_STORAGE"], sandbox=sandbox)
    imports.plan_batch(session, batch, today=today(), sandbox=sandbox)
    station_name = inspector.stations[0].name
    with tempfile.TemporaryDirectory() as folder:
        data = write_xlsx(Path(folder) / "县局台账.xlsx", {
            station_name: [["使用单位名称", "器具名称", "出厂编号", "检定日期"],
                           ["城东菜场摊位3", "电子计价秤", "WB-1", "2024-03-01"]],
            "汇总": [["监管所", "器具数"], [station_name, 1]]}).read_bytes()
    workbook = workbooks.create_workbook(session, admin, factories.ALL, station_id=station, file_name="县局台账.xlsx",
                                         data=data, storage_dir=config["IMPORT_STORAGE"], sandbox=sandbox)
    for child in workbooks.survey_workbook(session, workbook, workbooks.assignable_stations(session, None),
                                           sandbox=sandbox):
        imports.plan_batch(session, session.get(ImportBatch, child), today=today(), sandbox=sandbox)
    build_report(session, admin, Month.of(today()).shift(-1), station)
    body, _ = bodies.create_body(session, admin, {"name": "县计量检定测试所", "code": "JD-1",
                                                  "type_ids": [instrument.type_id], "contact_person": "王工",
                                                  "contact_phone": "0512-12345678"})
    # A body's results file in preview (one result recorded, one for an unknown instrument), and a pending lead.
    from app.imports.models import BatchKind
    from app.results.services import ResultRow, submit_results

    results_csv = ("器具名称,出厂编号,制造单位,型号,证书编号,检定日期,检定结论,有效期至,送检单位,不合格原因\n"
                   f"{instrument.type.name_zh},{instrument.serial_no},,,JD-PHONE-1,{today()},合格,,,\n"
                   f"电子计价秤,PHONE-NEW-1,某衡器厂,ACS-15,JD-PHONE-2,{today()},不合格,,城东菜场摊位9,示值超差\n"
                   ).encode("utf-8")
    results_batch = imports.create_batch(session, admin, factories.ALL, station_id=station,
                                         file_name="检定所结果.csv", data=results_csv,
                                         storage_dir=config["IMPORT_STORAGE"], sandbox=sandbox,
                                         kind=BatchKind.RESULTS, body_id=body.id)
    imports.plan_batch(session, results_batch, today=today(), sandbox=sandbox)
    lead = submit_results(session, [ResultRow(kind="电子计价秤", serial_no="PHONE-LEAD-1", verified_on=today(),
                                              certificate_no="JD-PHONE-3", maker="某衡器厂有限公司",
                                              submitter="城东菜场一个很长的摊位名称", fail_reason="示值误差超出最大允许误差")],
                          body=body, station_id=station, actor=admin, actor_label="测试", today=today())[0]

    from app.api.models import TokenScope
    from app.api.services import issue_token

    token, _secret = issue_token(session, admin, name="县自来水公司", scope=TokenScope.READ, station_ids=[station],
                                 body_id=None, merchant_id=None, expires_at=utcnow() + dt.timedelta(days=30),
                                 rate_per_minute=60, now=utcnow())
    inspector.email = "inspector1@example.com"
    session.flush()
    alert_digest(session=session, now=utcnow(), config={})
    session.flush()
    # A webhook address of an API token for my station, with an event that failed once (its log has a row).
    from sqlalchemy import update

    from app.accounts.models import Station
    from app.webhooks import services as webhooks
    from app.webhooks.models import WebhookEvent
    from tests.webhook_receiver import api_token

    hook_token = api_token(session, "城东所数据平台", stations=[session.get(Station, station)])
    subscription, _ = webhooks.subscribe(session, admin, hook_token, url="http://127.0.0.1:9/metrology-hook",
                                         event_types=["instrument.updated"], config={"WEBHOOK_ALLOW_PRIVATE": True})
    instrument.location = f"{instrument.location}（已通知）"
    session.flush()
    session.execute(update(WebhookEvent).values(attempts=1, last_status_code=500, last_attempt_at=utcnow(),
                                                last_error="接收方答复状态码 500：服务暂不可用"))
    # A background export the inspector asked for, still queued (its status page refreshes itself).
    from app.tasks import services as tasks
    from app.tasks.models import TaskKind

    background = tasks.create_task(session, inspector, TaskKind.EXPORT, "导出计量器具（25,000 条）",
                                   {"endpoint": "instruments.export", "path": "/instruments/export.xlsx", "query": ""})
    merchant = session.get(type(inspection.merchant), inspection.merchant_id)
    # The demo's complaints: one of my stations if there is one (its page has the handling forms), and an outcome.
    from app.complaints.models import Complaint, ComplaintOutcome

    complaint = session.scalars(select(Complaint).where(Complaint.station_id.in_(mine)).order_by(Complaint.id)).first() \
        or session.scalars(select(Complaint).order_by(Complaint.id)).first()
    outcome = session.scalars(select(ComplaintOutcome).order_by(ComplaintOutcome.id)).first()
    return {
        "complaint_id": complaint.id, "outcome_id": outcome.id,
        "station_id": station, "user_id": inspector.id, "merchant_id": merchant.id, "instrument_id": instrument.id,
        "verification_id": verification.id, "type_id": instrument.type_id, "batch_id": batch.id,
        "campaign_id": session.scalars(select(Campaign.id)).first(),
        "draw_id": session.scalars(select(RandomDraw.id)).first(),
        "inspection_id": inspection.id, "signed_inspection_id": signed.id, "check_id": check.id, "finding_id": finding.id, "rectification_id": rect.id,
        "pledge_id": pledge.id, "message_id": session.scalars(select(OutboxMessage.id)).first(),
        "workbook_id": workbook.id, "merchant_name": merchant.name[:4],
        "serial_no": instrument.serial_no, "body_id": body.id, "results_batch_id": results_batch.id,
        "lead_id": lead.lead_id, "certificate_id": certificate.id, "subscription_id": subscription.id, "token_id": token.id,
        "task_id": background.id,
        "region_id": session.get(Station, station).county_id,
        # The demo's cases (app/demo/cases.py): one decided and published in my station, and its brigade.
        "case_id": session.scalars(select(CaseRow.id).where(CaseRow.station_id.in_(mine)).order_by(CaseRow.id)).first(),
        "team_id": session.scalars(select(EnforcementTeam.id)).first(),
        # A market with its fair scale and re-weighs (the demo marks one in each market), and the inspection of a
        # market whose organiser-duty checklist the demo recorded.
        **_market_ids(session),
        # An outreach activity of my station (the demo records several in each).
        "activity_id": session.scalars(select(OutreachActivity.id).where(OutreachActivity.station_id == station)
                                       .order_by(OutreachActivity.id)).first(),
    }


def _market_ids(session) -> dict:
    from app.markets.models import DutyCheck, FairScale, Reweigh

    fair = session.scalars(select(FairScale).order_by(FairScale.id)).first()
    return {"market_id": fair.market_id, "fair_scale_id": fair.id,
            "reweigh_id": session.scalars(select(Reweigh.id).order_by(Reweigh.id)).first(),
            "market_inspection_id": session.scalars(select(DutyCheck.inspection_id)).first()}


def page_urls(app, ids: dict) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(endpoint -> URL of each staff page, endpoint -> why it is not opened, endpoints that cannot be filled)."""
    urls, skipped, unfillable = {}, {}, []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint):
        endpoint = rule.endpoint
        if "GET" not in rule.methods or endpoint in urls:
            continue
        why = NOT_PAGES.get(endpoint) or NOT_PAGE_BLUEPRINTS.get(endpoint.split(".")[0]) \
            or ("a file or download" if FILE_PATH.search(rule.rule) else None)
        if why:
            skipped[endpoint] = why
            continue
        values = {arg: NAMES.get(endpoint) if arg == "name" else ids.get(arg) for arg in rule.arguments}
        missing = [arg for arg, value in values.items() if value is None]
        if missing:
            unfillable.append(f"{endpoint} ({rule.rule}: no demo value for {missing})")
            continue
        with app.test_request_context():
            urls[endpoint] = url_for(endpoint, **values, **QUERIES.get(endpoint, lambda ids: {})(ids))
    return urls, skipped, unfillable


class Phone:
    """One browser context at one size, logged in as one demo user, reused for all that user's pages."""

    def __init__(self, browser, base_url: str, problems: PageProblems, viewport: dict = PHONE):
        self.context = browser.new_context(base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai",
                                           viewport=viewport, device_scale_factor=1, has_touch=True)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        problems.attach(self.page)
        self.viewport = viewport

    def log_in(self, username: str) -> list[str]:
        """Log in (measuring the login page on the way); the login page's problems."""
        role = "inspector" if username.startswith("inspector") else username
        self.page.goto("/login")
        found = self.problems_here("/login")
        self.page.get_by_label("用户名").fill(username)
        self.page.get_by_label("密码").fill(DEMO_PASSWORDS[role])
        self.page.get_by_role("button", name="登录").click()
        self.page.wait_for_url(lambda url: "/login" not in url)
        return found

    def open(self, url: str) -> int:
        response = self.page.goto(url)
        return response.status if response else 0

    def is_html(self) -> bool:
        return self.page.evaluate("document.contentType") == "text/html"

    def problems_here(self, what: str) -> list[str]:
        """Wider than the screen, or controls too small for a thumb: one line each."""
        out = []
        wide = self.page.evaluate(OVERFLOW)
        if wide["width"] > wide["viewport"]:
            out.append(f"{what}: {wide['width']} px wide at {wide['viewport']} px; sticking out: {wide['found']}")
        squeezed = self.page.evaluate(SQUEEZED)
        if squeezed:
            out.append(f"{what}: table columns squeezed to a character or two: {squeezed}")
        small = self.page.evaluate(SMALL_TARGETS, THUMB_PX)
        if small:
            out.append(f"{what}: controls lower than {THUMB_PX} px: {small}")
        return out

    def shoot(self, folder: Path, name: str) -> None:
        self.page.screenshot(path=str(folder / f"{name}.png"))

    def close(self) -> None:
        self.context.close()


def test_every_staff_page_fits_a_phone(browser, live_app, live_server, demo, shots_dir):  # noqa: F811
    urls, skipped, unfillable = page_urls(live_app, demo)
    assert not unfillable, f"routes this test cannot fill (see the module's docstring): {unfillable}"
    stale = set(NOT_PAGES) - {rule.endpoint for rule in live_app.url_map.iter_rules()}
    assert not stale, f"NOT_PAGES names routes the app no longer has: {stale}"
    extra = extra_urls(demo)
    problems = PageProblems(live_server)
    inspector, admin = Phone(browser, live_server, problems), Phone(browser, live_server, problems)
    found, opened, not_html, refused = [], {}, [], []
    try:
        found += inspector.log_in(INSPECTOR)
        admin.log_in("admin")
        for what, url in [*urls.items(), *((u, u) for u in extra)]:
            who = "inspector"
            status = inspector.open(url)
            phone = inspector
            if status in (403, 404):  # not the inspector's: an admin's page, or a record of another station
                refused.append(f"{status} {live_server}{url}")
                who, phone, status = "admin", admin, admin.open(url)
            if status != 200:
                found.append(f"{what}: {url} answered {status}")
                continue
            if not phone.is_html():
                not_html.append(what)
                continue
            opened[what] = f"{url} as {who}"
            found += phone.problems_here(f"{what} ({url})")
        found += the_menu_fits(inspector, shots_dir)
        found += lists_stay_tables_on_a_desktop(browser, live_server, problems, demo)
        take_the_guide_pictures(inspector, demo, shots_dir)
        problems.bad_responses = [r for r in problems.bad_responses if r not in refused]
        assert not found, "pages that do not fit a phone:\n" + "\n".join(found)
        problems.assert_clean()
        assert len(opened) > 60, sorted(opened)  # the whole app, not a few pages
    finally:
        inspector.close()
        admin.close()


def the_menu_fits(phone: Phone, shots: Path) -> list[str]:
    """Open the collapsed menu and its worklists; all of it within the screen, its links big enough."""
    page = phone.page
    page.goto("/worklists/overdue")
    page.locator(".navbar-toggler").click()
    expect(page.locator("#nav")).to_be_visible()
    page.locator("#worklists-menu").click()
    expect(page.locator("#worklists-menu + .dropdown-menu")).to_be_visible()
    expect(page.locator("#nav.collapse.show")).to_be_visible()  # the opening animation is over
    found = phone.problems_here("the opened menu")
    phone.shoot(shots, "phone-menu")
    return found


def take_the_guide_pictures(phone: Phone, demo: dict, shots: Path) -> None:
    """The guide's phone pictures: the instrument list as cards, a worklist, an instrument, an inspection, the
    phone inspection page (drawn by its script from the merchant's data)."""
    page = phone.page
    for name, url, heading in (("phone-instruments", "/instruments/", "计量器具"),
                               ("phone-worklist", "/worklists/overdue", "已超期"),
                               ("phone-instrument", f"/instruments/{demo['instrument_id']}", demo["serial_no"]),
                               ("phone-inspection", f"/inspections/{demo['inspection_id']}", "检查记录"),
                               ("phone-field-inspect", f"/field/inspect?merchant_id={demo['merchant_id']}"
                                f"&instrument_id={demo['instrument_id']}", demo["merchant_name"])):
        page.goto(url)
        expect(page.locator("h1").first).to_contain_text(heading)
        phone.shoot(shots, name)
        assert (shots / f"{name}.png").stat().st_size > 10_000, name


def lists_stay_tables_on_a_desktop(browser, base_url: str, problems: PageProblems, ids: dict) -> list[str]:
    """At desktop width the lists are still tables with their headings, no wider than the screen."""
    desk = Phone(browser, base_url, problems, DESKTOP)
    found = []
    try:
        desk.log_in(INSPECTOR)
        for url, table in (("/instruments/", "#instrument-list"), ("/worklists/overdue", "#instrument-list"),
                           ("/merchants/", "#merchant-list"), ("/alerts/", "#alert-list"),
                           ("/inspections/", "#inspection-list"),
                           (f"/instruments/{ids['instrument_id']}", "#verifications")):
            desk.open(url)
            expect(desk.page.locator(f"{table} thead th").first).to_be_visible()
            shown = desk.page.locator(f"{table} tbody td").first.evaluate("td => getComputedStyle(td).display")
            width = desk.page.evaluate("document.documentElement.scrollWidth")
            if shown != "table-cell" or width > DESKTOP["width"]:
                found.append(f"desktop {url}: {table} cells shown as {shown}, page {width} px wide")
    finally:
        desk.close()
    return found
