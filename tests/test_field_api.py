"""The phone's JSON API (/field/api/): the packet, a merchant, and a draft sent once or many times: recorded
whole or not at all, conflicts and refusals writing nothing, HEIC photos converted, JSON errors throughout."""
from __future__ import annotations

import datetime as dt

import gzip
import io
import json
import threading
import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from app.audit.models import AuditEntry
from app.clock import today
from app.field import services as field
from app.inspections import services as inspections
from app.inspections.models import EvidenceFile, Finding, Inspection, Rectification, Signature
from app.instruments.models import Instrument, InstrumentStatus
from app.scope import Scope
from tests import factories
from tests.conftest import fresh_app, login

ALL = Scope.everything()


def runs_on_postgresql(test: str, params: dict) -> bool:
    """On PostgreSQL: the race, the unique constraint and one whole send (the rest is not about the database)."""
    return test in {"test_two_sends_at_once_make_one_inspection", "test_client_id_is_unique_in_the_database",
                    "test_a_resent_draft_is_recorded_once_with_its_photos_findings_and_signature"}


def heic(size=(64, 48)) -> bytes:
    """A real HEIC photo, as an iPhone writes it (made by pillow-heif)."""
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, format="HEIF", quality=60)
    return out.getvalue()


def draft_of(session, world, **changes) -> dict:
    """A valid draft for merchant A: instrument A checked with a problem, one finding on it, nothing attached."""
    inst = session.get(Instrument, world.instrument_a.id)
    draft = {"client_id": str(uuid.uuid4()), "merchant_id": world.merchant_a.id, "inspected_on": today().isoformat(),
             "visit_outcome": "conducted", "notes": "现场检查记录", "inspector_ids": [world.inspector_a.id,
                                                                                   world.supervisor.id],
             "campaign_id": None, "location": {"latitude": 31.23, "longitude": 121.47, "accuracy": 12.5},
             "checks": [{"instrument_id": inst.id, "outcome": "problem", "seen_version": inst.version}],
             "findings": [{"key": "f1", "instrument_id": inst.id, "code_id": factories.finding_code(session).id,
                           "description": "未按期检定", "measure": "rectify", "deadline": None, "case_no": ""}],
             "photos": [], "signatures": []}
    draft.update(changes)
    return draft


def send(client, draft: dict, files: dict | None = None, headers: dict | None = None):
    data = {"draft": json.dumps(draft, ensure_ascii=False)}
    for name, (content, filename) in (files or {}).items():
        data[name] = (io.BytesIO(content), filename)
    return client.post("/field/api/inspections", data=data, content_type="multipart/form-data", headers=headers or {})


def count(session, model, **where) -> int:
    session.expire_all()
    stmt = select(func.count()).select_from(model)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    return session.scalar(stmt)


@pytest.fixture()
def evidence_dir(app, tmp_path, monkeypatch):
    folder = tmp_path / "evidence"
    monkeypatch.setitem(app.config, "EVIDENCE_STORAGE", str(folder))
    return folder


def files_in(folder) -> list:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


# --- reading ---------------------------------------------------------------------------------------

def test_anonymous_gets_401_json_not_the_login_page(client, world):
    for url in ("/field/api/token", "/field/api/packet", f"/field/api/merchants/{world.merchant_a.id}"):
        resp = client.get(url)
        assert resp.status_code == 401 and resp.json["state"] == "refused" and "请先登录" in resp.json["errors"][0]
    resp = send(client, {"client_id": str(uuid.uuid4())})
    assert resp.status_code == 401 and resp.is_json


def test_the_packet_holds_my_stations_worklist_in_the_stated_shapes(client, session, world):
    login(client, "insp_a")
    resp = client.get("/field/api/packet")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "private, no-store"
    body = resp.json
    assert body["limits"] == {"merchants": 300, "instruments": 3000, "per_merchant": 200, "due_within_days": 30}
    assert [m["id"] for m in body["merchants"]] == [world.merchant_a.id]
    assert set(body["merchants"][0]) == {"id", "name", "address", "station_id", "version"}
    (inst,) = body["instruments"]
    assert set(inst) == {"id", "merchant_id", "kind_name", "serial_no", "model", "status", "status_label",
                         "next_due_on", "replace_by", "due_state", "due_label", "version"}
    assert inst["id"] == world.instrument_a.id and inst["due_state"] == "overdue" and inst["due_label"] == "已超期"
    assert body["worklist"] == [world.instrument_a.id]
    assert body["stations"] == [{"id": world.station_a.id, "name": world.station_a.name}]
    assert {"value": "rectify", "label": "责令改正"} in body["measures"]
    assert body["finding_codes"] and {"id", "code", "name_zh", "basis"} == set(body["finding_codes"][0])
    assert body["user"] == {"id": world.inspector_a.id, "name": str(world.inspector_a)}
    # Sent gzipped to a phone that accepts it (the generated_at moment aside, the same packet).
    zipped = client.get("/field/api/packet", headers={"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    again = json.loads(gzip.decompress(zipped.data))
    assert {**again, "generated_at": None} == {**body, "generated_at": None}


def test_the_packet_offers_the_campaigns_a_visit_may_belong_to(client, session, world):
    from app.clock import today
    from app.inspections.services import add_target

    running = factories.campaign(session, [world.station_a], name="计价秤专项（进行中）")
    lately = factories.campaign(session, [world.station_a], name="加油机专项（上周结束）",
                                starts_on=today() - dt.timedelta(days=40), ends_on=today() - dt.timedelta(days=7))
    factories.campaign(session, [world.station_a], name="早已结束的专项",
                       starts_on=today() - dt.timedelta(days=90), ends_on=today() - dt.timedelta(days=60))
    factories.campaign(session, [world.station_b], name="乙所专项")
    add_target(session, None, running, world.merchant_a)
    session.commit()
    login(client, "insp_a")
    body = client.get("/field/api/packet").json
    # Those of my stations running within the last 30 days (a visit may be dated back), newest first.
    assert [c["name"] for c in body["campaigns"]] == ["计价秤专项（进行中）", "加油机专项（上周结束）"]
    assert body["campaigns"][0] == {"id": running.id, "name": running.name, "starts_on": running.starts_on.isoformat(),
                                    "ends_on": running.ends_on.isoformat(), "station_ids": [world.station_a.id]}
    assert lately.id in [c["id"] for c in body["campaigns"]]
    # A merchant planned in a running campaign and not inspected in it yet is put in that campaign.
    assert body["planned"] == {str(world.merchant_a.id): running.id}
    factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor], campaign_id=running.id)
    session.commit()
    assert client.get("/field/api/packet").json["planned"] == {}


def test_a_merchant_outside_my_stations_is_404_json(client, world):
    login(client, "insp_a")
    resp = client.get(f"/field/api/merchants/{world.merchant_b.id}")
    assert resp.status_code == 404 and resp.json["state"] == "refused"
    body = client.get(f"/field/api/merchants/{world.merchant_a.id}").json
    assert body["name"] == world.merchant_a.name and [i["id"] for i in body["instruments"]] == [world.instrument_a.id]


# --- sending a draft -------------------------------------------------------------------------------

def test_a_resent_draft_is_recorded_once_with_its_photos_findings_and_signature(client, session, world, evidence_dir):
    login(client, "insp_a")
    draft = draft_of(session, world, photos=[
        {"field": "photo-0", "finding_key": "f1", "taken_at": "2026-12-03T02:15:00Z", "name": "IMG_1.jpg"},
        {"field": "photo-1", "finding_key": None, "taken_at": None, "name": "IMG_2.HEIC"}],
        signatures=[{"field": "signature-0", "role": "merchant", "user_id": None, "name": "张三",
                     "signed_at": "2026-12-03T02:20:00+00:00"}])
    original = heic()
    files = {"photo-0": (factories.JPEG, "IMG_1.jpg"), "photo-1": (original, "IMG_2.HEIC"),
             "signature-0": (factories.PNG, "signature.png")}
    first = send(client, draft, files)
    assert first.status_code == 201, first.json
    assert first.json == {"state": "sent", "inspection_id": first.json["inspection_id"],
                          "url": f"/inspections/{first.json['inspection_id']}"}
    again = send(client, draft, files)
    assert again.status_code == 200 and again.json == first.json
    insp_id = first.json["inspection_id"]
    assert count(session, Inspection, client_id=draft["client_id"]) == 1
    assert count(session, Finding, inspection_id=insp_id) == 1 and count(session, Rectification) == 1
    assert count(session, Signature, inspection_id=insp_id) == 1
    photos = session.scalars(select(EvidenceFile).where(EvidenceFile.inspection_id == insp_id)
                             .order_by(EvidenceFile.id)).all()
    assert len(photos) == 2 and len(files_in(evidence_dir)) == 3
    finding = session.scalars(select(Finding).where(Finding.inspection_id == insp_id)).one()
    assert photos[0].finding_id == finding.id and photos[0].taken_at.isoformat() == "2026-12-03T02:15:00+00:00"
    # The HEIC photo is kept as the JPEG it converts to, the original's SHA-256 in the audit log.
    converted = (evidence_dir / photos[1].stored_name).read_bytes()
    assert photos[1].content_type == "image/jpeg" and converted[:3] == b"\xff\xd8\xff"
    import hashlib

    assert photos[1].sha256 == hashlib.sha256(converted).hexdigest()
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "evidence_files",
                                                     AuditEntry.entity_id == photos[1].id)).one()
    assert hashlib.sha256(original).hexdigest() in json.dumps(entry.changes)
    insp = session.get(Inspection, insp_id)
    assert (insp.latitude, insp.longitude, insp.location_accuracy) == (31.23, 121.47, 12.5)


def test_an_instrument_edited_or_retired_since_it_was_seen_is_a_conflict_and_nothing_is_written(
        client, session, world, evidence_dir):
    login(client, "insp_a")
    draft = draft_of(session, world, photos=[{"field": "photo-0", "finding_key": None, "taken_at": None,
                                              "name": "a.jpg"}])
    inst = session.get(Instrument, world.instrument_a.id)
    inst.model = "ACS-30"  # edited at the desk after the phone took its packet
    session.commit()
    before = count(session, Inspection)
    resp = send(client, draft, {"photo-0": (factories.JPEG, "a.jpg")})
    assert resp.status_code == 409 and resp.json["state"] == "conflict"
    assert "计量器具“电子计价秤 A-001”在检查后被修改" in resp.json["reasons"][0]
    inst.status = InstrumentStatus.SCRAPPED
    session.commit()
    resp = send(client, draft_of(session, world), {})
    assert resp.status_code == 409 and "已报废" in resp.json["reasons"][0]
    assert count(session, Inspection) == before and files_in(evidence_dir) == []


def test_an_invalid_draft_is_refused_in_chinese_and_leaves_no_row_and_no_file(client, session, world, evidence_dir):
    login(client, "insp_a")
    before = (count(session, Inspection), count(session, EvidenceFile), count(session, Finding))
    resp = send(client, {"client_id": "x", "checks": "all"})
    assert resp.status_code == 422 and resp.json["state"] == "refused"
    expected = {"草稿缺少有效的编号（client_id）", "请选择使用单位", "检查日期无效", "检查的器具的格式无效"}
    assert expected <= set(resp.json["errors"])
    # The first photo is kept on disk before the second one is refused: the refusal takes it away again.
    draft = draft_of(session, world, photos=[
        {"field": "photo-0", "finding_key": "f1", "taken_at": None, "name": "ok.jpg"},
        {"field": "photo-1", "finding_key": None, "taken_at": None, "name": "坏.heic"}])
    hostile = heic()[:40] + b"\x00garbage" * 200
    resp = send(client, draft, {"photo-0": (factories.JPEG, "ok.jpg"), "photo-1": (hostile, "坏.heic")})
    assert resp.status_code == 422 and "照片“坏.heic”无法读取" in resp.json["errors"][0]
    assert (count(session, Inspection), count(session, EvidenceFile), count(session, Finding)) == before
    assert files_in(evidence_dir) == []
    ok_check = draft_of(session, world)
    ok_check["checks"][0]["outcome"] = "ok"
    resp = send(client, ok_check)
    assert resp.status_code == 422 and resp.json["errors"] == [
        "问题 1：涉及的器具在本次检查中记为“未发现问题”，请先改为“发现问题”"]
    resp = send(client, draft_of(session, world, inspector_ids=[world.inspector_a.id]))
    assert resp.status_code == 422 and "至少选择两人" in resp.json["errors"][0]
    assert send(client, draft_of(session, world, merchant_id=world.merchant_b.id)).status_code == 404
    resp = client.post("/field/api/inspections", data={"draft": "{not json"}, content_type="multipart/form-data")
    assert resp.status_code == 422 and resp.json["errors"] == ["检查草稿格式无效（不是 JSON）"]


def test_writing_needs_the_ledger_capability(client, session, world):
    login(client, "super1")
    resp = send(client, draft_of(session, world))
    assert resp.status_code == 403 and resp.json["state"] == "refused" and resp.json["errors"][0]
    assert client.get("/field/api/packet").status_code == 200


def test_client_id_is_unique_in_the_database(session, world):
    values = {"inspected_on": today(), "inspector_ids": [world.inspector_a.id, world.supervisor.id],
              "client_id": str(uuid.uuid4())}
    inspections.record_inspection(session, None, ALL, world.merchant_a, values, today())
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            inspections.record_inspection(session, None, ALL, world.merchant_a, values, today())


def test_two_sends_at_once_make_one_inspection(database_url):
    """The loser of a race on one client_id gets the winner's inspection (PostgreSQL: its INSERT waits on the
    unique index and fails once the winner commits). SQLite lets one writer in at a time: the loser fails as
    busy, the phone sends again and gets the winner's."""
    app = fresh_app(database_url)
    database = app.extensions["database"]
    with database.session_scope() as s:
        world = factories.build_world(s)
        draft = draft_of(s, world)
        user_id = world.inspector_a.id
    storage = field.Storage(folder=app.config["EVIDENCE_STORAGE"], max_bytes=10_000)
    first = database.session_factory()
    from app.accounts.models import User

    winner = field.record_field_inspection(first, first.get(User, user_id), ALL, draft, {}, today(), storage)
    answers = []

    def second_send():
        s = database.session_factory()
        try:
            answers.append(field.record_field_inspection(s, s.get(User, user_id), ALL, draft, {}, today(), storage))
            s.commit()
        except OperationalError as err:
            answers.append(err)
        finally:
            s.close()

    thread = threading.Thread(target=second_send)
    thread.start()
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect() as conn:  # the second send waits on the first's row before it commits
            while not conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                         "AND wait_event_type = 'Lock'")):
                conn.rollback()
    first.commit()
    first.close()
    thread.join()
    (answer,) = answers
    if isinstance(answer, OperationalError):
        assert database.engine.dialect.name == "sqlite"
        with database.session_scope() as s:
            answer = field.record_field_inspection(s, s.get(User, user_id), ALL, draft, {}, today(), storage)
    assert answer.state == "already" and answer.inspection.id == winner.inspection.id
    with database.session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Inspection)) == 1
    database.dispose()


def test_the_api_refuses_a_post_without_the_csrf_header(database_url):
    app = fresh_app(database_url, WTF_CSRF_ENABLED=True)
    database = app.extensions["database"]
    with database.session_scope() as s:
        world = factories.build_world(s)
        draft = draft_of(s, world)
    client = app.test_client()
    from tests.test_security import token_of

    token = token_of(client.get("/login"))
    client.post("/login", data={"username": "insp_a", "password": factories.PASSWORD, "csrf_token": token})
    resp = send(client, draft)
    assert resp.status_code == 400 and resp.is_json and "CSRF" in resp.json["errors"][0]
    fresh = client.get("/field/api/token").json["csrf_token"]
    assert send(client, draft, headers={"X-CSRFToken": fresh}).status_code == 201
    database.dispose()


def test_heic_is_decoded_in_the_sandbox_and_a_hostile_or_huge_one_refused_in_chinese():
    """The child process of importers/sandbox.py decodes it: a broken file or one past the pixel cap is a Chinese
    Invalid, never a crash of the server."""
    from app.errors import Invalid
    from app.images import ImageLimits, heif_to_jpeg, is_heif
    from importers.sandbox import SandboxLimits

    sandboxed = ImageLimits(sandbox=SandboxLimits(memory_bytes=512 * 1024 * 1024, seconds=30, enabled=True))
    photo = heic()
    assert is_heif(photo) and not is_heif(factories.JPEG)
    assert heif_to_jpeg(photo, "a.heic", sandboxed)[:3] == b"\xff\xd8\xff"
    with pytest.raises(Invalid, match="照片“b.heic”无法读取"):
        heif_to_jpeg(photo[:60] + b"\xff" * 500, "b.heic", sandboxed)
    small_cap = ImageLimits(max_pixels=1000, sandbox=sandboxed.sandbox)
    with pytest.raises(Invalid, match="像素过多"):
        heif_to_jpeg(photo, "c.heic", small_cap)
