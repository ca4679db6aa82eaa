"""Integrity pledges: register with a signed document, one active pledge per merchant, revoke with the reason and
finding, demonstration units, history, expiry by review date, counts by station/industry/status, targets, export,
and who may read the signed document."""
from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import lxml.html
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.clock import today
from app.errors import Invalid, StaleEdit
from app.integrity import queries, services
from app.integrity.models import IntegrityTarget, Pledge, PledgeStatus
from app.scope import Scope
from config import TestConfig
from tests import factories as f
from tests.conftest import fresh_app, login

PDF = b"%PDF-1.4\n% a signed pledge\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
ALL = Scope.everything()


def storage(app) -> dict:
    return {"storage_dir": app.config["INTEGRITY_STORAGE"], "max_bytes": app.config["INTEGRITY_MAX_BYTES"]}


def pledge(app, session, merchant, signed_on=dt.date(2024, 3, 1), review_on=None, upload=None) -> Pledge:
    return services.create_pledge(session, None, ALL, merchant, {"signed_on": signed_on, "review_on": review_on,
                                                                 "scope_text": "全部计量器具"}, upload,
                                  today=today(), **storage(app))


def test_register_with_document_via_the_form(app, client, session, world):
    login(client, "insp_a")
    resp = client.post(f"/integrity/new?merchant_id={world.merchant_a.id}",
                       data={"signed_on": "2025-01-05", "review_on": "2027-01-05", "scope_text": "全部电子计价秤",
                             "document": (io.BytesIO(PDF), "承诺书-签字.pdf")})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:800]
    p = session.scalars(select(Pledge)).one()
    assert p.status == PledgeStatus.ACTIVE and p.signed_on == dt.date(2025, 1, 5)
    assert p.document_type == "pdf" and p.document_size == len(PDF) and p.document_name == "承诺书-签字.pdf"
    stored = Path(app.config["INTEGRITY_STORAGE"]) / p.document_path
    assert stored.read_bytes() == PDF
    # Outside the web root (app/static); the stored name is random, not the user's.
    static = Path(app.static_folder).resolve()
    assert static not in stored.resolve().parents
    assert p.document_path != p.document_name and p.document_path.endswith(".pdf")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "承诺书-签字.pdf" in page and "新建" in page and "有效" in page


def test_a_second_active_pledge_is_refused_but_history_is_kept(app, session, world):
    first = pledge(app, session, world.merchant_a)
    with pytest.raises(Invalid) as err:
        pledge(app, session, world.merchant_a, signed_on=dt.date(2025, 1, 1))
    assert "已有有效的诚信计量承诺" in err.value.message
    services.revoke_pledge(session, None, first, expected_version=first.version, reason="撤回", finding_id=None,
                           on=dt.date(2025, 1, 1))
    second = pledge(app, session, world.merchant_a, signed_on=dt.date(2025, 2, 1))
    history = session.scalars(queries.pledges_of_merchant(world.merchant_a.id)).all()
    assert [p.id for p in history] == [second.id, first.id]


@pytest.mark.parametrize("data,kind", [(PDF, "pdf"), (PNG, "png"), (JPEG, "jpeg")])
def test_document_type_is_sniffed_from_its_bytes(app, session, world, data, kind):
    # The name says .pdf whatever the content: the bytes decide.
    p = pledge(app, session, world.merchant_a, upload=services.Upload("scan.pdf", data))
    assert p.document_type == kind


def test_a_document_of_another_type_is_refused_on_the_form(app, client, session, world):
    login(client, "insp_a")
    resp = client.post(f"/integrity/new?merchant_id={world.merchant_a.id}",
                       data={"signed_on": "2025-01-05", "scope_text": "保留的范围",
                             "document": (io.BytesIO(b"MZ\x90\x00 not a pdf"), "承诺书.pdf")})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "只能是 PDF、JPEG 或 PNG" in html and "保留的范围" in html  # the input is kept
    assert session.scalars(select(Pledge)).all() == []


def test_a_document_over_the_size_limit_is_refused(database_url, tmp_path):
    app = fresh_app(database_url, INTEGRITY_MAX_BYTES=1024, INTEGRITY_STORAGE=str(tmp_path))
    try:
        with app.extensions["database"].session_scope() as s:
            world = f.build_world(s)
            with pytest.raises(Invalid) as err:
                services.create_pledge(s, None, ALL, world.merchant_a, {"signed_on": dt.date(2025, 1, 1)},
                                       services.Upload("big.pdf", PDF + b"x" * 2000), today=today(),
                                       **storage(app))
            assert "不能超过" in err.value.message
        assert list(tmp_path.iterdir()) == []
    finally:
        app.extensions["database"].dispose()


def test_the_document_is_served_only_to_users_who_may_see_the_merchant(app, session, world):
    p = pledge(app, session, world.merchant_a, upload=services.Upload("承诺书.pdf", PDF))
    session.commit()
    url = f"/integrity/{p.id}/document"
    for user, status in (("insp_a", 200), ("super1", 200), ("admin1", 200), ("insp_b", 404)):
        client = app.test_client()
        login(client, user)
        resp = client.get(url)
        assert resp.status_code == status, user
        if status == 200:
            assert resp.data == PDF and resp.mimetype == "application/pdf"
    anon = app.test_client().get(url)
    assert anon.status_code == 302 and "/login" in anon.headers["Location"]


def test_revoke_records_reason_and_finding_and_ends_the_model_unit(app, client, session, world):
    p = pledge(app, session, world.merchant_a)
    services.set_model_unit(session, None, p, expected_version=p.version, mark=True, on=dt.date(2025, 1, 1),
                            decision="市监计〔2025〕1号", today=today())
    finding = f.finding(session, f.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor]))
    session.commit()
    login(client, "insp_a")
    resp = client.post(f"/integrity/{p.id}/revoke", data={"revoked_on": "2025-06-01", "reason": "检查发现计量作弊",
                                                           "finding_id": str(finding.id), "version": p.version})
    assert resp.status_code == 302
    session.refresh(p)
    assert p.status == PledgeStatus.REVOKED and p.revoke_reason == "检查发现计量作弊"
    assert p.revoked_finding_id == finding.id and p.revoked_on == dt.date(2025, 6, 1)
    assert not p.is_model_unit and "因撤销承诺取消" in p.model_unit_decision
    page = client.get(f"/integrity/{p.id}").get_data(as_text=True)
    assert "撤销承诺" in page and "检查发现计量作弊" in page and f"相关问题 #{finding.id}" in page
    assert world.merchant_a.id not in session.scalars(queries.active_pledge_merchants(today())).all()


def test_revoke_needs_a_reason_and_a_fresh_version(app, client, session, world):
    p = pledge(app, session, world.merchant_a)
    session.commit()
    login(client, "insp_a")
    resp = client.post(f"/integrity/{p.id}/revoke", data={"revoked_on": "2025-06-01", "reason": "",
                                                           "version": p.version})
    assert resp.status_code == 200 and "请填写撤销原因" in resp.get_data(as_text=True)
    resp = client.post(f"/integrity/{p.id}/revoke", data={"revoked_on": "2025-06-01", "reason": "理由",
                                                           "version": p.version - 1})
    assert resp.status_code == 200 and "已被其他人修改并保存" in resp.get_data(as_text=True)
    session.refresh(p)
    assert p.status == PledgeStatus.ACTIVE


def test_model_unit_mark_and_unmark_are_kept_in_the_history(app, client, session, world):
    p = pledge(app, session, world.merchant_a)
    session.commit()
    login(client, "insp_a")
    assert client.post(f"/integrity/{p.id}/model-unit", data={"on": "2025-03-01", "decision": "市监计〔2025〕3号",
                                                               "version": p.version}).status_code == 302
    session.refresh(p)
    assert p.is_model_unit and p.model_unit_on == dt.date(2025, 3, 1)
    assert client.post(f"/integrity/{p.id}/model-unit", data={"on": "2025-09-01", "decision": "年度复核未通过",
                                                               "version": p.version}).status_code == 302
    session.refresh(p)
    assert not p.is_model_unit and p.model_unit_decision == "年度复核未通过"
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "pledges",
                                                              AuditEntry.entity_id == p.id)
                              .order_by(AuditEntry.id)).all()
    assert actions == ["create", "model_unit", "unmodel_unit"]
    page = client.get(f"/integrity/{p.id}").get_data(as_text=True)
    assert "认定示范单位" in page and "取消示范单位" in page and "市监计〔2025〕3号" in page


def test_edit_is_refused_when_someone_saved_first(app, session, world):
    p = pledge(app, session, world.merchant_a)
    values = {"signed_on": dt.date(2024, 3, 1), "review_on": dt.date(2028, 1, 1), "scope_text": "新范围"}
    services.update_pledge(session, None, p, expected_version=p.version, values=values, upload=None,
                           today=today(), **storage(app))
    with pytest.raises(StaleEdit):
        services.update_pledge(session, None, p, expected_version=p.version - 1, values=values, upload=None,
                               today=today(), **storage(app))


def test_a_pledge_past_its_review_date_reads_as_expired(app, session, world):
    now = today()
    lapsed = pledge(app, session, world.merchant_a, signed_on=now - dt.timedelta(days=800),
                    review_on=now - dt.timedelta(days=1))
    current = pledge(app, session, world.merchant_b, signed_on=now - dt.timedelta(days=10), review_on=now)
    session.commit()
    assert lapsed.effective_status(now) == PledgeStatus.EXPIRED
    assert current.effective_status(now) == PledgeStatus.ACTIVE
    assert session.scalars(queries.active_pledge_merchants(now)).all() == [world.merchant_b.id]
    expired = session.scalars(queries.pledge_list(ALL, now, status="expired")).all()
    assert [p.id for p in expired] == [lapsed.id]
    # A lapsed pledge does not block a new one.
    pledge(app, session, world.merchant_a, signed_on=now)


def _page_text(client, url: str) -> str:
    resp = client.get(url)
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def _element_text(html: str, element_id: str) -> str:
    """The text of the page's element with this id (and of everything inside it)."""
    return lxml.html.fromstring(html).get_element_by_id(element_id).text_content()


def test_counts_by_station_industry_status_and_progress_to_targets(app, client, session, world):
    now = today()
    extra = [f.merchant(session, world.station_a, f"甲市场摊位{i}") for i in range(2, 5)]
    p1 = pledge(app, session, world.merchant_a)
    p2 = pledge(app, session, extra[0])
    pledge(app, session, extra[1], review_on=dt.date(2024, 6, 1))  # expired
    p4 = pledge(app, session, world.merchant_b)
    services.revoke_pledge(session, None, p2, expected_version=p2.version, reason="违规", finding_id=None, on=now)
    services.set_model_unit(session, None, p1, expected_version=p1.version, mark=True, on=now, decision="认定",
                            today=now)
    services.set_targets(session, None, {("pledges", None): 4, ("model_units", None): 2,
                                         ("pledges", world.station_a.id): 4})
    session.commit()

    by_station = {row[0]: tuple(row[1:]) for row in session.execute(queries.counts_by("station", ALL, now))}
    assert by_station == {world.station_a.id: (1, 1, 1, 1), world.station_b.id: (1, 0, 0, 0)}
    by_industry = {row[0].value: tuple(row[1:]) for row in session.execute(queries.counts_by("industry", ALL, now))}
    assert by_industry == {"market_vendor": (1, 1, 1, 1), "fuel_station": (1, 0, 0, 0)}
    assert dict(session.execute(queries.counts_by_status(ALL, now)).all()) == {"active": 2, "revoked": 1, "expired": 1}
    # An inspector's counts stay in their stations.
    only_b = Scope(frozenset({world.station_b.id}))
    assert dict(session.execute(queries.counts_by_status(only_b, now)).all()) == {"active": 1}
    assert session.scalars(queries.active_pledge_merchants(now)).all().__len__() == 2 and p4

    login(client, "super1")
    html = _page_text(client, "/integrity/")
    progress = _element_text(html, "progress")
    assert "全局" in progress and "2 / 4" in progress and "50.0%" in progress  # pledges overall
    assert "1 / 2" in progress  # demonstration units overall
    assert "1 / 4" in progress and "25.0%" in progress  # station A
    filtered = _page_text(client, "/integrity/?status=revoked")
    assert "甲市场摊位2" in filtered and "甲市场摊位1" not in _element_text(filtered, "pledge-list")


def test_targets_form_saves_and_clears(app, client, session, world):
    login(client, "admin1")
    resp = client.post("/integrity/targets", data={"pledges_all": "1000", f"model_units_{world.station_a.id}": "5"})
    assert resp.status_code == 302
    rows = {(t.kind.value, t.station_id): t.target for t in session.scalars(select(IntegrityTarget))}
    assert rows == {("pledges", None): 1000, ("model_units", world.station_a.id): 5}
    resp = client.post("/integrity/targets", data={"pledges_all": "-3"})
    assert resp.status_code == 200 and "目标数应为" in resp.get_data(as_text=True)
    # The form posts every input: an emptied one clears its target, the others stay.
    assert client.post("/integrity/targets", data={"pledges_all": "", f"model_units_{world.station_a.id}": "5"}
                       ).status_code == 302
    session.expire_all()
    assert {(t.kind.value, t.station_id) for t in session.scalars(select(IntegrityTarget))} == {
        ("model_units", world.station_a.id)}


def test_inspectors_manage_only_their_stations_pledges(app, client, session, world):
    pb = pledge(app, session, world.merchant_b)
    session.commit()
    login(client, "insp_a")
    assert client.get(f"/integrity/{pb.id}").status_code == 404
    assert client.get(f"/integrity/new?merchant_id={world.merchant_b.id}").status_code == 404
    assert "乙加油站" not in _page_text(client, "/integrity/")


def test_export_follows_the_filter(app, client, session, world):
    p = pledge(app, session, world.merchant_a)
    pledge(app, session, world.merchant_b)
    services.revoke_pledge(session, None, p, expected_version=p.version, reason="违规", finding_id=None,
                           on=today())
    session.commit()
    login(client, "super1")
    resp = client.get("/integrity/export.xlsx?status=revoked")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    rows = [list(r) for r in load_workbook(io.BytesIO(resp.data)).active.iter_rows(values_only=True)]
    assert rows[0][:5] == ["监管所", "使用单位", "行业", "签署日期", "状态"]
    assert [(r[1], r[4], r[10]) for r in rows[1:]] == [("甲市场摊位1", "已撤销", "违规")]


def test_merchant_page_shows_its_pledges(app, client, session, world):
    p = pledge(app, session, world.merchant_a)
    session.commit()
    login(client, "insp_a")
    html = _page_text(client, f"/merchants/{world.merchant_a.id}")
    assert f"/integrity/{p.id}" in html and "有效" in _element_text(html, "merchant-pledges")


def test_storage_defaults_keep_documents_out_of_the_web_root():
    from config import Config
    assert Config.INTEGRITY_STORAGE.endswith(str(Path("instance") / "integrity"))
    assert "metrology-test-integrity" in TestConfig.INTEGRITY_STORAGE


def test_an_import_whose_merchant_pledged_or_whose_instrument_has_a_token_cannot_be_undone(app, session, world):
    from app.imports import services as imports
    from app.instruments.models import Instrument
    from app.public.services import ensure_public_token
    from importers.apply import undo_blockers

    data = "使用单位名称,器具名称,出厂编号,检定日期\n甲市场摊位9,电子计价秤,A-IMP-9,2024-03-01\n".encode()
    batch = imports.create_batch(session, world.admin, ALL, station_id=world.station_a.id, file_name="台账.csv",
                                 data=data, storage_dir=TestConfig.IMPORT_STORAGE)
    imports.plan_batch(session, batch, today=today())
    imports.start_apply(session, world.admin, batch, expected_version=batch.version, only_valid=False)
    imports.apply_batch(session, world.admin, batch, today=today())
    imported = session.scalars(select(Instrument).where(Instrument.serial_no == "A-IMP-9")).one()
    assert undo_blockers(session, batch.id) == []
    pledge(app, session, imported.merchant)
    ensure_public_token(session, None, imported)
    problems = undo_blockers(session, batch.id)
    assert any("诚信计量承诺" in p for p in problems) and any("公开查询码" in p for p in problems)


def test_serious_finding_against_a_pledged_merchant_raises_a_review_alert(app, client, session, world):
    """A major or severe finding at a pledged merchant alerts supervisors at once; revoking the pledge clears it."""
    from app.alerts.kinds import PLEDGE_REVIEW
    from app.alerts.models import Alert, AlertStatus
    from app.alerts.jobs import due_date_sweep
    from app.db import utcnow

    p = pledge(app, session, world.merchant_a)
    crew = [world.inspector_a, world.supervisor]
    minor = f.inspection(session, world.merchant_a, crew, on=today() - dt.timedelta(days=2))
    f.finding(session, minor, "NOT_FILED")          # minor: no review
    unpledged = f.inspection(session, world.merchant_b, crew, on=today() - dt.timedelta(days=2))
    f.finding(session, unpledged, "OVERDUE")        # major, but merchant B has no pledge
    assert session.scalars(select(Alert).where(Alert.kind == PLEDGE_REVIEW.code)).all() == []
    serious = f.inspection(session, world.merchant_a, crew, on=today() - dt.timedelta(days=1))
    f.finding(session, serious, "OVERDUE")
    f.finding(session, serious, "CHEAT_DEVICE")     # the same visit: still one alert
    session.commit()
    (alert,) = session.scalars(select(Alert).where(Alert.kind == PLEDGE_REVIEW.code)).all()
    assert (alert.subject_type, alert.subject_id, alert.merchant_id, alert.station_id, alert.due_on) == (
        "pledge", p.id, world.merchant_a.id, world.station_a.id, today() - dt.timedelta(days=1))
    due_date_sweep(session=session, now=utcnow(), config={})   # the sweep finds the same alert: no second one
    session.commit()
    assert len(session.scalars(select(Alert).where(Alert.kind == PLEDGE_REVIEW.code)).all()) == 1

    supervisor = app.test_client()
    login(supervisor, "super1")
    page = supervisor.get("/alerts/?kind=pledge_review").get_data(as_text=True)
    assert "诚信承诺待复核" in page and f"/integrity/{p.id}" in page

    services.revoke_pledge(session, world.supervisor, p, expected_version=p.version, reason="检查发现使用作弊器具",
                           finding_id=serious.findings[0].id, on=today())
    session.commit()
    due_date_sweep(session=session, now=utcnow(), config={})
    session.commit()
    session.expire_all()
    assert session.get(Alert, alert.id).status is AlertStatus.RESOLVED
