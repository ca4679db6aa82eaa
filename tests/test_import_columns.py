"""Nothing the import maps is dropped (issue 14, part 3): a household water-meter ledger through the pages (the
addresses stored, shown, edited, searched and exported), an e-CQS ledger through the pipeline (every column
stored, updated and undone), a 205-row ledger whose makers are headed 生产厂商, 器具数量 3 without serials,
and a ledger date that disagrees with the kind's rule."""
from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl
import pytest
from sqlalchemy import select

from app.imports.models import ImportBatch, ImportStatus
from app.instruments.models import Instrument
from tests import factories as f
from tests.conftest import login
from tests.importers.builders import ledger_xlsx, sheet_bytes
from tests.test_import_pipeline import Flow, counts
from tests.test_import_views import batch_of, text

D = dt.date


def workbook(header: list, rows: list[list], title: str | None = None) -> bytes:
    return sheet_bytes("水表台账", ([[title]] if title else []) + [header, *rows])


HOUSEHOLD_HEADER = ["户号", "用户地址", "表身号", "口径", "器具名称", "首次检定日期", "到期轮换日期", "抄表员"]
HOUSEHOLDS = [
    ["0100234", "幸福路1号101室", "WM-20230001", "DN15", "水表", "2023-05-06", "2029-05-06", "王五"],
    ["0100235", "幸福路1号102室", "WM-20230002", "DN20", "水表", "2023-05-06", "2029-05-05", "王五"],
    # The ledger says 2030: six years from 2023-05-06 is 2029-05-06. Kept, with a warning naming both.
    ["0100236", "和平街（东段）8号", "WM-20230003", "DN15", "水表", "2023-05-06", "2030-05-06", "王五"],
]


def test_a_household_meter_ledger_keeps_its_addresses_shown_searched_and_exported(client, session, world):
    company = f.merchant(session, world.station_a, "城东自来水公司", industry="utility", address="水厂路1号")
    session.commit()
    login(client, "insp_a")
    data = workbook(HOUSEHOLD_HEADER, HOUSEHOLDS, title="城东自来水公司户表台账")
    resp = client.post("/imports/new", data={"station_id": world.station_a.id, "merchant_id": company.id,
                                             "file": (io.BytesIO(data), "户表.xlsx")})
    batch = batch_of(session, resp)
    assert batch.counts["errors"] == 0 and batch.counts["warnings"] == 1
    assert batch.counts["instruments"]["create"] == 3
    page = text(client.get(f"/imports/{batch.id}"))
    # 用户地址 is mapped, 表身号 is the serial; the meter reader's column is plainly not imported.
    assert re.search(r'<option selected value="1">B列 用户地址', page)
    assert re.search(r'<option selected value="2">C列 表身号', page)
    unmapped = page[page.index('id="unmapped"'):]
    unmapped = unmapped[:unmapped.index("</div>")]
    assert "未导入" in unmapped and "H列 抄表员" in unmapped and "用户地址" not in unmapped
    warned = text(client.get(f"/imports/{batch.id}?show=warnings"))
    assert "到期轮换日期 2030-05-06" in warned and "2029-05-06" in warned and "WM-20230003" in warned

    resp = client.post(f"/imports/{batch.id}/apply", data={"version": batch.version})
    assert resp.status_code == 302, text(resp)[:1000]
    session.expire_all()
    assert session.get(ImportBatch, batch.id).status == ImportStatus.APPLIED
    meters = {i.serial_no: i for i in session.scalars(select(Instrument).where(Instrument.merchant_id == company.id))}
    assert {s: (m.install_address, m.location, m.type.code) for s, m in meters.items()} == {
        "WM-20230001": ("幸福路1号101室", "0100234", "water_meter_le25"),
        "WM-20230002": ("幸福路1号102室", "0100235", "water_meter_le25"),
        "WM-20230003": ("和平街（东段）8号", "0100236", "water_meter_le25")}
    # The stored replacement date follows the ledger, as before (the certificate's date is authoritative).
    assert meters["WM-20230003"].replace_by == D(2030, 5, 6)
    assert meters["WM-20230002"].replace_by == D(2029, 5, 5)
    session.refresh(company)
    assert company.address == "水厂路1号"  # the households' addresses stay off the company

    meter = meters["WM-20230001"]
    detail = text(client.get(f"/instruments/{meter.id}"))
    assert 'id="install-address">幸福路1号101室<' in detail
    form = text(client.get(f"/instruments/{meter.id}/edit"))
    assert 'name="install_address"' in form and 'value="幸福路1号101室"' in form

    # Found by the address, written with other brackets and spaces.
    found = text(client.get("/search", query_string={"q": "和平街(东段) 8号"}))
    assert "WM-20230003" in found and "WM-20230001" not in found
    found = text(client.get("/search", query_string={"q": "幸福路1号102"}))
    assert "WM-20230002" in found and "WM-20230001" not in found

    export = client.get("/instruments/export.xlsx", query_string={"merchant_id": company.id, "sort": "serial"})
    assert export.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(export.data)).active
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    col = rows[0].index("安装地址")
    assert [(r[3], r[col]) for r in rows[1:]] == [("WM-20230001", "幸福路1号101室"),
                                                  ("WM-20230002", "幸福路1号102室"),
                                                  ("WM-20230003", "和平街（东段）8号")]


def test_an_address_edited_on_the_instrument_is_searched_by_its_new_text(client, session, world):
    inst = f.instrument(session, world.merchant_a, serial="ADDR-1", install_address="解放路3号")
    session.commit()
    login(client, "insp_a")
    assert "ADDR-1" in text(client.get("/search", query_string={"q": "解放路3号"}))
    form = text(client.get(f"/instruments/{inst.id}/edit"))
    version = re.search(r'name="version"[^>]*value="(\d+)"', form) or re.search(r'value="(\d+)"[^>]*name="version"',
                                                                               form)
    resp = client.post(f"/instruments/{inst.id}/edit", data={
        "type_id": inst.type_id, "serial_no": "ADDR-1", "status": "in_use", "install_address": "建设路88号",
        "purpose": "贸易结算", "version": version.group(1)})
    assert resp.status_code == 302, text(resp)[:2000]
    assert "ADDR-1" in text(client.get("/search", query_string={"q": "建设路88"}))
    assert "ADDR-1" not in text(client.get("/search", query_string={"q": "解放路3号"}))
    detail = text(client.get(f"/instruments/{inst.id}"))
    assert 'id="purpose">贸易结算<' in detail


# --- through the pipeline (app.imports.services), each step in its own session ---------------------------

@pytest.fixture()
def flow(app, world, tmp_path) -> Flow:
    return Flow(app, world, tmp_path / "uploads")


ECQS_HEADER = ["序号", "使用单位名称", "器具名称", "器具项别", "器具种别", "型号规格", "测量范围", "准确度等级",
               "出厂编号", "生产厂家", "器具产地", "安装/使用地点", "使用地点行政区划", "器具数量", "器具用途", "送检方式",
               "检定日期", "有效期至"]


def ecqs(name, kind_name, item, kind, serial, *, qty=1, purpose="贸易结算", verified="2025-03-01",
         valid="2026-02-28", region="320703", submission="现场检定") -> dict:
    return {"使用单位名称": name, "器具名称": kind_name, "器具项别": item, "器具种别": kind, "型号规格": "ACS-15",
            "测量范围": "(0.1~15)kg", "准确度等级": "Ⅲ", "出厂编号": serial, "生产厂家": "上海友声衡器有限公司",
            "器具产地": "上海", "安装/使用地点": "12号摊位", "使用地点行政区划": region, "器具数量": qty,
            "器具用途": purpose, "送检方式": submission, "检定日期": verified, "有效期至": valid}


def test_an_ecqs_ledger_stores_every_column_it_maps(flow, tmp_path):
    rows = [
        ecqs("城东农贸市场李记水产", "电子秤", "非自动衡器", "数字指示秤", "EQ-001"),
        # 器具名称 says 计价器 (a taxi meter); the finer 器具种别 says 数字指示秤 and decides.
        ecqs("城东农贸市场李记水产", "计价器", "非自动衡器", "数字指示秤", "EQ-002"),
        # Three scales in one line and no serial: an error, never one record.
        ecqs("城东农贸市场王记蔬菜", "电子秤", "非自动衡器", "数字指示秤", "", qty=3),
        # A valid-until a year too late for a 12-month cycle: a warning naming both dates.
        ecqs("城东农贸市场张记干货", "电子秤", "非自动衡器", "数字指示秤", "EQ-004", valid="2027-02-28"),
    ]
    path = ledger_xlsx(tmp_path / "e.xlsx", rows, header=ECQS_HEADER, title="计量器具使用信息（e-CQS导出）")
    batch_id = flow.upload(path.read_bytes(), "e.xlsx")
    # Two warned rows: the date below, and each new merchant's first row names the industry it was given.
    assert flow.preview(batch_id) == counts(4, errors=1, warnings=2, m=(2, 0, 0), i=(3, 0, 0), v=(3, 0, 0))
    by_row = {r.row_no: r for r in flow.rows(batch_id)}
    assert {"column": "器具数量", "message": "器具数量为3，本行没有出厂编号：台账每行登记一台器具，请按台分行填写，"
                                       "每行写明该台的出厂编号（共3行）"} in by_row[5].errors
    assert by_row[6].warnings[:1] == [{"column": "有效期至", "message": "有效期至 2027-02-28 与系统按检定日期 2025-03-01"
                                   "和检定周期12个月推算的日期 2026-03-01 不一致；已按台账上的 2027-02-28 记录，请核对"}]
    # The day before the computed date agrees.
    assert all(w["column"] != "有效期至" for w in by_row[3].warnings + by_row[4].warnings)

    flow.confirm(batch_id, only_valid=True)
    flow.apply(batch_id)
    one, two = flow.instrument("EQ-001"), flow.instrument("EQ-002")
    assert (one.type.code, two.type.code) == ("elec_price_scale", "elec_price_scale")
    assert (one.model, one.measuring_range, one.accuracy_class, one.maker, one.location) == (
        "ACS-15", "(0.1~15)kg", "Ⅲ", "上海友声衡器有限公司", "12号摊位")
    assert (one.origin, one.region, one.purpose, one.submission, one.install_address) == (
        "上海", "320703", "贸易结算", "现场检定", "")
    assert flow.instrument("EQ-004").next_due_on == D(2027, 2, 28)  # stored as the ledger says

    # The same file again changes nothing; an edited 器具用途 updates, and undo puts it back.
    assert flow.preview(flow.upload(path.read_bytes(), "e.xlsx"))["instruments"] == {
        "create": 0, "update": 0, "unchanged": 3}
    rows[0] = ecqs("城东农贸市场李记水产", "电子秤", "非自动衡器", "数字指示秤", "EQ-001", purpose="医疗卫生")
    edited = ledger_xlsx(tmp_path / "e2.xlsx", rows, header=ECQS_HEADER, title=None)
    again = flow.upload(edited.read_bytes(), "e2.xlsx")
    assert flow.preview(again)["instruments"] == {"create": 0, "update": 1, "unchanged": 2}
    flow.confirm(again, only_valid=True)
    flow.apply(again)
    assert flow.instrument("EQ-001").purpose == "医疗卫生"
    flow.undo(again)
    assert flow.instrument("EQ-001").purpose == "贸易结算"


def test_ecqs_values_outside_the_choices_are_mapped_or_kept_with_a_warning(flow, tmp_path):
    rows = [ecqs("城东农贸市场赵记", "电子秤", "非自动衡器", "数字指示秤", "EV-1", purpose="贸易结算用",
                 submission="上门检定"),
            ecqs("城东农贸市场赵记", "电子秤", "非自动衡器", "数字指示秤", "EV-2", purpose="计量比对",
                 submission="邮寄", region="城东区"),
            ecqs("城东农贸市场赵记", "电子秤", "非自动衡器", "数字指示秤", "EV-3", purpose="医疗")]
    path = ledger_xlsx(tmp_path / "v.xlsx", rows, header=ECQS_HEADER, title=None)
    batch_id = flow.upload(path.read_bytes(), "v.xlsx")
    assert flow.preview(batch_id)["errors"] == 0
    warned = {r.row_no: [w["message"] for w in r.warnings] for r in flow.rows(batch_id)}
    assert "器具用途“贸易结算用”按“贸易结算”导入" in warned[2] and "送检方式“上门检定”按“现场检定”导入" in warned[2]
    assert "器具用途“计量比对”不是贸易结算、安全防护、医疗卫生、环境监测之一；已按原文导入，请核对" in warned[3]
    assert "送检方式“邮寄”不是送检、现场检定之一；已按原文导入，请核对" in warned[3]
    assert "使用地点行政区划“城东区”不是6位数字的行政区划代码；已按原文导入，请核对" in warned[3]
    assert "器具用途“医疗”按“医疗卫生”导入" in warned[4]
    flow.confirm(batch_id, only_valid=True)
    flow.apply(batch_id)
    kept = flow.instrument("EV-2")
    assert (flow.instrument("EV-1").purpose, flow.instrument("EV-1").submission) == ("贸易结算", "现场检定")
    assert (kept.purpose, kept.submission, kept.region) == ("计量比对", "邮寄", "城东区")  # as typed, never dropped
    assert flow.instrument("EV-3").purpose == "医疗卫生"


def test_a_205_row_ledger_headed_shengchan_changshang_keeps_every_maker(flow, tmp_path):
    header = ["序号", "加油站名称", "器具名称", "出厂编号", "生产厂商", "检定日期"]
    makers = ["正星科技股份有限公司", "托肯恒山科技（广州）有限公司", "北京长吉加油设备有限公司"]
    rows = [{"加油站名称": f"城东第{n // 8 + 1}加油站", "器具名称": "燃油加油机", "出厂编号": f"JY-{n:04d}",
             "生产厂商": makers[n % 3], "检定日期": "2025-03-01"} for n in range(205)]
    path = ledger_xlsx(tmp_path / "m.xlsx", rows, header=header)
    batch_id = flow.upload(path.read_bytes(), "m.xlsx")
    result = flow.preview(batch_id)
    assert result["errors"] == 0 and result["instruments"]["create"] == 205 and result["merchants"]["create"] == 26
    batch = flow.batch(batch_id)
    assert batch.mapping["maker"] == header.index("生产厂商")
    assert batch.mapping["merchant_name"] == header.index("加油站名称")
    flow.confirm(batch_id)
    flow.apply(batch_id)
    with flow.step() as s:
        stored = dict(s.execute(select(Instrument.serial_no, Instrument.maker)
                                .where(Instrument.serial_no.like("JY-%"))).all())
    assert len(stored) == 205
    assert stored == {f"JY-{n:04d}": makers[n % 3] for n in range(205)}


def test_a_households_plain_address_column_becomes_the_install_address(flow, session, tmp_path):
    company = f.merchant(session, flow.world.station_a, "城东燃气公司", industry="utility", address="燃气路1号")
    session.commit()
    header = ["户号", "地址", "联系电话", "表号", "器具名称", "首次检定日期"]
    rows = [{"户号": "8800123", "地址": "和平路3号", "联系电话": "13800000001", "表号": "G-9001",
             "器具名称": "膜式燃气表", "首次检定日期": "2020-03-15"}]
    path = ledger_xlsx(tmp_path / "g.xlsx", rows, header=header, title=None)
    batch_id = flow.upload(path.read_bytes(), "g.xlsx", merchant_id=company.id)
    assert flow.preview(batch_id)["warnings"] == 1
    [row] = flow.rows(batch_id)
    assert row.warnings == [{"column": "联系电话", "message": "联系电话“13800000001”是住户的，器具登记在"
                                                         "“城东燃气公司”名下，此项未导入"}]
    flow.confirm(batch_id)
    flow.apply(batch_id)
    meter = flow.instrument("G-9001")
    assert (meter.install_address, meter.location) == ("和平路3号", "8800123")
    assert flow.merchant("城东燃气公司").address == "燃气路1号"
