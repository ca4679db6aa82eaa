"""Ledgers as stations keep them, through the import pages (issue 14 parts 2 and 5): a fuel-station
ledger whose station columns are merged over the dispensers, ditto marks, short dates in the file's
own order, shown in the preview and used by the apply; on SQLite and on PostgreSQL."""
from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from sqlalchemy import select

from app.imports.models import ImportRow, ImportStatus
from app.instruments.models import Instrument, Verification
from app.merchants.models import Merchant
from tests.importers.builders import FUEL_STATIONS, credit_code, fuel_ledger, write_xlsx
from tests.test_import_views import batch_of, insp_a, ledger_counts, text, upload  # noqa: F401 (fixture)


@pytest.mark.parametrize("suffix", ["xlsx", "xls", "ods"])
def test_a_fuel_station_ledger_with_merged_cells_imports_every_dispenser(insp_a, session, world, tmp_path,  # noqa: F811
                                                                          suffix):
    before = ledger_counts(session)
    data = fuel_ledger(tmp_path / f"加油机台账.{suffix}").read_bytes()
    batch = batch_of(session, upload(insp_a, world.station_a.id, data, f"加油机台账.{suffix}"))
    assert batch.status == ImportStatus.PREVIEW, batch.message
    c = batch.counts
    assert (c["rows"], c["errors"]) == (18, 0)
    assert (c["merchants"]["create"], c["instruments"]["create"], c["verifications"]["create"]) == (4, 18, 18)
    assert batch.reading_notes == ["合并单元格已按合并的值向下填充：使用单位名称 14 格、统一社会信用代码 14 格、单位地址 14 格、"
                                   "器具名称 14 格、检定日期 14 格"]
    page = text(insp_a.get(f"/imports/{batch.id}"))
    assert 'id="reading-notes"' in page and "合并单元格已按合并的值向下填充" in page

    resp = insp_a.post(f"/imports/{batch.id}/apply", data={"version": batch.version})
    assert resp.status_code == 302, text(resp)[:1000]
    assert ledger_counts(session) == (before[0] + 4, before[1] + 18, before[2] + 18)
    session.expire_all()
    for s, (name, count, address) in enumerate(FUEL_STATIONS, start=1):
        merchant = session.scalars(select(Merchant).where(Merchant.credit_code == credit_code(700 + s))).one()
        assert (merchant.name, merchant.address, merchant.station_id) == (name, address, world.station_a.id)
        instruments = session.scalars(select(Instrument).where(Instrument.merchant_id == merchant.id)).all()
        assert len(instruments) == count and {i.type.code for i in instruments} == {"fuel_dispenser"}
        dates = set(session.scalars(select(Verification.verified_on)
                                    .where(Verification.instrument_id.in_([i.id for i in instruments]))))
        assert dates == {dt.date(2024, 3, s)}  # the merged date, not "no verification"


def test_ditto_marks_and_short_dates_are_shown_in_the_preview_and_the_errors_workbook(insp_a, session,  # noqa: F811
                                                                                      world, tmp_path):
    header = ["使用单位名称", "统一社会信用代码", "器具名称", "出厂编号", "枪数", "检定日期"]
    rows = [header,
            ["同上", "", "燃油加油机", "DT-00", 2, "1/3/2024"],
            ["城郊加油站", credit_code(901), "燃油加油机", "DT-01", "双枪", "5/3/2024"],
            ["同上", "〃", "〃", "DT-02", "四枪", "25/3/2024"],
            ["同上", "〃", "〃", "DT-03", "单枪", "2024-13-45"]]
    data = write_xlsx(tmp_path / "同上.xlsx", {"台账": rows}).read_bytes()
    batch = batch_of(session, upload(insp_a, world.station_a.id, data, "同上.xlsx"))
    assert batch.status == ImportStatus.PREVIEW, batch.message
    # Warned: the two filled rows, and the new merchant's first row (the industry it was given).
    assert (batch.counts["rows"], batch.counts["errors"], batch.counts["warnings"]) == (4, 2, 3)
    assert batch.reading_notes == ["检定日期按 日/月/年 读取（依据：第4行 25/3/2024）"]
    page = text(insp_a.get(f"/imports/{batch.id}"))
    assert "检定日期按 日/月/年 读取（依据：第4行 25/3/2024）" in page
    warned = text(insp_a.get(f"/imports/{batch.id}?show=warnings"))
    assert "A4（使用单位名称）写作“同上”，已按第3行填为“城郊加油站”" in warned
    errors_only = text(insp_a.get(f"/imports/{batch.id}?show=errors"))
    assert "A2（使用单位名称）写作“同上”，但上面没有可照填的数据行" in errors_only

    stored = {r.row_no: r for r in session.scalars(select(ImportRow).where(ImportRow.batch_id == batch.id))}
    assert stored[4].cells[:3] == ["城郊加油站", credit_code(901), "燃油加油机"]
    # The errors workbook shows what was used: the names filled in, not the marks.
    book = openpyxl.load_workbook(io.BytesIO(insp_a.get(f"/imports/{batch.id}/errors.xlsx").data))
    got = {row[len(header)]: row[:3] for row in book.active.iter_rows(min_row=2, values_only=True)}
    assert got[5] == ("城郊加油站", credit_code(901), "燃油加油机")
    assert got[2][0] in ("", None)

    resp = insp_a.post(f"/imports/{batch.id}/apply", data={"version": batch.version, "only_valid": "y"})
    assert resp.status_code == 302
    session.expire_all()
    merchant = session.scalars(select(Merchant).where(Merchant.credit_code == credit_code(901))).one()
    instruments = {i.serial_no: i for i in session.scalars(select(Instrument)
                                                           .where(Instrument.merchant_id == merchant.id))}
    assert sorted(instruments) == ["DT-01", "DT-02"]
    assert (instruments["DT-01"].nozzle_count, instruments["DT-02"].nozzle_count) == (2, 4)
    dates = {v.instrument_id: v.verified_on for v in session.scalars(select(Verification).where(
        Verification.instrument_id.in_([i.id for i in instruments.values()])))}
    assert dates == {instruments["DT-01"].id: dt.date(2024, 3, 5), instruments["DT-02"].id: dt.date(2024, 3, 25)}
