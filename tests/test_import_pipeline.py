"""The import's back half through app.imports.services: upload -> preview -> confirm -> apply -> undo.

Every step runs in its own session and commits where a view (or the background job) would, so
what one step leaves in the database is what the next one reads. Workbooks are built here with
openpyxl; the two sample ledgers are those in tests/importers/samples.
"""
from __future__ import annotations

import datetime as dt
import io
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.errors import Invalid
from app.imports import services
from app.imports.models import ImportBatch, ImportedRecord, ImportRow, ImportStatus
from app.instruments.models import (
    Instrument,
    InstrumentStatus,
    Verification,
    VerificationResult,
)
from app.instruments.services import create_instrument, record_verification
from app.merchants.models import Industry, Merchant
from app.merchants.services import update_merchant
from importers import ImportFileError
from tests import factories as f
from tests.importers.builders import SAMPLES, credit_code, ledger_xlsx, write_xlsx

D = dt.date
TODAY = D(2025, 6, 30)
ALL = f.ALL
C1, C2, C3, C9 = credit_code(1), credit_code(2), credit_code(3), credit_code(9)


# --- the flow, one session per step -----------------------------------------------------------

class Flow:
    """Drives a batch the way the views and the background job do, each step in its own session."""

    def __init__(self, app, world, storage: Path) -> None:
        self.db = app.extensions["database"]
        self.world = world
        self.actor = world.admin
        self.storage = storage

    @contextmanager
    def step(self):
        """One request: a fresh session committed at the end, rolled back on an error."""
        with self.db.session_scope() as s:
            yield s

    def upload(self, data: bytes, name: str = "台账.xlsx", *, station=None,
               max_bytes: int = services.DEFAULT_MAX_BYTES, merchant_id: int | None = None) -> int:
        with self.step() as s:
            batch = services.create_batch(s, self.actor, ALL, station_id=(station or self.world.station_a).id,
                                          file_name=name, data=data, storage_dir=self.storage, max_bytes=max_bytes,
                                          merchant_id=merchant_id)
            return batch.id

    def preview(self, batch_id: int, today: dt.date = TODAY) -> dict:
        with self.step() as s:
            batch = s.get(ImportBatch, batch_id)
            services.plan_batch(s, batch, today=today)
            return batch.counts

    def stashed_parses(self, count: int) -> list[Path]:
        """The dry runs' stashed parses, once there are `count` of them: the parsing child writes its stash
        after it has answered, while the dry run plans, so the file may come a moment after the preview."""
        deadline = time.monotonic() + 30  # a liveness bound, not a speed figure
        while len(found := sorted(self.storage.glob("*.parsed"))) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return found

    def confirm(self, batch_id: int, *, only_valid: bool = False, version: int | None = None) -> None:
        with self.step() as s:
            batch = s.get(ImportBatch, batch_id)
            services.start_apply(s, self.actor, batch, expected_version=batch.version if version is None else version,
                                 only_valid=only_valid)

    def apply(self, batch_id: int, today: dt.date = TODAY) -> dict:
        with self.step() as s:
            return services.apply_batch(s, self.actor, s.get(ImportBatch, batch_id), today=today)

    def undo(self, batch_id: int) -> dict:
        with self.step() as s:
            return services.undo_batch(s, self.actor, s.get(ImportBatch, batch_id))

    def run(self, data: bytes, name: str = "台账.xlsx", *, only_valid: bool = False, today: dt.date = TODAY) -> int:
        """Upload, preview, confirm and apply; returns the batch id."""
        batch_id = self.upload(data, name)
        self.preview(batch_id, today)
        self.confirm(batch_id, only_valid=only_valid)
        self.apply(batch_id, today)
        return batch_id

    # reading, each in a fresh session
    def batch(self, batch_id: int) -> ImportBatch:
        with self.step() as s:
            return s.get(ImportBatch, batch_id)

    def rows(self, batch_id: int) -> list[ImportRow]:
        with self.step() as s:
            return list(s.scalars(select(ImportRow).where(ImportRow.batch_id == batch_id).order_by(ImportRow.row_no)))

    def actions(self, batch_id: int) -> dict[int, tuple[str, str, str]]:
        return {r.row_no: (r.merchant_action.value, r.instrument_action.value, r.verification_action.value)
                for r in self.rows(batch_id)}

    def merchant(self, name: str, station=None) -> Merchant:
        with self.step() as s:
            st = (station or self.world.station_a).id
            return s.scalars(select(Merchant).where(Merchant.name == name, Merchant.station_id == st)).one()

    def instrument(self, serial: str) -> Instrument:
        with self.step() as s:
            return s.scalars(select(Instrument).where(Instrument.serial_no == serial)).one()

    def verifications(self, serial: str) -> list[Verification]:
        with self.step() as s:
            return list(s.scalars(select(Verification).join(Instrument).where(Instrument.serial_no == serial)
                                  .order_by(Verification.verified_on, Verification.id)))

    def counts(self) -> dict[str, int]:
        with self.step() as s:
            return {m.__tablename__: s.scalar(select(func.count()).select_from(m))
                    for m in (Merchant, Instrument, Verification, ImportedRecord)}

    def ledger(self) -> dict:
        """Every merchant, instrument and verification with all their columns (to prove nothing moved)."""
        with self.step() as s:
            out = {}
            for model in (Merchant, Instrument, Verification):
                table = model.__table__
                out[table.name] = [tuple(r) for r in s.execute(select(table).order_by(table.c.id))]
            return out

    def audit(self, batch_id: int) -> list[str]:
        with self.step() as s:
            return list(s.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "import_batches",
                                                                   AuditEntry.entity_id == batch_id)
                                  .order_by(AuditEntry.id)))


@pytest.fixture()
def flow(app, world, tmp_path) -> Flow:
    return Flow(app, world, tmp_path / "uploads")


def xlsx(tmp_path: Path, rows: list[dict], name: str = "台账.xlsx", **kwargs) -> bytes:
    return ledger_xlsx(tmp_path / name, rows, **kwargs).read_bytes()


def row(name: str, kind: str, serial: str, verified: object = "", valid: object = "", result: str | None = None,
        cert: str = "", *, code: str = "", phone: str = "", model: str = "", maker: str = "") -> dict:
    """One ledger row; the result defaults to 合格 when the row has a verification date."""
    if result is None:
        result = "合格" if verified else ""
    return {"使用单位名称": name, "统一社会信用代码": code, "联系电话": phone, "器具名称": kind, "规格型号": model,
            "出厂编号": serial, "制造单位": maker, "检定日期": verified, "有效期至": valid, "检定结论": result,
            "证书编号": cert}


def counts(rows: int, errors: int = 0, m=(0, 0, 0), i=(0, 0, 0), v=(0, 0, 0), warnings: int | None = None) -> dict:
    """batch.counts with (create, update, unchanged) per record type. Rows with warnings default to one
    per new merchant: the row that registers it says which industry it was given (issue 14 part 4)."""
    if warnings is None:
        warnings = m[0]
    def t(x):
        return dict(zip(("create", "update", "unchanged"), x))
    return {"rows": rows, "errors": errors, "warnings": warnings, "merchants": t(m), "instruments": t(i),
            "verifications": t(v)}


WORLD_COUNTS = {"merchants": 2, "instruments": 2, "verifications": 2, "imported_records": 0}

# A first ledger: a title row, then the header on row 2, so the data starts on Excel row 3.
FIRST = [
    row("金源粮油店", "电子计价秤", "S-001", "2025.3.1", "2026-02-28", "合格", "JD-001", code=C1,
        phone="13800000001", model="ACS-15", maker="上海友声"),
    row("金源粮油店", "电子秤", "S-002", "2025/03/01", "", "合格", "", code=C1, phone="13800000001", model="ACS-30"),
    row("顺发加油站", "加油机", "F-001", "2024-08-31", "", "合格", "JD-003"),
    row("大众出租车公司", "计价器", "T-001", "2025年5月10日", "", "不合格", "JD-004", code=C2),
]


# --- planning and applying a first ledger ----------------------------------------------------------

def test_preview_plans_every_row_and_writes_nothing(flow, tmp_path):
    before = flow.ledger()
    batch_id = flow.upload(xlsx(tmp_path, FIRST))
    assert flow.batch(batch_id).status == ImportStatus.PLANNING
    assert flow.preview(batch_id) == counts(4, m=(3, 0, 0), i=(4, 0, 0), v=(4, 0, 0))
    batch = flow.batch(batch_id)
    assert batch.status == ImportStatus.PREVIEW and batch.sheet_name == "台账"
    assert batch.skipped == {"title": 1, "header": 1}
    assert batch.mapping["serial_no"] == 6 and batch.mapping["merchant_name"] == 1
    # Excel row numbers: title on 1, header on 2, data from 3
    assert flow.actions(batch_id) == {3: ("create", "create", "create"), 4: ("unchanged", "create", "create"),
                                      5: ("create", "create", "create"), 6: ("create", "create", "create")}
    rows = flow.rows(batch_id)
    assert all(r.errors == [] for r in rows)
    assert rows[0].cells[6] == "S-001" and rows[0].summary == "金源粮油店 / S-001"
    assert flow.ledger() == before
    assert flow.counts() == WORLD_COUNTS


def test_apply_writes_merchants_instruments_and_verifications_with_engine_dates(flow, tmp_path):
    batch_id = flow.upload(xlsx(tmp_path, FIRST))
    flow.preview(batch_id)
    flow.confirm(batch_id)
    assert flow.batch(batch_id).status == ImportStatus.APPLYING
    written = flow.apply(batch_id)
    assert written == {"merchants": {"create": 3, "update": 0}, "instruments": {"create": 4, "update": 0},
                       "verifications": {"create": 4}}
    batch = flow.batch(batch_id)
    assert batch.status == ImportStatus.APPLIED and batch.applied_by_id == flow.actor.id
    assert batch.applied_at is not None and batch.only_valid is False
    assert flow.counts() == {"merchants": 5, "instruments": 6, "verifications": 6, "imported_records": 11}

    jy = flow.merchant("金源粮油店")
    assert (jy.credit_code, jy.phone, jy.industry) == (C1, "13800000001", Industry.MARKET_VENDOR)
    sf = flow.merchant("顺发加油站")
    assert (sf.credit_code, sf.industry) == (None, Industry.FUEL_STATION)
    assert flow.merchant("大众出租车公司").industry == Industry.TAXI_COMPANY

    s1 = flow.instrument("S-001")
    assert (s1.merchant_id, s1.station_id, s1.model, s1.maker) == (jy.id, flow.world.station_a.id, "ACS-15", "上海友声")
    assert s1.status == InstrumentStatus.IN_USE
    # the certificate's valid-until date is authoritative
    assert (s1.first_verified_on, s1.last_verified_on, s1.next_due_on) == (D(2025, 3, 1), D(2025, 3, 1), D(2026, 2, 28))
    # no valid-until: date + 12 months for a price scale
    assert flow.instrument("S-002").next_due_on == D(2026, 3, 1)
    # date + 6 months for a fuel dispenser, clamped to the end of February
    f1 = flow.instrument("F-001")
    assert (f1.merchant_id, f1.next_due_on) == (sf.id, D(2025, 2, 28))
    # a failed verification: due now, not usable
    t1 = flow.instrument("T-001")
    assert (t1.last_result, t1.next_due_on, t1.first_verified_on) == (VerificationResult.FAIL, D(2025, 5, 10), None)
    for inst in (s1, f1, t1):
        assert inst.replace_by is None and inst.version == 1

    [v1] = flow.verifications("S-001")
    assert (v1.verified_on, v1.valid_until, v1.result, v1.certificate_no, v1.created_by_id) == (
        D(2025, 3, 1), D(2026, 2, 28), VerificationResult.PASS, "JD-001", flow.actor.id)
    [vt] = flow.verifications("T-001")
    assert (vt.result, vt.certificate_no, vt.valid_until) == (VerificationResult.FAIL, "JD-004", None)

    with flow.step() as s:
        recs = s.execute(select(ImportedRecord.entity_type, ImportedRecord.action, func.count())
                         .where(ImportedRecord.batch_id == batch_id)
                         .group_by(ImportedRecord.entity_type, ImportedRecord.action)).all()
    assert sorted(recs) == [("instruments", "create", 4), ("merchants", "create", 3), ("verifications", "create", 4)]
    assert flow.audit(batch_id) == ["upload", "import"]
    with flow.step() as s:
        note = s.scalars(select(AuditEntry.note).where(AuditEntry.action == "import")).one()
    assert "使用单位新增 3" in note and "计量器具新增 4" in note and "检定记录新增 4" in note


# --- matching merchants ----------------------------------------------------------------------------

def test_merchants_match_by_credit_code_then_by_normalised_name_within_the_station(flow, session, tmp_path):
    w = flow.world
    f.merchant(session, w.station_a, "老字号粮油", credit_code=C1, phone="111")
    f.merchant(session, w.station_a, "康宁药房（城东店）", phone="0518-1")
    f.merchant(session, w.station_a, "张三水果摊")
    f.merchant(session, w.station_a, "张三 水果摊")  # the same name once spaces are ignored
    f.merchant(session, w.station_b, "外所商行", credit_code=C9)
    f.merchant(session, w.station_b, "乙所同名店")
    session.commit()
    before = flow.counts()

    data = xlsx(tmp_path, [
        row("新名字粮油店", "电子秤", "M-1", code=C1, phone="222"),  # 3: code wins over the name
        row(" 康宁 药房（城东店） ", "电子秤", "M-2", phone="0518-1"),  # 4: spaces and full-width brackets folded
        row("张三水果摊", "电子秤", "M-3"),  # 5: two merchants of the station have this name
        row("外所商行", "电子秤", "M-4", code=C9.lower()),  # 6: the code belongs to station B
        row("乙所同名店", "电子秤", "M-5"),  # 7: a name only known in station B is a new merchant here
        row("甲市场摊位1", "电子秤", "M-6"),  # 8: the world's merchant, matched by name, nothing to change
    ])
    batch_id = flow.upload(data)
    assert flow.preview(batch_id) == counts(6, errors=2, m=(1, 1, 2), i=(4, 0, 0))
    assert flow.actions(batch_id) == {
        3: ("update", "create", "skip"), 4: ("unchanged", "create", "skip"), 5: ("error", "error", "error"),
        6: ("error", "error", "error"), 7: ("create", "create", "skip"), 8: ("unchanged", "create", "skip")}
    rows = {r.row_no: r for r in flow.rows(batch_id)}
    [e5] = rows[5].errors
    assert e5["column"] == "使用单位名称"
    assert "张三水果摊" in e5["message"] and "匹配到 2 个" in e5["message"] and "统一社会信用代码" in e5["message"]
    [e6] = rows[6].errors
    assert e6["column"] == "统一社会信用代码"
    assert C9 in e6["message"] and "其他监管所" in e6["message"] and "外所商行" in e6["message"]

    flow.confirm(batch_id, only_valid=True)
    flow.apply(batch_id)
    renamed = flow.merchant("新名字粮油店")
    assert (renamed.credit_code, renamed.phone, renamed.version) == (C1, "222", 2)
    assert flow.merchant("康宁药房（城东店）").version == 1  # matched, and not renamed to the file's spelling
    assert flow.instrument("M-2").merchant_id == flow.merchant("康宁药房（城东店）").id
    assert flow.instrument("M-6").merchant_id == flow.world.merchant_a.id
    new = flow.merchant("乙所同名店", station=w.station_a)
    assert flow.instrument("M-5").merchant_id == new.id
    assert flow.counts()["merchants"] == before["merchants"] + 1
    with flow.step() as s:
        assert s.scalar(select(func.count()).select_from(Instrument)
                        .where(Instrument.serial_no.in_(["M-3", "M-4"]))) == 0


# --- matching instruments --------------------------------------------------------------------------

def test_instruments_match_by_kind_serial_and_maker(flow, session, tmp_path):
    w = flow.world
    other = f.merchant(session, w.station_a, "隔壁摊位")
    f.instrument(session, w.merchant_a, "elec_price_scale", serial="DUP", maker="甲厂")
    f.instrument(session, w.merchant_a, "elec_price_scale", serial="DUP", maker="乙厂")
    f.instrument(session, other, "elec_price_scale", serial="OTHER-1", model="X1")
    session.commit()

    data = xlsx(tmp_path, [
        row("甲市场摊位1", "电子秤", "A-001", model="ACS-30"),  # 3: the world's scale, model changed
        row("甲市场摊位1", "加油机", "A-001"),  # 4: same serial, other kind: another instrument
        row("甲市场摊位1", "电子秤", "DUP"),  # 5: maker unknown, two instruments match
        row("甲市场摊位1", "电子秤", "DUP", maker="甲厂"),  # 6: the maker tells them apart
        row("甲市场摊位1", "电子秤", "OTHER-1"),  # 7: registered under another merchant
        row("甲市场摊位1", "加油机", "B-001"),  # 8: registered in station B
    ])
    batch_id = flow.upload(data)
    assert flow.preview(batch_id) == counts(6, errors=3, m=(0, 0, 1), i=(1, 1, 1), warnings=1)
    assert [w["message"] for w in flow.rows(batch_id)[1].warnings] == [
        "器具种类“燃油加油机”通常不属于集贸市场经营户（使用单位“甲市场摊位1”），请核对器具种类；如不对，可在预览中为本文件指定"]
    assert flow.actions(batch_id) == {
        3: ("unchanged", "update", "skip"), 4: ("unchanged", "create", "skip"), 5: ("error", "error", "error"),
        6: ("unchanged", "unchanged", "skip"), 7: ("error", "error", "error"), 8: ("error", "error", "error")}
    rows = {r.row_no: r for r in flow.rows(batch_id)}
    assert rows[5].errors == [{"column": "出厂编号",
                               "message": "电子计价秤 出厂编号 DUP 匹配到 2 台已登记器具，请补充制造单位以区分"}]
    assert "已登记在使用单位“隔壁摊位”名下" in rows[7].errors[0]["message"]
    assert "其他监管所" in rows[8].errors[0]["message"]

    flow.confirm(batch_id, only_valid=True)
    flow.apply(batch_id)
    with flow.step() as s:  # two instruments carry A-001 now: one per kind
        by_kind = {i.type.code: i for i in s.scalars(select(Instrument).where(Instrument.serial_no == "A-001"))}
        other_model = s.scalars(select(Instrument.model).where(Instrument.serial_no == "OTHER-1")).one()
    assert by_kind["elec_price_scale"].id == w.instrument_a.id
    assert by_kind["elec_price_scale"].model == "ACS-30"
    # the model changed; the dates did not (no verification in the row)
    assert by_kind["elec_price_scale"].next_due_on == D(2025, 1, 10)
    assert by_kind["fuel_dispenser"].merchant_id == w.merchant_a.id
    assert other_model == "X1"


# --- matching verification records ----------------------------------------------------------------

def test_verifications_match_by_certificate_then_by_date_and_are_never_edited(flow, session, tmp_path):
    w = flow.world
    m = w.merchant_a
    for serial in ("V-1", "V-2", "V-3", "V-4"):
        inst = f.instrument(session, m, "elec_price_scale", serial=serial)
        f.verify(session, inst, D(2025, 1, 10), valid_until=D(2026, 1, 9), cert=f"JD-{serial}")
    session.commit()
    before = {s: [(v.id, v.valid_until, v.result) for v in flow.verifications(s)] for s in ("V-1", "V-2", "V-3")}

    data = xlsx(tmp_path, [
        row("甲市场摊位1", "电子秤", "V-1", "2025-01-10", "2026-01-09", "合格", "JD-V-1"),  # 3: same record
        row("甲市场摊位1", "电子秤", "V-2", "2025-01-10", "2026-01-09", "合格", ""),  # 4: no cert: by date
        row("甲市场摊位1", "电子秤", "V-3", "2025-01-10", "2026-06-30", "合格", "JD-V-3"),  # 5: differs
        row("甲市场摊位1", "电子秤", "V-3", "2025-01-10", "2026-01-09", "不合格", ""),  # 6: differs, by date
        row("甲市场摊位1", "电子秤", "V-4", "2025-05-06", "2026-05-05", "合格", "JD-V-4B"),  # 7: a new one
    ])
    batch_id = flow.upload(data)
    assert flow.preview(batch_id) == counts(5, errors=2, m=(0, 0, 1), i=(0, 0, 3), v=(1, 0, 2))
    assert flow.actions(batch_id) == {
        3: ("unchanged", "unchanged", "unchanged"), 4: ("unchanged", "unchanged", "unchanged"),
        5: ("error", "error", "error"), 6: ("error", "error", "error"), 7: ("unchanged", "unchanged", "create")}
    rows = {r.row_no: r for r in flow.rows(batch_id)}
    assert rows[5].errors[0]["column"] == "检定日期"
    assert "JD-V-3" in rows[5].errors[0]["message"] and "不能修改" in rows[5].errors[0]["message"]
    assert "2025-01-10" in rows[6].errors[0]["message"] and "作废后重新录入" in rows[6].errors[0]["message"]

    with pytest.raises(Invalid, match="2 行错误"):
        flow.confirm(batch_id)
    flow.confirm(batch_id, only_valid=True)
    flow.apply(batch_id)
    after = {s: [(v.id, v.valid_until, v.result) for v in flow.verifications(s)] for s in ("V-1", "V-2", "V-3")}
    assert after == before
    assert [(v.verified_on, v.certificate_no) for v in flow.verifications("V-4")] == [
        (D(2025, 1, 10), "JD-V-4"), (D(2025, 5, 6), "JD-V-4B")]
    assert flow.instrument("V-4").next_due_on == D(2026, 5, 5)
    assert flow.instrument("V-3").next_due_on == D(2026, 1, 9)


# --- duplicates within a file ------------------------------------------------------------------------

def test_duplicate_rows_collapse_into_one_record(flow, tmp_path):
    same = row("重复商行", "电子秤", "DUP-1", "2025-02-01", "2026-01-31", "合格", "JD-9", code=C3, phone="1")
    data = xlsx(tmp_path, [same, same, dict(same)])
    batch_id = flow.upload(data)
    assert flow.preview(batch_id) == counts(3, m=(1, 0, 0), i=(1, 0, 0), v=(1, 0, 2))
    assert flow.actions(batch_id) == {3: ("create", "create", "create"), 4: ("unchanged", "unchanged", "unchanged"),
                                      5: ("unchanged", "unchanged", "unchanged")}
    flow.confirm(batch_id)
    flow.apply(batch_id)
    assert flow.counts() == {"merchants": 3, "instruments": 3, "verifications": 3, "imported_records": 3}


def test_a_duplicate_row_that_contradicts_the_first_is_an_error(flow, tmp_path):
    data = xlsx(tmp_path, [
        row("重复商行", "电子秤", "DUP-1", "2025-02-01", "2026-01-31", "合格", "JD-9"),
        row("重复商行", "电子秤", "DUP-1", "2025-02-01", "2026-02-28", "合格", "JD-9"),
    ])
    batch_id = flow.upload(data)
    assert flow.preview(batch_id) == counts(2, errors=1, m=(1, 0, 0), i=(1, 0, 0), v=(1, 0, 0))
    [_, second] = flow.rows(batch_id)
    assert second.errors == [{"column": "检定日期", "message": "与第3行是同一条检定记录但内容不同"}]


@pytest.mark.parametrize("codes", [(C3, "", ""), ("", C3, ""), ("", "", C3)])
def test_rows_of_a_new_merchant_with_and_without_its_credit_code_make_one_merchant(flow, tmp_path, codes):
    data = xlsx(tmp_path, [
        row("顺发水产", "电子秤", "N-1", code=codes[0]),
        row("顺发水产", "电子秤", "N-2", code=codes[1]),
        row("顺 发 水 产", "电子秤", "N-3", code=codes[2]),
    ])
    batch_id = flow.upload(data)
    assert flow.preview(batch_id) == counts(3, m=(1, 0, 0), i=(3, 0, 0))
    assert [a[0] for a in flow.actions(batch_id).values()] == ["create", "unchanged", "unchanged"]
    flow.confirm(batch_id)
    flow.apply(batch_id)
    m = flow.merchant("顺发水产")
    assert m.credit_code == C3  # kept whichever row gave it
    assert {flow.instrument(s).merchant_id for s in ("N-1", "N-2", "N-3")} == {m.id}
    # and the file again: nothing to do
    again = flow.upload(data)
    assert flow.preview(again) == counts(3, m=(0, 0, 1), i=(0, 0, 3))


def test_a_name_shared_by_two_new_merchants_with_different_codes_needs_the_code(flow, tmp_path):
    data = xlsx(tmp_path, [
        row("顺发水产", "电子秤", "N-1", code=C1),
        row("顺发水产", "电子秤", "N-2", code=C2),  # another business of the same name
        row("顺发水产", "电子秤", "N-3"),  # which one?
    ])
    batch_id = flow.upload(data)
    assert flow.preview(batch_id) == counts(3, errors=1, m=(2, 0, 0), i=(2, 0, 0))
    [error] = flow.rows(batch_id)[2].errors
    assert error == {"column": "使用单位名称", "message": "使用单位“顺发水产”在本文件中对应 2 个不同的统一社会信用代码，"
                                                          "无法确定是哪一个，请补充统一社会信用代码"}


def test_a_later_row_fills_in_what_the_earlier_rows_of_a_merchant_left_empty(flow, session, tmp_path):
    f.merchant(session, flow.world.station_a, "老字号粮油")
    session.commit()
    data = xlsx(tmp_path, [row("老字号粮油", "电子秤", "N-1"), row("老字号粮油", "电子秤", "N-2", phone="0518-1"),
                           row("老字号粮油", "电子秤", "N-3", phone="0518-2")])
    batch_id = flow.upload(data)
    assert flow.preview(batch_id) == counts(3, m=(0, 1, 0), i=(3, 0, 0))
    assert [a[0] for a in flow.actions(batch_id).values()] == ["unchanged", "update", "unchanged"]
    flow.confirm(batch_id)
    flow.apply(batch_id)
    assert flow.merchant("老字号粮油").phone == "0518-1"  # the first value given stands


def test_rows_of_one_instrument_with_and_without_its_maker_make_one_instrument(flow, tmp_path):
    data = xlsx(tmp_path, [
        row("顺发水产", "电子秤", "N-1", "2025-01-02", maker="上海友声"),
        row("顺发水产", "电子秤", "N-1", "2025-01-02"),
    ])
    batch_id = flow.upload(data)
    assert flow.preview(batch_id) == counts(2, m=(1, 0, 0), i=(1, 0, 0), v=(1, 0, 1))
    flow.confirm(batch_id)
    flow.apply(batch_id)
    assert flow.instrument("N-1").maker == "上海友声"
    assert len(flow.verifications("N-1")) == 1


def test_a_serial_of_two_makers_in_one_file_needs_the_maker(flow, tmp_path):
    data = xlsx(tmp_path, [
        row("顺发水产", "电子秤", "N-1", maker="甲厂"),
        row("顺发水产", "电子秤", "N-1", maker="乙厂"),  # two scales, same serial, two makers
        row("顺发水产", "电子秤", "N-1"),
    ])
    batch_id = flow.upload(data)
    assert flow.preview(batch_id) == counts(3, errors=1, m=(1, 0, 0), i=(2, 0, 0))
    assert "在本文件中对应 2 台不同制造单位的器具" in flow.rows(batch_id)[2].errors[0]["message"]


def test_an_instrument_cannot_belong_to_two_merchants_in_one_file(flow, tmp_path):
    data = xlsx(tmp_path, [row("甲店", "电子秤", "N-1"), row("乙店", "电子秤", "N-1")])
    batch_id = flow.upload(data)
    assert flow.preview(batch_id) == counts(2, errors=1, m=(1, 0, 0), i=(1, 0, 0))
    assert flow.rows(batch_id)[1].errors == [{"column": "出厂编号",
                                              "message": "出厂编号 N-1 在本文件中出现在不同的使用单位下（见第3行）"}]


# --- errors: all or nothing, or only the valid rows --------------------------------------------------

ERRORS = [
    row("好商行", "电子秤", "G-1", "2025-01-02", code=C1),  # 3
    row("坏日期商行", "电子秤", "E-1", "2023-02-30"),  # 4: an impossible date
    row("错一商行", "电子秤", "A-001"),  # 5: the world's scale, registered under 甲市场摊位1
    row("错一商行", "电子秤", "E-2"),  # 6: valid; the merchant first met on an error row
    row("好商行", "电子秤", "G-2", "2025-07-01", code=C1),  # 7: verified after "today"
]


def test_a_file_with_errors_writes_nothing_by_default(flow, tmp_path):
    before = flow.ledger()
    batch_id = flow.upload(xlsx(tmp_path, ERRORS))
    assert flow.preview(batch_id) == counts(5, errors=3, m=(2, 0, 0), i=(2, 0, 0), v=(1, 0, 0))
    rows = {r.row_no: r for r in flow.rows(batch_id)}
    assert rows[4].errors == [{"column": "检定日期", "message": "检定日期“2023-02-30”不是存在的日期"}]
    assert rows[4].cells[1] == "坏日期商行" and rows[4].cells[8] == "2023-02-30"
    assert rows[7].errors == [{"column": "检定日期", "message": "检定日期 2025-07-01 晚于今天"}]
    assert rows[3].errors == [] and rows[6].errors == []
    with pytest.raises(Invalid, match="文件中有 3 行错误，默认不导入任何数据"):
        flow.confirm(batch_id)
    batch = flow.batch(batch_id)
    assert batch.status == ImportStatus.PREVIEW
    with pytest.raises(Invalid, match="请先确认导入"):
        flow.apply(batch_id)
    assert flow.ledger() == before
    assert flow.audit(batch_id) == ["upload"]


def test_only_valid_imports_the_valid_rows_and_nothing_reached_only_through_errors(flow, tmp_path):
    batch_id = flow.upload(xlsx(tmp_path, ERRORS))
    flow.preview(batch_id)
    # the merchant of row 6 is created by row 6, although row 5 named it first
    assert flow.actions(batch_id) == {3: ("create", "create", "create"), 4: ("error", "error", "error"),
                                      5: ("error", "error", "error"), 6: ("create", "create", "skip"),
                                      7: ("error", "error", "error")}
    flow.confirm(batch_id, only_valid=True)
    flow.apply(batch_id)
    assert flow.batch(batch_id).only_valid is True
    with flow.step() as s:
        names = set(s.scalars(select(Merchant.name)))
        serials = set(s.scalars(select(Instrument.serial_no)))
    assert names == {"甲市场摊位1", "乙加油站", "好商行", "错一商行"}
    assert serials == {"A-001", "B-001", "G-1", "E-2"}
    assert flow.instrument("A-001").merchant_id == flow.world.merchant_a.id
    assert flow.instrument("E-2").merchant_id == flow.merchant("错一商行").id
    assert [v.verified_on for v in flow.verifications("G-1")] == [D(2025, 1, 2)]
    assert flow.counts()["imported_records"] == 5


def test_values_given_only_by_error_rows_are_not_written(flow, session, tmp_path):
    f.merchant(session, flow.world.station_a, "老字号粮油", credit_code=C1, phone="111")
    session.commit()
    data = xlsx(tmp_path, [
        row("老字号粮油", "电子秤", "A-001", code=C1, phone="999"),  # 3: error: the scale is 甲市场摊位1's
        row("老字号粮油", "电子秤", "U-1", code=C1),  # 4: valid, says nothing about the phone
        row("新店", "电子秤", "X-1", "2025-07-01", phone="555", model="M1"),  # 5: error: verified after today
        row("新店", "电子秤", "X-1", "2025-01-01"),  # 6: valid
    ])
    batch_id = flow.upload(data)
    assert flow.preview(batch_id) == counts(4, errors=2, m=(1, 0, 1), i=(2, 0, 0), v=(1, 0, 0))
    assert flow.actions(batch_id) == {3: ("error", "error", "error"), 4: ("unchanged", "create", "skip"),
                                      5: ("error", "error", "error"), 6: ("create", "create", "create")}
    flow.confirm(batch_id, only_valid=True)
    flow.apply(batch_id)
    old = flow.merchant("老字号粮油")
    assert (old.phone, old.version) == ("111", 1)
    assert flow.merchant("新店").phone == ""
    x1 = flow.instrument("X-1")
    assert (x1.model, x1.next_due_on) == ("", D(2026, 1, 1))


def test_a_file_whose_rows_are_all_errors_cannot_be_applied(flow, tmp_path):
    batch_id = flow.upload(xlsx(tmp_path, [row("坏日期商行", "电子秤", "E-1", "2023-02-30")]))
    assert flow.preview(batch_id)["errors"] == 1
    with pytest.raises(Invalid, match="没有可以导入的行"):
        flow.confirm(batch_id, only_valid=True)


# --- double submit -------------------------------------------------------------------------------------

def test_a_double_submit_does_not_import_twice(flow, tmp_path):
    batch_id = flow.upload(xlsx(tmp_path, FIRST))
    flow.preview(batch_id)
    version = flow.batch(batch_id).version
    flow.confirm(batch_id, version=version)
    with pytest.raises(Invalid, match="不会重复导入"):
        flow.confirm(batch_id, version=version)
    flow.apply(batch_id)
    with pytest.raises(Invalid, match="不会重复导入"):
        flow.confirm(batch_id, version=version)
    with pytest.raises(Invalid, match="请先确认导入"):
        flow.apply(batch_id)
    assert flow.counts() == {"merchants": 5, "instruments": 6, "verifications": 6, "imported_records": 11}
    assert flow.audit(batch_id) == ["upload", "import"]


@pytest.mark.commits  # two sessions race: each must see only what the other committed
def test_two_submits_racing_on_the_same_preview_import_once(flow, tmp_path):
    batch_id = flow.upload(xlsx(tmp_path, FIRST))
    flow.preview(batch_id)
    first, second = flow.db.session_factory(), flow.db.session_factory()
    try:
        b1, b2 = first.get(ImportBatch, batch_id), second.get(ImportBatch, batch_id)
        services.start_apply(first, flow.actor, b1, expected_version=b1.version, only_valid=False)
        first.commit()
        with pytest.raises(Invalid, match="不会重复导入"):
            services.start_apply(second, flow.actor, b2, expected_version=b2.version, only_valid=False)
        second.rollback()
    finally:
        first.close()
        second.close()
    flow.apply(batch_id)
    assert flow.counts()["instruments"] == 6


# --- importing again -----------------------------------------------------------------------------------

def test_importing_the_same_file_again_changes_nothing(flow, tmp_path):
    data = xlsx(tmp_path, FIRST)
    flow.run(data)
    before, table_counts = flow.ledger(), flow.counts()
    again = flow.upload(data)
    assert flow.preview(again) == counts(4, m=(0, 0, 3), i=(0, 0, 4), v=(0, 0, 4))
    assert set(flow.actions(again).values()) == {("unchanged", "unchanged", "unchanged")}
    flow.confirm(again)
    assert flow.apply(again) == {"merchants": {"create": 0, "update": 0}, "instruments": {"create": 0, "update": 0},
                                 "verifications": {"create": 0}}
    assert flow.ledger() == before
    assert flow.counts() == table_counts


def test_an_edited_ledger_updates_the_changed_rows_and_creates_no_duplicates(flow, tmp_path):
    flow.run(xlsx(tmp_path, FIRST, "v1.xlsx"))
    s2_before = flow.instrument("S-002")
    assert s2_before.next_due_on == D(2026, 3, 1)
    edited = [dict(r) for r in FIRST]
    edited[0]["联系电话"] = edited[1]["联系电话"] = "13900000009"  # the merchant's phone changed
    edited[1]["规格型号"] = "ACS-30B"  # S-002's model changed
    edited.append(row("金源粮油店", "电子秤", "S-002", "2025-06-01", "2026-05-31", "合格", "JD-005", code=C1,
                      phone="13900000009", model="ACS-30B"))  # a newer verification of S-002
    batch_id = flow.upload(xlsx(tmp_path, edited, "v2.xlsx"), "v2.xlsx")
    assert flow.preview(batch_id) == counts(5, m=(0, 1, 2), i=(0, 1, 3), v=(1, 0, 4))
    assert flow.actions(batch_id) == {3: ("update", "unchanged", "unchanged"), 4: ("unchanged", "update", "unchanged"),
                                      5: ("unchanged", "unchanged", "unchanged"),
                                      6: ("unchanged", "unchanged", "unchanged"),
                                      7: ("unchanged", "unchanged", "create")}
    flow.confirm(batch_id)
    flow.apply(batch_id)
    assert flow.counts() == {"merchants": 5, "instruments": 6, "verifications": 7, "imported_records": 14}
    assert flow.merchant("金源粮油店").phone == "13900000009"
    s2 = flow.instrument("S-002")
    assert (s2.id, s2.model, s2.last_verified_on, s2.next_due_on) == (s2_before.id, "ACS-30B", D(2025, 6, 1),
                                                                       D(2026, 5, 31))
    assert [v.certificate_no for v in flow.verifications("S-002")] == ["", "JD-005"]


# --- due dates -------------------------------------------------------------------------------------------

def test_existing_instruments_that_gain_records_move_their_due_dates(flow, session, tmp_path):
    w = flow.world
    older = f.instrument(session, w.merchant_a, "elec_price_scale", serial="OLD-1")
    f.verify(session, older, D(2024, 6, 1))
    session.commit()
    assert w.instrument_a.next_due_on == D(2025, 1, 10)
    data = xlsx(tmp_path, [
        row("甲市场摊位1", "电子秤", "A-001", "2025-01-08"),  # newer: moves the due date
        row("甲市场摊位1", "电子秤", "OLD-1", "2023-06-01"),  # older: the latest record still decides
        row("乙加油站", "加油机", "B-001", "2025-03-03", "", "不合格"),  # station B's ledger is not ours
    ])
    batch_id = flow.upload(data)
    assert flow.preview(batch_id)["errors"] == 1  # B-001 belongs to station B
    flow.confirm(batch_id, only_valid=True)
    flow.apply(batch_id)
    a1 = flow.instrument("A-001")
    assert (a1.first_verified_on, a1.last_verified_on, a1.next_due_on) == (D(2024, 1, 10), D(2025, 1, 8),
                                                                            D(2026, 1, 8))
    old = flow.instrument("OLD-1")
    assert (old.first_verified_on, old.last_verified_on, old.next_due_on) == (D(2023, 6, 1), D(2024, 6, 1),
                                                                              D(2025, 6, 1))
    assert flow.instrument("B-001").next_due_on == D(2024, 7, 10)


def test_a_failed_verification_makes_an_existing_instrument_due_now(flow, tmp_path):
    flow.run(xlsx(tmp_path, [row("甲市场摊位1", "电子秤", "A-001", "2025-02-03", "", "不合格", "JD-F")]))
    a1 = flow.instrument("A-001")
    assert (a1.last_result, a1.next_due_on, a1.first_verified_on) == (VerificationResult.FAIL, D(2025, 2, 3),
                                                                       D(2024, 1, 10))


UTILITY_HEADER = ["使用单位名称", "户号", "用户地址", "表号", "口径", "首次检定日期", "到期更换日期"]


def test_a_utility_meter_ledger_imports_service_life_meters_of_the_company(flow, tmp_path):
    rows = [
        {"使用单位名称": "某市自来水公司", "户号": "0100234", "用户地址": "幸福路1号101室", "表号": 20231234,
         "口径": "DN15", "首次检定日期": "2023-05-06", "到期更换日期": "2029-05-06"},
        {"使用单位名称": "某市自来水公司", "户号": "0100235", "用户地址": "幸福路1号102室", "表号": "W-20231235",
         "口径": "DN40", "首次检定日期": "2024.2.29", "到期更换日期": ""},
        {"使用单位名称": "某市自来水公司", "户号": "0100236", "用户地址": "幸福路1号103室", "表号": "W-20231236",
         "口径": "DN20", "首次检定日期": "20240229", "到期更换日期": ""},
    ]
    path = ledger_xlsx(tmp_path / "w.xlsx", rows, header=UTILITY_HEADER, title="某市自来水公司户表台账",
                       sheet="水表台账")
    batch_id = flow.upload(path.read_bytes(), "w.xlsx")
    assert flow.preview(batch_id) == counts(3, m=(1, 0, 0), i=(3, 0, 0), v=(3, 0, 0))
    flow.confirm(batch_id)
    flow.apply(batch_id)
    company = flow.merchant("某市自来水公司")
    assert company.industry == Industry.UTILITY and company.address == ""
    le25 = flow.instrument("20231234")
    with flow.step() as s:
        kinds = dict(s.execute(select(Instrument.serial_no, Instrument.type_id)).all())
        from app.catalog.models import InstrumentType
        code_of = dict(s.execute(select(InstrumentType.id, InstrumentType.code)).all())
    assert code_of[kinds["20231234"]] == "water_meter_le25" and code_of[kinds["W-20231235"]] == "water_meter_25_50"
    # service life: replaced by the date the ledger gives, never re-verified
    assert (le25.merchant_id, le25.location, le25.model) == (company.id, "0100234", "DN15")
    assert (le25.first_verified_on, le25.replace_by, le25.next_due_on) == (D(2023, 5, 6), D(2029, 5, 6), None)
    # no replacement date: first verification + the kind's life (4 years for 25<DN≤50, 6 for DN≤25),
    # clamped to 28 February when the target year has no 29th
    assert (flow.instrument("W-20231235").replace_by, flow.instrument("W-20231235").next_due_on) == (
        D(2028, 2, 29), None)
    assert code_of[kinds["W-20231236"]] == "water_meter_le25"
    assert flow.instrument("W-20231236").replace_by == D(2030, 2, 28)


def test_a_utility_meter_ledger_without_a_merchant_column(flow, session, tmp_path):
    company = f.merchant(session, flow.world.station_a, "城东自来水公司", industry="utility",
                         address="水厂路1号")
    session.commit()
    header = ["户号", "地址", "表号", "口径", "首次检定日期", "到期更换日期"]
    rows = [{"户号": "0100234", "地址": "幸福路1号101室", "表号": "W-1", "口径": "DN15", "首次检定日期": "2023-05-06",
             "到期更换日期": "2029-05-06"},
            {"户号": "0100235", "地址": "幸福路1号102室", "表号": "W-2", "口径": "DN40", "首次检定日期": "2022-02-28"}]
    path = ledger_xlsx(tmp_path / "w.xlsx", rows, header=header, title=None, sheet="水表台账")
    # Without a company the ledger names no merchant: refused with the reason.
    refused = flow.upload(path.read_bytes(), "w.xlsx")
    with pytest.raises(ImportFileError, match="使用单位名称"):
        flow.preview(refused)
    batch_id = flow.upload(path.read_bytes(), "w.xlsx", merchant_id=company.id)
    counts = flow.preview(batch_id)
    assert counts["merchants"] == {"create": 0, "update": 0, "unchanged": 1}
    assert counts["instruments"]["create"] == 2 and counts["errors"] == 0
    flow.confirm(batch_id)
    flow.apply(batch_id)
    w1, w2 = flow.instrument("W-1"), flow.instrument("W-2")
    assert (w1.merchant_id, w1.location, w1.type.code) == (company.id, "0100234", "water_meter_le25")
    assert w1.replace_by == D(2029, 5, 6) and w1.next_due_on is None
    assert (w2.type.code, w2.replace_by) == ("water_meter_25_50", D(2026, 2, 28))
    session.expire_all()
    assert flow.merchant("城东自来水公司").address == "水厂路1号"  # the households' addresses stay off it


# --- undo ----------------------------------------------------------------------------------------------

def test_undo_removes_what_the_batch_created_and_restores_what_it_changed(flow, session, tmp_path):
    w = flow.world
    f.merchant(session, w.station_a, "老字号粮油", credit_code=C1, phone="111")
    session.commit()
    before = flow.ledger()
    a1_before = flow.instrument("A-001")
    data = xlsx(tmp_path, [
        row("老字号粮油", "电子秤", "U-1", "2025-01-02", code=C1, phone="222"),  # updates the phone, new scale
        row("甲市场摊位1", "电子秤", "A-001", "2025-01-08", model="NEW"),  # updates the model, adds a record
        row("新商行", "加油机", "U-2", "2025-03-04", cert="JD-U2"),
    ])
    batch_id = flow.run(data)
    a1 = flow.instrument("A-001")
    assert (a1.model, a1.next_due_on) == ("NEW", D(2026, 1, 8))
    assert flow.merchant("老字号粮油").phone == "222"

    undone = flow.undo(batch_id)
    assert undone == {"verifications": 3, "instruments": 2, "merchants": 1, "merchants_restored": 1,
                      "instruments_restored": 1}
    batch = flow.batch(batch_id)
    assert batch.status == ImportStatus.UNDONE and batch.undone_by_id == flow.actor.id and batch.undone_at
    assert flow.counts() == {"merchants": 3, "instruments": 2, "verifications": 2, "imported_records": 8}
    m = flow.merchant("老字号粮油")
    assert (m.phone, m.credit_code) == ("111", C1)
    a1 = flow.instrument("A-001")
    assert (a1.model, a1.first_verified_on, a1.last_verified_on, a1.next_due_on, a1.last_result) == (
        a1_before.model, D(2024, 1, 10), D(2024, 1, 10), D(2025, 1, 10), VerificationResult.PASS)

    def significant(ledger):  # versions and update times move; everything else is back
        out = {}
        for name, rows in ledger.items():
            cols = [c.name for c in {"merchants": Merchant, "instruments": Instrument,
                                     "verifications": Verification}[name].__table__.columns]
            out[name] = [{c: v for c, v in zip(cols, r) if c not in ("version", "updated_at")} for r in rows]
        return out
    assert significant(flow.ledger()) == significant(before)
    assert flow.audit(batch_id) == ["upload", "import", "undo_import"]
    with pytest.raises(Invalid, match="只有已导入的批次可以撤销"):
        flow.undo(batch_id)


def test_undo_restores_an_instrument_status_the_import_changed(flow, tmp_path):
    header = ["使用单位名称", "器具名称", "出厂编号", "使用状态", "检定日期", "检定结论"]
    data = ledger_xlsx(tmp_path / "s.xlsx", [{"使用单位名称": "甲市场摊位1", "器具名称": "电子秤", "出厂编号": "A-001",
                                              "使用状态": "停用", "检定日期": "2025-02-01", "检定结论": "合格"}],
                       header=header).read_bytes()
    batch_id = flow.upload(data)
    assert flow.preview(batch_id) == counts(1, m=(0, 0, 1), i=(0, 1, 0), v=(1, 0, 0))
    flow.confirm(batch_id)
    flow.apply(batch_id)
    a1 = flow.instrument("A-001")
    assert (a1.status, a1.next_due_on, a1.version) == (InstrumentStatus.STOPPED, D(2026, 2, 1), 4)
    flow.undo(batch_id)
    a1 = flow.instrument("A-001")
    assert (a1.status, a1.next_due_on) == (InstrumentStatus.IN_USE, D(2025, 1, 10))


def test_the_same_file_imports_again_after_an_undo(flow, tmp_path):
    data = xlsx(tmp_path, FIRST)
    first = flow.run(data)
    flow.undo(first)
    again = flow.upload(data)
    assert flow.preview(again) == counts(4, m=(3, 0, 0), i=(4, 0, 0), v=(4, 0, 0))
    flow.confirm(again)
    flow.apply(again)
    assert flow.instrument("F-001").next_due_on == D(2025, 2, 28)


def test_two_batches_can_be_undone_latest_first(flow, tmp_path):
    first = flow.run(xlsx(tmp_path, FIRST, "v1.xlsx"))
    edited = [dict(r) for r in FIRST]
    edited[0]["联系电话"] = "13900000009"
    edited.append(row("金源粮油店", "电子秤", "S-002", "2025-06-01", "2026-05-31", "合格", "JD-005", code=C1))
    second = flow.run(xlsx(tmp_path, edited, "v2.xlsx"))
    with pytest.raises(Invalid, match="不能撤销"):
        flow.undo(first)  # the second batch depends on it
    flow.undo(second)
    flow.undo(first)
    assert flow.counts()["merchants"] == WORLD_COUNTS["merchants"]


def test_undo_is_refused_after_a_verification_is_recorded_on_an_imported_instrument(flow, tmp_path):
    batch_id = flow.run(xlsx(tmp_path, FIRST))
    with flow.step() as s:
        inst = s.scalars(select(Instrument).where(Instrument.serial_no == "T-001")).one()
        record_verification(s, flow.actor, inst, {"verified_on": D(2025, 6, 1), "result": "pass"})
    before = flow.ledger()
    with pytest.raises(Invalid) as err:
        flow.undo(batch_id)
    assert "不能撤销" in err.value.message
    assert f"计量器具 #{flow.instrument('T-001').id} 在导入后又录入了检定记录" in err.value.message
    assert flow.batch(batch_id).status == ImportStatus.APPLIED
    assert flow.ledger() == before
    assert flow.audit(batch_id) == ["upload", "import"]


def test_undo_is_refused_after_an_imported_merchant_is_edited(flow, tmp_path):
    batch_id = flow.run(xlsx(tmp_path, FIRST))
    with flow.step() as s:
        m = s.scalars(select(Merchant).where(Merchant.name == "顺发加油站")).one()
        update_merchant(s, flow.actor, ALL, m, expected_version=m.version,
                        values={"name": "顺发加油站", "industry": "fuel_station", "station_id": m.station_id,
                                "phone": "0518-88888888"})
        merchant_id = m.id
    with pytest.raises(Invalid, match=f"使用单位 #{merchant_id} 在导入后又被修改过"):
        flow.undo(batch_id)
    assert flow.counts()["instruments"] == 6


def test_undo_is_refused_after_an_instrument_is_registered_under_an_imported_merchant(flow, tmp_path):
    batch_id = flow.run(xlsx(tmp_path, FIRST))
    with flow.step() as s:
        m = s.scalars(select(Merchant).where(Merchant.name == "顺发加油站")).one()
        create_instrument(s, flow.actor, ALL, {"type_id": f.kind(s, "fuel_dispenser").id, "merchant_id": m.id,
                                               "serial_no": "LATER-1"})
        merchant_id = m.id
    with pytest.raises(Invalid, match=f"使用单位 #{merchant_id} 在导入后又登记了计量器具"):
        flow.undo(batch_id)


def test_undo_of_updates_is_refused_after_the_updated_record_is_edited_again(flow, session, tmp_path):
    f.merchant(session, flow.world.station_a, "老字号粮油", credit_code=C1, phone="111")
    session.commit()
    batch_id = flow.run(xlsx(tmp_path, [row("老字号粮油", "电子秤", "U-1", code=C1, phone="222")]))
    with flow.step() as s:
        m = s.scalars(select(Merchant).where(Merchant.name == "老字号粮油")).one()
        update_merchant(s, flow.actor, ALL, m, expected_version=m.version,
                        values={"name": "老字号粮油", "industry": "market_vendor", "station_id": m.station_id,
                                "credit_code": C1, "phone": "333"})
    with pytest.raises(Invalid, match="在导入后又被修改过"):
        flow.undo(batch_id)
    assert flow.merchant("老字号粮油").phone == "333"


# --- apply writes exactly what the preview showed ------------------------------------------------------

def test_apply_refuses_when_the_ledger_changed_since_the_preview(flow, tmp_path):
    batch_id = flow.upload(xlsx(tmp_path, FIRST))
    flow.preview(batch_id)
    flow.confirm(batch_id)
    # meanwhile someone registers one of the file's merchants by hand
    with flow.step() as s:
        f.merchant(s, flow.world.station_a, "顺发加油站", industry="fuel_station")
    before = flow.ledger()
    with pytest.raises(Invalid, match="预览之后台账或文件已有变化"):
        flow.apply(batch_id)
    assert flow.ledger() == before
    assert flow.batch(batch_id).status == ImportStatus.APPLYING
    assert flow.audit(batch_id) == ["upload"]


def test_apply_refuses_when_the_plan_differs_even_with_the_same_counts(flow, session, tmp_path):
    w = flow.world
    f.merchant(session, w.station_a, "一号店", phone="1")
    f.merchant(session, w.station_a, "二号店", phone="2")
    session.commit()
    data = xlsx(tmp_path, [row("一号店", "电子秤", "P-1", phone="1"), row("二号店", "电子秤", "P-2", phone="9")])
    batch_id = flow.upload(data)
    assert flow.preview(batch_id) == counts(2, m=(0, 1, 1), i=(2, 0, 0))
    assert flow.actions(batch_id)[4] == ("update", "create", "skip")
    flow.confirm(batch_id)
    # meanwhile: 二号店 gets the file's phone, 一号店 another one; still one update and one unchanged
    with flow.step() as s:
        for name, phone in (("一号店", "7"), ("二号店", "9")):
            m = s.scalars(select(Merchant).where(Merchant.name == name)).one()
            update_merchant(s, None, ALL, m, expected_version=m.version,
                            values={"name": name, "industry": "market_vendor", "station_id": m.station_id,
                                    "phone": phone})
    with pytest.raises(Invalid, match="预览之后台账或文件已有变化"):
        flow.apply(batch_id)
    assert flow.merchant("一号店").phone == "7"
    assert flow.counts()["instruments"] == 2


def test_apply_plans_the_dry_runs_parse_without_reading_the_file_again(flow, tmp_path):
    batch_id = flow.upload(xlsx(tmp_path, FIRST))
    flow.preview(batch_id)
    [stashed] = flow.stashed_parses(1)
    flow.confirm(batch_id)
    # the upload is gone: only the dry run's parse can give the apply its rows
    Path(flow.batch(batch_id).stored_path).unlink()
    assert flow.apply(batch_id) == {"merchants": {"create": 3, "update": 0}, "instruments": {"create": 4, "update": 0},
                                    "verifications": {"create": 4}}
    assert stashed.exists() and flow.instrument("S-001").next_due_on == D(2026, 2, 28)
    assert flow.verifications("T-001")[0].certificate_no == "JD-004"


@pytest.mark.parametrize("damage", ["missing", "damaged", "another mapping"])
def test_apply_reads_the_file_again_when_the_dry_runs_parse_is_not_there(flow, tmp_path, damage):
    batch_id = flow.upload(xlsx(tmp_path, FIRST))
    flow.preview(batch_id)
    [stashed] = flow.stashed_parses(1)
    if damage == "missing":
        stashed.unlink()
    elif damage == "damaged":
        stashed.write_bytes(stashed.read_bytes()[:100])
    else:
        # a preview with another mapping (no phone column), then back: each parse has its own stash
        phone = flow.batch(batch_id).mapping["phone"]
        with flow.step() as s:
            services.plan_batch(s, s.get(ImportBatch, batch_id), today=TODAY, overrides={"phone": None})
        assert len(flow.stashed_parses(2)) == 2
        with flow.step() as s:
            batch = s.get(ImportBatch, batch_id)
            services.plan_batch(s, batch, today=TODAY, overrides={"phone": phone})
            assert batch.mapping["phone"] == phone
        stashed.unlink()
    flow.confirm(batch_id)
    assert flow.apply(batch_id) == {"merchants": {"create": 3, "update": 0}, "instruments": {"create": 4, "update": 0},
                                    "verifications": {"create": 4}}
    assert flow.merchant("金源粮油店").phone == "13800000001"
    assert flow.instrument("S-001").next_due_on == D(2026, 2, 28)


# --- bad input ------------------------------------------------------------------------------------------

def corrupt_zip(tmp_path: Path) -> bytes:
    good = ledger_xlsx(tmp_path / "good.xlsx", FIRST).read_bytes()
    return good[: len(good) // 2]


def not_a_zip_member(tmp_path: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    return out.getvalue()


@pytest.mark.parametrize("name, make", [
    ("notes.xlsx", lambda p: "这不是表格，只是一段文字。".encode() * 20),
    ("picture.png", lambda p: b"\x89PNG\r\n\x1a\n" + b"\x00" * 200),
    ("broken.xlsx", corrupt_zip),
    ("other.xlsx", not_a_zip_member),
])
def test_a_file_that_is_not_a_readable_spreadsheet_is_rejected_at_upload(flow, tmp_path, name, make):
    before = flow.ledger()
    batch_id = flow.upload(make(tmp_path), name)
    batch = flow.batch(batch_id)
    assert batch.status == ImportStatus.REJECTED
    assert batch.message and any("\u4e00" <= ch <= "\u9fff" for ch in batch.message), batch.message
    with pytest.raises(Invalid, match="文件无法导入"):
        flow.preview(batch_id)
    with pytest.raises(Invalid):
        flow.confirm(batch_id)
    assert flow.ledger() == before
    assert flow.audit(batch_id) == ["upload"]


def test_a_file_over_the_size_limit_is_rejected(flow, tmp_path):
    data = xlsx(tmp_path, FIRST)
    batch_id = flow.upload(data, max_bytes=1024)
    batch = flow.batch(batch_id)
    assert batch.status == ImportStatus.REJECTED
    assert "超过上限" in batch.message and batch.file_size == len(data)
    assert flow.counts() == WORLD_COUNTS


@pytest.mark.parametrize("sheets, message", [
    ({"台账": []}, "没有可识别的台账表格"),
    ({"台账": [["2025年计量器具台账"], ["甲", "乙", "丙"], [1, 2, 3]]}, "没有可识别的台账表格"),
])
def test_a_sheet_without_a_table_waits_for_a_mapping_at_preview(flow, tmp_path, sheets, message):
    before = flow.ledger()
    data = write_xlsx(tmp_path / "t.xlsx", sheets).read_bytes()
    batch_id = flow.upload(data, "t.xlsx")
    # a view shows the message and the mapping page; nothing can be applied until it is mapped
    with flow.step() as s, pytest.raises(ImportFileError, match=message):
        services.plan_batch(s, s.get(ImportBatch, batch_id), today=TODAY)
    batch = flow.batch(batch_id)
    assert batch.status == ImportStatus.NEEDS_MAPPING and message in batch.message
    assert "可指定表头所在的行和各列对应的字段" in batch.message
    with pytest.raises(Invalid):
        flow.confirm(batch_id)
    assert flow.rows(batch_id) == []
    assert flow.ledger() == before


def test_a_table_missing_a_required_column_waits_for_a_mapping_with_the_column_named(flow, tmp_path):
    data = xlsx(tmp_path, [{"使用单位名称": "某店", "器具名称": "电子秤", "检定日期": "2025-01-02"}],
                header=["使用单位名称", "器具名称", "规格型号", "检定日期"])
    batch_id = flow.upload(data)
    with flow.step() as s, pytest.raises(ImportFileError, match="缺少必需的列：出厂编号；可指定各列对应的字段"):
        services.plan_batch(s, s.get(ImportBatch, batch_id), today=TODAY)
    batch = flow.batch(batch_id)
    assert batch.status == ImportStatus.NEEDS_MAPPING
    # The header found and its mapping are kept, for the mapping page.
    assert batch.headers[:4] == ["使用单位名称", "器具名称", "规格型号", "检定日期"]
    assert batch.mapping == {"merchant_name": 0, "kind": 1, "model": 2, "verified_on": 3}
    assert flow.counts() == WORLD_COUNTS


# --- the sample ledgers -----------------------------------------------------------------------------------

@pytest.fixture()
def samples():
    """The sample ledgers kept in tests/importers/samples."""
    return SAMPLES


SAMPLE_DAY = D(2026, 11, 22)  # after the last verification date in the samples


def test_the_sample_ledgers_import_station_then_tidy(flow, samples):
    station = (samples / "ledger_station.xlsx").read_bytes()
    tidy = (samples / "ledger_tidy.xlsx").read_bytes()

    first = flow.upload(station, "ledger_station.xlsx")
    # The sample's kinds are spread over merchants at random: a 水产商行 with a fuel dispenser is warned of.
    assert flow.preview(first, SAMPLE_DAY) == counts(150, m=(38, 0, 0), i=(150, 0, 0), v=(150, 0, 0), warnings=101)
    assert flow.rows(first)[0].row_no == 4
    flow.confirm(first)
    flow.apply(first, SAMPLE_DAY)
    assert flow.counts() == {"merchants": 40, "instruments": 152, "verifications": 152, "imported_records": 338}
    jy = flow.merchant("连云区金源粮油店")
    assert jy.credit_code == "92320703HF98QU5EU4"
    inst = flow.instrument("A2023351875")
    assert (inst.merchant_id, inst.next_due_on, inst.maker) == (jy.id, D(2026, 6, 29), "北京三盈联合石油技术有限公司")

    # tidy: 37 of its 39 merchants are the station ledger's (same credit codes), now with phone numbers
    second = flow.upload(tidy, "ledger_tidy.xlsx")
    assert flow.preview(second, SAMPLE_DAY) == counts(150, m=(2, 37, 0), i=(150, 0, 0), v=(150, 0, 0), warnings=94)
    flow.confirm(second)
    flow.apply(second, SAMPLE_DAY)
    assert flow.counts() == {"merchants": 42, "instruments": 302, "verifications": 302, "imported_records": 677}
    kn = flow.merchant("赣榆区康宁药房商行")
    assert kn.phone == "14279286166"
    tidy_inst = flow.instrument("2015580171")
    assert (tidy_inst.merchant_id, tidy_inst.next_due_on) == (kn.id, D(2026, 2, 13))

    # the same files again: nothing to do, nothing written
    before = flow.ledger()
    for data, name in ((tidy, "ledger_tidy.xlsx"), (station, "ledger_station.xlsx")):
        again = flow.upload(data, name)
        c = flow.preview(again, SAMPLE_DAY)
        assert c["errors"] == 0 and c["rows"] == 150
        for kind in ("merchants", "instruments", "verifications"):
            assert (c[kind]["create"], c[kind]["update"]) == (0, 0), (name, c)
        assert c["instruments"]["unchanged"] == 150 and c["verifications"]["unchanged"] == 150
        flow.confirm(again)
        flow.apply(again, SAMPLE_DAY)
    assert flow.ledger() == before
