"""Never a dead end (issue 14, part 1): a spreadsheet whose table the import does not recognise, or that
lacks a required column, opens the mapping page instead of being refused. The user chooses the sheet,
the header row(s), each column's field and values for the whole file (kind, merchant, station); the
choices are kept on the batch, shown in the preview and used by the apply. A file that is not a
spreadsheet is still refused.

Headers here are ones the import's synonyms do not know (甲列 ...), or the household ledger's own, and
every column is mapped by hand, so the tests keep testing the manual path whatever synonyms are added.
"""
from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl
import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.catalog.models import InstrumentType
from app.imports.models import ImportBatch, ImportRow, ImportStatus
from app.instruments.models import Instrument
from tests import factories as f
from tests.conftest import login

HOUSEHOLD_HEADER = ["户号", "用户地址", "表身号", "口径", "首次检定日期", "到期轮换日期", "供水单位"]
HOUSEHOLDS = [
    ["0100231", "和平路3号1单元101", "SB-240001", "DN15", dt.date(2024, 3, 15), dt.date(2030, 3, 14), "城东水务公司"],
    ["0100232", "和平路3号1单元102", "SB-240002", "DN15", dt.date(2024, 3, 15), dt.date(2030, 3, 14), "城东水务公司"],
    ["0100233", "和平路5号", "SB-240003", "DN20", dt.date(2024, 4, 2), dt.date(2030, 4, 1), "城东水务公司"],
]


def workbook(rows: list[list], title: str = "Sheet1", extra: dict | None = None) -> bytes:
    """An .xlsx with `rows` on its first sheet (and `extra` sheets after it)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    for name, sheet_rows in (extra or {}).items():
        other = wb.create_sheet(name)
        for row in sheet_rows:
            other.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def household_ledger() -> bytes:
    """A water company's household meter ledger: a title, the header on Excel row 2, no kind column."""
    return workbook([["城东水务公司户表台账（2024年）"], HOUSEHOLD_HEADER, *HOUSEHOLDS], title="户表")


def text(resp) -> str:
    return resp.get_data(as_text=True)


def upload(client, station_id: int, data: bytes, name: str, merchant_id: int | None = None):
    form = {"station_id": str(station_id), "file": (io.BytesIO(data), name)}
    if merchant_id is not None:
        form["merchant_id"] = str(merchant_id)
    return client.post("/imports/new", data=form)


def batch_of(session, resp) -> ImportBatch:
    assert resp.status_code == 302, text(resp)[:2000]
    batch_id = int(re.search(r"/imports/(\d+)$", resp.headers["Location"]).group(1))
    session.expire_all()
    return session.get(ImportBatch, batch_id)


def fresh(session, batch: ImportBatch) -> ImportBatch:
    session.expire_all()
    return session.get(ImportBatch, batch.id)


def choices(batch: ImportBatch, *, station_id: int, fields: dict[str, int] | None = None, **values) -> dict:
    """The mapping page's form: whole-file values, and the columns' fields (field -> column index)."""
    data = {"version": str(batch.version), "sheet": batch.sheet_name, "station_id": str(station_id),
            "with_fields": "1" if fields is not None else ""}
    data.update({k: "" if v is None else str(v) for k, v in values.items()})
    for name, col in (fields or {}).items():
        data[f"f_{name}"] = str(col)
    return data


@pytest.fixture()
def insp_a(client, world):
    login(client, "insp_a")
    return client


def kind_id(session, code: str) -> int:
    return session.scalars(select(InstrumentType.id).where(InstrumentType.code == code)).one()


def test_a_household_water_meter_ledger_is_mapped_by_hand_and_imported_under_the_water_company(
        insp_a, session, world):
    company = f.merchant(session, world.station_a, "城东水务公司", industry="utility")
    session.commit()
    batch = batch_of(session, upload(insp_a, world.station_a.id, household_ledger(), "户表台账.xlsx", company.id))
    # No kind column (and, with today's synonyms, no recognisable header): the batch waits for a mapping.
    assert batch.status == ImportStatus.NEEDS_MAPPING
    assert batch.merchant_id == company.id
    page = text(insp_a.get(f"/imports/{batch.id}"))
    assert "待指定列对应" in page and 'id="choices-form"' in page and 'id="apply-form"' not in page
    # The sheet's first rows as Excel shows them: row numbers, column letters, the cells as typed.
    grid = page.split('id="sheet-grid"')[1].split("</table>")[0]
    assert re.search(r"<th[^>]*>G</th>", grid) and re.search(r"<th[^>]*>5</th>", grid)
    assert "城东水务公司户表台账（2024年）" in grid and "表身号" in grid and "SB-240003" in grid
    assert "2024-03-15" in grid
    assert ImportRow.__table__ is not None and session.scalars(
        select(ImportRow).where(ImportRow.batch_id == batch.id)).first() is None

    # Header on row 2; each column's field; the kind for the whole file; the water company kept.
    fields = {"location": 0, "install_address": 1, "serial_no": 2, "size": 3, "verified_on": 4, "valid_until": 5}
    resp = insp_a.post(f"/imports/{batch.id}/choices",
                       data=choices(batch, station_id=world.station_a.id, fields=fields, header_row=2,
                                    kind_code="water_meter_le25", merchant_id=company.id))
    assert resp.status_code == 302, text(resp)[:3000]
    batch = fresh(session, batch)
    assert batch.status == ImportStatus.PREVIEW, batch.message
    assert batch.header_rows == [2] and batch.kind_code == "water_meter_le25"
    assert batch.mapping["serial_no"] == 2 and batch.mapping["install_address"] == 1
    assert batch.counts["rows"] == 3 and batch.counts["errors"] == 0, batch.counts
    assert batch.counts["instruments"]["create"] == 3 and batch.counts["merchants"]["create"] == 0
    page = text(insp_a.get(f"/imports/{batch.id}"))
    assert re.search(r'id="batch-kind">水表（DN≤25）', page) and "第2行" in page and "城东水务公司" in page
    assert 'id="apply-form"' in page and 'id="choices-form"' in page  # the choices stay changeable
    # The preview's own mapping form needs no merchant column either: the company names every row's owner.
    resp = insp_a.post(f"/imports/{batch.id}/mapping",
                       data={"version": batch.version, **{f"f_{k}": str(v) for k, v in batch.mapping.items()}})
    assert resp.status_code == 302, text(resp)[:3000]
    batch = fresh(session, batch)
    assert batch.status == ImportStatus.PREVIEW and batch.counts["instruments"]["create"] == 3

    resp = insp_a.post(f"/imports/{batch.id}/apply", data={"version": batch.version})
    assert resp.status_code == 302, text(resp)[:3000]
    assert fresh(session, batch).status == ImportStatus.APPLIED
    meters = session.execute(select(Instrument.serial_no, Instrument.merchant_id, Instrument.type_id,
                                    Instrument.station_id, Instrument.location)
                             .where(Instrument.serial_no.like("SB-24%")).order_by(Instrument.serial_no)).all()
    water = kind_id(session, "water_meter_le25")
    assert [tuple(m) for m in meters] == [
        ("SB-240001", company.id, water, world.station_a.id, "0100231"),
        ("SB-240002", company.id, water, world.station_a.id, "0100232"),
        ("SB-240003", company.id, water, world.station_a.id, "0100233")]
    [(note, changes)] = session.execute(select(AuditEntry.note, AuditEntry.changes).where(
        AuditEntry.entity_type == "import_batches", AuditEntry.entity_id == batch.id,
        AuditEntry.action == "update")).all()
    assert note == "修改导入设置"
    assert {(c["label"], c["old"], c["new"]) for c in changes} == {("表头行", "自动识别", "第2行"),
                                                                   ("器具种类", "", "水表（DN≤25）")}


def test_a_title_and_unknown_headers_are_mapped_by_hand(insp_a, session, world):
    rows = [["二〇二五年商户计量器具登记"], ["甲列", "乙列", "丙列", "丁列"],
            ["城东粮油店", "M-7001", "2025-01-06", "柜台"], ["城东菜店", "M-7002", "2025-01-07", ""]]
    batch = batch_of(session, upload(insp_a, world.station_a.id, workbook(rows, "登记表"), "登记表.xlsx"))
    assert batch.status == ImportStatus.NEEDS_MAPPING
    assert "文件中没有可识别的台账表格（已查看工作表：“登记表”）" in batch.message
    assert "可指定表头所在的行和各列对应的字段" in batch.message
    page = text(insp_a.get(f"/imports/{batch.id}"))
    assert "需要指定列对应" in page
    # The likeliest header row is offered, and its texts name the columns in the selects.
    assert re.search(r'name="header_row"[^>]*value="2"', page)
    assert re.search(r'<option value="1">B列 乙列</option>', page)

    # A field chosen twice is refused with a Chinese message; nothing changes.
    resp = insp_a.post(f"/imports/{batch.id}/choices",
                       data=choices(batch, station_id=world.station_a.id, header_row=2,
                                    fields={"merchant_name": 0, "serial_no": 0}))
    assert resp.status_code == 200 and "选了同一列" in text(resp)
    assert fresh(session, batch).header_rows == []

    resp = insp_a.post(f"/imports/{batch.id}/choices",
                       data=choices(batch, station_id=world.station_a.id, header_row=2, kind_code="elec_price_scale",
                                    fields={"merchant_name": 0, "serial_no": 1, "verified_on": 2, "location": 3}))
    assert resp.status_code == 302
    batch = fresh(session, batch)
    assert batch.status == ImportStatus.PREVIEW, batch.message
    assert batch.counts["rows"] == 2 and batch.counts["errors"] == 0
    assert batch.counts["merchants"]["create"] == 2 and batch.counts["verifications"]["create"] == 2
    assert batch.skipped == {"title": 1, "header": 1}


def test_a_missing_required_column_is_named_and_can_be_mapped(insp_a, session, world):
    rows = [["使用单位名称", "器具名称", "甲列", "检定日期"], ["城东超市", "电子计价秤", "Q-1", "2025-02-03"]]
    batch = batch_of(session, upload(insp_a, world.station_a.id, workbook(rows, "台账"), "台账.xlsx"))
    assert batch.status == ImportStatus.NEEDS_MAPPING
    assert batch.message.startswith("工作表“台账”缺少必需的列：出厂编号；可指定各列对应的字段。表头中的列：")
    page = text(insp_a.get(f"/imports/{batch.id}"))
    assert "缺少必需的列：出厂编号" in page
    # The header found is kept: its columns are mapped already in the selects.
    assert re.search(r'name="f_kind"[^>]*>.*?<option selected value="1">B列 器具名称', page, re.S)
    resp = insp_a.post(f"/imports/{batch.id}/choices",
                       data=choices(batch, station_id=world.station_a.id,
                                    fields={**batch.mapping, "serial_no": 2}))
    assert resp.status_code == 302
    batch = fresh(session, batch)
    assert batch.status == ImportStatus.PREVIEW and batch.counts["errors"] == 0 and batch.header_rows == []


def test_a_missing_kind_column_asks_for_the_kind_of_the_whole_file(insp_a, session, world):
    rows = [["使用单位名称", "出厂编号", "检定日期"], ["城东超市", "K-1", "2025-02-03"]]
    batch = batch_of(session, upload(insp_a, world.station_a.id, workbook(rows), "秤.xlsx"))
    assert batch.status == ImportStatus.NEEDS_MAPPING
    assert "缺少必需的列：器具种类；可指定各列对应的字段，或为整个文件指定器具种类" in batch.message
    # Only the kind: the columns found stay as they are.
    resp = insp_a.post(f"/imports/{batch.id}/choices",
                       data=choices(batch, station_id=world.station_a.id, kind_code="elec_price_scale"))
    assert resp.status_code == 302
    batch = fresh(session, batch)
    assert batch.status == ImportStatus.PREVIEW and batch.counts["instruments"]["create"] == 1


def test_the_kind_for_the_whole_file_works_from_the_preview_page(insp_a, session, world):
    rows = [["使用单位名称", "器具名称", "出厂编号"], ["城东超市", "电子计价秤", "P-1"], ["城东超市", "", "P-2"]]
    batch = batch_of(session, upload(insp_a, world.station_a.id, workbook(rows), "秤.xlsx"))
    assert batch.status == ImportStatus.PREVIEW and batch.counts["errors"] == 1
    page = text(insp_a.get(f"/imports/{batch.id}"))
    assert 'id="choices-form"' in page and "整个文件的设置" in page and 'id="sheet-grid"' not in page
    resp = insp_a.post(f"/imports/{batch.id}/choices",
                       data=choices(batch, station_id=world.station_a.id, kind_code="elec_price_scale"))
    assert resp.status_code == 302
    batch = fresh(session, batch)
    assert batch.status == ImportStatus.PREVIEW and batch.counts["errors"] == 0 and batch.kind_code == "elec_price_scale"


def test_a_merchant_of_another_station_or_a_stale_page_is_refused(insp_a, session, world):
    other = f.merchant(session, world.station_b, "城西水务公司", industry="utility")
    session.commit()
    batch = batch_of(session, upload(insp_a, world.station_a.id, household_ledger(), "户表台账.xlsx"))
    resp = insp_a.post(f"/imports/{batch.id}/choices",
                       data=choices(batch, station_id=world.station_a.id, header_row=2, merchant_id=other.id))
    assert resp.status_code == 200 and "不是有效的选择" in text(resp)  # not offered: outside the inspector's stations
    resp = insp_a.post(f"/imports/{batch.id}/choices",
                       data=choices(batch, station_id=world.station_b.id, header_row=2))
    assert resp.status_code == 200 and "不是有效的选择" in text(resp)
    stale = choices(batch, station_id=world.station_a.id, header_row=2)
    stale["version"] = str(batch.version - 1)
    resp = insp_a.post(f"/imports/{batch.id}/choices", data=stale)
    assert resp.status_code == 200 and "该批次已有变化" in text(resp)
    batch = fresh(session, batch)
    assert batch.merchant_id is None and batch.header_rows == [] and batch.status == ImportStatus.NEEDS_MAPPING


def test_a_file_that_is_not_a_spreadsheet_is_still_refused(insp_a, session, world):
    batch = batch_of(session, upload(insp_a, world.station_a.id, "只是一段文字".encode() * 40, "台账.xlsx"))
    assert batch.status == ImportStatus.REJECTED
    page = text(insp_a.get(f"/imports/{batch.id}"))
    assert "文件无法导入" in page and 'id="choices-form"' not in page
    resp = insp_a.post(f"/imports/{batch.id}/choices", data=choices(batch, station_id=world.station_a.id))
    assert resp.status_code == 200 and "不能重新预览" in text(resp)
    assert fresh(session, batch).status == ImportStatus.REJECTED


def test_another_sheet_and_a_two_row_header_can_be_chosen(insp_a, session, world):
    notes = [["填表说明"], ["每台器具一行"]]
    ledger = [["计量器具台账"], ["单位", "", "器具", ""], ["名称", "代码", "编号", "检定"],
              ["城北菜场", "", "T-1", "2025-03-04"]]
    batch = batch_of(session, upload(insp_a, world.station_a.id, workbook(notes, "说明", {"台账": ledger}),
                                     "两表.xlsx"))
    assert batch.status == ImportStatus.NEEDS_MAPPING and batch.sheet_names == ["说明", "台账"]
    resp = insp_a.post(f"/imports/{batch.id}/choices",
                       data={**choices(batch, station_id=world.station_a.id, header_row=3, group_row=2,
                                       kind_code="elec_price_scale",
                                       fields={"merchant_name": 0, "serial_no": 2, "verified_on": 3}),
                             "sheet": "台账"})
    assert resp.status_code == 302
    batch = fresh(session, batch)
    assert batch.status == ImportStatus.PREVIEW, batch.message
    assert (batch.sheet_name, batch.header_rows) == ("台账", [2, 3])
    assert batch.counts["rows"] == 1 and batch.counts["errors"] == 0
    # A group row under the header row is refused by the form.
    resp = insp_a.post(f"/imports/{batch.id}/choices",
                       data=choices(batch, station_id=world.station_a.id, header_row=2, group_row=3))
    assert resp.status_code == 200 and "分组行应在表头所在行之上" in text(resp)
