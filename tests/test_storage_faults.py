"""A full disk loses nothing: every upload (ledger, evidence, signed pledge) is kept whole or not at all,
the user is told in Chinese, no record is left in the database, and the same upload works once there is room.
The disk is really full (a small tmpfs filled to ENOSPC), not mocked."""
from __future__ import annotations

import hashlib
import io
import os

import pytest
from sqlalchemy import func, select

from app import uploads
from app.audit.models import AuditEntry
from app.clock import today
from app.errors import StorageFailed
from app.imports import services as imports
from app.imports.models import ImportBatch, ImportStatus
from app.inspections.models import EvidenceFile
from app.integrity.models import Pledge
from app.scope import Scope
from importers import ImportFileError
from tests import factories
from tests.conftest import fresh_app, login
from tests.test_import_views import ledger_xlsx

FULL = "服务器存储空间不足，文件未保存，请联系管理员"


def test_keep_on_a_full_disk_leaves_nothing_and_works_once_there_is_room(small_disk):
    small_disk.fill()
    with pytest.raises(StorageFailed) as err:
        uploads.keep(small_disk.path / "store", "a.pdf", factories.PDF)
    assert err.value.message == FULL
    assert small_disk.files() == []  # neither the name nor a temporary .part file
    small_disk.free()
    path = uploads.keep(small_disk.path / "store", "a.pdf", factories.PDF)
    assert path.read_bytes() == factories.PDF and small_disk.files() == ["store/a.pdf"]


def test_keep_where_the_store_cannot_be_written_says_so_in_chinese(tmp_path):
    (tmp_path / "store").write_bytes(b"")  # a file where the store's folder should be
    with pytest.raises(StorageFailed) as err:
        uploads.keep(tmp_path / "store", "a.pdf", factories.PDF)
    assert err.value.message == "服务器无法保存文件，文件未保存，请联系管理员"


def test_keep_replaces_a_leftover_of_the_wrong_size_or_hash_and_trusts_only_the_same_file(tmp_path):
    data = b"%PDF-1.4 the real upload"
    for leftover in (b"", data[:-1] + b"X"):  # an empty file from a failed write; same size, other bytes
        (tmp_path / "f.pdf").write_bytes(leftover)
        assert uploads.keep(tmp_path, "f.pdf", data).read_bytes() == data
    inode = (tmp_path / "f.pdf").stat().st_ino
    uploads.keep(tmp_path, "f.pdf", data)
    assert (tmp_path / "f.pdf").stat().st_ino == inode  # the intact file is reused, not written again
    assert os.listdir(tmp_path) == ["f.pdf"]


@pytest.fixture()
def disk_app(database_url, small_disk):
    """An app whose three upload stores are on the small disk, with the test world."""
    app = fresh_app(database_url, IMPORT_STORAGE=str(small_disk.path / "imports"),
                    EVIDENCE_STORAGE=str(small_disk.path / "evidence"),
                    INTEGRITY_STORAGE=str(small_disk.path / "integrity"))
    with app.extensions["database"].session_scope() as s:
        world = factories.build_world(s)
        app.world = {"station": world.station_a.id, "merchant": world.merchant_a.id,
                     "inspection": factories.inspection(s, world.merchant_a, [world.inspector_a, world.supervisor]).id}
    yield app
    app.extensions["database"].dispose()


def _count(app, model, *where) -> int:
    with app.extensions["database"].session_scope() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _client(app):
    client = app.test_client()
    login(client, "insp_a")
    return client


def test_a_ledger_upload_on_a_full_disk_is_refused_in_chinese_and_kept_after_room_is_made(disk_app, small_disk):
    client, data = _client(disk_app), ledger_xlsx()
    form = lambda: {"station_id": str(disk_app.world["station"]), "file": (io.BytesIO(data), "城东台账.xlsx")}
    small_disk.fill()
    logged = _count(disk_app, AuditEntry)
    resp = client.post("/imports/new", data=form())
    assert resp.status_code == 200 and FULL in resp.get_data(as_text=True)
    assert _count(disk_app, ImportBatch) == 0 and _count(disk_app, AuditEntry) == logged
    assert small_disk.files() == []
    small_disk.free()
    resp = client.post("/imports/new", data=form())
    assert resp.status_code == 302, resp.get_data(as_text=True)[:800]
    with disk_app.extensions["database"].session_scope() as s:
        batch = s.scalars(select(ImportBatch)).one()
        assert batch.status == ImportStatus.PREVIEW, batch.message
    # The upload, and the dry run's parse kept next to it for the apply.
    assert [f for f in small_disk.files() if not f.endswith(".parsed")] == [
        f"imports/{hashlib.sha256(data).hexdigest()}.xlsx"]


def test_an_empty_leftover_named_by_the_hash_is_replaced_not_trusted(disk_app, small_disk):
    # What a failed write of an earlier version left behind: the same ledger then read as "文件是空的".
    data = ledger_xlsx()
    leftover = small_disk.path / "imports" / f"{hashlib.sha256(data).hexdigest()}.xlsx"
    leftover.parent.mkdir()
    leftover.write_bytes(b"")
    resp = _client(disk_app).post("/imports/new", data={"station_id": str(disk_app.world["station"]),
                                                        "file": (io.BytesIO(data), "城东台账.xlsx")})
    assert resp.status_code == 302
    with disk_app.extensions["database"].session_scope() as s:
        assert s.scalars(select(ImportBatch)).one().status == ImportStatus.PREVIEW
    assert leftover.read_bytes() == data


def test_a_stored_ledger_changed_since_the_upload_is_not_read(app, world, session, tmp_path):
    batch = imports.create_batch(session, None, Scope.everything(), station_id=world.station_a.id,
                                 file_name="台账.xlsx", data=ledger_xlsx(), storage_dir=tmp_path)
    with open(batch.stored_path, "r+b") as file:
        file.truncate(100)
    with pytest.raises(ImportFileError) as err:
        imports.plan_batch(session, batch, today=today())
    assert "保存的台账文件已丢失或损坏" in err.value.message


def test_an_evidence_upload_on_a_full_disk_leaves_no_file_and_no_row(disk_app, small_disk):
    client, url = _client(disk_app), f"/inspections/{disk_app.world['inspection']}/evidence"
    small_disk.fill()
    resp = client.post(url, data={"file": (io.BytesIO(factories.PNG), "现场.png")})
    assert resp.status_code == 200 and FULL in resp.get_data(as_text=True)
    assert _count(disk_app, EvidenceFile) == 0 and small_disk.files() == []
    small_disk.free()
    assert client.post(url, data={"file": (io.BytesIO(factories.PNG), "现场.png")}).status_code == 302
    with disk_app.extensions["database"].session_scope() as s:
        stored = s.scalars(select(EvidenceFile)).one().stored_name
    assert small_disk.files() == [f"evidence/{stored}"]
    assert (small_disk.path / "evidence" / stored).read_bytes() == factories.PNG


def test_a_pledge_document_on_a_full_disk_leaves_no_file_and_no_pledge(disk_app, small_disk):
    client, url = _client(disk_app), f"/integrity/new?merchant_id={disk_app.world['merchant']}"
    form = lambda: {"signed_on": "2025-01-05", "scope_text": "全部电子计价秤",
                    "document": (io.BytesIO(factories.PDF), "承诺书.pdf")}
    small_disk.fill()
    resp = client.post(url, data=form())
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and FULL in html and "全部电子计价秤" in html  # the input is kept
    assert _count(disk_app, Pledge) == 0 and small_disk.files() == []
    small_disk.free()
    assert client.post(url, data=form()).status_code == 302
    with disk_app.extensions["database"].session_scope() as s:
        stored = s.scalars(select(Pledge)).one().document_path
    assert small_disk.files() == [f"integrity/{stored}"]


def test_the_command_line_import_on_a_full_disk_says_so_and_keeps_no_batch(disk_app, small_disk, tmp_path):
    ledger = tmp_path / "台账.xlsx"
    ledger.write_bytes(ledger_xlsx())
    small_disk.fill()
    result = disk_app.test_cli_runner().invoke(args=["import", "ledger", str(ledger), "--station", "A"])
    assert result.exit_code != 0 and FULL in result.output, result.output
    assert _count(disk_app, ImportBatch) == 0 and small_disk.files() == []


def test_a_stored_file_damaged_since_the_upload_is_not_served(disk_app, small_disk):
    client = _client(disk_app)
    client.post(f"/inspections/{disk_app.world['inspection']}/evidence",
                data={"file": (io.BytesIO(factories.PNG), "现场.png")})
    client.post(f"/integrity/new?merchant_id={disk_app.world['merchant']}",
                data={"signed_on": "2025-01-05", "document": (io.BytesIO(factories.PDF), "承诺书.pdf")})
    with disk_app.extensions["database"].session_scope() as s:
        evidence = s.scalars(select(EvidenceFile)).one()
        pledge = s.scalars(select(Pledge)).one()
        urls = {f"/evidence/{evidence.id}": small_disk.path / "evidence" / evidence.stored_name,
                f"/integrity/{pledge.id}/document": small_disk.path / "integrity" / pledge.document_path}
    for url, path in urls.items():
        assert client.get(url).status_code == 200
        path.write_bytes(path.read_bytes()[:-1] + b"!")  # same size, other bytes
        resp = client.get(url)
        assert resp.status_code == 404 and "已丢失或损坏，请联系管理员" in resp.get_data(as_text=True)


def test_a_large_upload_whose_temporary_file_finds_the_disk_full_gets_a_chinese_page(disk_app, small_disk,
                                                                                       monkeypatch):
    # Werkzeug keeps an upload over 500 KB in a temporary file while it reads the request: here that disk is full.
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import stream_encode_multipart

    client = _client(disk_app)
    body, length, boundary = stream_encode_multipart(
        {"station_id": str(disk_app.world["station"]), "file": FileStorage(io.BytesIO(b"\x01" * 600_000), "大台账.xlsx")},
        use_tempfile=False)
    monkeypatch.setattr("tempfile.tempdir", str(small_disk.path))
    small_disk.fill()
    resp = client.post("/imports/new", input_stream=body, content_length=length,
                       content_type=f"multipart/form-data; boundary={boundary}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 507 and "服务器存储空间不足" in html and "Internal Server Error" not in html
    assert _count(disk_app, ImportBatch) == 0 and small_disk.files() == []


# --- a unit of work that does not commit leaves no file ---------------------------------------------

def _files(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_pledge_that_is_not_saved_leaves_no_document_and_a_saved_one_keeps_it(app, world, session, tmp_path):
    from app.integrity import services as integrity

    def pledge():
        return integrity.create_pledge(session, None, Scope.everything(), world.merchant_a,
                                       {"signed_on": today(), "scope_text": "全部电子计价秤"},
                                       integrity.Upload("承诺书.pdf", factories.PDF), storage_dir=str(tmp_path),
                                       max_bytes=1 << 20, today=today())

    pledge()
    assert len(_files(tmp_path)) == 1  # written (and flushed) while the unit of work is open
    session.rollback()
    assert _files(tmp_path) == [] and _count_in(session, Pledge) == 0
    stored = pledge().document_path
    session.commit()
    assert _files(tmp_path) == [stored] and (tmp_path / stored).read_bytes() == factories.PDF


def test_evidence_of_a_unit_of_work_that_fails_or_is_closed_leaves_no_file(app, world, session, tmp_path):
    from app.inspections import services as inspections

    insp = factories.inspection(session, world.merchant_a, [world.inspector_a, world.supervisor])
    session.commit()
    inspections.store_evidence(session, None, insp, file_name="现场.png", data=factories.PNG,
                               storage_dir=str(tmp_path), max_bytes=1 << 20)
    session.close()  # ended without a commit, as a request that raised would
    assert _files(tmp_path) == [] and _count_in(session, EvidenceFile) == 0


def test_a_ledger_rolled_back_is_removed_but_the_same_ledger_kept_by_a_saved_batch_is_not(app, world, session,
                                                                                          tmp_path):
    data = ledger_xlsx()
    upload = lambda: imports.create_batch(session, None, Scope.everything(), station_id=world.station_a.id,
                                          file_name="台账.xlsx", data=data, storage_dir=tmp_path)
    upload()
    session.rollback()
    assert _files(tmp_path) == []
    upload()
    session.commit()
    name = f"{hashlib.sha256(data).hexdigest()}.xlsx"
    assert _files(tmp_path) == [name]
    upload()  # the same file again: already there and intact, so it is the saved batch's, not this one's
    session.rollback()
    assert _files(tmp_path) == [name] and _count_in(session, ImportBatch) == 1


def _count_in(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))
