"""Credit classes: computed for every merchant in one statement from findings, instruments and the rule's
weights; the rule is set by admins; the class shows with its reasons on the merchant page."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.clock import today
from app.credit import services
from app.credit.models import CreditScore
from app.db import utcnow
from app.errors import Invalid, StaleEdit
from app.jobs.models import JobRun, RunTrigger
from tests import factories
from tests.conftest import login


@pytest.fixture()
def merchants(world, session):
    """Four merchants in station A: clean, one overdue scale, one severe finding, two severe findings."""
    a = world.station_a
    clean = factories.merchant(session, a, "守信商户")
    ok = factories.instrument(session, clean, serial="OK-1")
    factories.verify(session, ok, today() - dt.timedelta(days=30))
    late = factories.merchant(session, a, "超期商户")
    scale = factories.instrument(session, late, serial="LATE-1")
    factories.verify(session, scale, today() - dt.timedelta(days=500), valid_until=today() - dt.timedelta(days=5))
    crew = [world.inspector_a, world.supervisor]
    once = factories.merchant(session, a, "一次严重")
    visit = factories.inspection(session, once, crew, on=today() - dt.timedelta(days=10))
    factories.finding(session, visit, "CHEAT_DEVICE")   
    twice = factories.merchant(session, a, "两次严重")
    for days in (10, 400):
        visit = factories.inspection(session, twice, crew, on=today() - dt.timedelta(days=days))
        factories.finding(session, visit, "CHEAT_DEVICE")
    old = factories.merchant(session, a, "三年前问题")
    visit = factories.inspection(session, old, crew, on=today() - dt.timedelta(days=800))
    factories.finding(session, visit, "CHEAT_DEVICE")
    session.commit()
    return {"clean": clean, "late": late, "once": once, "twice": twice, "old": old}


def _classes(session) -> dict[str, str]:
    from app.merchants.models import Merchant

    session.expire_all()
    return dict(session.execute(select(Merchant.name, Merchant.credit_class)).all())


def test_severe_code_is_severe(session, app):
    assert factories.finding_code(session, "CHEAT_DEVICE").severity.value == "severe"


def test_recompute_classes_every_merchant(session, merchants):
    counts = services.recompute(session, today(), utcnow())
    session.commit()
    classes = _classes(session)
    assert classes["守信商户"] == "A"
    assert classes["超期商户"] == "B"        # 1 overdue scale: 1 point
    assert classes["一次严重"] == "C"        # 10 points
    assert classes["两次严重"] == "D"        # 20 points, both within 24 months
    assert classes["三年前问题"] == "A"      # outside the window
    assert counts["merchants"] == len(classes) and counts["changed"] == len(classes)
    score = session.get(CreditScore, merchants["twice"].id)
    assert (score.severe, score.major, score.overdue, score.pledged, score.score) == (2, 0, 0, False, 20)
    again = services.recompute(session, today(), utcnow())
    assert again["changed"] == 0 and again == {**counts, "changed": 0}


def test_rule_changes_apply_at_the_next_recompute(session, merchants, world):
    rule = services.get_rule(session)
    values = {k: getattr(rule, k) for k in services.RULE_FIELDS}
    with pytest.raises(Invalid):
        services.update_rule(session, world.admin, rule, expected_version=rule.version, values={**values, "b_max": 0})
    with pytest.raises(StaleEdit):
        services.update_rule(session, world.admin, rule, expected_version=rule.version - 1, values=values)
    services.update_rule(session, world.admin, rule, expected_version=rule.version,
                         values={**values, "severe_points": 20, "window_months": 36})
    services.recompute(session, today(), utcnow())
    session.commit()
    classes = _classes(session)
    assert classes["一次严重"] == "D" and classes["三年前问题"] == "D"


def test_merchant_page_shows_class_and_reasons(client, session, merchants):
    services.recompute(session, today(), utcnow())
    session.commit()
    login(client, "insp_a")
    page = client.get(f"/merchants/{merchants['twice'].id}").get_data(as_text=True)
    assert "<strong>D 类</strong>" in page and "严重问题 2 条" in page and "无有效诚信承诺" in page


def test_admin_page_recomputes_as_a_recorded_run(client, session, merchants, world):
    login(client, "admin1")
    page = client.get("/admin/credit/").get_data(as_text=True)
    assert "风险分" in page and "尚未分类" in page
    resp = client.post("/admin/credit/recompute")
    assert resp.status_code == 302
    assert "已重新计算" in client.get("/admin/credit/").get_data(as_text=True)
    run = session.scalars(select(JobRun)).one()
    assert (run.job_name, run.trigger, run.started_by_id) == ("credit_classes", RunTrigger.MANUAL, world.admin.id)
    assert _classes(session)["两次严重"] == "D"


def test_a_pledge_and_a_demonstration_unit_lower_the_score(app, session, merchants, world):
    from app.integrity import services as integrity

    storage = {"storage_dir": app.config["INTEGRITY_STORAGE"], "max_bytes": app.config["INTEGRITY_MAX_BYTES"]}
    late = integrity.create_pledge(session, None, factories.ALL, merchants["late"],
                                   {"signed_on": today() - dt.timedelta(days=100), "scope_text": "全部"}, None,
                                   today=today(), **storage)
    once = integrity.create_pledge(session, None, factories.ALL, merchants["once"],
                                   {"signed_on": today() - dt.timedelta(days=100), "scope_text": "全部"}, None,
                                   today=today(), **storage)
    integrity.set_model_unit(session, world.admin, once, expected_version=once.version, mark=True, on=today(),
                             decision="市监计〔2026〕1号", today=today())
    session.commit()
    services.recompute(session, today(), utcnow())
    session.commit()
    classes = _classes(session)
    assert classes["超期商户"] == "A"          # 1 - 3 = -2
    assert classes["一次严重"] == "B"          # 10 - 3 - 2 = 5
    score = session.get(CreditScore, merchants["once"].id)
    assert (score.pledged, score.model_unit, score.score) == (True, True, 5)
    assert session.get(CreditScore, late.merchant_id).pledged is True
