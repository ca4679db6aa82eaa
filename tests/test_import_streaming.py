"""A large ledger is parsed, stashed and planned a part at a time: parts give exactly the plan, the preview
and the stash of the whole sheet at once, and a dry run waiting for another job's writing loses nothing.

The parts are made one row long here (importers.parse.PART_ROWS), so every rule that links rows (a merchant
with and without its code, an instrument with and without its maker, duplicates, contradictions) spans parts.
The parse runs in this process (SandboxLimits(enabled=False)) so that the patched part size applies.
"""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.catalog.models import InstrumentType
from app.imports import services
from app.imports.models import ImportBatch, ImportRow
from app.scope import Scope
from importers import ImportFileError, open_book, parse_sheet, stash
from importers.plan import Planner
from importers.sandbox import SandboxLimits
from tests.importers.builders import credit_code, ledger_xlsx
from tests.test_import_pipeline import row

TODAY = dt.date(2025, 6, 30)
IN_PROCESS = SandboxLimits(enabled=False)
C3 = credit_code(3)

# Rows that refer to each other: each rule of importers/plan.py that links rows, once across a part boundary.
LINKED = [
    row("华联超市", "电子计价秤", "H-001", "2025.3.1", "", "合格", "JD-101", maker="上海友声"),
    row("华联超市", "电子计价秤", "H-001", "2025.3.1", "", "合格", "JD-101"),  # the same row without the maker
    row("华联超市", "电子计价秤", "H-002", "2025.3.2", code=C3),  # the merchant's code, given later
    row("华联超市", "电子计价秤", "H-001", "2025.3.1", "", "不合格", "JD-101"),  # contradicts the first
    row("金源粮油店", "电子计价秤", "H-002", "2025.3.2"),  # an instrument of two merchants
    row("顺发加油站", "加油机", "F-009", "2024-08-31", "", "合格", "", phone="13800000009"),
    row("顺发加油站", "加油机", "F-009", "2024-08-31", "", "合格", "", phone="13800000009"),
    row("", "电子秤", "X-1", "2025.3.1"),  # no merchant: an error row
    row("大众出租车公司", "计价器", "T-101", "2025年5月10日", "", "不合格", "JD-104"),
]


@pytest.fixture()
def kinds(session) -> list[tuple[str, str]]:
    return [(k.code, k.name_zh) for k in session.scalars(select(InstrumentType))]


@pytest.fixture()
def one_row_parts(monkeypatch):
    monkeypatch.setattr("importers.parse.PART_ROWS", 1)


def _plan_rows(plan) -> list[tuple]:
    return [(r.row, r.merchant_action, r.instrument_action, r.verification_action,
             [(e.column, e.message) for e in r.errors], r.summary) for r in plan.rows]


def _records(plan) -> list:
    return ([(m.action, m.values, m.existing_id) for m in plan.merchants],
            [(i.action, i.values, i.key, i.existing_id) for i in plan.instruments],
            [(v.row, v.values) for v in plan.verifications])


def test_planning_a_row_at_a_time_gives_the_plan_of_the_whole_sheet(session, world, kinds, tmp_path, monkeypatch):
    path = ledger_xlsx(tmp_path / "台账.xlsx", LINKED)
    whole = Planner(session, world.station_a.id, TODAY).plan(parse_sheet(open_book(path), kinds=kinds))
    monkeypatch.setattr("importers.parse.PART_ROWS", 1)
    parts = []
    last = parse_sheet(open_book(path), kinds=kinds, parts=parts.append)
    assert [len(p.rows) for p in parts] == [1] * len(LINKED) and last.rows == []
    planner = Planner(session, world.station_a.id, TODAY)
    for part in [*parts, last]:
        planner.plan_part(part, consume=True)
    in_parts = planner.finish()
    assert _plan_rows(in_parts) == _plan_rows(whole)
    assert _records(in_parts) == _records(whole) and in_parts.counts() == whole.counts()
    assert whole.counts()["errors"] == 3  # the contradiction, the second merchant, the missing name


def test_a_stash_written_part_by_part_loads_as_the_whole_parse(kinds, tmp_path, one_row_parts):
    path = ledger_xlsx(tmp_path / "台账.xlsx", LINKED)
    whole = parse_sheet(open_book(path), kinds=kinds)
    writer = stash.Writer(tmp_path / "x.parsed")
    last = parse_sheet(open_book(path), kinds=kinds, parts=lambda part: writer.add(stash.dumps(part)))
    writer.add(stash.dumps(last))
    assert not (tmp_path / "x.parsed").exists()  # only once finished
    writer.finish()
    again = stash.load(tmp_path / "x.parsed")
    assert len(stash.load_parts(tmp_path / "x.parsed")) == len(LINKED) + 1
    assert [(r.row, r.values, r.errors) for r in again.rows] == [(r.row, r.values, r.errors) for r in whole.rows]
    assert again.skipped == whole.skipped and again.mapping == whole.mapping
    # Cut before its end mark, it is no stash.
    blob = (tmp_path / "x.parsed").read_bytes()
    (tmp_path / "x.parsed").write_bytes(blob[:-8])
    assert stash.load(tmp_path / "x.parsed") is None and stash.load_parts(tmp_path / "x.parsed") is None


class BusyWriter:
    """A writer lock another job holds when asked without waiting: the dry run must wait for it."""

    def __init__(self) -> None:
        self.events: list = []

    def acquire(self, blocking: bool = True) -> bool:
        self.events.append(("acquire", blocking))
        return blocking

    def release(self) -> None:
        self.events.append("release")

    def __enter__(self):
        self.events.append("enter")
        return self

    def __exit__(self, *exc) -> None:
        self.events.append("exit")


def _preview(session, batch_id: int) -> list[tuple]:
    return [(r.row_no, r.merchant_action, r.instrument_action, r.verification_action, r.errors, r.cells, r.summary)
            for r in session.scalars(select(ImportRow).where(ImportRow.batch_id == batch_id)
                                     .order_by(ImportRow.row_no))]


def test_a_dry_run_in_parts_previews_and_applies_as_one_and_waits_for_a_busy_writer(session, world, tmp_path,
                                                                                     one_row_parts):
    data = ledger_xlsx(tmp_path / "台账.xlsx", LINKED).read_bytes()
    batches = []
    for writing in (None, BusyWriter()):
        batch = services.create_batch(session, None, Scope.everything(), station_id=world.station_a.id,
                                      file_name="台账.xlsx", data=data, storage_dir=tmp_path / "uploads",
                                      sandbox=IN_PROCESS)
        kwargs = {"writing": writing} if writing is not None else {}
        services.plan_batch(session, batch, today=TODAY, sandbox=IN_PROCESS, **kwargs)
        batches.append(batch)
    # Busy when the first rows came: they waited, and were planned once the lock was ours.
    assert writing.events == [("acquire", False), "enter", "exit"]
    first, second = batches
    assert first.counts == second.counts and first.skipped == second.skipped == {"title": 1, "header": 1}
    assert _preview(session, first.id) == _preview(session, second.id)
    assert len(_preview(session, first.id)) == len(LINKED)
    # The apply plans the stash part by part and finds the plan the preview showed.
    services.start_apply(session, None, first, expected_version=first.version, only_valid=True)
    written = services.apply_batch(session, None, first, today=TODAY, sandbox=IN_PROCESS)
    assert written["instruments"]["create"] == 4 and session.get(ImportBatch, first.id).status.value == "applied"


def test_a_dry_run_of_another_sheet_that_fails_keeps_the_previous_preview(session, world, tmp_path, one_row_parts):
    data = ledger_xlsx(tmp_path / "台账.xlsx", LINKED).read_bytes()
    batch = services.create_batch(session, None, Scope.everything(), station_id=world.station_a.id,
                                  file_name="台账.xlsx", data=data, storage_dir=tmp_path / "uploads",
                                  sandbox=IN_PROCESS)
    services.plan_batch(session, batch, today=TODAY, sandbox=IN_PROCESS)
    before = _preview(session, batch.id)
    with pytest.raises(ImportFileError, match="缺少必需的列"):
        services.plan_batch(session, batch, today=TODAY, sandbox=IN_PROCESS, overrides={"serial_no": None})
    assert _preview(session, batch.id) == before


def test_rows_with_short_dates_wait_for_the_end_of_the_sheet_before_they_are_handed_over(kinds, tmp_path,
                                                                                       one_row_parts):
    # 5/3/2024 is read day first only because of 25/3/2024 further down: no part may leave before that.
    from tests.importers.builders import write_xlsx

    rows = [["使用单位名称", "器具名称", "出厂编号", "检定日期"],
            ["华联超市", "电子计价秤", "S-1", "2024-03-01"],
            ["华联超市", "电子计价秤", "S-2", "5/3/2024"],
            ["华联超市", "电子计价秤", "S-3", "1/2/2024"],
            ["华联超市", "电子计价秤", "S-4", "25/3/2024"]]
    parts = []
    last = parse_sheet(open_book(write_xlsx(tmp_path / "短日期.xlsx", {"台账": rows})), kinds=kinds,
                       parts=parts.append)
    assert [[r.row for r in p.rows] for p in parts] == [[2]]  # the row before the first short date
    dates = {r.values["serial_no"]: r.values["verified_on"] for r in last.rows}
    assert dates == {"S-2": dt.date(2024, 3, 5), "S-3": dt.date(2024, 2, 1), "S-4": dt.date(2024, 3, 25)}
    assert last.notes and "日/月/年" in last.notes[0]
