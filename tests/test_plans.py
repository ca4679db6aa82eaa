"""Verification plans: the period's instruments to verify or replace, by merchant, as a page, a workbook
and printable notices, inside the user's stations."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from tests import factories
from tests.conftest import login

D = dt.date


@pytest.fixture()
def ledger(world, session):
    """November 2026: a scale due for verification and a water meter due for replacement in station A."""
    vendor = world.merchant_a
    s2 = factories.instrument(session, vendor, serial="S2", location="3号摊位")
    factories.verify(session, s2, D(2025, 11, 10), valid_until=D(2026, 11, 9))
    later = factories.instrument(session, vendor, serial="S9")
    factories.verify(session, later, D(2026, 6, 1), valid_until=D(2027, 5, 31))
    water = factories.merchant(session, world.station_a, "自来水公司", industry="utility")
    w1 = factories.instrument(session, water, "water_meter_le25", serial="W1")
    factories.verify(session, w1, D(2020, 11, 15))
    b = factories.instrument(session, world.merchant_b, "fuel_dispenser", serial="B-NOV", nozzle_count=2)
    factories.verify(session, b, D(2026, 5, 20), valid_until=D(2026, 11, 19))
    session.commit()
    return world


def test_plan_page_lists_merchants_of_the_period(client, ledger):
    login(client, "insp_a")
    page = client.get("/plans/?period=2026-11").get_data(as_text=True)
    assert "2026年11月计量器具检定计划" in page
    assert "甲市场摊位1" in page and "自来水公司" in page
    assert "乙加油站" not in page  # another station's merchant
    # The world's scale A-001 (overdue since January 2025) only with 包括此前已超期.
    assert client.get("/plans/?period=2026-11").get_data(as_text=True).count(">2026-11-09</td>") == 1
    assert "2025-01-10" in client.get("/plans/?period=2026-11&overdue=1").get_data(as_text=True)
    assert "期间“2026-13”无效" in client.get("/plans/?period=2026-13").get_data(as_text=True)


@pytest.mark.parametrize("filters", [{}, {"include_overdue": True}, {"station": "a"}, {"kind": True},
                                     {"first": D(2027, 1, 1), "last": D(2027, 12, 31)}])
def test_the_page_count_is_the_number_of_merchant_rows(session, ledger, filters):
    """The plan page counts its merchant rows with a lighter query: the same number as the rows themselves."""
    from app.catalog.models import InstrumentType
    from app.plans import queries
    from app.scope import Scope

    water = session.query(InstrumentType).filter_by(code="water_meter_le25").one()
    f = queries.PlanFilter(first=filters.get("first", D(2026, 11, 1)), last=filters.get("last", D(2026, 11, 30)),
                           station_id=ledger.station_a.id if filters.get("station") else None,
                           type_id=water.id if filters.get("kind") else None,
                           include_overdue=filters.get("include_overdue", False))
    for scope in (Scope.everything(), Scope(frozenset({ledger.station_b.id}))):
        rows = session.execute(queries.plan_merchants(scope, f)).all()
        assert session.scalar(queries.plan_merchant_count(scope, f)) == len(rows)
    assert session.scalar(queries.plan_merchant_count(Scope.everything(), queries.PlanFilter(
        first=D(2026, 11, 1), last=D(2026, 11, 30)))) == 3


def test_workbook_groups_by_merchant_and_kind(client, ledger):
    login(client, "super1")
    resp = client.get("/plans/export.xlsx?period=2026-11")
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(resp.data))
    rows = list(wb["检定计划"].iter_rows(min_row=3, values_only=True))
    assert sorted((r[0], r[1], r[6], r[11]) for r in rows) == [
        ("A所", "甲市场摊位1", "S2", "送检"), ("A所", "自来水公司", "W1", "到期轮换"), ("B所", "乙加油站", "B-NOV", "送检")]
    assert [r[0] for r in rows] == ["A所", "A所", "B所"]  # grouped by station, then merchant
    assert {r[6]: r[10].date() for r in rows} == {"W1": D(2026, 11, 15), "S2": D(2026, 11, 9), "B-NOV": D(2026, 11, 19)}
    counts = {r[1]: r[2:4] for r in wb["按使用单位"].iter_rows(min_row=3, values_only=True)}
    assert counts == {"甲市场摊位1": (1, 0), "自来水公司": (0, 1), "乙加油站": (1, 0)}
    year = load_workbook(io.BytesIO(client.get("/plans/export.xlsx?period=2027").data))
    assert [r[6] for r in year["检定计划"].iter_rows(min_row=3, values_only=True)] == ["S9"]


def test_notices(client, ledger, session):
    login(client, "insp_a")
    one = client.get(f"/plans/notices?period=2026-11&merchant_id={ledger.merchant_a.id}").get_data(as_text=True)
    assert one.count("计量器具送检通知书</h1>") == 1
    assert "<td>S2</td>" in one and "3号摊位" in one and "2026-11-09" in one and "@page { size: A4" in one
    # As cells: a bare "S9" could be part of the page's random CSP nonce.
    assert "<td>S9</td>" not in one and "<td>W1</td>" not in one
    page = client.get("/plans/notices?period=2026-11").get_data(as_text=True)
    assert page.count("计量器具送检通知书</h1>") == 2 and "到期轮换" in page
    # Another station's merchant, or a merchant with nothing due, is not found.
    assert client.get(f"/plans/notices?period=2026-11&merchant_id={ledger.merchant_b.id}").status_code == 404
    assert client.get(f"/plans/notices?period=2030-01&merchant_id={ledger.merchant_a.id}").status_code == 404
