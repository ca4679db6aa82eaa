"""Every route of the app against five personas: who may read, who may write, what a refusal looks like
and that a refused write leaves the database exactly as it was.

The matrix below is the contract. `test_matrix_covers_every_route` fails when the app has a route the
matrix does not describe, so a new page cannot ship without its access rules being written down here.

Personas (the `world` fixture): anonymous, inspector of station A (insp_a), inspector of station B
(insp_b), supervisor (super1), admin (admin1). Station-owned URLs use station A's records, so insp_b is
the "other station" inspector; the read routes are also run on station B's records the other way round.
"""
from __future__ import annotations

import datetime as dt
import base64
import io
import json
import re
from datetime import date
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

import pytest
from flask import url_for
from sqlalchemy import func, literal, select, union_all
from werkzeug.routing import IntegerConverter

from app import create_app
from app.catalog.models import InstrumentTypeAlias
from app.clock import today
from app.db import utcnow
from app.errors import ERROR_TITLES
from app.imports import services as imports
from app.inspections import services as inspections
from app.instruments.models import Instrument, Verification
from app.models import metadata
from config import TestConfig
from importers.sandbox import SandboxLimits
from tests import factories
from tests.conftest import connection_of, login

ANON, INSP_A, INSP_B, SUPER, ADMIN = "anon", "insp_a", "insp_b", "super1", "admin1"
PERSONAS = (ANON, INSP_A, INSP_B, SUPER, ADMIN)

# Outcomes. Integers are HTTP error statuses answered with the Chinese error page.
OK = "ok"          # GET: 200 page. POST with a valid form: the change is made (302, not to /login).
LOGIN = "login"    # 302 to /login?next=<the page>
HOME = "home"      # 302 to the dashboard (a logged-in user opening the login page)
FORM = "form"      # POST: 200, the form is shown again with an error; nothing saved
LOGOUT = "logout"  # POST /logout: 302 to /login and the session is gone
BACK = "back"      # POST-only action answering an invalid form by redirecting back to its page with a flash
NOFORM = "noform"  # POST-only action with no fields (a button): there is no invalid form to send
ONWARD = "onward"  # GET: 302 to another page of the app, not /login (a scanned label sends staff on)


def E(anon, insp_a, insp_b, super1, admin1) -> dict[str, object]:
    """One row of expectations, in persona order: anonymous, insp_a, insp_b, super1, admin1."""
    return dict(zip(PERSONAS, (anon, insp_a, insp_b, super1, admin1)))


@dataclass(frozen=True)
class Ids:
    """The world's record ids and current versions, as URL parameters and form values."""

    station_a: int
    station_b: int
    merchant_a: int
    merchant_b: int
    instrument_a: int
    instrument_b: int
    verification_a: int
    verification_b: int
    user_insp_a: int
    type_scale: int
    station_a_version: int
    merchant_a_version: int
    instrument_a_version: int
    user_insp_a_version: int
    type_scale_version: int
    # Import batches (0 unless the case is an import route, see `make_batches`).
    batch_a: int = 0
    batch_b: int = 0
    batch_applied: int = 0
    batch_a_version: int = 0
    batch_applied_version: int = 0
    # Workbook batches of station A (one sheet per station, see make_workbooks): in preview, and applied.
    workbook: int = 0
    workbook_version: int = 0
    workbook_sheets: str = ""
    workbook_sheet: str = ""
    workbook_applied: int = 0
    workbook_applied_version: int = 0
    # Monthly reports (0 unless the case is a monthly report route, see `make_reports`).
    report_a: int = 0
    report_all: int = 0
    # Special inspections (0 unless the case is an inspections route, see `make_inspections`).
    campaign: int = 0
    campaign_version: int = 0
    draw: int = 0
    draw_published: int = 0
    inspection_a: int = 0
    inspection_b: int = 0
    evidence_a: int = 0
    evidence_b: int = 0
    signature_a: int = 0
    signature_b: int = 0
    rectification_a: int = 0
    rectification_a_version: int = 0
    finding_a: int = 0
    check_ok_a: int = 0
    finding_code: int = 0
    user_insp_b: int = 0
    user_super: int = 0
    # Alerts of station A and B, and an outbox message (0 unless the case needs them, see `make_alerts`).
    alert_a: int = 0
    alert_b: int = 0
    message: int = 0
    # Pledges and public tokens (0 / '' unless the case is an integrity or public route, see `make_pledges`).
    pledge_a: int = 0
    pledge_b: int = 0
    pledge_a_version: int = 0
    merchant_a2: int = 0
    token_a: str = ""
    # An alias of the scale kind (seed data).
    alias_scale: int = 0
    # A retired kind (see make_retired_kind).
    type_retired: int = 0
    # Outreach records of station A and B (see make_outreach).
    activity_a: int = 0
    activity_b: int = 0
    photo_a: int = 0
    photo_b: int = 0
    micro_a: int = 0
    volunteer_a: int = 0
    # Markets of station A and B (see make_markets).
    market_a: int = 0
    market_b: int = 0
    scale_a: int = 0
    fair_scale_a: int = 0
    reweigh_a: int = 0
    inspection_market_a: int = 0
    # A verification body (0 unless the case is a bodies route, see `make_bodies`).
    body: int = 0
    body_version: int = 0
    body_off: int = 0
    # Leads (未备案器具线索) of station A and B (0 unless the case is a leads route, see `make_leads`).
    lead_a: int = 0
    lead_a_version: int = 0
    lead_b: int = 0
    # Certificate files of station A's and B's verifications (0 unless the case needs them, see make_certificates).
    certificate_a: int = 0
    certificate_b: int = 0
    # A webhook subscription of an API token for station A, with one pending event (see `make_webhooks`).
    webhook: int = 0
    webhook_event: int = 0
    webhook_token: int = 0
    webhook_off: int = 0
    # An API token (0 unless the case is an API token page, see `make_api_token`).
    api_token: int = 0
    # A finished background task (an export) of insp_a, with its file (0 unless a tasks route, see `make_tasks`).
    task_a: int = 0
    # The region tree of the world: station A in county A, station B in county B, both in one city.
    city: int = 0
    county_a: int = 0
    county_a_version: int = 0
    county_b: int = 0
    # A region nothing depends on (0 unless the case deletes a region, see `make_empty_region`).
    region_empty: int = 0
    region_empty_version: int = 0
    # Complaints (0 unless the case is a complaints route, see `make_complaints`): an open one of station A with a
    # photo and no outcome, one of A with an outcome, one of B; an inspection of merchant A; a calendar day.
    complaint_a: int = 0
    complaint_a_version: int = 0
    complaint_a2: int = 0
    complaint_a2_version: int = 0
    complaint_b: int = 0
    outcome_a: int = 0
    complaint_inspection_a: int = 0
    calendar_day: int = 0
    merchant_a_ref: str = ""
    # Cases (案件): one at 立案 in station A and B, one decided (a penalty) in station A; a brigade (see make_cases).
    case_a: int = 0
    case_a_version: int = 0
    case_b: int = 0
    case_decided_a: int = 0
    team: int = 0
    team_version: int = 0


@dataclass(frozen=True)
class Case:
    """One URL of one endpoint with the expected outcome per persona.

    get / post: persona -> outcome. `data` is a form that succeeds for a permitted persona, so a refusal
    proves the guard and not a validation error; `invalid` is an empty or broken form, which a permitted
    persona must get back as a page with errors in Chinese (`invalid_outcome`), never a 500. `table` is
    the table a successful POST changes. `texts_a` / `texts_b`: texts of station A / B records that a list
    must show to that station's inspector and hide from the other one.
    """

    endpoint: str
    path: str
    get: dict[str, object]
    post: dict[str, object] | None = None
    data: Callable[[Ids], dict] | None = None
    invalid: Callable[[Ids], dict] = lambda ids: {}
    invalid_outcome: str = FORM
    table: str | None = None
    variant: str = ""
    texts_a: tuple[str, ...] = ()
    texts_b: tuple[str, ...] = ()
    # BACK: where the refused form redirects (default: the record's edit page).
    back_to: Callable[[Ids], str] | None = None

    @property
    def id(self) -> str:
        return self.endpoint + (f"[{self.variant}]" if self.variant else "")


# Rows used by many routes (persona order: anonymous, insp_a, insp_b, super1, admin1).
STAFF_READ = E(LOGIN, OK, OK, OK, OK)
A_READ = E(LOGIN, OK, 404, OK, OK)          # a record of station A
B_READ = E(LOGIN, 404, OK, OK, OK)          # a record of station B
A_WRITE = E(LOGIN, OK, 404, 403, OK)        # changing a record of station A
LEDGER_NEW = E(LOGIN, OK, OK, 403, OK)      # opening a "register new" form
ADMIN_ONLY = E(LOGIN, 403, 403, 403, OK)
SUPERVISE = E(LOGIN, 403, 403, OK, OK)     # campaigns and random draws
PUBLIC = E(OK, OK, OK, OK, OK)
ALL_405 = E(405, 405, 405, 405, 405)
# The phone's JSON API: 401 JSON for the anonymous visitor instead of the login page.
API_READ = E(401, OK, OK, OK, OK)
# The REST API (/api/v1) authenticates by bearer token only: a logged-in browser's session is no credential.
NO_SESSION = E(401, 401, 401, 401, 401)
# Outcome of a JSON API's invalid request: 422 {"state": "refused", "errors": [Chinese]}, nothing saved.
REFUSED = "refused"

MERCHANT_A_NAME, MERCHANT_B_NAME = "甲市场摊位1", "乙加油站"
CASE_A_NO, CASE_B_NO = "甲市监立〔2026〕7号", "乙市监立〔2026〕9号"
SERIAL_A, SERIAL_B = "A-001", "B-001"
LEAD_A_SERIAL, LEAD_B_SERIAL = "LEAD-A-1", "LEAD-B-1"
BATCH_A_FILE, BATCH_B_FILE, BATCH_APPLIED_FILE = "甲所台账.csv", "乙所台账.csv", "甲所已导入.csv"
LEDGER_HEADER = "使用单位名称,器具名称,出厂编号,检定日期\n"


def ledger_csv(merchant: str, serial: str) -> bytes:
    """A one-row ledger of an electronic price-computing scale, as a station would save it."""
    return (LEDGER_HEADER + f"{merchant},电子计价秤,{serial},2024-03-01\n").encode("utf-8")


def field_draft(ids: Ids) -> dict:
    """A phone's draft of an inspection of merchant A: instrument A checked, nothing found."""
    return {"draft": json.dumps({
        "client_id": "3f0c7a4e-8f7b-4c55-9a51-5f2d0c1e9b10", "merchant_id": ids.merchant_a,
        "inspected_on": today().isoformat(), "visit_outcome": "conducted", "notes": "",
        "inspector_ids": [ids.user_insp_a, ids.user_super], "location": None,
        "checks": [{"instrument_id": ids.instrument_a, "outcome": "ok", "seen_version": ids.instrument_a_version}]})}


def public_complaint(ids: Ids) -> dict:
    """The public complaint form answered right (a new question each time: a question answers one complaint)."""
    from app.complaints import challenge

    issued = challenge.issue(TestConfig.SECRET_KEY)
    return {"category": "short_weight", "description": "少称二两", "challenge": issued.token,
            "answer": str(challenge.answer_of(TestConfig.SECRET_KEY, issued.token)), "website": ""}


def upload(ids: Ids) -> dict:
    return {"station_id": str(ids.station_a), "file": (io.BytesIO(ledger_csv("甲市场摊位9", "A-UP-1")), "新台账.csv")}


OUTREACH_A, OUTREACH_B = "甲镇中心小学", "乙镇敬老院"
MICRO_A, MICRO_B = "甲市场科普微站", "乙社区科普微站"


CASES: list[Case] = [
    # --- accounts: login / logout -------------------------------------------------------------
    Case("accounts.login", "/login",
         get=E(OK, HOME, HOME, HOME, HOME),
         post=E(OK, HOME, HOME, HOME, HOME),
         data=lambda ids: {"username": "insp_b", "password": factories.PASSWORD},
         table="audit_log"),
    Case("accounts.logout", "/logout",
         get=ALL_405,
         post=E(LOGIN, LOGOUT, LOGOUT, LOGOUT, LOGOUT),
         data=lambda ids: {}),
    # --- dashboard, catalogue -----------------------------------------------------------------
    Case("dashboard.index", "/", get=STAFF_READ),
    # One county opened from a city's roll-up: station B's inspector sees no station of station A's county.
    Case("dashboard.index", "/?county_id={county_a}", get=E(LOGIN, OK, 404, OK, OK), variant="county"),
    Case("dashboard.index", "/?county_id=999999", get=E(LOGIN, 404, 404, 404, 404), variant="unknown county"),
    Case("catalog.types", "/catalog/types", get=STAFF_READ),
    Case("catalog.findings", "/catalog/findings", get=STAFF_READ),
    Case("catalog.type_edit", "/catalog/types/{type_scale}/edit",
         get=ADMIN_ONLY, post=ADMIN_ONLY,
         data=lambda ids: {"rule": "periodic", "cycle_months": "6", "service_life_years": "", "lead_days": "30",
                           "regulation": "JJG 539-2016", "regulation_title": "数字指示秤", "note": "", "confirmed": "partly",
                           "is_active": "y", "version": ids.type_scale_version},
         invalid=lambda ids: {"rule": "periodic", "cycle_months": "abc", "version": ids.type_scale_version},
         table="instrument_types"),
    Case("catalog.aliases", "/catalog/types/{type_scale}/aliases", get=STAFF_READ),
    Case("catalog.alias_add", "/catalog/types/{type_scale}/aliases/add",
         get=ALL_405, post=ADMIN_ONLY,
         data=lambda ids: {"alias": "电子计价秤（台式）新写法"},
         invalid=lambda ids: {"alias": ""},
         table="instrument_type_aliases"),
    Case("catalog.alias_delete", "/catalog/types/{type_scale}/aliases/{alias_scale}/delete",
         get=ALL_405, post=ADMIN_ONLY, data=lambda ids: {}, invalid_outcome=NOFORM,
         table="instrument_type_aliases"),
    Case("catalog.type_new", "/catalog/types/new",
         get=ADMIN_ONLY, post=ADMIN_ONLY,
         data=lambda ids: {"name_zh": "电子吊秤", "rule": "periodic", "cycle_months": "12", "lead_days": "30",
                           "confirmed": "no", "aliases": "吊秤"},
         invalid=lambda ids: {"name_zh": "", "rule": "periodic", "cycle_months": "12", "confirmed": "no"},
         table="instrument_types"),
    Case("catalog.type_retire", "/catalog/types/{type_scale}/retire",
         get=ALL_405, post=ADMIN_ONLY, data=lambda ids: {"reason": "并入数字指示秤"},
         invalid=lambda ids: {"reason": ""}, invalid_outcome=BACK, back_to=lambda ids: "/catalog/types",
         table="instrument_types"),
    Case("catalog.type_restore", "/catalog/types/{type_retired}/restore",
         get=ALL_405, post=ADMIN_ONLY, data=lambda ids: {}, invalid_outcome=NOFORM, table="instrument_types"),
    # --- outreach (计量惠民): activities, photos, the registry, targets (see make_outreach) ------------------
    Case("outreach.index", "/outreach/", get=STAFF_READ, texts_a=(OUTREACH_A,), texts_b=(OUTREACH_B,)),
    Case("outreach.new", "/outreach/new",
         get=LEDGER_NEW, post=E(LOGIN, OK, FORM, 403, OK),
         data=lambda ids: {"station_id": ids.station_a, "held_on": str(today()), "kind": "benefit",
                           "place": "甲村委会", "place_kind": "community", "people_served": "30"},
         invalid=lambda ids: {"station_id": ids.station_a, "held_on": str(today()), "kind": "benefit", "place": "",
                              "place_kind": "community"},
         table="outreach_activities"),
    Case("outreach.detail", "/outreach/{activity_a}", get=A_READ),
    Case("outreach.detail", "/outreach/{activity_b}", get=B_READ, variant="b"),
    Case("outreach.void", "/outreach/{activity_a}/void",
         get=A_WRITE, post=A_WRITE, data=lambda ids: {"reason": "重复登记"}, invalid=lambda ids: {"reason": ""},
         table="outreach_activities"),
    Case("outreach.photos", "/outreach/{activity_a}/photos",
         get=A_WRITE, post=A_WRITE, data=lambda ids: {"file": (io.BytesIO(factories.image_bytes()), "现场.png")},
         invalid=lambda ids: {"file": (io.BytesIO(b"<html>not a photo</html>"), "photo.png")},
         table="outreach_photos"),
    Case("outreach.photo", "/outreach/photos/{photo_a}", get=A_READ),
    Case("outreach.photo", "/outreach/photos/{photo_b}", get=B_READ, variant="b"),
    Case("outreach.annual", "/outreach/annual.xlsx?year=2026", get=STAFF_READ),
    Case("outreach.registry", "/outreach/registry", get=STAFF_READ, texts_a=(MICRO_A,), texts_b=(MICRO_B,)),
    Case("outreach.micro_station_new", "/outreach/micro-stations/new",
         get=LEDGER_NEW, post=E(LOGIN, OK, FORM, 403, OK),
         data=lambda ids: {"station_id": ids.station_a, "name": "甲社区微站二", "opened_on": str(today())},
         invalid=lambda ids: {"station_id": ids.station_a, "name": "", "opened_on": str(today())},
         table="micro_stations"),
    Case("outreach.volunteer_new", "/outreach/volunteers/new",
         get=LEDGER_NEW, post=E(LOGIN, OK, FORM, 403, OK),
         data=lambda ids: {"station_id": ids.station_a, "name": "赵敏", "joined_on": str(today())},
         invalid=lambda ids: {"station_id": ids.station_a, "name": "赵敏", "joined_on": "2099-01-01"},
         table="outreach_volunteers"),
    Case("outreach.micro_station_close", "/outreach/micro-stations/{micro_a}/close",
         get=ALL_405, post=A_WRITE, data=lambda ids: {"ended_on": str(today())},
         invalid=lambda ids: {"ended_on": ""}, invalid_outcome=BACK, back_to=lambda ids: "/outreach/registry",
         table="micro_stations"),
    Case("outreach.volunteer_leave", "/outreach/volunteers/{volunteer_a}/leave",
         get=ALL_405, post=A_WRITE, data=lambda ids: {"ended_on": str(today())},
         invalid=lambda ids: {"ended_on": "昨天"}, invalid_outcome=BACK, back_to=lambda ids: "/outreach/registry",
         table="outreach_volunteers"),
    Case("outreach.targets", "/admin/outreach-targets",
         get=ADMIN_ONLY, post=ADMIN_ONLY, data=lambda ids: {"micro_stations_0": "9", "volunteers_0": "9"},
         invalid=lambda ids: {"micro_stations_0": "九"}, table="outreach_targets"),
    # --- markets (集贸市场): fair scales, re-weighs, the organiser-duty checklist (see make_markets) ------------
    Case("markets.market", "/markets/{market_a}", get=A_READ),
    Case("markets.market", "/markets/{market_b}", get=B_READ, variant="b"),
    Case("markets.fair_scale_mark", "/markets/{market_a}/fair-scales",
         get=ALL_405, post=A_WRITE, data=lambda ids: {"instrument_id": ids.scale_a, "location": "北门"},
         invalid=lambda ids: {"instrument_id": ids.scale_a, "location": ""}, table="fair_scales"),
    Case("markets.fair_scale_unmark", "/markets/fair-scales/{fair_scale_a}/unmark",
         get=ALL_405, post=A_WRITE, data=lambda ids: {}, invalid_outcome=NOFORM, table="fair_scales"),
    Case("markets.reweigh_new", "/markets/fair-scales/{fair_scale_a}/reweigh",
         get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"weighed_on": str(today()), "goods": "苹果", "category": "staple", "claimed_g": "1500",
                           "found_g": "1490"},
         invalid=lambda ids: {"weighed_on": str(today()), "goods": "", "category": "staple", "claimed_g": "1500",
                              "found_g": "1490"},
         table="reweighs"),
    Case("markets.reweigh_void", "/markets/reweighs/{reweigh_a}/void",
         get=A_WRITE, post=A_WRITE, data=lambda ids: {"reason": "称错商品"}, invalid=lambda ids: {"reason": ""},
         table="reweighs"),
    Case("markets.duties", "/inspections/{inspection_market_a}/duties",
         get=A_WRITE, post=A_WRITE, data=lambda ids: {"duty_rules": "met", "duty_fair_scales": "not_met",
                                                      "finding_fair_scales": "y"},
         invalid=lambda ids: {"duty_rules": "maybe"}, table="market_duty_checks"),
    # --- leads (未备案器具线索): station staff read and handle their station's ---------------------
    Case("results.index", "/leads/", get=STAFF_READ, texts_a=(LEAD_A_SERIAL,), texts_b=(LEAD_B_SERIAL,)),
    Case("results.detail", "/leads/{lead_a}", get=A_READ),
    Case("results.detail", "/leads/{lead_b}", get=B_READ, variant="b"),
    Case("results.register", "/leads/{lead_a}/register",
         get=ALL_405, post=A_WRITE,
         data=lambda ids: {"merchant_id": str(ids.merchant_a), "merchant_name": "", "industry": "other",
                           "station_id": str(ids.station_a), "type_id": str(ids.type_scale), "serial_no": LEAD_A_SERIAL,
                           "maker": "", "model": "", "location": "", "version": ids.lead_a_version},
         invalid=lambda ids: {"version": ids.lead_a_version},
         table="result_leads"),
    Case("results.dismiss", "/leads/{lead_a}/dismiss",
         get=ALL_405, post=A_WRITE,
         data=lambda ids: {"reason": "已停业", "version": ids.lead_a_version},
         invalid=lambda ids: {"reason": "", "version": ids.lead_a_version},
         table="result_leads"),
    # --- verification bodies (检定机构): staff read, admins write ----------------------------------
    Case("bodies.index", "/admin/bodies/", get=STAFF_READ),
    Case("bodies.new", "/admin/bodies/new",
         get=ADMIN_ONLY, post=ADMIN_ONLY,
         data=lambda ids: {"name": "丙县计量检定测试所", "code": "", "type_ids": [str(ids.type_scale)],
                           "contact_person": "王工", "contact_phone": "0512-1234567", "is_active": "y"},
         invalid=lambda ids: {"name": ""},
         table="verification_bodies"),
    Case("bodies.edit", "/admin/bodies/{body}/edit",
         get=ADMIN_ONLY, post=ADMIN_ONLY,
         data=lambda ids: {"name": "甲县计量检定测试所（新址）", "code": "JD-1", "type_ids": [str(ids.type_scale)],
                           "contact_person": "李工", "contact_phone": "", "is_active": "y",
                           "version": ids.body_version},
         invalid=lambda ids: {"name": "", "version": ids.body_version},
         table="verification_bodies"),
    Case("bodies.deactivate", "/admin/bodies/{body}/deactivate",
         get=ALL_405, post=ADMIN_ONLY, data=lambda ids: {}, invalid_outcome=NOFORM,
         table="verification_bodies"),
    Case("bodies.activate", "/admin/bodies/{body_off}/activate",
         get=ALL_405, post=ADMIN_ONLY, data=lambda ids: {}, invalid_outcome=NOFORM,
         table="verification_bodies"),
    # --- webhooks (变更通知推送): admins only -----------------------------------------------------
    Case("webhooks.index", "/admin/webhooks/", get=ADMIN_ONLY),
    Case("webhooks.new", "/admin/webhooks/new",
         get=ADMIN_ONLY, post=ADMIN_ONLY,
         # A public address literal: checked and resolved without a DNS query, never called here.
         data=lambda ids: {"token_id": ids.webhook_token, "url": "https://1.1.1.1/metrology-hook",
                           "event_types": ["instrument.created", "verification.recorded"], "description": "数据平台"},
         invalid=lambda ids: {"token_id": ids.webhook_token, "url": "ftp://x", "event_types": []},
         table="webhook_subscriptions"),
    Case("webhooks.detail", "/admin/webhooks/{webhook}", get=ADMIN_ONLY),
    Case("webhooks.detail", "/admin/webhooks/{webhook}?status=pending", get=ADMIN_ONLY, variant="pending"),
    Case("webhooks.pause", "/admin/webhooks/{webhook}/pause",
         get=ALL_405, post=ADMIN_ONLY, data=lambda ids: {}, invalid_outcome=NOFORM, table="webhook_subscriptions"),
    Case("webhooks.resume", "/admin/webhooks/{webhook_off}/resume",
         get=ALL_405, post=ADMIN_ONLY, data=lambda ids: {}, invalid_outcome=NOFORM, table="webhook_subscriptions"),
    Case("webhooks.delete", "/admin/webhooks/{webhook}/delete",
         get=ALL_405, post=ADMIN_ONLY, data=lambda ids: {}, invalid_outcome=NOFORM, table="webhook_subscriptions"),
    Case("webhooks.retry_all", "/admin/webhooks/{webhook}/retry",
         get=ALL_405, post=ADMIN_ONLY, data=lambda ids: {}, invalid_outcome=NOFORM, table="webhook_events"),
    Case("webhooks.retry_event", "/admin/webhooks/{webhook}/events/{webhook_event}/retry",
         get=ALL_405, post=ADMIN_ONLY, data=lambda ids: {}, invalid_outcome=NOFORM, table="webhook_events"),
    # --- admin: users, stations, audit log ----------------------------------------------------
    Case("audit.index", "/admin/audit/", get=ADMIN_ONLY),
    Case("accounts.users", "/admin/users", get=ADMIN_ONLY),
    # --- admin: credit classes -----------------------------------------------------------------
    Case("credit.rule", "/admin/credit/",
         get=ADMIN_ONLY, post=ADMIN_ONLY,
         data=lambda ids: {"window_months": "24", "severe_points": "12", "major_points": "5", "minor_points": "2",
                           "overdue_points": "1", "overdue_cap": "10", "failed_points": "3", "complaint_points": "5", "pledge_points": "3",
                           "model_unit_points": "2", "a_max": "0", "b_max": "5", "c_max": "15", "version": "1"},
         invalid=lambda ids: {"window_months": "abc", "version": "1"},
         table="credit_rules"),
    Case("credit.rule", "/admin/credit/?region_id={county_a}",
         get=ADMIN_ONLY, post=ADMIN_ONLY, variant="county",
         data=lambda ids: {"window_months": "24", "severe_points": "12", "major_points": "5", "minor_points": "2",
                           "overdue_points": "1", "overdue_cap": "10", "failed_points": "3", "complaint_points": "5", "pledge_points": "3",
                           "model_unit_points": "2", "a_max": "0", "b_max": "5", "c_max": "15", "version": "1"},
         invalid=lambda ids: {"window_months": "abc", "version": "1"},
         table="credit_rules"),
    Case("credit.inherit", "/admin/credit/inherit?region_id={county_a}",
         get=ALL_405, post=ADMIN_ONLY, data=lambda ids: {}, invalid_outcome=NOFORM, table="credit_rules"),
    # --- admin: settings a county inherits from its city (app/rollups) --------------------------
    Case("rollups.lead_days", "/admin/lead-days?region_id={county_a}",
         get=ADMIN_ONLY, post=ADMIN_ONLY,
         data=lambda ids: {f"lead_{ids.type_scale}": "45"}, invalid=lambda ids: {f"lead_{ids.type_scale}": "很多"},
         table="region_lead_days"),
    Case("rollups.region_targets", "/admin/region-targets",
         get=ADMIN_ONLY, post=ADMIN_ONLY,
         data=lambda ids: {f"pledges_{ids.county_a}": "50"},
         invalid=lambda ids: {f"pledges_{ids.county_a}": "很多"},
         table="integrity_targets"),
    Case("credit.recompute", "/admin/credit/recompute",
         get=ALL_405, post=ADMIN_ONLY, data=lambda ids: {}, invalid_outcome=NOFORM, table="credit_scores"),
    # --- admin: scheduled jobs ----------------------------------------------------------------
    Case("jobs.index", "/admin/jobs/", get=ADMIN_ONLY),
    Case("jobs.history", "/admin/jobs/due_date_sweep", get=ADMIN_ONLY),
    Case("jobs.run_now", "/admin/jobs/due_date_sweep/run",
         get=ALL_405, post=ADMIN_ONLY, data=lambda ids: {}, invalid_outcome=NOFORM,
         table="job_runs"),
    Case("accounts.user_new", "/admin/users/new",
         get=ADMIN_ONLY, post=ADMIN_ONLY,
         data=lambda ids: {"username": "new_insp", "display_name": "新检查员", "role": "inspector",
                           "station_ids": [str(ids.station_a)], "password": "password-456", "is_active": "y"},
         table="users"),
    Case("accounts.user_edit", "/admin/users/{user_insp_a}/edit",
         get=ADMIN_ONLY, post=ADMIN_ONLY,
         data=lambda ids: {"username": "insp_a", "display_name": "检查员甲", "role": "inspector",
                           "station_ids": [str(ids.station_a)], "is_active": "y",
                           "version": ids.user_insp_a_version},
         table="users"),
    Case("accounts.user_password", "/admin/users/{user_insp_a}/password",
         get=ALL_405, post=ADMIN_ONLY,
         data=lambda ids: {"password": "new-password-789"},
         invalid=lambda ids: {"password": "short"}, invalid_outcome=BACK,
         table="users"),
    Case("accounts.my_settings", "/me/settings",
         get=STAFF_READ, post=STAFF_READ,
         data=lambda ids: {"email": "me@example.com", "wants_alert_digest": "y"},
         invalid=lambda ids: {"email": "not-an-address", "wants_alert_digest": "y"},
         table="users"),
    Case("accounts.change_password", "/me/password",
         get=STAFF_READ, post=STAFF_READ,
         data=lambda ids: {"current_password": factories.PASSWORD, "new_password": "my-own-passphrase-42",
                           "confirm_password": "my-own-passphrase-42"},
         invalid=lambda ids: {"current_password": "wrong-password", "new_password": "my-own-passphrase-42",
                              "confirm_password": "my-own-passphrase-42"},
         table="users"),
    Case("mail.outbox", "/admin/outbox", get=ADMIN_ONLY),
    Case("mail.outbox", "/admin/outbox?status=pending", get=ADMIN_ONLY, variant="pending"),
    Case("mail.message", "/admin/outbox/{message}", get=ADMIN_ONLY),
    Case("accounts.stations", "/admin/stations", get=ADMIN_ONLY),
    Case("accounts.station_new", "/admin/stations/new",
         get=ADMIN_ONLY, post=ADMIN_ONLY,
         data=lambda ids: {"name": "丙所", "code": "C", "division_code": "330100", "county_id": str(ids.county_a)},
         invalid=lambda ids: {"name": "丙所", "code": "C", "county_id": ""},
         table="stations"),
    Case("accounts.station_edit", "/admin/stations/{station_a}/edit",
         get=ADMIN_ONLY, post=ADMIN_ONLY,
         data=lambda ids: {"name": "甲所（新址）", "code": "A", "division_code": "330100",
                           "version": ids.station_a_version},
         table="stations"),
    # --- regions (系统管理 → 行政区划): admins of the whole installation ----------------------------
    Case("regions.index", "/admin/regions/", get=ADMIN_ONLY),
    Case("regions.new", "/admin/regions/new",
         get=ADMIN_ONLY, post=ADMIN_ONLY,
         data=lambda ids: {"code": "330106", "name": "丙区", "level": "county", "parent_id": str(ids.city)},
         invalid=lambda ids: {"code": "33010", "name": "丙区", "level": "county", "parent_id": str(ids.city)},
         table="regions"),
    Case("regions.edit", "/admin/regions/{county_a}/edit",
         get=ADMIN_ONLY, post=ADMIN_ONLY,
         data=lambda ids: {"code": "330102", "name": "甲区（新名）", "parent_id": str(ids.city),
                           "version": ids.county_a_version},
         invalid=lambda ids: {"code": "330102", "name": "", "parent_id": str(ids.city),
                              "version": ids.county_a_version},
         table="regions"),
    Case("regions.delete", "/admin/regions/{region_empty}/delete",
         get=ALL_405, post=ADMIN_ONLY,
         data=lambda ids: {"version": ids.region_empty_version},
         invalid=lambda ids: {"version": ""}, invalid_outcome=BACK,
         back_to=lambda ids: f"/admin/regions/{ids.region_empty}/edit", table="regions"),
    Case("regions.move_station", "/admin/regions/stations/{station_a}/move",
         get=ALL_405, post=ADMIN_ONLY,
         data=lambda ids: {"county_id": str(ids.county_b), "version": ids.station_a_version},
         invalid=lambda ids: {"county_id": "", "version": ids.station_a_version}, invalid_outcome=BACK,
         back_to=lambda ids: "/admin/regions/", table="stations"),
    # --- verification plans -------------------------------------------------------------------
    Case("plans.index", "/plans/?period=2026&overdue=1", get=STAFF_READ,
         texts_a=(MERCHANT_A_NAME,), texts_b=(MERCHANT_B_NAME,)),
    Case("plans.export", "/plans/export.xlsx?period=2026&overdue=1", get=STAFF_READ),
    Case("plans.notices", "/plans/notices?merchant_id={merchant_a}&period=2026&overdue=1", get=A_READ),
    # --- background tasks: a user's own (the admin sees every user's) ----------------------------
    Case("tasks.index", "/tasks/", get=STAFF_READ),
    Case("tasks.index", "/tasks/?all=1", get=STAFF_READ, variant="all"),
    Case("tasks.detail", "/tasks/{task_a}", get=E(LOGIN, OK, 404, 404, OK)),
    Case("tasks.download", "/tasks/{task_a}/download", get=E(LOGIN, OK, 404, 404, OK)),
    # --- monthly reports ------------------------------------------------------------------------
    Case("monthly.index", "/reports/monthly/", get=STAFF_READ),
    Case("monthly.build", "/reports/monthly/build",
         get=ALL_405,
         # insp_b may build reports, but only of station B: naming station A is refused on the form.
         post=E(LOGIN, OK, FORM, OK, OK),
         data=lambda ids: {"month": "2026-10", "station_id": str(ids.station_a)},
         invalid=lambda ids: {"month": "2026-13", "station_id": str(ids.station_a)},
         table="monthly_reports"),
    Case("monthly.download", "/reports/monthly/{report_a}/download", get=A_READ, variant="station A"),
    Case("monthly.download", "/reports/monthly/{report_all}/download", get=E(LOGIN, 404, 404, OK, OK),
         variant="all stations"),
    # --- merchants ----------------------------------------------------------------------------
    Case("merchants.index", "/merchants/", get=STAFF_READ,
         texts_a=(MERCHANT_A_NAME,), texts_b=(MERCHANT_B_NAME,)),
    Case("merchants.export", "/merchants/export.xlsx?sort=-name", get=STAFF_READ),
    Case("merchants.detail", "/merchants/{merchant_a}", get=A_READ, variant="station A"),
    Case("merchants.detail", "/merchants/{merchant_b}", get=B_READ, variant="station B"),
    Case("merchants.new", "/merchants/new",
         get=LEDGER_NEW,
         # insp_b may register merchants, but not in station A: the station choice is refused.
         post=E(LOGIN, OK, FORM, 403, OK),
         data=lambda ids: {"name": "甲市场新摊位", "industry": "market_vendor", "station_id": str(ids.station_a),
                           "parent_id": ""},
         table="merchants"),
    Case("merchants.edit", "/merchants/{merchant_a}/edit",
         get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"name": "甲市场摊位1（改名）", "industry": "market_vendor",
                           "station_id": str(ids.station_a), "parent_id": "", "version": ids.merchant_a_version},
         invalid=lambda ids: {"name": "", "industry": "market_vendor", "station_id": str(ids.station_a),
                              "version": ids.merchant_a_version},
         table="merchants"),
    # --- integrity pledges (诚信计量): pledges of merchants A and B, see make_pledges ----------------
    Case("integrity.index", "/integrity/", get=STAFF_READ, texts_a=(MERCHANT_A_NAME,), texts_b=(MERCHANT_B_NAME,)),
    Case("integrity.index", "/integrity/?status=active&model_unit=1&industry=fuel_station", get=STAFF_READ,
         variant="filtered"),
    Case("integrity.export", "/integrity/export.xlsx?status=active", get=STAFF_READ),
    Case("integrity.new", "/integrity/new?q=%E6%91%8A", get=LEDGER_NEW, variant="pick merchant"),
    Case("integrity.new", "/integrity/new?merchant_id={merchant_a2}",
         get=A_WRITE, post=A_WRITE, variant="merchant A",
         data=lambda ids: {"signed_on": "2025-01-05", "review_on": "2027-01-05", "scope_text": "全部在用电子计价秤",
                           "document": (io.BytesIO(b"%PDF-1.4 signed"), "承诺书.pdf")},
         invalid=lambda ids: {"signed_on": "2025-13-40", "scope_text": "全部"},
         table="pledges"),
    Case("integrity.detail", "/integrity/{pledge_a}", get=A_READ, variant="station A"),
    Case("integrity.detail", "/integrity/{pledge_b}", get=B_READ, variant="station B"),
    Case("integrity.document", "/integrity/{pledge_a}/document", get=A_READ),
    Case("integrity.edit", "/integrity/{pledge_a}/edit",
         get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"signed_on": "2024-03-01", "review_on": "2028-03-01", "scope_text": "全部计量器具",
                           "version": ids.pledge_a_version},
         invalid=lambda ids: {"signed_on": "", "version": ids.pledge_a_version},
         table="pledges"),
    Case("integrity.revoke", "/integrity/{pledge_a}/revoke",
         get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"revoked_on": "2025-06-01", "reason": "检查发现计量作弊", "finding_id": "",
                           "version": ids.pledge_a_version},
         invalid=lambda ids: {"revoked_on": "2025-06-01", "reason": "", "version": ids.pledge_a_version},
         table="pledges"),
    Case("integrity.model_unit", "/integrity/{pledge_a}/model-unit",
         get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"on": "2025-05-01", "decision": "市监计〔2025〕12号", "version": ids.pledge_a_version},
         invalid=lambda ids: {"on": "", "decision": "", "version": ids.pledge_a_version},
         table="pledges"),
    Case("integrity.targets", "/integrity/targets",
         get=ADMIN_ONLY, post=ADMIN_ONLY,
         data=lambda ids: {"pledges_all": "100", "model_units_all": "10", f"pledges_{ids.station_a}": "60"},
         invalid=lambda ids: {"pledges_all": "很多"},
         table="integrity_targets"),
    # --- public lookup (no login) ---------------------------------------------------------------
    Case("public.search", "/public/", get=E(OK, OK, OK, OK, OK), variant="empty"),
    Case("public.search", "/public/?q=%E7%94%B2%E5%B8%82%E5%9C%BA", get=E(OK, OK, OK, OK, OK), variant="name"),
    # A label's address: staff whose stations include the instrument go on to its internal page.
    Case("public.instrument", "/public/i/{token_a}", get=E(OK, ONWARD, OK, ONWARD, ONWARD), variant="token"),
    Case("public.instrument", "/public/i/{instrument_a}", get=E(404, 404, 404, 404, 404), variant="database id"),
    # 我要反映问题: anyone may send a complaint (staff too); the form with a wrong or missing answer comes back.
    Case("public.complaint_instrument", "/public/i/{token_a}/report", get=PUBLIC, post=PUBLIC,
         data=public_complaint, invalid=lambda ids: {"category": "short_weight", "description": "x", "answer": "1"},
         table="complaints"),
    Case("public.complaint_instrument", "/public/i/{instrument_a}/report", get=E(404, 404, 404, 404, 404),
         variant="database id"),
    Case("public.complaint_merchant", "/public/m/{merchant_a_ref}/report", get=PUBLIC, post=PUBLIC,
         data=public_complaint, invalid=lambda ids: {}, table="complaints"),
    Case("public.complaint_merchant", "/public/m/{merchant_a}/report", get=E(404, 404, 404, 404, 404),
         variant="merchant id"),
    Case("public.complaint_lookup", "/public/complaints/", get=PUBLIC),
    Case("public.complaint_lookup", "/public/complaints/?ref=TS-2345-6789-ABCD", get=PUBLIC, variant="unknown"),
    # --- complaints (投诉举报): station staff handle their stations', regional users read ---------------
    Case("complaints.index", "/complaints/", get=STAFF_READ, texts_a=(MERCHANT_A_NAME,), texts_b=(MERCHANT_B_NAME,)),
    Case("complaints.index", "/complaints/?state=all&overdue=1&station_id={station_a}", get=STAFF_READ,
         variant="filtered"),
    Case("complaints.export", "/complaints/export.xlsx?state=all", get=STAFF_READ),
    Case("complaints.new", "/complaints/new", get=LEDGER_NEW),
    Case("complaints.new", "/complaints/new?merchant_id={merchant_a}", get=A_WRITE, post=A_WRITE, variant="merchant A",
         data=lambda ids: {"channel": "12315", "transfer_no": "12315-A-9", "received_on": today().isoformat(),
                           "category": "other", "description": "电话反映", "phone": "", "phone_consent": ""},
         invalid=lambda ids: {"channel": "12315", "received_on": "昨天"}, table="complaints"),
    Case("complaints.detail", "/complaints/{complaint_a}", get=A_READ),
    Case("complaints.detail", "/complaints/{complaint_b}", get=B_READ, variant="b"),
    Case("complaints.photo", "/complaints/{complaint_a}/photo", get=A_READ),
    Case("complaints.assign", "/complaints/{complaint_a}/assign", get=ALL_405, post=A_WRITE,
         data=lambda ids: {"assignee_id": str(ids.user_insp_a), "version": ids.complaint_a_version},
         invalid=lambda ids: {"assignee_id": "", "version": ids.complaint_a_version}, table="complaints"),
    Case("complaints.link_inspection", "/complaints/{complaint_a}/inspection", get=ALL_405, post=A_WRITE,
         data=lambda ids: {"inspection_id": str(ids.complaint_inspection_a), "version": ids.complaint_a_version},
         invalid=lambda ids: {"inspection_id": "", "version": ids.complaint_a_version}, table="complaints"),
    Case("complaints.outcome", "/complaints/{complaint_a}/outcome", get=ALL_405, post=A_WRITE,
         data=lambda ids: {"outcome": "partly", "note": "部分属实"}, invalid=lambda ids: {"outcome": "maybe"},
         table="complaint_outcomes"),
    Case("complaints.close", "/complaints/{complaint_a2}/close", get=ALL_405, post=A_WRITE,
         data=lambda ids: {"reply": "经核查属实，已责令改正。", "version": ids.complaint_a2_version},
         invalid=lambda ids: {"reply": "", "version": ids.complaint_a2_version}, table="complaints"),
    Case("complaints.void", "/complaints/{complaint_a}/void", get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"reason": "重复转办"}, invalid=lambda ids: {"reason": ""}, table="complaints"),
    Case("complaints.void_outcome", "/complaints/outcomes/{outcome_a}/void", get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"reason": "录入错误"}, invalid=lambda ids: {"reason": ""}, table="complaint_outcomes"),
    # --- the working-day calendar: the installation's admins -----------------------------------------
    Case("workdays.index", "/admin/calendar/", get=ADMIN_ONLY, post=ADMIN_ONLY,
         data=lambda ids: {"day": "2027-02-06", "kind": "workday", "name": "春节", "source": "国务院办公厅通知"},
         invalid=lambda ids: {"day": "", "kind": "holiday"}, table="calendar_days"),
    Case("workdays.index", "/admin/calendar/?year=2026", get=ADMIN_ONLY, variant="year"),
    Case("workdays.delete", "/admin/calendar/{calendar_day}/delete", get=ALL_405, post=ADMIN_ONLY,
         data=lambda ids: {}, invalid_outcome=NOFORM, table="calendar_days"),
    Case("workdays.seed_2026", "/admin/calendar/seed-2026", get=ALL_405, post=ADMIN_ONLY,
         data=lambda ids: {}, invalid_outcome=NOFORM, table="calendar_days"),
    # --- QR labels --------------------------------------------------------------------------------
    Case("instruments.labels", "/instruments/labels",
         get=STAFF_READ, post=E(LOGIN, OK, OK, OK, OK),
         data=lambda ids: {"size": "52x30"}, invalid=lambda ids: {"size": "a3"},
         table="instruments"),
    Case("instruments.labels", "/instruments/labels?merchant_id={merchant_a}", get=A_READ, variant="merchant A"),
    Case("instruments.labels_sheet", "/instruments/labels/sheet?size=38x21", get=STAFF_READ),
    Case("instruments.public_page", "/instruments/{instrument_a}/public",
         get=ALL_405, post=E(LOGIN, OK, 404, OK, OK), data=lambda ids: {}, invalid_outcome=NOFORM,
         table="instruments"),
    # --- search -------------------------------------------------------------------------------------
    Case("search.index", "/search", get=STAFF_READ, variant="empty"),
    Case("search.index", "/search?q=001", get=STAFF_READ, variant="serials",
         texts_a=(SERIAL_A,), texts_b=(SERIAL_B,)),
    Case("search.index", "/search?q=001&kind=instruments&page=2", get=STAFF_READ, variant="one kind",
         texts_a=(SERIAL_A,), texts_b=(SERIAL_B,)),
    Case("search.index", "/search?q=%E5%B8%82%E5%9C%BA&kind=merchants", get=STAFF_READ, variant="merchants"),
    Case("search.index", "/search?q=%EF%BC%88A", get=STAFF_READ, variant="too short"),
    # --- instruments, worklists, verifications ------------------------------------------------
    Case("instruments.export", "/instruments/export.xlsx?type_id={type_scale}", get=STAFF_READ),
    Case("instruments.worklist_export", "/worklists/overdue/export.xlsx", get=STAFF_READ),
    Case("instruments.export_ecqs", "/instruments/ecqs.xlsx?station_id={station_a}", get=STAFF_READ, variant="station"),
    Case("instruments.export_ecqs", "/instruments/ecqs.xlsx?merchant_id={merchant_a}", get=A_READ, variant="merchant A"),
    Case("instruments.index", "/instruments/", get=STAFF_READ, texts_a=(SERIAL_A,), texts_b=(SERIAL_B,)),
    Case("instruments.worklist", "/worklists/overdue", get=STAFF_READ, variant="overdue",
         texts_a=(SERIAL_A,), texts_b=(SERIAL_B,)),
    Case("instruments.worklist", "/worklists/overdue?county_id={county_a}", get=E(LOGIN, OK, 404, OK, OK),
         variant="county"),
    Case("instruments.worklist", "/worklists/no-such-list", get=E(LOGIN, 404, 404, 404, 404), variant="unknown"),
    Case("instruments.detail", "/instruments/{instrument_a}", get=A_READ, variant="station A"),
    Case("instruments.detail", "/instruments/{instrument_b}", get=B_READ, variant="station B"),
    Case("instruments.new", "/instruments/new?q=%E6%91%8A", get=LEDGER_NEW, variant="pick merchant"),
    Case("instruments.new", "/instruments/new?merchant_id={merchant_a}",
         get=A_WRITE, post=A_WRITE, variant="merchant A",
         data=lambda ids: {"type_id": str(ids.type_scale), "serial_no": "A-NEW-1", "status": "in_use"},
         invalid=lambda ids: {"type_id": str(ids.type_scale), "serial_no": "", "status": "in_use"},
         table="instruments"),
    Case("instruments.edit", "/instruments/{instrument_a}/edit",
         get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"type_id": str(ids.type_scale), "serial_no": "A-001-X", "status": "in_use",
                           "version": ids.instrument_a_version},
         invalid=lambda ids: {"type_id": str(ids.type_scale), "serial_no": "", "status": "in_use",
                              "version": ids.instrument_a_version},
         table="instruments"),
    Case("instruments.verify", "/instruments/{instrument_a}/verifications/new",
         get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"verified_on": "2025-06-01", "result": "pass", "valid_until": "2026-06-01",
                           "certificate_no": "C-2025-9", "institution": "市计量所"},
         invalid=lambda ids: {"verified_on": "not-a-date", "result": "pass"},
         table="verifications"),
    Case("instruments.void", "/verifications/{verification_a}/void",
         get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"reason": "证书编号录入错误"},
         invalid=lambda ids: {"reason": ""},
         table="verifications"),
    Case("instruments.replace", "/instruments/{instrument_a}/replace",
         get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"serial_no": "A-002", "maker": "", "model": ""},
         invalid=lambda ids: {"serial_no": "", "verified_on": "2025-13-45"},
         table="instruments"),
    # --- certificate files of verifications: see make_certificates -------------------------------
    Case("certificates.new", "/verifications/{verification_a}/certificates/new",
         get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"file": (io.BytesIO(factories.WHOLE_PDF), "证书.pdf")},
         invalid=lambda ids: {"file": (io.BytesIO(b"<html><script>alert(1)</script></html>"), "证书.pdf")},
         table="verification_certificates"),
    Case("certificates.show", "/certificates/{certificate_a}", get=A_READ, variant="station A"),
    Case("certificates.show", "/certificates/{certificate_b}", get=B_READ, variant="station B"),
    Case("certificates.download", "/certificates/{certificate_a}/download", get=A_READ, variant="station A"),
    Case("certificates.download", "/certificates/{certificate_b}/download", get=B_READ, variant="station B"),
    Case("certificates.void", "/certificates/{certificate_a}/void",
         get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"reason": "上传了另一台器具的证书"},
         invalid=lambda ids: {"reason": ""},
         table="verification_certificates"),
    # --- alerts (预警中心): the sweep's overdue alerts of both stations, see make_alerts -------------
    Case("alerts.export", "/alerts/export.xlsx?status=all", get=STAFF_READ),
    Case("alerts.index", "/alerts/", get=STAFF_READ, texts_a=(SERIAL_A,), texts_b=(SERIAL_B,)),
    Case("alerts.index", "/alerts/?county_id={county_a}", get=E(LOGIN, OK, 404, OK, OK), variant="county"),
    Case("alerts.index", "/alerts/?kind=overdue&status=all&unacknowledged=1", get=STAFF_READ, variant="filtered",
         texts_a=(SERIAL_A,), texts_b=(SERIAL_B,)),
    Case("alerts.acknowledge", "/alerts/{alert_a}/acknowledge",
         get=ALL_405, post=A_WRITE,
         data=lambda ids: {"note": "已通知经营者送检", "next": "/alerts/?kind=overdue"},
         invalid=lambda ids: {"note": "太长" * 101, "next": "/alerts/?kind=overdue"}, invalid_outcome=BACK,
         back_to=lambda ids: "/alerts/", table="alerts"),
    # --- imports (台账导入): batches of station A and B, see make_batches --------------------------
    Case("imports.index", "/imports/", get=STAFF_READ, texts_a=(BATCH_A_FILE,), texts_b=(BATCH_B_FILE,)),
    Case("imports.new", "/imports/new",
         get=LEDGER_NEW,
         # insp_b may import, but not into station A: the station choice is refused.
         post=E(LOGIN, OK, FORM, 403, OK),
         data=upload, invalid=lambda ids: {"station_id": str(ids.station_a)},
         table="import_batches"),
    Case("imports.detail", "/imports/{batch_a}", get=A_READ, variant="station A"),
    Case("imports.detail", "/imports/{batch_b}", get=B_READ, variant="station B"),
    Case("imports.detail", "/imports/{batch_a}?show=errors&page=2", get=A_READ, variant="filtered"),
    Case("imports.progress", "/imports/{batch_a}/progress", get=A_READ),
    Case("imports.errors", "/imports/{batch_a}/errors.xlsx", get=A_READ),
    Case("imports.sheet", "/imports/{batch_a}/sheet",
         get=ALL_405, post=A_WRITE,
         data=lambda ids: {"sheet": "甲所台账", "version": ids.batch_a_version},
         invalid=lambda ids: {"sheet": "没有这个工作表", "version": ids.batch_a_version},
         table="import_rows"),
    Case("imports.mapping", "/imports/{batch_a}/mapping",
         get=ALL_405, post=A_WRITE,
         data=lambda ids: {"version": ids.batch_a_version, "f_merchant_name": "0", "f_kind": "1",
                           "f_serial_no": "2", "f_verified_on": "3"},
         invalid=lambda ids: {"version": ids.batch_a_version, "f_merchant_name": "0", "f_kind": "1"},
         table="import_rows"),
    Case("imports.choices", "/imports/{batch_a}/choices",
         get=ALL_405, post=A_WRITE,
         data=lambda ids: {"version": ids.batch_a_version, "sheet": "甲所台账", "station_id": str(ids.station_a),
                           "header_row": "1"},
         invalid=lambda ids: {"version": ids.batch_a_version, "sheet": "没有这个工作表",
                              "station_id": str(ids.station_a)},
         table="import_batches"),
    Case("imports.save_mapping", "/imports/{batch_a}/mapping/save",
         get=ALL_405, post=A_WRITE,
         data=lambda ids: {"name": "甲所台账格式"},
         table="import_mappings"),
    Case("imports.kind_values", "/imports/{batch_a}/kinds",
         get=ALL_405, post=A_WRITE,
         data=lambda ids: {"version": ids.batch_a_version, "value": "电子计价秤", "kind": "elec_price_scale"},
         invalid=lambda ids: {"version": ids.batch_a_version, "value": "电子计价秤", "kind": "no_such_kind"},
         table="import_batches"),
    Case("imports.apply", "/imports/{batch_a}/apply",
         get=ALL_405, post=A_WRITE,
         data=lambda ids: {"version": ids.batch_a_version},
         invalid=lambda ids: {"version": ids.batch_a_version - 1},
         table="import_batches"),
    Case("imports.undo", "/imports/{batch_applied}/undo",
         get=ALL_405, post=A_WRITE,
         data=lambda ids: {"version": ids.batch_applied_version},
         invalid=lambda ids: {},
         table="import_batches"),
    # --- imports of a workbook (one sheet per station): see make_workbooks ------------------------
    Case("imports.detail", "/imports/{workbook}", get=A_READ, variant="workbook"),
    Case("imports.progress", "/imports/{workbook}/progress", get=A_READ, variant="workbook"),
    Case("imports.sheet_station", "/imports/{workbook}/sheets",
         get=ALL_405, post=A_WRITE,
         data=lambda ids: {"sheet": ids.workbook_sheet, "station_id": "", "version": ids.workbook_version},
         invalid=lambda ids: {"sheet": ids.workbook_sheet, "station_id": "999999", "version": ids.workbook_version},
         table="import_batches"),
    Case("imports.replan_workbook", "/imports/{workbook}/replan-all",
         get=ALL_405, post=A_WRITE,
         data=lambda ids: {"version": ids.workbook_version},
         invalid=lambda ids: {"version": ids.workbook_version - 1},
         table="import_batches"),
    Case("imports.apply_workbook", "/imports/{workbook}/apply-all",
         get=ALL_405, post=A_WRITE,
         data=lambda ids: {"version": ids.workbook_version, "sheets": ids.workbook_sheets},
         invalid=lambda ids: {"version": ids.workbook_version - 1, "sheets": ids.workbook_sheets},
         table="import_batches"),
    Case("imports.undo_workbook", "/imports/{workbook_applied}/undo-all",
         get=ALL_405, post=A_WRITE,
         data=lambda ids: {"version": ids.workbook_applied_version},
         invalid=lambda ids: {},
         table="import_batches"),
    # --- field work on a phone (现场检查): the JSON API ------------------------------------------------
    Case("field.api_token", "/field/api/token", get=API_READ),
    Case("field.api_packet", "/field/api/packet", get=API_READ),
    Case("field.api_merchant", "/field/api/merchants/{merchant_a}", get=E(401, OK, 404, OK, OK)),
    Case("field.api_inspection", "/field/api/inspections",
         get=ALL_405, post=E(401, OK, 404, 403, OK), data=field_draft,
         invalid=lambda ids: {"draft": json.dumps({"client_id": "not-a-uuid"})}, invalid_outcome=REFUSED,
         table="inspections"),
    # --- special inspections (专项检查): see make_inspections ------------------------------------
    Case("inspections.inspections_export", "/inspections/export.xlsx", get=STAFF_READ),
    Case("inspections.findings_export", "/inspections/findings.xlsx?station_id={station_a}", get=STAFF_READ),
    Case("inspections.rectifications_export", "/rectifications/export.xlsx?state=all", get=STAFF_READ),
    Case("inspections.campaigns", "/campaigns/", get=STAFF_READ),
    Case("inspections.campaign_new", "/campaigns/new",
         get=SUPERVISE, post=SUPERVISE,
         data=lambda ids: {"name": "加油机专项检查", "starts_on": "2026-12-01", "ends_on": "2026-12-31",
                           "station_ids": [str(ids.station_a), str(ids.station_b)], "industries": ["fuel_station"]},
         invalid=lambda ids: {"name": "", "starts_on": "2026-12-31", "ends_on": "2026-12-01"},
         table="campaigns"),
    Case("inspections.campaign", "/campaigns/{campaign}", get=STAFF_READ),
    Case("inspections.campaign_edit", "/campaigns/{campaign}/edit",
         get=SUPERVISE, post=SUPERVISE,
         data=lambda ids: {"name": "电子计价秤专项检查（改）", "starts_on": "2026-11-01", "ends_on": "2026-12-31",
                           "station_ids": [str(ids.station_a)], "version": ids.campaign_version},
         invalid=lambda ids: {"name": "改", "starts_on": "2026-12-31", "ends_on": "2026-11-01",
                              "station_ids": [str(ids.station_a)], "version": ids.campaign_version},
         table="campaigns"),
    Case("inspections.target_new", "/campaigns/{campaign}/targets/new?q=%E7%94%B2",
         get=SUPERVISE, post=SUPERVISE,
         data=lambda ids: {"merchant_id": str(ids.merchant_a)}, invalid=lambda ids: {},
         table="campaign_targets"),
    Case("inspections.draw_new", "/campaigns/{campaign}/draw",
         get=SUPERVISE, post=SUPERVISE,
         data=lambda ids: {"station_ids": [str(ids.station_a), str(ids.station_b)], "rate_A": "1", "rate_B": "2",
                           "rate_C": "10", "rate_D": "30", "rate_none": "100", "inspectors_per_target": "2",
                           "roster_ids": [str(ids.user_insp_a), str(ids.user_insp_b), str(ids.user_super)],
                           "seed": "20261130"},
         invalid=lambda ids: {"station_ids": [str(ids.station_a)], "rate_A": "150", "rate_B": "2", "rate_C": "10",
                              "rate_D": "30", "rate_none": "5", "inspectors_per_target": "1"},
         table="random_draws"),
    Case("inspections.draw", "/draws/{draw}", get=STAFF_READ),
    Case("inspections.draw_publish", "/draws/{draw}/publish",
         get=SUPERVISE, post=SUPERVISE, data=lambda ids: {"confirm": "y"}, invalid=lambda ids: {},
         table="random_draws"),
    Case("inspections.campaign_targets_export", "/campaigns/{campaign}/targets.xlsx", get=STAFF_READ),
    Case("inspections.finding_void", "/findings/{finding_a}/void",
         get=A_WRITE, post=A_WRITE, data=lambda ids: {"reason": "问题登记在错误的器具上"},
         invalid=lambda ids: {"reason": "  "}, table="findings"),
    Case("inspections.check_correct", "/inspections/checks/{check_ok_a}/outcome",
         get=A_WRITE, post=A_WRITE, data=lambda ids: {"reason": "复核现场照片，铅封已破损"},
         invalid=lambda ids: {"reason": ""}, table="inspection_instruments"),
    Case("inspections.extend", "/rectifications/{rectification_a}/extend",
         get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"new_deadline": (today() + dt.timedelta(days=60)).isoformat(), "reason": "需返厂维修",
                           "version": ids.rectification_a_version},
         invalid=lambda ids: {"new_deadline": "2026-02-30", "reason": "需返厂维修",
                              "version": ids.rectification_a_version},
         table="deadline_extensions"),
    # --- cases (案件) ------------------------------------------------------------------------------
    Case("cases.index", "/cases/", get=STAFF_READ, texts_a=(CASE_A_NO,), texts_b=(CASE_B_NO,)),
    Case("cases.index", "/cases/?state=all&stage=filed", get=STAFF_READ, variant="filtered",
         texts_a=(CASE_A_NO,), texts_b=(CASE_B_NO,)),
    Case("cases.export", "/cases/export.xlsx", get=STAFF_READ),
    Case("cases.detail", "/cases/{case_a}", get=A_READ, variant="station A"),
    Case("cases.detail", "/cases/{case_b}", get=B_READ, variant="station B"),
    Case("cases.stage_new", "/cases/{case_a}/stage", get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"stage": "investigation", "stage_on": today().isoformat(), "team_id": "",
                           "version": ids.case_a_version},
         invalid=lambda ids: {"stage": "investigation", "stage_on": "2026-02-30", "version": ids.case_a_version},
         table="case_stages"),
    Case("cases.correct", "/cases/{case_a}/correct", get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"stage": "filed", "stage_on": today().isoformat(), "notes": "立案日期更正",
                           "version": ids.case_a_version},
         invalid=lambda ids: {"stage": "filed", "stage_on": "", "version": ids.case_a_version},
         table="case_stages"),
    Case("cases.extend", "/cases/{case_a}/extend", get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"days": "30", "approved_on": today().isoformat(), "approver": "王局长",
                           "reason": "案情复杂，需补充检定", "version": ids.case_a_version},
         invalid=lambda ids: {"days": "31", "approved_on": "明天", "approver": "", "reason": "",
                              "version": ids.case_a_version},
         table="case_extensions"),
    Case("cases.publish", "/cases/{case_decided_a}/publish", get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"published_on": today().isoformat()}, invalid=lambda ids: {"published_on": "明天"},
         table="cases"),
    Case("cases.void", "/cases/{case_a}/void", get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"reason": "重复立案"}, invalid=lambda ids: {"reason": " "}, table="cases"),
    Case("cases.limits", "/cases/limits", get=ADMIN_ONLY, post=ADMIN_ONLY,
         data=lambda ids: {"days_filed": "15", "days_investigation": "45", "days_notice": "75", "days_decision": "90",
                           "days_execution": "15", "days_closed": "30"},
         invalid=lambda ids: {"days_filed": "0", "days_investigation": "abc"}, table="case_stage_limits"),
    Case("cases.teams", "/cases/teams", get=ADMIN_ONLY),
    Case("cases.team_new", "/cases/teams/new", get=ADMIN_ONLY, post=ADMIN_ONLY,
         data=lambda ids: {"name": "乙县执法大队", "is_active": "y", "member_ids": [str(ids.user_insp_a)]},
         invalid=lambda ids: {"name": ""}, table="enforcement_teams"),
    Case("cases.team_edit", "/cases/teams/{team}", get=ADMIN_ONLY, post=ADMIN_ONLY,
         data=lambda ids: {"name": "甲县执法大队（改）", "is_active": "y", "version": ids.team_version},
         invalid=lambda ids: {"name": "", "version": ids.team_version}, table="enforcement_teams"),
    Case("public.draw", "/public/draws/{draw_published}", get=PUBLIC, variant="published"),
    Case("public.draw", "/public/draws/{draw}", get=E(404, 404, 404, 404, 404), variant="not published"),
    Case("inspections.inspections", "/inspections/", get=STAFF_READ,
         texts_a=(MERCHANT_A_NAME,), texts_b=(MERCHANT_B_NAME,)),
    Case("inspections.inspection_new", "/inspections/new?q=%E6%91%8A", get=LEDGER_NEW, variant="pick merchant"),
    Case("inspections.inspection_new", "/inspections/new?merchant_id={merchant_a}",
         get=A_WRITE, post=A_WRITE, variant="merchant A",
         data=lambda ids: {"inspected_on": today().isoformat(), "visit_outcome": "conducted",
                           "inspector_ids": [str(ids.user_insp_a), str(ids.user_super)],
                           f"inst_{ids.instrument_a}": "ok"},
         invalid=lambda ids: {"inspected_on": today().isoformat(), "visit_outcome": "conducted",
                              "inspector_ids": [str(ids.user_insp_a)]},
         table="inspections"),
    Case("inspections.inspection", "/inspections/{inspection_a}", get=A_READ, variant="station A"),
    Case("inspections.inspection", "/inspections/{inspection_b}", get=B_READ, variant="station B"),
    Case("inspections.finding_new", "/inspections/{inspection_a}/findings/new",
         get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"code_id": str(ids.finding_code), "check_id": "", "measure": "rectify",
                           "description": "未张贴检定合格标志"},
         invalid=lambda ids: {"code_id": str(ids.finding_code), "measure": "case", "case_no": ""},
         table="findings"),
    Case("inspections.evidence_new", "/inspections/{inspection_a}/evidence",
         get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"file": (io.BytesIO(factories.PNG), "现场照片.png"), "finding_id": ""},
         invalid=lambda ids: {"file": (io.BytesIO(b"<html>not a photo</html>"), "photo.png")},
         table="evidence_files"),
    Case("inspections.sign", "/inspections/{inspection_a}/sign",
         get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"role": "merchant", "user_id": "", "name": "张三",
                           "signature": "data:image/png;base64," + base64.b64encode(factories.PNG).decode()},
         invalid=lambda ids: {"role": "merchant", "user_id": "", "name": "", "signature": ""},
         table="inspection_signatures"),
    Case("inspections.signature_image", "/signatures/{signature_a}", get=A_READ, variant="station A"),
    Case("inspections.signature_image", "/signatures/{signature_b}", get=B_READ, variant="station B"),
    Case("inspections.evidence", "/evidence/{evidence_a}", get=A_READ, variant="station A"),
    Case("inspections.evidence", "/evidence/{evidence_b}", get=B_READ, variant="station B"),
    Case("inspections.print_notice", "/inspections/{inspection_a}/print/notice", get=A_READ),
    Case("inspections.print_record", "/inspections/{inspection_a}/print/record", get=A_READ),
    Case("inspections.rectifications", "/rectifications/", get=STAFF_READ,
         texts_a=(MERCHANT_A_NAME,), texts_b=(MERCHANT_B_NAME,)),
    Case("inspections.recheck", "/rectifications/{rectification_a}/recheck",
         get=A_WRITE, post=A_WRITE,
         data=lambda ids: {"rechecked_on": today().isoformat(), "rectified": "yes", "notes": "已补贴合格标志",
                           "version": ids.rectification_a_version},
         invalid=lambda ids: {"rechecked_on": "2026-02-30", "rectified": "yes",
                              "version": ids.rectification_a_version},
         table="rechecks"),
    Case("inspections.stats", "/inspections/stats", get=STAFF_READ),
    # --- field: the 扫码 page and what a read code names (the world's instruments have no token: nothing) ----
    Case("field.scan", "/field/scan", get=STAFF_READ),
    Case("field.scan_resolve", "/field/scan/resolve?code=https%3A%2F%2Fexample.com%2F", get=STAFF_READ),
    # --- field (现场检查 on the phone): the shell pages; the worker and manifest are public files -----------
    Case("field.index", "/field/", get=STAFF_READ),
    Case("field.index", "/field/?q=%E7%94%B2", get=STAFF_READ, variant="search",
         texts_a=(MERCHANT_A_NAME,)),
    Case("field.inspect", "/field/inspect", get=LEDGER_NEW, variant="shell"),
    Case("field.inspect", "/field/inspect?merchant_id={merchant_a}&instrument_id={instrument_a}", get=A_WRITE,
         variant="merchant A"),
    Case("field.service_worker", "/field/sw.js", get=PUBLIC),
    Case("field.manifest", "/field/manifest.webmanifest", get=PUBLIC),
    # --- API tokens (系统管理 → API 令牌): admins only; the secret is shown once -----------------------
    Case("api_tokens.index", "/admin/api-tokens/", get=ADMIN_ONLY),
    Case("api_tokens.new", "/admin/api-tokens/new", get=ADMIN_ONLY, post=ADMIN_ONLY,
         data=lambda ids: {"name": "县供水公司", "scope": "read", "station_ids": [str(ids.station_a)], "body_id": "0",
                           "expires_on": "2099-12-31", "rate_per_minute": "60"},
         invalid=lambda ids: {"name": "", "scope": "read", "body_id": "0"}, table="api_tokens",
         invalid_outcome=FORM),
    Case("api_tokens.revoke", "/admin/api-tokens/{api_token}/revoke", get=ADMIN_ONLY, post=E(LOGIN, 403, 403, 403, OK),
         data=lambda ids: {}, invalid_outcome=NOFORM, table="api_tokens"),
    # --- the REST API (/api/v1): by token only (API_MATRIX below runs every endpoint with each kind of token);
    # its document and documentation page are public ---------------------------------------------------
    Case("api.merchant_list", "/api/v1/merchants", get=NO_SESSION),
    Case("api.Instruments", "/api/v1/instruments", get=NO_SESSION, post=NO_SESSION, data=lambda ids: {}),
    Case("api.Verifications", "/api/v1/verifications", get=NO_SESSION, post=NO_SESSION, data=lambda ids: {}),
    Case("api.Webhooks", "/api/v1/webhooks", get=NO_SESSION, post=NO_SESSION, data=lambda ids: {}),
    Case("api.Webhook", "/api/v1/webhooks/1", get=E(405, 405, 405, 405, 405)),  # DELETE: by token (API_MATRIX)
    Case("api.inspection_list", "/api/v1/inspections", get=NO_SESSION),
    Case("api.finding_list", "/api/v1/findings", get=NO_SESSION),
    Case("api.rectification_list", "/api/v1/rectifications", get=NO_SESSION),
    Case("api.alert_list", "/api/v1/alerts", get=NO_SESSION),
    Case("api-docs.openapi_json", "/api/v1/openapi.json", get=PUBLIC),
    Case("api_docs.docs", "/api/v1/docs", get=PUBLIC),
]

# Routes answering a file the browser uses as part of the pages (not a download): no attachment header.
PAGE_ASSETS = {"field.service_worker", "field.manifest"}
# Routes showing a user's file inline (a certificate's PDF or photo): only under the policy's sandbox.
INLINE_FILES = {"certificates.show"}

# Routes deliberately outside the matrix, each with its reason.
EXCLUDED = {
    "static": "the app's own CSS/JS files, public by design (the login page needs them)",
    "bootstrap.static": "Bootstrap's files served by Bootstrap-Flask from the installed package, public by design",
}


# --- helpers -------------------------------------------------------------------------------------

# The batches the matrix needs are parsed in this process: the sandbox has its own tests, and a child
# process per batch, for every import route and persona, was a good part of the suite's time.
IN_PROCESS = SandboxLimits(enabled=False)


def make_batches(session, world) -> dict:
    """Import batches for the import routes: a preview in station A and in B, and an applied one in A."""
    def batch(st, name: str, data: bytes):
        b = imports.create_batch(session, world.admin, factories.ALL, station_id=st.id, file_name=name, data=data,
                                 storage_dir=TestConfig.IMPORT_STORAGE, sandbox=IN_PROCESS)
        imports.plan_batch(session, b, today=today(), sandbox=IN_PROCESS)
        return b

    a = batch(world.station_a, BATCH_A_FILE, ledger_csv("甲市场摊位2", "A-IMP-1"))
    b = batch(world.station_b, BATCH_B_FILE, ledger_csv("乙市场摊位2", "B-IMP-1"))
    applied = batch(world.station_a, BATCH_APPLIED_FILE, ledger_csv("甲市场摊位3", "A-IMP-2"))
    imports.start_apply(session, world.admin, applied, expected_version=applied.version, only_valid=False)
    imports.apply_batch(session, world.admin, applied, today=today(), sandbox=IN_PROCESS)
    session.commit()
    return {"batch_a": a.id, "batch_b": b.id, "batch_applied": applied.id, "batch_a_version": a.version,
            "batch_applied_version": applied.version}


def make_workbooks(session, world) -> dict:
    """Workbook batches of station A for the workbook routes: a sheet named as station A and a 汇总 sheet each;
    one in preview, one applied."""
    import tempfile
    from pathlib import Path

    from app.imports import workbooks
    from tests.importers.builders import write_xlsx

    def workbook(serial: str):
        with tempfile.TemporaryDirectory() as folder:
            data = write_xlsx(Path(folder) / "县局台账.xlsx", {
                world.station_a.name: [["使用单位名称", "器具名称", "出厂编号", "检定日期"],
                                       ["甲市场摊位7", "电子计价秤", serial, "2024-03-01"]],
                "汇总": [["监管所", "器具数"], [world.station_a.name, 1]]}).read_bytes()
        parent = workbooks.create_workbook(session, world.admin, factories.ALL, station_id=world.station_a.id,
                                           file_name="县局台账.xlsx", data=data, storage_dir=TestConfig.IMPORT_STORAGE,
                                           sandbox=IN_PROCESS)
        for child_id in workbooks.survey_workbook(session, parent, workbooks.assignable_stations(session, None),
                                                  sandbox=IN_PROCESS):
            from app.imports.models import ImportBatch
            imports.plan_batch(session, session.get(ImportBatch, child_id), today=today(), sandbox=IN_PROCESS)
        return parent

    preview, applied = workbook("A-WB-1"), workbook("A-WB-2")
    workbooks.start_apply_workbook(session, world.admin, applied, expected_version=applied.version,
                                   sheets=workbooks.fingerprint(applied), only_valid=False, may_edit=lambda s: True)
    workbooks.apply_workbook(session, world.admin, applied, today=today(), sandbox=IN_PROCESS)
    session.commit()
    return {"workbook": preview.id, "workbook_version": preview.version, "workbook_sheets": workbooks.fingerprint(preview),
            "workbook_applied": applied.id, "workbook_applied_version": applied.version,
            "workbook_sheet": world.station_a.name}


def make_reports(session, world) -> dict:
    """Monthly reports for the archive routes: one of station A, one of all stations."""
    from app.monthly.services import build_report
    from reports.monthly import Month

    month = Month.of(today()).shift(-1)
    station_a = build_report(session, world.admin, month, world.station_a.id)
    everything = build_report(session, world.admin, month)
    session.commit()
    return {"report_a": station_a.id, "report_all": everything.id}


def make_inspections(session, world) -> dict:
    """A running campaign without a draw; an ended one with a draw, and an ended, published one; an inspection
    with a finding, its rectification and an evidence file in station A and in station B."""
    stations = [world.station_a, world.station_b]
    roster = [world.inspector_a.id, world.inspector_b.id, world.supervisor.id]

    def drawn(name: str):
        ended = factories.campaign(session, stations, name, starts_on=today() - dt.timedelta(days=60),
                                   ends_on=today() - dt.timedelta(days=1))
        return inspections.run_draw(session, world.supervisor, ended, station_ids=[s.id for s in stations],
                                    industries=[], rates={"none": 100}, inspectors_per_target=2,
                                    exclude_own_station=False, roster_ids=roster, seed=7, today=ended.ends_on)

    running = factories.campaign(session, stations)
    draw = drawn("二季度双随机抽查")
    published = drawn("一季度双随机抽查")
    inspections.publish_draw(session, world.supervisor, published, today())
    made = {}
    for key, merchant, inst in (("a", world.merchant_a, world.instrument_a), ("b", world.merchant_b, world.instrument_b)):
        insp = factories.inspection(session, merchant, [world.inspector_a, world.supervisor],
                                    on=today() - dt.timedelta(days=3), checks=[(inst, "problem")])
        rect = factories.finding(session, insp, "NO_VALID_MARK", check=insp.checks[0]).rectification
        ev = inspections.store_evidence(session, world.admin, insp, file_name="现场.png", data=factories.PNG,
                                        storage_dir=TestConfig.EVIDENCE_STORAGE, max_bytes=1024 * 1024)
        # A visit signed on screen: its signature image (the inspection above stays unsigned, so it can change).
        signed = factories.inspection(session, merchant, [world.inspector_a, world.supervisor],
                                      on=today() - dt.timedelta(days=1))
        sig = inspections.add_signature(session, world.admin, signed, role="merchant", user_id=None, name="张三",
                                        signed_at=utcnow(), data=factories.PNG,
                                        storage_dir=TestConfig.EVIDENCE_STORAGE)
        made.update({f"inspection_{key}": insp.id, f"evidence_{key}": ev.id, f"rect_{key}": rect,
                     f"signature_{key}": sig.id})
    # An instrument of station A checked as 未发现问题 (its outcome can be corrected).
    ok_visit = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor],
                                    on=today() - dt.timedelta(days=2), checks=[(world.instrument_a, "ok")])
    session.commit()
    return {"campaign": running.id, "campaign_version": running.version, "draw": draw.id,
            "draw_published": published.id, "inspection_a": made["inspection_a"], "inspection_b": made["inspection_b"],
            "evidence_a": made["evidence_a"], "evidence_b": made["evidence_b"],
            "signature_a": made["signature_a"], "signature_b": made["signature_b"],
            "rectification_a": made["rect_a"].id, "rectification_a_version": made["rect_a"].version,
            "finding_a": made["rect_a"].finding_id, "check_ok_a": ok_visit.checks[0].id,
            "finding_code": factories.finding_code(session, "NO_VALID_MARK").id,
            "user_insp_b": world.inspector_b.id, "user_super": world.supervisor.id}


def make_cases(session, world) -> dict:
    """A case at 立案 in station A and in station B, a decided (penalty) one in station A, and a brigade."""
    from app.cases import services as cases
    from app.cases.models import Case as CaseRow

    def opened(merchant, case_no: str):
        visit = factories.inspection(session, merchant, [world.inspector_a, world.supervisor],
                                     on=today() - dt.timedelta(days=5))
        finding = factories.finding(session, visit, "CHEAT_DEVICE", "case", case_no=case_no)
        return session.scalars(select(CaseRow).where(CaseRow.finding_id == finding.id)).one()

    a, b, decided = opened(world.merchant_a, CASE_A_NO), opened(world.merchant_b, CASE_B_NO), opened(
        world.merchant_a, "甲市监立〔2026〕8号")
    for stage, extra in (("investigation", {}), ("notice", {}), ("decision", {"decision": "penalty", "fine": "2000"})):
        cases.add_stage(session, None, decided, expected_version=decided.version, today=today(),
                        values={"stage": stage, "stage_on": today() - dt.timedelta(days=1), **extra})
    team = cases.save_team(session, None, None, name="甲县执法大队", is_active=True, member_ids=[])
    session.commit()
    return {"case_a": a.id, "case_a_version": a.version, "case_b": b.id, "case_decided_a": decided.id,
            "team": team.id, "team_version": team.version}


def make_field(session, world) -> dict:
    """The second inspector a phone's draft names."""
    return {"user_super": world.supervisor.id}


def make_alerts(session, world) -> dict:
    """Run the sweep (both world instruments are overdue) and the digest with insp_a as a recipient."""
    from app.alerts.jobs import alert_digest, due_date_sweep
    from app.alerts.models import Alert
    from app.db import utcnow
    from app.mail.models import OutboxMessage

    world.inspector_a.email = "insp_a@example.com"
    session.flush()
    due_date_sweep(session=session, now=utcnow(), config={})
    alert_digest(session=session, now=utcnow(), config={})
    session.commit()
    alert = {a.instrument_id: a.id for a in session.scalars(select(Alert).where(Alert.kind == "overdue"))}
    return {"alert_a": alert[world.instrument_a.id], "alert_b": alert[world.instrument_b.id],
            "message": session.scalars(select(OutboxMessage.id)).first()}


def make_pledges(session, world) -> dict:
    """A pledge of merchant A (with its signed PDF) and of merchant B, a merchant A2 without one, and public tokens."""
    from app.integrity import services as integrity
    from app.public.services import assign_public_tokens

    def pledge(merchant, upload=None):
        return integrity.create_pledge(session, world.admin, factories.ALL, merchant,
                                       {"signed_on": date(2024, 3, 1), "scope_text": "全部计量器具"}, upload,
                                       storage_dir=TestConfig.INTEGRITY_STORAGE, max_bytes=1024 * 1024, today=today())

    a = pledge(world.merchant_a, integrity.Upload("承诺书.pdf", b"%PDF-1.4 test pledge"))
    b = pledge(world.merchant_b)
    a2 = factories.merchant(session, world.station_a, "甲市场摊位5")
    assign_public_tokens(session, None, select(Instrument))
    session.commit()
    return {"pledge_a": a.id, "pledge_b": b.id, "pledge_a_version": a.version, "merchant_a2": a2.id,
            "token_a": session.scalar(select(Instrument.public_token).where(Instrument.id == world.instrument_a.id))}


def make_bodies(session, world) -> dict:
    """An active verification body (authorised for nothing yet), and a deactivated one for `activate`."""
    from app.bodies import services as bodies

    body, _ = bodies.create_body(session, None, {"name": "甲县计量检定测试所", "code": "JD-1"})
    off, _ = bodies.create_body(session, None, {"name": "乙县计量检定测试所", "is_active": False})
    session.commit()
    return {"body": body.id, "body_version": body.version, "body_off": off.id}


def make_leads(session, world) -> dict:
    """A pending lead in station A (its 送检单位 is merchant A) and one in station B."""
    from app.results.services import ResultRow, submit_results

    out = submit_results(session, [
        ResultRow(kind="elec_price_scale", serial_no=LEAD_A_SERIAL, verified_on=today(), certificate_no="L-A",
                  submitter="甲市场摊位1", row=1),
        ResultRow(kind="elec_price_scale", serial_no=LEAD_B_SERIAL, verified_on=today(), certificate_no="L-B",
                  submitter="乙加油站", row=2)], body=None, station_id=None, actor=None, actor_label="测试",
        today=today())
    session.commit()
    return {"lead_a": out[0].lead_id, "lead_a_version": 1, "lead_b": out[1].lead_id}


def make_certificates(session, world) -> dict:
    """A PDF certificate on station A's and on station B's verification."""
    from app.certificates.services import attach_certificate

    made = {}
    for key, inst in (("a", world.instrument_a), ("b", world.instrument_b)):
        ver = session.scalars(select(Verification).where(Verification.instrument_id == inst.id)).first()
        made[f"certificate_{key}"] = attach_certificate(
            session, world.admin, ver, file_name="证书.pdf", data=factories.WHOLE_PDF,
            storage_dir=TestConfig.EVIDENCE_STORAGE, max_bytes=1024 * 1024).id
    session.commit()
    return made


def make_webhooks(session, world) -> dict:
    """An API token of station A with a subscription and one event waiting for it, and a paused subscription."""
    from app.webhooks import services as webhooks
    from app.webhooks.models import WebhookEvent
    from tests.webhook_receiver import api_token

    token = api_token(session, "甲所数据平台", stations=[world.station_a])
    subscription, _ = webhooks.subscribe(session, None, token, url="http://127.0.0.1:9/hook",
                                         event_types=["instrument.updated"], config={"WEBHOOK_ALLOW_PRIVATE": True})
    world.instrument_a.location = "东门 3 号摊位（通知）"
    session.flush()
    off, _ = webhooks.subscribe(session, None, token, url="http://127.0.0.1:9/paused",
                                event_types=["instrument.created"], config={"WEBHOOK_ALLOW_PRIVATE": True})
    webhooks.set_active(session, None, off, False)
    session.commit()
    event = session.scalars(select(WebhookEvent.id).where(WebhookEvent.subscription_id == subscription.id)).first()
    return {"webhook": subscription.id, "webhook_event": event, "webhook_token": token.id, "webhook_off": off.id}


def make_county_rule(session, world) -> dict:
    """County A's own credit rule (so restoring inheritance has something to delete)."""
    from app.credit.services import default_rule

    rule = default_rule(world.county_a.id)
    rule.severe_points = 20
    session.add(rule)
    session.commit()
    return {}


def make_empty_region(session, world) -> dict:
    """A county under the world's city with no station, user or report (so it can be deleted)."""
    from app.regions.services import create_region

    region = create_region(session, None, code="330109", name="丁区", parent_id=world.city.id)
    session.commit()
    return {"region_empty": region.id, "region_empty_version": region.version}


def make_complaints(session, world) -> dict:
    """Complaints of station A (an open one from a label with a photo; one with an outcome) and of B, an
    inspection of merchant A, a day of the calendar and merchant A's public reference."""
    from app.complaints import challenge
    from app.complaints import services as complaints
    from app.workdays.services import add_day

    def transfer(merchant, number):
        return complaints.receive_transfer(session, world.admin, factories.ALL, merchant, {
            "channel": "12315", "transfer_no": number, "received_on": today(), "category": "short_weight",
            "description": "少称"}, 15, today())

    a = complaints.receive_public(session, merchant=world.merchant_a, instrument=world.instrument_a,
                                  values={"category": "no_valid_mark", "description": "没有检定标志"},
                                  photo=complaints.Photo("现场.png", factories.image_bytes("PNG")), nonce="matrix",
                                  received_on=today(), deadline_days=15, storage_dir=TestConfig.EVIDENCE_STORAGE,
                                  max_bytes=1024 * 1024)
    a2, b = transfer(world.merchant_a, "12315-A-1"), transfer(world.merchant_b, "12315-B-1")
    outcome = complaints.record_outcome(session, world.admin, a2, "substantiated", "属实")
    complaints.record_outcome(session, world.admin, b, "unfounded", "")
    visit = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor])
    day = add_day(session, world.admin, {"day": date(2027, 1, 1), "kind": "holiday", "name": "元旦"})
    session.commit()
    return {"complaint_a": a.id, "complaint_a_version": a.version, "complaint_a2": a2.id,
            "complaint_a2_version": a2.version, "complaint_b": b.id, "outcome_a": outcome.id,
            "complaint_inspection_a": visit.id, "calendar_day": day.id,
            "merchant_a_ref": challenge.merchant_ref(TestConfig.SECRET_KEY, world.merchant_a.id)}


def make_api_token(session, world) -> dict:
    """A read token of station A (to revoke)."""
    from app.api.models import TokenScope
    from app.api.services import issue_token

    token, _secret = issue_token(session, None, name="甲所只读", scope=TokenScope.READ,
                                 station_ids=[world.station_a.id], body_id=None, merchant_id=None,
                                 expires_at=utcnow() + dt.timedelta(days=30), rate_per_minute=600, now=utcnow())
    session.commit()
    return {"api_token": token.id}


def make_tasks(session, world) -> dict:
    """A finished export task of insp_a with its result file, through the services a worker uses."""
    from app.instruments.queries import InstrumentFilter, instrument_list
    from app.scope import Scope
    from app.tasks import services as tasks
    from app.tasks.models import TaskKind
    from reports.lists import INSTRUMENT_COLUMNS, instrument_rows
    from reports.xlsx import write_table

    task = tasks.create_task(session, world.inspector_a, TaskKind.EXPORT, "导出计量器具（1 条）",
                             {"endpoint": "instruments.export", "view_args": {}, "path": "/instruments/export.xlsx",
                              "query": ""})
    session.commit()
    token = tasks.claim(session, task.id, "test", utcnow())
    session.commit()
    writer = tasks.ResultWriter(TestConfig.TASK_STORAGE, task.id, token, ".xlsx")
    with writer.open() as out:
        write_table(out, INSTRUMENT_COLUMNS, instrument_rows(session, instrument_list(Scope.for_user(
            world.inspector_a), InstrumentFilter(), "new")), sheet_title="计量器具")
    assert tasks.finish(session, task.id, token, utcnow(), writer.commit("计量器具.xlsx", 1))
    session.commit()
    return {"task_a": task.id}


def make_outreach(session, world) -> dict:
    """An activity with a photo in station A and B, a micro-station in each, a volunteer in A."""
    from app.outreach import services as outreach

    def activity(station, place, place_kind):
        made = outreach.record_activity(session, None, factories.ALL, {
            "station_id": station.id, "held_on": today(), "kind": "five_into", "place": place,
            "place_kind": place_kind, "people_served": 50}, {}, today())
        photo = outreach.store_photo(session, None, made, file_name="现场.png", data=factories.image_bytes(),
                                     storage_dir=TestConfig.EVIDENCE_STORAGE, max_bytes=1024 * 1024)
        return made, photo

    (a, photo_a), (b, photo_b) = activity(world.station_a, OUTREACH_A, "school"), activity(world.station_b,
                                                                                          OUTREACH_B, "care_home")
    micro = outreach.add_micro_station(session, None, factories.ALL, {"station_id": world.station_a.id, "name": MICRO_A,
                                                                      "opened_on": date(2026, 1, 5)}, today())
    outreach.add_micro_station(session, None, factories.ALL, {"station_id": world.station_b.id, "name": MICRO_B,
                                                              "opened_on": date(2026, 1, 5)}, today())
    volunteer = outreach.add_volunteer(session, None, factories.ALL, {"station_id": world.station_a.id, "name": "钱多",
                                                                      "joined_on": date(2026, 1, 6)}, today())
    session.commit()
    return {"activity_a": a.id, "activity_b": b.id, "photo_a": photo_a.id, "photo_b": photo_b.id, "micro_a": micro.id,
            "volunteer_a": volunteer.id}


def make_markets(session, world) -> dict:
    """A market organiser in station A (a fair scale with a re-weigh, an inspection) and one in station B."""
    from app.markets import services as markets

    org_a = factories.merchant(session, world.station_a, "甲农贸市场", industry="market_organiser")
    org_b = factories.merchant(session, world.station_b, "乙农贸市场", industry="market_organiser")
    scale = factories.instrument(session, org_a, "platform_scale", serial="A-0099")
    fair = markets.mark_fair_scale(session, None, factories.ALL, scale, "东门")
    reweigh = markets.record_reweigh(session, None, fair, {"weighed_on": today(), "goods": "猪肉", "category": "fresh",
                                                           "claimed_g": 1000, "found_g": 990}, today())
    inspection = factories.inspection(session, org_a, [world.inspector_a, world.supervisor])
    session.commit()
    return {"market_a": org_a.id, "market_b": org_b.id, "scale_a": scale.id, "fair_scale_a": fair.id,
            "reweigh_a": reweigh.id, "inspection_market_a": inspection.id}


def make_retired_kind(session, world) -> dict:
    """A kind an admin retired (the infusion pumps)."""
    from app.catalog.services import set_instrument_type_active

    kind = factories.kind(session, "infusion_pump")
    set_instrument_type_active(session, None, kind, False, "测试停用")
    session.commit()
    return {"type_retired": kind.id}


# Records some routes need beyond the world, made only for those routes' cases (by endpoint prefix).
EXTRAS = {"catalog.type_restore": make_retired_kind, "outreach.": make_outreach, "markets.": make_markets, "imports.": make_batches, "imports.detail": make_workbooks, "imports.progress": make_workbooks,
          "imports.sheet_station": make_workbooks, "imports.replan_workbook": make_workbooks,
          "imports.apply_workbook": make_workbooks, "imports.undo_workbook": make_workbooks, "inspections.": make_inspections, "monthly.": make_reports,
          "alerts.": make_alerts, "mail.": make_alerts, "integrity.": make_pledges, "public.": make_pledges,
          "public.draw": make_inspections, "field.": make_field,
          "bodies.": make_bodies, "results.": make_leads, "certificates.": make_certificates,
          "webhooks.": make_webhooks, "api_tokens.": make_api_token, "tasks.": make_tasks,
          "credit.inherit": make_county_rule, "regions.delete": make_empty_region, "complaints.": make_complaints,
          "workdays.": make_complaints, "public.complaint": make_complaints,
          "cases.": make_cases}


def ids_of(session, world, case: Case | None = None, *, every_extra: bool = False) -> Ids:
    """Read the ids and versions fresh from the database (creating the case's, or every case's, extra records)."""
    extra = {}
    makers = set(EXTRAS.values()) if every_extra else {make for prefix, make in EXTRAS.items()
                                                       if case is not None and case.endpoint.startswith(prefix)}
    for make in sorted(makers, key=lambda m: m.__name__):
        extra.update(make(session, world))
    session.expire_all()
    ver = {v.instrument_id: v.id for v in session.scalars(select(Verification))}
    scale = factories.kind(session, "elec_price_scale")
    alias = session.scalars(select(InstrumentTypeAlias.id).where(InstrumentTypeAlias.type_id == scale.id)).first()
    return Ids(
        station_a=world.station_a.id, station_b=world.station_b.id,
        merchant_a=world.merchant_a.id, merchant_b=world.merchant_b.id,
        instrument_a=world.instrument_a.id, instrument_b=world.instrument_b.id,
        verification_a=ver[world.instrument_a.id], verification_b=ver[world.instrument_b.id],
        user_insp_a=world.inspector_a.id, type_scale=scale.id,
        station_a_version=world.station_a.version, merchant_a_version=world.merchant_a.version,
        instrument_a_version=world.instrument_a.version, user_insp_a_version=world.inspector_a.version,
        type_scale_version=scale.version, alias_scale=alias or 0, city=world.city.id, county_a=world.county_a.id,
        county_a_version=world.county_a.version, county_b=world.county_b.id, **extra,
    )


def _fingerprint_query():
    """One query of a fingerprint per table that stamps its changes: rows, highest id, latest update, sum of
    versions. Any insert, update or delete moves one of them (an update stamps updated_at with the current
    time, later than every stamp before it; an ORM update also bumps the version)."""
    parts = []
    for table in metadata.sorted_tables:
        if "updated_at" not in table.c:
            continue
        version = func.coalesce(func.sum(table.c.version), 0) if "version" in table.c else literal(0)
        parts.append(select(literal(table.name).label("name"), func.count().label("rows"),
                            func.max(table.c.id).label("top"), func.max(table.c.updated_at).label("stamp"),
                            version.label("versions")))
    return union_all(*parts)


FINGERPRINT = _fingerprint_query()
# Tables without an update stamp are compared row by row (they are small in the matrix's world).
UNSTAMPED = [table for table in metadata.sorted_tables if "updated_at" not in table.c]


def snapshot(app) -> dict[str, object]:
    """The state of every table, cheaply: a fingerprint of each stamped table, the rows of the others. Read on
    the connection that sees what the app committed (inside the test's transaction)."""
    with connection_of(app) as conn:
        state: dict[str, object] = {row.name: tuple(row[1:]) for row in conn.execute(FINGERPRINT)}
        for table in UNSTAMPED:
            state[table.name] = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
        return state


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before if before[name] != after[name])


def path_of(case: Case, ids: Ids) -> str:
    return case.path.format(**vars(ids))


def body(resp) -> str:
    return resp.get_data(as_text=True)


def assert_redirect(resp, path: str, what: str) -> None:
    assert resp.status_code == 302, (what, resp.status_code, body(resp)[:800])
    assert urlparse(resp.headers["Location"]).path == path, (what, resp.headers["Location"])


def assert_error_page(resp, code: int, what: str) -> None:
    assert resp.status_code == code, (what, resp.status_code, body(resp)[:800])
    if resp.mimetype == "application/problem+json":  # the REST API: problem details, in Chinese
        problem = resp.json
        assert problem["status"] == code and CJK.search(problem["title"]) and CJK.search(problem["detail"]), (
            what, problem)
        return
    if resp.is_json:  # the phone's JSON API answers its errors in JSON, in Chinese
        assert resp.json["state"] == "refused" and CJK.search(resp.json["errors"][0]), (what, resp.json)
        return
    text = body(resp)
    assert ERROR_TITLES[code] in text and 'lang="zh-CN"' in text, (what, text[:800])
    assert "Traceback" not in text


CJK = re.compile(r"[\u4e00-\u9fff]")
FIELD_ERROR = re.compile(r'class="invalid-feedback[^"]*"[^>]*>\s*([^<]+?)\s*<')
ALERT_ERROR = re.compile(r'class="alert alert-danger"[^>]*>\s*([^<]+?)\s*<')


def form_errors(text: str) -> list[str]:
    """The error messages a re-rendered form shows: under its fields and in red alerts."""
    return FIELD_ERROR.findall(text) + ALERT_ERROR.findall(text)


def assert_security_headers(resp, what: str, page_asset: bool = False, inline_file: bool = False) -> None:
    """The headers every response carries (see app/headers.py); a download (any 200 answer that is not a
    page, JSON or, for the excluded static routes, the pages' own CSS/JS) is an attachment."""
    directives = resp.headers.get("Content-Security-Policy", "").split(";")
    policy = dict((d.strip().split(" ", 1) + [""])[:2] for d in directives if d.strip())
    # Only the 扫码 page may compile WebAssembly (its QR reader); no page may eval().
    scan_page = "/field/scan " in what + " " and resp.status_code == 200
    scripts = "'self' 'wasm-unsafe-eval'" if scan_page else "'self'"
    assert policy.get("default-src") == "'self'" and policy.get("script-src") == scripts, (what, policy)
    assert policy.get("frame-ancestors") == "'none'" and policy.get("object-src") == "'none'", (what, policy)
    assert "unsafe" not in policy.get("style-src", "unsafe") and "*" not in str(policy.values()), (what, policy)
    assert resp.headers.get("X-Content-Type-Options") == "nosniff", what
    assert resp.headers.get("X-Frame-Options") == "DENY", what
    assert resp.headers.get("Referrer-Policy") in ("same-origin", "no-referrer", "strict-origin"), what
    if resp.status_code == 200 and inline_file:
        assert "sandbox" in policy and resp.headers.get("Content-Disposition", "").startswith("inline"), what
    elif resp.status_code == 200 and resp.mimetype not in ("text/html", "application/json") and not page_asset:
        assert resp.headers.get("Content-Disposition", "").startswith("attachment"), (what, resp.mimetype)


def check(resp, outcome, what: str) -> None:
    """Assert a response matches an outcome (everything but the database check)."""
    if isinstance(outcome, int):
        assert_error_page(resp, outcome, what)
    elif outcome == LOGIN:
        assert_redirect(resp, "/login", what)
        assert "next=" in resp.headers["Location"], resp.headers["Location"]
    elif outcome == HOME:
        assert_redirect(resp, "/", what)
    elif outcome == ONWARD:
        assert resp.status_code == 302, (what, resp.status_code, body(resp)[:800])
        assert urlparse(resp.headers["Location"]).path not in ("/login", "/"), (what, resp.headers["Location"])
    elif outcome == LOGOUT:
        assert_redirect(resp, "/login", what)
    elif outcome == FORM:
        assert resp.status_code == 200, (what, resp.status_code, body(resp)[:800])
        assert "<form" in body(resp), what
        assert form_errors(body(resp)), f"{what}: the form came back without saying what is wrong"
    elif outcome == OK:
        pass  # method-specific, checked by the caller
    else:  # pragma: no cover - a typo in the matrix
        raise AssertionError(f"unknown outcome {outcome!r}")


def log_in_as(client, persona: str) -> None:
    if persona != ANON:
        login(client, persona)


def persona_params(cases, attr: str):
    return [pytest.param(case, persona, id=f"{case.id}-{persona}")
            for case in cases if getattr(case, attr) is not None for persona in PERSONAS]


# --- which cases run on PostgreSQL too -----------------------------------------------------------
# The matrix's logic does not depend on the database, so SQLite runs all of it and PostgreSQL a computed
# subset: the first readable page of every blueprint and the first write of every blueprint as every persona,
# and every write route once as a persona allowed to make it (which also sends its invalid form).

def blueprint(case: Case) -> str:
    return case.endpoint.split(".")[0]


def _postgresql_subset() -> set[tuple[str, str, str]]:
    """(test, case id, persona) of the access cases run on PostgreSQL as well."""
    keep: set[tuple[str, str, str]] = set()
    first_get: dict[str, Case] = {}
    first_post: dict[str, Case] = {}
    first_form: dict[str, tuple[Case, str]] = {}
    for case in CASES:
        if any(v != 405 for v in case.get.values()):
            first_get.setdefault(blueprint(case), case)
        if case.post is None:
            continue
        first_post.setdefault(blueprint(case), case)
        writers = [p for p in PERSONAS if case.post[p] in (OK, LOGOUT)] or list(PERSONAS)
        keep.add(("test_post", case.id, writers[0]))
        for persona, outcome in case.post.items():
            if outcome == FORM or (outcome == OK and case.invalid_outcome == FORM):
                first_form.setdefault(blueprint(case), (case, persona))
    for test, chosen in (("test_get", first_get), ("test_post", first_post)):
        keep |= {(test, case.id, persona) for case in chosen.values() for persona in PERSONAS}
    keep |= {("test_form_errors_are_in_chinese", case.id, persona) for case, persona in first_form.values()}
    return keep


POSTGRESQL_SUBSET = _postgresql_subset()


def runs_on_postgresql(test: str, params: dict) -> bool:
    """Whether a collected test of this module runs on PostgreSQL (see tests/conftest.py): the cases of the
    matrix in the subset above, and every test that is not a case of the matrix."""
    case = params.get("case")
    if not isinstance(case, Case):
        return True
    # test_get runs its personas as subtests of one test a case: the subset keeps all of them or none.
    return (test, case.id, params.get("persona", ANON)) in POSTGRESQL_SUBSET


def test_postgresql_subset_covers_every_blueprint_and_write_route(app):
    """The subset reads a page of every blueprint as every persona, writes to every write route at least once
    (as a persona allowed to), shows each blueprint's form errors, and is far smaller than the matrix."""
    blueprints = {rule.endpoint.split(".")[0] for rule in app.url_map.iter_rules() if rule.endpoint not in EXCLUDED}
    read = {case.id for case in CASES if runs_on_postgresql("test_get", {"case": case, "persona": ANON})}
    assert {blueprint(c) for c in CASES if c.id in read} == blueprints
    for case in CASES:
        if case.id in read:
            assert all(runs_on_postgresql("test_get", {"case": case, "persona": p}) for p in PERSONAS), case.id
        if case.post is not None and blueprint(case) != "api":  # the API's writes: by token (API_MATRIX)
            writers = [p for p in PERSONAS if runs_on_postgresql("test_post", {"case": case, "persona": p})]
            assert any(case.post[p] in (OK, LOGOUT) for p in writers), case.id
    refused = {blueprint(c) for c in CASES if c.post is not None
               and all(runs_on_postgresql("test_post", {"case": c, "persona": p}) for p in PERSONAS)}
    assert refused == {blueprint(c) for c in CASES if c.post is not None}
    with_forms = {blueprint(c) for c, persona, _ in (p.values for p in form_error_params())}
    assert {blueprint(c) for c, persona, _ in (p.values for p in form_error_params())
            if runs_on_postgresql("test_form_errors_are_in_chinese", {"case": c, "persona": persona})} == with_forms
    everything = len(persona_params(CASES, "get")) + len(persona_params(CASES, "post")) + len(form_error_params())
    assert len(POSTGRESQL_SUBSET) < everything / 2


# --- the matrix is complete ----------------------------------------------------------------------

def matrix_problems(app) -> list[str]:
    """What the matrix fails to describe about the app's routes (empty when complete)."""
    rules: dict[str, list] = {}
    for rule in app.url_map.iter_rules():
        rules.setdefault(rule.endpoint, []).append(rule)
    by_endpoint: dict[str, list[Case]] = {}
    for case in CASES:
        by_endpoint.setdefault(case.endpoint, []).append(case)

    problems = [f"{endpoint}: route missing from the access matrix in tests/test_access.py (add a Case)"
                for endpoint in sorted(set(rules) - set(EXCLUDED) - set(by_endpoint))]
    problems += [f"{endpoint}: the access matrix names an endpoint the app does not have"
                 for endpoint in sorted(set(by_endpoint) - set(rules))]

    adapter = app.url_map.bind("localhost")
    dummy = Ids(*([1] * len(Ids.__dataclass_fields__)))
    for endpoint, endpoint_rules in rules.items():
        if endpoint in EXCLUDED:
            continue
        methods = set().union(*(r.methods for r in endpoint_rules)) - {"HEAD", "OPTIONS"}
        if methods - {"GET", "POST"} and not endpoint.startswith("api."):  # the API's: API_MATRIX
            problems.append(f"{endpoint}: methods {sorted(methods - {'GET', 'POST'})} are not in the matrix")
        for case in by_endpoint.get(endpoint, []):
            if set(case.get) != set(PERSONAS) or (case.post is not None and set(case.post) != set(PERSONAS)):
                problems.append(f"{case.id}: every persona needs an expected outcome")
            if ("GET" in methods) == all(v == 405 for v in case.get.values()):
                problems.append(f"{case.id}: GET expectations do not match the route's methods {sorted(methods)}")
        has_post = [c for c in by_endpoint.get(endpoint, []) if c.post is not None]
        if "POST" in methods and not has_post:
            problems.append(f"{endpoint}: accepts POST but no case states who may POST")
        if "POST" not in methods and has_post:
            problems.append(f"{endpoint}: does not accept POST but the matrix posts to it")
        for case in has_post:
            if case.data is None:
                problems.append(f"{case.id}: a POST case needs a valid form (data)")
    for case in CASES:
        if case.endpoint not in rules:
            continue
        methods = {m for r in rules[case.endpoint] for m in r.methods}
        method = next(m for m in ("GET", "POST", "DELETE") if m in methods)
        matched, _ = adapter.match(urlparse(path_of(case, dummy)).path, method=method)
        if matched != case.endpoint:
            problems.append(f"{case.id}: path {case.path} routes to {matched}")
    return problems


def test_matrix_covers_every_route(app):
    """Fails when a route exists that the matrix does not describe (add it to CASES or EXCLUDED)."""
    problems = matrix_problems(app)
    assert not problems, "\n".join(problems)


def test_matrix_check_notices_a_new_route(database_url):
    """The completeness check itself: a route added to the app without a Case is reported."""
    fresh = create_app(TestConfig, DATABASE_URL=database_url)
    fresh.add_url_rule("/reports/secret", "reports.secret", lambda: "x", methods=["GET", "POST"])
    try:
        assert any(p.startswith("reports.secret:") for p in matrix_problems(fresh))
    finally:
        fresh.extensions["database"].dispose()


def test_excluded_routes_are_public_files(client):
    """The excluded routes serve static files to anyone (they are excluded, not forgotten)."""
    for path in ("/static/app.css", "/static/app.js", "/bootstrap/static/css/bootstrap.min.css"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert_security_headers(resp, path, page_asset=True)


# --- GET ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in CASES])
def test_get(case: Case, app, session, world, subtests):
    """Every persona GETs the case's path, each a subtest with a client of its own. One world serves the five:
    a GET changes nothing (asserted)."""
    ids = ids_of(session, world, case)
    path = path_of(case, ids)
    for persona in PERSONAS:
        with subtests.test(persona=persona):
            get_as(app.test_client(), case, persona, path, app)


def get_as(client, case: Case, persona: str, path: str, app) -> None:
    """One persona's GET of a case's path, and what it must answer."""
    log_in_as(client, persona)
    what = f"GET {path} as {persona}"
    before = snapshot(app)
    resp = client.get(path)
    outcome = case.get[persona]
    assert_security_headers(resp, what, page_asset=case.endpoint in PAGE_ASSETS,
                            inline_file=case.endpoint in INLINE_FILES)
    if outcome == OK:
        assert resp.status_code == 200, (what, resp.status_code, body(resp)[:1500])
        if resp.mimetype == "text/html":  # pages; a download or a JSON answer has no <html>
            assert 'lang="zh-CN"' in body(resp), what
    else:
        check(resp, outcome, what)
    assert changed_tables(before, snapshot(app)) == [], f"{what} changed the database"
    if outcome == OK and persona in (INSP_A, INSP_B) and (case.texts_a or case.texts_b):
        own, foreign = (case.texts_a, case.texts_b) if persona == INSP_A else (case.texts_b, case.texts_a)
        text = body(resp)
        for t in own:
            assert t in text, f"{what}: own station's {t} missing"
        for t in foreign:
            assert t not in text, f"{what}: shows {t} of another station"
    if outcome == OK and persona in (SUPER, ADMIN):
        for t in case.texts_a + case.texts_b:
            assert t in body(resp), f"{what}: {t} missing for a user who sees every station"


def test_post_to_read_only_routes_is_405(app, client, world):
    """A POST to a GET-only route is refused with the Chinese 405 page, whoever sends it."""
    login(client, "admin1")
    for rule in app.url_map.iter_rules():
        if rule.endpoint in EXCLUDED or "POST" in rule.methods:
            continue
        case = next(c for c in CASES if c.endpoint == rule.endpoint)
        path = urlparse(path_of(case, Ids(*([1] * len(Ids.__dataclass_fields__))))).path
        assert_error_page(client.post(path, data={}), 405, f"POST {path}")


# --- POST ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("case,persona", persona_params(CASES, "post"))
def test_post(case: Case, persona: str, app, client, session, world):
    ids = ids_of(session, world, case)
    log_in_as(client, persona)
    path = path_of(case, ids)
    outcome = case.post[persona]
    what = f"POST {path} as {persona}"

    if outcome == OK and case.invalid_outcome != NOFORM:
        # A broken form is shown again with its errors (never a 500) and saves nothing ...
        before = snapshot(app)
        resp = client.post(path, data=case.invalid(ids))
        if case.invalid_outcome == REFUSED:
            assert resp.status_code == 422 and resp.json["state"] == "refused", (what, resp.status_code, body(resp))
            assert CJK.search(resp.json["errors"][0]), (what, resp.json)
        elif case.invalid_outcome == BACK:
            assert resp.status_code == 302, (what + " (invalid form)", resp.status_code, body(resp)[:800])
            expected = case.back_to(ids) if case.back_to else urlparse(path).path.rsplit("/", 1)[0] + "/edit"
            assert urlparse(resp.headers["Location"]).path == expected, (what, resp.headers["Location"])
        else:
            check(resp, FORM, what + " (invalid form)")
        assert changed_tables(before, snapshot(app)) == [], f"{what} with an invalid form changed the database"

    before = snapshot(app)
    resp = client.post(path, data=case.data(ids))
    after = snapshot(app)
    assert_security_headers(resp, what)
    if outcome == OK:
        # ... and the valid form is saved: this proves the refusals below are the guard's doing.
        if resp.is_json:  # the phone's JSON API answers 201 with the new record
            assert resp.status_code == 201 and resp.json["state"] == "sent", (what, resp.status_code, body(resp))
            resp.headers["Location"] = resp.json["url"]
        assert resp.status_code in (201, 302), (what, resp.status_code, body(resp)[:1500])
        assert urlparse(resp.headers["Location"]).path != "/login", (what, resp.headers["Location"])
        assert case.table in changed_tables(before, after), f"{what} did not change {case.table}"
    else:
        check(resp, outcome, what)
        if outcome == LOGOUT:
            # Logging out rotates the user's session token (ending every session) and is audited.
            assert changed_tables(before, after) == ["audit_log", "users"], what
            assert_redirect(client.get("/"), "/login", "GET / after logout")
        else:
            assert changed_tables(before, after) == [], f"{what} was refused but changed the database"


# --- users at each level of the region tree ---------------------------------------------------------
# Two more personas of the world: city_super, a supervisor of the city (both counties), and cadmin_a, an admin of
# county A (station A). The five-persona matrix above runs them through none of its cases; these rows state what
# they get on the pages where the level matters, by GET and by POST.

CITY_SUPER, COUNTY_ADMIN_A = "city_super", "cadmin_a"
LEVEL_PERSONAS = (CITY_SUPER, COUNTY_ADMIN_A)
USER_B_NAME = "insp_b"


def L(city_super, cadmin_a) -> dict[str, object]:
    """Expectations for the two level personas: the city supervisor, the admin of county A."""
    return {CITY_SUPER: city_super, COUNTY_ADMIN_A: cadmin_a}


LEVEL_GETS = [
    # (path, expectations, texts the page must show, texts it must hide), paths formatted with world ids.
    ("/admin/users", L(403, OK), ("insp_a",), (USER_B_NAME, "super1", "city_super")),
    ("/admin/users/new", L(403, OK), (), ()),
    ("/admin/users/{insp_a}/edit", L(403, OK), (), ()),
    ("/admin/users/{insp_b}/edit", L(403, 404), (), ()),
    ("/admin/users/{super1}/edit", L(403, 404), (), ()),
    ("/admin/users/{city_super}/edit", L(403, 404), (), ()),
    ("/admin/stations", L(403, OK), ("A所",), ("B所",)),
    ("/admin/stations/new", L(403, OK), (), ()),
    ("/admin/stations/{station_a}/edit", L(403, OK), (), ()),
    ("/admin/stations/{station_b}/edit", L(403, 404), (), ()),
    # The installation's shared things: the region tree, the catalogue, jobs, the outbox, the whole log.
    ("/admin/regions/", L(403, 403), (), ()),
    ("/admin/regions/new", L(403, 403), (), ()),
    ("/admin/audit/", L(403, 403), (), ()),
    ("/admin/jobs/", L(403, 403), (), ()),
    ("/admin/outbox", L(403, 403), (), ()),
    ("/admin/webhooks/", L(403, 403), (), ()),
    ("/catalog/types/{type_scale}/edit", L(403, 403), (), ()),
    ("/catalog/types/new", L(403, 403), (), ()),
    ("/admin/outreach-targets", L(403, OK), ("甲区",), ("乙区",)),
    ("/outreach/registry", L(OK, OK), (), ()),
    # Settings a county inherits (app/rollups): a county admin sets its own county's, never another's or the city's.
    ("/admin/lead-days", L(403, OK), ("甲区",), ("乙区",)),
    ("/admin/lead-days?region_id={county_b}", L(403, 404), (), ()),
    ("/admin/lead-days?region_id={city}", L(403, 404), (), ()),
    ("/admin/credit/?region_id={county_a}", L(403, OK), (), ()),
    ("/admin/credit/?region_id={county_b}", L(403, 404), (), ()),
    ("/admin/region-targets", L(403, OK), ("甲区",), ("乙区",)),
    # Roll-ups: the city supervisor sees both counties side by side and opens either; the county admin its own.
    ("/", L(OK, OK), (), ()),
    ("/?county_id={county_a}", L(OK, OK), (), ()),
    ("/?county_id={county_b}", L(OK, 404), (), ()),
    ("/worklists/overdue?county_id={county_b}", L(OK, 404), (), ()),
    ("/alerts/?county_id={county_b}", L(OK, 404), (), ()),
    ("/reports/monthly/", L(OK, OK), (), ()),
    # Records: the city supervisor reads both counties, the county admin its own.
    ("/merchants/", L(OK, OK), (MERCHANT_A_NAME,), ()),
    ("/merchants/{merchant_a}", L(OK, OK), (), ()),
    ("/merchants/{merchant_b}", L(OK, 404), (), ()),
    ("/instruments/{instrument_b}", L(OK, 404), (), ()),
]


def level_ids(world, session) -> dict[str, int]:
    """The world's ids by name, for LEVEL_GETS and the level POSTs."""
    session.expire_all()
    return {"insp_a": world.inspector_a.id, "insp_b": world.inspector_b.id, "super1": world.supervisor.id,
            "city_super": world.city_supervisor.id, "station_a": world.station_a.id,
            "station_b": world.station_b.id, "merchant_a": world.merchant_a.id, "merchant_b": world.merchant_b.id,
            "instrument_b": world.instrument_b.id, "type_scale": factories.kind(session, "elec_price_scale").id,
            "city": world.city.id, "county_a": world.county_a.id, "county_b": world.county_b.id}


def test_level_matrix_covers_the_admin_pages_of_the_regions(app):
    """Every page of 系统管理 a county admin could reach is stated for the level personas."""
    stated = {urlparse(path).path.split("{")[0].rstrip("/") for path, *_ in LEVEL_GETS}
    for prefix in ("/admin/users", "/admin/stations", "/admin/regions", "/admin/audit", "/admin/jobs"):
        assert prefix in stated, prefix


@pytest.mark.parametrize("path,expected,shown,hidden", LEVEL_GETS, ids=[p for p, *_ in LEVEL_GETS])
def test_level_get(path, expected, shown, hidden, app, session, world, subtests):
    """A city supervisor and a county admin GET a page: what they may open, and what the page shows them."""
    url = path.format(**level_ids(world, session))
    case = Case("level", url, get=expected)
    for persona in LEVEL_PERSONAS:
        with subtests.test(persona=persona):
            client = app.test_client()
            get_as(client, case, persona, url, app)
            if expected[persona] == OK and (shown or hidden):
                text = body(client.get(url))
                for t in shown:
                    assert t in text, f"{url} as {persona}: {t} missing"
                if persona == COUNTY_ADMIN_A:
                    for t in hidden:
                        assert t not in text, f"{url} as {persona}: shows {t} of another county"
                if persona == CITY_SUPER and path == "/merchants/":
                    assert MERCHANT_B_NAME in text, "the city supervisor reads county B's merchants too"


def _user_form(ids: dict, **values) -> dict:
    return {"username": "new_user", "display_name": "新用户", "role": "supervisor", "region_id": "",
            "station_ids": [], "password": "password-456", "is_active": "y", **values}


# (what, path, form, outcome for cadmin_a, the table a success changes)
LEVEL_POSTS = [
    ("edit county B's user", "/admin/users/{insp_b}/edit",
     lambda ids: {"username": "insp_b", "display_name": "改名", "role": "inspector",
                  "station_ids": [str(ids["station_a"])], "is_active": "y", "version": "1"}, 404, None),
    ("reset county B's user's password", "/admin/users/{insp_b}/password",
     lambda ids: {"password": "new-password-789"}, 404, None),
    ("reset the city supervisor's password", "/admin/users/{city_super}/password",
     lambda ids: {"password": "new-password-789"}, 404, None),
    ("create a supervisor of the whole installation", "/admin/users/new",
     lambda ids: _user_form(ids), FORM, None),
    ("create a supervisor of the city", "/admin/users/new",
     lambda ids: _user_form(ids, region_id=str(ids["city"])), FORM, None),
    ("create a supervisor of county B", "/admin/users/new",
     lambda ids: _user_form(ids, region_id=str(ids["county_b"])), FORM, None),
    ("create an inspector of station B", "/admin/users/new",
     lambda ids: _user_form(ids, role="inspector", station_ids=[str(ids["station_b"])]), FORM, None),
    ("create a supervisor of county A", "/admin/users/new",
     lambda ids: _user_form(ids, region_id=str(ids["county_a"])), OK, "users"),
    ("create an inspector of station A", "/admin/users/new",
     lambda ids: _user_form(ids, role="inspector", station_ids=[str(ids["station_a"])]), OK, "users"),
    ("edit station B", "/admin/stations/{station_b}/edit",
     lambda ids: {"name": "乙所（改）", "code": "B", "county_id": str(ids["county_b"]), "version": "1"}, 404, None),
    ("create a station in county B", "/admin/stations/new",
     lambda ids: {"name": "丙所", "code": "C", "county_id": str(ids["county_b"])}, FORM, None),
    ("move station A to county B", "/admin/stations/{station_a}/edit",
     lambda ids: {"name": "A所", "code": "A", "county_id": str(ids["county_b"]), "version": "1"}, FORM, None),
    ("create a station in county A", "/admin/stations/new",
     lambda ids: {"name": "丙所", "code": "C", "county_id": str(ids["county_a"])}, OK, "stations"),
    ("add a region", "/admin/regions/new",
     lambda ids: {"code": "330106", "name": "丙区", "level": "county", "parent_id": str(ids["city"])}, 403, None),
    ("move a station between counties", "/admin/regions/stations/{station_a}/move",
     lambda ids: {"county_id": str(ids["county_b"]), "version": "1"}, 403, None),
]


@pytest.mark.parametrize("what,path,form,outcome,table", LEVEL_POSTS, ids=[w for w, *_ in LEVEL_POSTS])
def test_county_admin_post(what, path, form, outcome, table, app, client, session, world):
    """What an admin of county A may change: its own county's users and stations, nothing above or beside it;
    a refusal changes nothing."""
    ids = level_ids(world, session)
    url = path.format(**ids)
    log_in_as(client, COUNTY_ADMIN_A)
    before = snapshot(app)
    resp = client.post(url, data=form(ids))
    after = snapshot(app)
    if outcome == OK:
        assert resp.status_code == 302, (what, resp.status_code, body(resp)[:1500])
        assert table in changed_tables(before, after), what
    else:
        check(resp, outcome, f"POST {url} as cadmin_a ({what})")
        assert changed_tables(before, after) == [], f"{what} was refused but changed the database"


# --- query parameters and missing records --------------------------------------------------------

@pytest.mark.parametrize("path,hidden", [
    ("/merchants/?station_id={station_b}", (MERCHANT_B_NAME,)),
    ("/merchants/?q=%E5%8A%A0%E6%B2%B9", (MERCHANT_B_NAME,)),  # q=加油 (the search box echoes q)
    ("/instruments/?station_id={station_b}", (SERIAL_B, MERCHANT_B_NAME)),
    ("/instruments/?merchant_id={merchant_b}", (SERIAL_B, MERCHANT_B_NAME)),
    ("/instruments/?q=B-0", (SERIAL_B, MERCHANT_B_NAME)),
    ("/search?q=b001", (SERIAL_B,)),  # folded like "B-001"; the search box echoes q
    ("/search?q=%E5%8A%A0%E6%B2%B9%E7%AB%99", (MERCHANT_B_NAME,)),  # q=加油站
    ("/worklists/overdue?station_id={station_b}", (SERIAL_B, MERCHANT_B_NAME)),
    ("/worklists/overdue?merchant_id={merchant_b}", (SERIAL_B, MERCHANT_B_NAME)),
    ("/instruments/new?q=%E5%8A%A0%E6%B2%B9", (MERCHANT_B_NAME,)),
    ("/?station_id={station_b}", ("燃油加油机",)),
    ("/plans/?period=2026&overdue=1&station_id={station_b}", (MERCHANT_B_NAME,)),
], ids=lambda v: v if isinstance(v, str) else None)
def test_filters_cannot_widen_an_inspectors_stations(app, client, session, world, path, hidden):
    """Asking for station B's records by filter gives insp_a nothing; the same URL shows them to an admin."""
    ids = ids_of(session, world)
    url = path.format(**vars(ids))
    admin = app.test_client()
    login(admin, ADMIN)
    shown = body(admin.get(url))
    assert all(t in shown for t in hidden), f"control: {url} should show {hidden} to an admin"
    login(client, INSP_A)
    resp = client.get(url)
    if "merchant_id=" in path and "/instruments/new" not in path:
        # Naming another station's merchant in a list filter is naming a record outside the scope.
        assert_error_page(resp, 404, url)
        return
    assert resp.status_code == 200, (url, resp.status_code)
    assert [t for t in hidden if t in body(resp)] == [], f"{url} shows station B's records to insp_a"


def test_missing_records_are_404_not_500(app, client, world):
    """Every route with a record id answers an unknown id with the Chinese 404 page, for an admin too."""
    login(client, ADMIN)
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in EXCLUDED or not rule.arguments:
            continue
        if rule.endpoint.startswith("api."):  # by token: API_MATRIX asks the API for an unknown id (404)
            continue
        if not all(isinstance(rule._converters[arg], IntegerConverter) for arg in rule.arguments):
            continue
        with app.test_request_context():
            path = url_for(rule.endpoint, **{arg: 999999 for arg in rule.arguments})
        resp = client.get(path) if "GET" in rule.methods else client.post(path, data={})
        assert_error_page(resp, 404, f"{rule.endpoint} {path}")
        checked += 1
    assert checked >= 8


def form_error_params():
    """(case, persona, which form) for every POST that must come back as a form with errors."""
    params = []
    for case in CASES:
        for persona, outcome in (case.post or {}).items():
            if outcome == FORM:
                params.append(pytest.param(case, persona, "data", id=f"{case.id}-{persona}-refused"))
            elif outcome == OK and case.invalid_outcome == FORM:
                params.append(pytest.param(case, persona, "invalid", id=f"{case.id}-{persona}-invalid"))
    return params


@pytest.mark.parametrize("case,persona,which", form_error_params())
def test_form_errors_are_in_chinese(case: Case, persona: str, which: str, client, session, world):
    """Forms say in Chinese what to fix, including WTForms' own type and choice checks."""
    ids = ids_of(session, world, case)
    log_in_as(client, persona)
    resp = client.post(path_of(case, ids), data=getattr(case, which)(ids))
    assert resp.status_code == 200
    messages = form_errors(body(resp))
    assert messages
    not_chinese = [m for m in messages if not CJK.search(m)]
    assert not not_chinese, f"POST {path_of(case, ids)} as {persona}: error messages not in Chinese: {not_chinese}"


# --- the REST API by token ------------------------------------------------------------------------
# Every /api/v1 endpoint with no token, a revoked and an expired one, and a token of each scope: read and write
# tokens of station A, a utility company's write token (its merchant in station A), an institution's token,
# and a read token of station B asking for station A's records.

TOKENS = ("none", "revoked", "expired", "read_a", "write_a", "meter_a", "institution", "read_b")


def T(none, revoked, expired, read_a, write_a, meter_a, institution, read_b) -> dict[str, object]:
    """One row of the API matrix, in TOKENS order."""
    return dict(zip(TOKENS, (none, revoked, expired, read_a, write_a, meter_a, institution, read_b)))


STATION_READ = T(401, 401, 401, OK, OK, OK, 403, 403)
OWN_WORK = T(401, 401, 401, OK, OK, OK, OK, 403)  # an institution reads the instruments and results of its body
STATION_WRITE = T(401, 401, 401, 403, OK, OK, 403, 403)
RESULTS_WRITE = T(401, 401, 401, 403, 403, 403, OK, 403)  # a body's results, from its own token only
ANY_TOKEN = T(401, 401, 401, OK, OK, OK, OK, OK)  # a token's own webhooks

API_MATRIX = [
    ("api.merchant_list", "GET", "/api/v1/merchants?station_id={station_a}", STATION_READ),
    ("api.Instruments", "GET", "/api/v1/instruments?station_id={station_a}", OWN_WORK),
    ("api.Instruments", "POST", "/api/v1/instruments", STATION_WRITE),
    ("api.Verifications", "GET", "/api/v1/verifications?station_id={station_a}", OWN_WORK),
    ("api.Verifications", "POST", "/api/v1/verifications", RESULTS_WRITE),
    ("api.inspection_list", "GET", "/api/v1/inspections?station_id={station_a}", STATION_READ),
    ("api.finding_list", "GET", "/api/v1/findings?station_id={station_a}", STATION_READ),
    ("api.rectification_list", "GET", "/api/v1/rectifications?station_id={station_a}", STATION_READ),
    ("api.alert_list", "GET", "/api/v1/alerts?station_id={station_a}", STATION_READ),
    ("api.Webhooks", "GET", "/api/v1/webhooks", ANY_TOKEN),
    ("api.Webhooks", "POST", "/api/v1/webhooks", ANY_TOKEN),
    # Another token's address, or none: 404 (what each token may delete is its own: tests/test_api.py).
    ("api.Webhook", "DELETE", "/api/v1/webhooks/999999", T(401, 401, 401, 404, 404, 404, 404, 404)),
    ("api-docs.openapi_json", "GET", "/api/v1/openapi.json", T(*[OK] * 8)),
]


def api_tokens(session, world) -> dict[str, str]:
    """A secret of each kind in TOKENS ("" for none)."""
    from app.api.models import ApiToken, TokenScope
    from app.api.services import issue_token, revoke_token
    from app.bodies.services import create_body

    body, _ = create_body(session, None, {"name": "矩阵检定所"})
    meter_merchant = factories.merchant(session, world.station_a, "矩阵自来水公司")
    later = utcnow() + dt.timedelta(days=30)

    def make(name, scope, stations=(), **kw):
        return issue_token(session, None, name=name, scope=scope, station_ids=[s.id for s in stations],
                           body_id=kw.get("body_id"), merchant_id=kw.get("merchant_id"), expires_at=later,
                           rate_per_minute=10_000, now=utcnow())

    secrets = {"none": ""}
    revoked, secrets["revoked"] = make("吊销", TokenScope.WRITE, [world.station_a])
    revoke_token(session, None, revoked, utcnow())
    expired, secrets["expired"] = make("过期", TokenScope.WRITE, [world.station_a])
    session.flush()
    session.execute(ApiToken.__table__.update().where(ApiToken.id == expired.id)
                    .values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    _t, secrets["read_a"] = make("甲读", TokenScope.READ, [world.station_a])
    _t, secrets["write_a"] = make("甲写", TokenScope.WRITE, [world.station_a])
    _t, secrets["meter_a"] = make("甲水司", TokenScope.WRITE, [world.station_a], merchant_id=meter_merchant.id)
    _t, secrets["institution"] = make("机构", TokenScope.INSTITUTION, body_id=body.id)
    _t, secrets["read_b"] = make("乙读", TokenScope.READ, [world.station_b])
    session.commit()
    return secrets


def test_api_matrix(app, client, session, world, subtests):
    """Each API endpoint with each kind of token: 200 JSON where allowed, problem details otherwise; a refused
    call changes no record (only the audit log of the call and the token's last use)."""
    secrets = api_tokens(session, world)
    ids = ids_of(session, world)
    serial = iter(range(1000))
    for endpoint, method, path, expect in API_MATRIX:
        for kind, outcome in expect.items():
            with subtests.test(endpoint=endpoint, method=method, token=kind):
                headers = {"Authorization": f"Bearer {secrets[kind]}"} if secrets[kind] else {}
                url = path.format(**vars(ids))
                what = f"{method} {url} with the {kind} token"
                before = snapshot(app)
                if method == "DELETE":
                    resp = client.delete(url, headers=headers)
                elif method == "POST" and endpoint == "api.Webhooks":  # a public address: no private allowance
                    resp = client.post(url, headers=headers, json={"url": "https://93.184.216.34/hook",
                                                                   "event_types": ["verification.recorded"]})
                elif method == "POST" and endpoint == "api.Verifications":
                    resp = client.post(url, headers=headers, json={"results": [
                        {"kind": "elec_price_scale", "serial_no": f"MX-R-{next(serial)}", "result": "pass",
                         "verified_on": today().isoformat(), "certificate_no": f"MX-C-{next(serial)}"}]})
                elif method == "POST":
                    resp = client.post(url, headers=headers, json={"instruments": [
                        {"type_id": ids.type_scale, "merchant_id": None if kind == "meter_a" else ids.merchant_a,
                         "serial_no": f"MX-{next(serial)}"}]})
                else:
                    resp = client.get(url, headers=headers)
                assert_security_headers(resp, what)
                assert "Set-Cookie" not in resp.headers, what
                if outcome == OK:
                    assert resp.status_code in (200, 201) and resp.mimetype == "application/json", (
                        what, body(resp)[:500])
                    if method == "POST" and endpoint == "api.Webhooks":  # its secret, shown this once
                        assert resp.status_code == 201 and resp.json["secret"].startswith("whsec_"), (what, resp.json)
                    elif method == "POST":  # a new instrument; a result for a serial the ledger lacks: a lead
                        assert resp.json["rows"][0]["outcome"] in ("created", "queued"), (what, resp.json)
                    elif "items" in resp.json and kind in ("read_a", "write_a", "meter_a"):
                        assert all(i.get("station_id", ids.station_a) == ids.station_a for i in resp.json["items"])
                else:
                    assert_error_page(resp, outcome, what)
                    assert set(changed_tables(before, snapshot(app))) <= {"audit_log", "api_tokens"}, what


def test_api_matrix_covers_every_api_route(app):
    """Every method of every /api/v1 route has a row in API_MATRIX (the documentation page is a page)."""
    routes = {(r.endpoint, m) for r in app.url_map.iter_rules() if r.rule.startswith("/api/")
              for m in r.methods - {"HEAD", "OPTIONS"} if r.endpoint != "api_docs.docs"}
    assert routes == {(endpoint, method) for endpoint, method, _path, _expect in API_MATRIX}
