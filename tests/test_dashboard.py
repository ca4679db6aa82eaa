"""The dashboard's due/overdue by kind and its 12-month trend, checked against the ledger; charts are SVG
drawn on the server, with links to the lists behind them."""
from __future__ import annotations

import datetime as dt
import re

from app.clock import today
from app.dashboard.services import month_starts, trend
from app.instruments.engine import add_months
from app.scope import Scope
from tests import factories
from tests.conftest import login


def test_month_starts():
    assert month_starts(dt.date(2026, 2, 15), 3) == [dt.date(2025, 12, 1), dt.date(2026, 1, 1), dt.date(2026, 2, 1)]


def test_trend_counts_match_the_ledger(world, session):
    now = today()
    this_month = now.replace(day=1)
    two_back = add_months(this_month, -2)
    soon = factories.instrument(session, world.merchant_a, serial="SOON")
    factories.verify(session, soon, two_back, valid_until=now + dt.timedelta(days=3))
    late = factories.instrument(session, world.merchant_a, serial="LATE")
    # Due on the first day of last month: overdue at the end of last month and now, not two months back.
    factories.verify(session, late, add_months(this_month, -14), valid_until=add_months(this_month, -1))
    session.commit()
    rows = trend(session, Scope.everything(), now)
    assert [r["month"] for r in rows] == month_starts(now)
    by_month = {r["month"]: r for r in rows}
    assert by_month[two_back]["verified"] == 1
    # The world's instruments were verified in January 2024 and fell due in January 2025.
    assert by_month[add_months(this_month, -1)]["overdue"] == 3
    assert by_month[this_month]["overdue"] == 3
    assert by_month[two_back]["overdue"] == 2
    only_b = trend(session, Scope.everything(), now, world.station_b.id)
    assert sum(r["verified"] for r in only_b) == 0 and only_b[-1]["overdue"] == 1
    inspector_b = trend(session, Scope(frozenset({world.station_b.id})), now)
    assert inspector_b[-1]["overdue"] == 1


def test_dashboard_page_shows_due_soon_and_svg_charts(client, world, session):
    soon = factories.instrument(session, world.merchant_a, serial="SOON")
    factories.verify(session, soon, today() - dt.timedelta(days=300), valid_until=today() + dt.timedelta(days=3))
    session.commit()
    login(client, "insp_a")
    page = client.get("/").get_data(as_text=True)
    assert '<svg id="trend-verified"' in page and '<svg id="trend-overdue"' in page
    assert "30天内到期" in page
    scale = factories.kind(session, "elec_price_scale")
    assert f'/worklists/due_soon?type_id={scale.id}' in page
    overdue = page.split('<svg id="trend-overdue"', 1)[1].split("</svg>", 1)[0]
    bars = re.findall(r'<rect [^>]*data-value="(\d+)"', overdue)
    assert len(bars) == 12 and bars[-1] == "1"  # station A: A-001 overdue now
    assert "http://" not in page.split("<svg", 1)[1].split("</svg>", 1)[0].replace("http://www.w3.org", "")


def test_findings_and_rectification_on_the_dashboard(client, world, session):
    crew = [world.inspector_a, world.supervisor]
    visit = factories.inspection(session, world.merchant_a, crew, on=today(), checks=[(world.instrument_a, "problem")])
    factories.finding(session, visit, "OVERDUE", check=visit.checks[0])
    factories.finding(session, visit, "OVERDUE")
    other = factories.inspection(session, world.merchant_b, crew, on=today())
    factories.finding(session, other, "NOT_FILED")
    session.commit()
    login(client, "insp_a")
    page = client.get("/").get_data(as_text=True)
    chart = page.split('<svg id="findings-by-code"', 1)[1].split("</svg>", 1)[0]
    assert re.findall(r'data-value="(\d+)"', chart) == ["2"] and "OVERDUE" in chart and "NOT_FILED" not in chart
    # The axis names the code in Chinese (shortened to fit), the tooltip gives the full name and the code.
    assert ">超过检定周…</text>" in chart and "<title>超过检定周期使用（OVERDUE）：2条</title>" in chart
    orders = page.split('<svg id="rectification-state"', 1)[1].split("</svg>", 1)[0]
    # Two open orders in station A, none closed or late yet; each bar links to its list.
    assert re.findall(r'data-value="(\d+)"', orders) == ["0", "0", "2", "0"]
    assert "/rectifications/?state=open" in orders


def test_pledges_against_the_target_on_the_dashboard(app, client, world, session):
    from app.integrity import services as integrity

    storage = {"storage_dir": app.config["INTEGRITY_STORAGE"], "max_bytes": app.config["INTEGRITY_MAX_BYTES"]}
    integrity.create_pledge(session, None, factories.ALL, world.merchant_a,
                            {"signed_on": today() - dt.timedelta(days=10), "scope_text": "全部"}, None,
                            today=today(), **storage)
    integrity.set_targets(session, None, {("pledges", None): 4})
    session.commit()
    login(client, "super1")
    block = client.get("/").get_data(as_text=True).split('id="pledge-progress"', 1)[1].split("</div>\n<div", 1)[0]
    assert "1<small" in block and "目标 4" in block and "25.0%" in block and "尚未设置目标" in block
    assert "/integrity/?status=active" in block


def _live_trend(session, scope, now, station_id=None):
    """The trend as the plain grouped queries compute it (the dashboard's before issue 13): EXTRACT(year,
    month) over every valid record joined to its instrument, and every overdue instrument by due month."""
    from sqlalchemy import extract, func, select

    from app.instruments.models import Instrument, InstrumentStatus, Verification

    def narrow(stmt):
        stmt = scope.apply(stmt, Instrument.station_id)
        return stmt.where(Instrument.station_id == station_id) if station_id else stmt

    starts = month_starts(now)
    year, month = extract("year", Verification.verified_on), extract("month", Verification.verified_on)
    verified = {(int(y), int(m)): n for y, m, n in session.execute(narrow(
        select(year, month, func.count()).select_from(Verification)
        .join(Instrument, Instrument.id == Verification.instrument_id)
        .where(Verification.voided_at.is_(None), Verification.verified_on.between(starts[0], now))
        .group_by(year, month)))}
    year, month = extract("year", Instrument.next_due_on), extract("month", Instrument.next_due_on)
    due = [((int(y), int(m)), n) for y, m, n in session.execute(narrow(
        select(year, month, func.count()).where(Instrument.status == InstrumentStatus.IN_USE,
                                                Instrument.next_due_on < now).group_by(year, month)))]
    return [{"month": first, "verified": verified.get((first.year, first.month), 0),
             "overdue": sum(n for k, n in due if k <= (first.year, first.month))} for first in starts]


def test_trend_equals_the_live_grouped_counts(world, session):
    """Records on month boundaries, today, thirteen months back, voided ones, instruments out of use and in two
    stations: the index-range counts give exactly what grouping every row gives, for every kind of scope."""
    from app.instruments.models import InstrumentStatus
    from app.instruments.services import void_verification

    now = today()
    this_month = now.replace(day=1)
    year_start = add_months(this_month, -11)
    days = [year_start, year_start - dt.timedelta(days=1), add_months(this_month, -1) - dt.timedelta(days=1),
            add_months(this_month, -6), this_month, now, add_months(this_month, -13), add_months(this_month, -2)]
    # Due dates on month boundaries, just before and on today, long past, in the future, none (from the cycle).
    dues = [add_months(this_month, -3), add_months(this_month, -3) - dt.timedelta(days=1), now,
            now - dt.timedelta(days=1), add_months(this_month, -11), None, now + dt.timedelta(days=40),
            add_months(this_month, -1)]
    serial = 0
    for m in (world.merchant_a, world.merchant_b):
        for k, (on, due) in enumerate(zip(days, dues)):
            serial += 1
            inst = factories.instrument(session, m, serial=f"T-{serial}")
            valid_until = due if due and due > on else None
            ver = factories.verify(session, inst, on, valid_until=valid_until)
            factories.verify(session, inst, on, valid_until=valid_until)  # a second record the same day
            if k in (2, 5):
                void_verification(session, None, ver, "录错了")
            if k == 3:
                inst.status = InstrumentStatus.STOPPED  # out of use: never overdue
    session.commit()
    scopes = [(Scope.everything(), None), (Scope.everything(), world.station_b.id),
              (Scope(frozenset({world.station_a.id})), None), (Scope(frozenset({world.station_b.id})), None),
              (Scope(frozenset({world.station_a.id, world.station_b.id})), world.station_a.id),
              (Scope(frozenset()), None)]
    for scope, station_id in scopes:
        assert trend(session, scope, now, station_id) == _live_trend(session, scope, now, station_id)
    # Not a vacuous comparison: months with records and instruments overdue at more than one month's end.
    rows = trend(session, Scope.everything(), now)
    assert sum(r["verified"] for r in rows) > 10 and rows[-1]["overdue"] > rows[0]["overdue"] > 0
