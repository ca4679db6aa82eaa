"""Every id a form or a query string carries is checked against the user's stations: station A's inspector
naming a record of station B (a station, merchant, market organiser, utility company, campaign, checked
instrument, finding) is refused, a form with its error or the Chinese 404, and nothing is saved.
Each case is then sent with station A's own record, which goes through: the refusal is the scope check's doing.
"""
from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from app.clock import today
from app.inspections.models import Finding, Inspection
from tests import factories
from tests.conftest import login
from tests.test_access import (INSP_A, Ids, assert_error_page, body, changed_tables, form_errors, ids_of, ledger_csv,
                               snapshot)


@dataclass(frozen=True)
class Foreign:
    """A form (or GET) naming a record: `own` is station A's record, `foreign` station B's."""

    name: str
    path: str
    form: Callable[[Ids, object], dict] | None  # (ids, the record's id) -> form; None: a GET with {id} in the path
    own: Callable[[dict], object]
    foreign: Callable[[dict], object]


def revoke(ids: Ids, finding_id) -> dict:
    return {"revoked_on": today().isoformat(), "reason": "检查发现计量作弊", "finding_id": str(finding_id),
            "version": ids.pledge_a_version}


CASES = [
    Foreign("pledge revoke: finding_id", "/integrity/{ids.pledge_a}/revoke", revoke,
            lambda r: r["finding_a"], lambda r: r["finding_b"]),
    Foreign("merchant: station_id", "/merchants/new",
            lambda ids, v: {"name": "新摊位", "industry": "market_vendor", "station_id": str(v), "parent_id": ""},
            lambda r: r["ids"].station_a, lambda r: r["ids"].station_b),
    Foreign("merchant: parent_id (market organiser)", "/merchants/new",
            lambda ids, v: {"name": "新摊位", "industry": "market_vendor", "station_id": str(ids.station_a),
                            "parent_id": str(v)},
            lambda r: r["organiser_a"], lambda r: r["organiser_b"]),
    Foreign("import: station_id", "/imports/new",
            lambda ids, v: {"station_id": str(v), "file": (io.BytesIO(ledger_csv("甲市场摊位9", "A-UP-1")), "台账.csv")},
            lambda r: r["ids"].station_a, lambda r: r["ids"].station_b),
    Foreign("import: merchant_id (utility company)", "/imports/new",
            lambda ids, v: {"station_id": str(ids.station_a), "merchant_id": str(v),
                            "file": (io.BytesIO(ledger_csv("甲市场摊位9", "A-UP-2")), "台账.csv")},
            lambda r: r["utility_a"], lambda r: r["utility_b"]),
    Foreign("inspection: campaign_id", "/inspections/new?merchant_id={ids.merchant_a}",
            lambda ids, v: {"inspected_on": today().isoformat(), "visit_outcome": "conducted", "campaign_id": str(v),
                            "inspector_ids": [str(ids.user_insp_a), str(ids.user_super)]},
            lambda r: r["campaign_a"], lambda r: r["campaign_b"]),
    Foreign("finding: check_id", "/inspections/{ids.inspection_a}/findings/new",
            lambda ids, v: {"code_id": str(ids.finding_code), "check_id": str(v), "measure": "rectify",
                            "description": "未张贴检定合格标志"},
            lambda r: r["check_a"], lambda r: r["check_b"]),
    Foreign("evidence: finding_id", "/inspections/{ids.inspection_a}/evidence",
            lambda ids, v: {"file": (io.BytesIO(factories.PNG), "现场照片.png"), "finding_id": str(v)},
            lambda r: r["finding_a"], lambda r: r["finding_b"]),
    Foreign("monthly report: station_id", "/reports/monthly/build",
            lambda ids, v: {"month": "2026-10", "station_id": str(v)},
            lambda r: r["ids"].station_a, lambda r: r["ids"].station_b),
    Foreign("instrument: merchant_id", "/instruments/new?merchant_id={value}",
            lambda ids, v: {"type_id": str(ids.type_scale), "serial_no": "A-NEW-9", "status": "in_use"},
            lambda r: r["ids"].merchant_a, lambda r: r["ids"].merchant_b),
    Foreign("pledge: merchant_id", "/integrity/new?merchant_id={value}",
            lambda ids, v: {"signed_on": "2025-01-05", "scope_text": "全部"},
            lambda r: r["ids"].merchant_a2, lambda r: r["ids"].merchant_b),
    Foreign("plan notices: merchant_id", "/plans/notices?merchant_id={value}&period=2026&overdue=1", None,
            lambda r: r["ids"].merchant_a, lambda r: r["ids"].merchant_b),
    Foreign("labels: merchant_id", "/instruments/labels?merchant_id={value}", None,
            lambda r: r["ids"].merchant_a, lambda r: r["ids"].merchant_b),
    Foreign("inspection list: merchant_id", "/inspections/?merchant_id={value}", None,
            lambda r: r["ids"].merchant_a, lambda r: r["ids"].merchant_b),
]


@pytest.fixture()
def records(session, world) -> dict:
    """The world with every route's records, plus an organiser, a utility company and a campaign per station."""
    ids = ids_of(session, world, every_extra=True)
    made = {"ids": ids}
    for key, st in (("a", world.station_a), ("b", world.station_b)):
        made[f"organiser_{key}"] = factories.merchant(session, st, f"{key}农贸市场", industry="market_organiser").id
        made[f"utility_{key}"] = factories.merchant(session, st, f"{key}自来水公司", industry="utility").id
        made[f"campaign_{key}"] = factories.campaign(session, [st], f"{key}所专项检查").id
        insp = session.get(Inspection, getattr(ids, f"inspection_{key}"))
        made[f"check_{key}"] = insp.checks[0].id
        made[f"finding_{key}"] = session.scalars(select(Finding.id).where(Finding.inspection_id == insp.id)).first()
    session.commit()
    return made


def send(client, case: Foreign, ids: Ids, value):
    path = case.path.format(ids=ids, value=value)
    return client.get(path) if case.form is None else client.post(path, data=case.form(ids, value))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_another_stations_id_is_refused(case: Foreign, app, client, records):
    ids = records["ids"]
    login(client, INSP_A)
    before = snapshot(app)
    resp = send(client, case, ids, case.foreign(records))
    if resp.status_code == 404:
        assert_error_page(resp, 404, case.name)
    else:
        assert resp.status_code == 200 and case.form is not None, (case.name, resp.status_code, body(resp)[:800])
        assert form_errors(body(resp)), f"{case.name}: station B's record was not refused on the form"
    assert changed_tables(before, snapshot(app)) == [], f"{case.name}: naming station B's record changed the database"

    # The control, afterwards: the same request with station A's record goes through.
    own = send(client, case, ids, case.own(records))
    assert own.status_code in (200, 302) and not (own.status_code == 200 and case.form and form_errors(body(own))), \
        (case.name, "control with station A's record", own.status_code, form_errors(body(own)))
    if case.form is not None:
        assert changed_tables(before, snapshot(app)), f"{case.name}: the control with station A's record saved nothing"
