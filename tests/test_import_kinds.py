"""Kinds as people write them (issue 14 part 4): aliases in the database that admins extend, the
eyewear and medical ledger, a file's kind values mapped once in the preview (saved with the mapping
and reused), and kinds that do not fit the merchant's industry."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.catalog.models import InstrumentType, InstrumentTypeAlias
from app.catalog.services import seed_catalogue
from app.imports.models import ImportRow, SavedMapping
from app.instruments.models import Instrument
from app.merchants.models import Industry, Merchant
from importers.kinds import kind_key, seed_aliases
from tests import factories as f
from tests.conftest import login
from tests.importers.builders import sheet_bytes
from tests.test_import_views import batch_of, text, upload

HEADER = ["使用单位名称", "器具名称", "出厂编号", "检定日期"]


def xlsx(rows, header=HEADER) -> bytes:
    return sheet_bytes("台账", [header, *rows])


def kind_of(session, serial: str) -> str | None:
    session.expire_all()
    inst = session.scalars(select(Instrument).where(Instrument.serial_no == serial)).first()
    return inst.type.code if inst is not None else None


def warnings_of(session, batch_id: int) -> dict[int, list[str]]:
    session.expire_all()
    return {r.row_no: [w["message"] for w in r.warnings]
            for r in session.scalars(select(ImportRow).where(ImportRow.batch_id == batch_id).order_by(ImportRow.row_no))}


# --- seed data and the admin pages -------------------------------------------------------------

def test_the_seed_loads_every_alias_into_the_database(session):
    codes = set(session.scalars(select(InstrumentType.code)))
    expected = {kind_key(alias) for code, alias in seed_aliases() if code in codes}
    stored = dict(session.execute(select(InstrumentTypeAlias.alias_key, InstrumentType.code)
                                  .join(InstrumentType, InstrumentType.id == InstrumentTypeAlias.type_id)).all())
    assert set(stored) == expected and len(expected) > 90
    assert stored[kind_key("计价秤")] == "elec_price_scale" and stored[kind_key("顶焦度计")] == "lensmeter"
    # Seeding again adds nothing, and a kind whose aliases an admin edited keeps them as edited.
    taxi = f.kind(session, "taximeter")
    session.delete(session.scalars(select(InstrumentTypeAlias).where(InstrumentTypeAlias.alias == "计价器")).one())
    session.flush()
    assert seed_catalogue(session)["aliases"] == 0
    assert "计价器" not in {a.alias for a in session.scalars(select(InstrumentTypeAlias)
                                                             .where(InstrumentTypeAlias.type_id == taxi.id))}


def test_an_admin_adds_and_removes_an_alias_and_the_import_uses_it(client, session, world):
    taxi = f.kind(session, "taximeter")
    login(client, "insp_a")
    assert client.post(f"/catalog/types/{taxi.id}/aliases/add", data={"alias": "打表器"}).status_code == 403
    page = text(client.get(f"/catalog/types/{taxi.id}/aliases"))
    assert "计价器" in page and "添加别名" not in page  # staff read, only admins change
    client.post("/logout")

    login(client, "admin1")
    resp = client.post(f"/catalog/types/{taxi.id}/aliases/add", data={"alias": " 打表器 "})
    assert resp.status_code == 302
    alias = session.scalars(select(InstrumentTypeAlias).where(InstrumentTypeAlias.alias == "打表器")).one()
    assert alias.type_id == taxi.id and alias.alias_key == "打表器"
    alias_id = alias.id
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "instrument_type_aliases")).one()
    assert entry.action == "create" and "打表器" in entry.note
    # One spelling names one kind: 计价秤 is the scale's already.
    refused = client.post(f"/catalog/types/{taxi.id}/aliases/add", data={"alias": "计 价 秤"})
    assert refused.status_code == 200 and "已是“电子计价秤”的别名" in text(refused)
    assert "打表器" in text(client.get(f"/catalog/types/{taxi.id}/aliases"))

    batch = batch_of(session, upload(client, world.station_a.id, xlsx([["顺达出租汽车公司", "打表器", "TX-1", "2024-03-01"]])))
    assert batch.counts["errors"] == 0

    resp = client.post(f"/catalog/types/{taxi.id}/aliases/{alias_id}/delete", data={})
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(InstrumentTypeAlias, alias_id) is None
    assert session.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.entity_type == "instrument_type_aliases", AuditEntry.action == "delete")) == 1
    again = batch_of(session, upload(client, world.station_a.id, xlsx([["顺达出租汽车公司", "打表器", "TX-2", "2024-03-01"]]),
                                     "第二份.xlsx"))
    assert again.counts["errors"] == 1


# --- the eyewear and medical ledger ------------------------------------------------------------

EYEWEAR_KINDS = ["血压计(台式)", "血压计（立式）", "臂式电子血压计", "综合验光仪", "全自动电脑验光仪", "顶焦度计", "验光试片箱"]
EYEWEAR_CODES = ["bp_manual", "bp_manual", "bp_auto", "refractometer", "refractometer", "lensmeter", "trial_lens_set"]


def test_the_eyewear_and_medical_ledger_imports_without_errors(client, session, world):
    rows, expected = [], {}
    for i in range(25):
        merchant = ("明亮眼镜店", "城东社区卫生服务中心", "仁和诊所")[i % 3]
        kind, code = EYEWEAR_KINDS[i % 7], EYEWEAR_CODES[i % 7]
        if merchant == "明亮眼镜店" and code.startswith("bp_"):
            kind, code = "电脑焦度计", "lensmeter"
        rows.append([merchant, kind, f"YK-{i:03d}", dt.date(2024, 3, 1) + dt.timedelta(days=i)])
        expected[f"YK-{i:03d}"] = code
    login(client, "insp_a")
    batch = batch_of(session, upload(client, world.station_a.id, xlsx(rows), "眼镜医疗台账.xlsx"))
    assert batch.counts["rows"] == 25 and batch.counts["errors"] == 0
    assert batch.counts["instruments"]["create"] == 25
    assert client.post(f"/imports/{batch.id}/apply", data={"version": batch.version}).status_code == 302
    assert {serial: kind_of(session, serial) for serial in expected} == expected
    industries = {m.name: m.industry for m in session.scalars(select(Merchant).where(
        Merchant.name.in_(["明亮眼镜店", "城东社区卫生服务中心", "仁和诊所"])))}
    assert industries == {"明亮眼镜店": Industry.EYEWEAR_SHOP, "城东社区卫生服务中心": Industry.MEDICAL,
                          "仁和诊所": Industry.MEDICAL}


# --- a file's kind values, mapped once in the preview ------------------------------------------

def fruit_stall(prefix: str) -> bytes:
    return xlsx([["李记水果摊", "计价器", f"{prefix}-1", "2024-03-01"],
                 ["李记水果摊", "计价器", f"{prefix}-2", "2024-03-01"],
                 ["李记水果摊", "温度计", f"{prefix}-3", "2024-03-01"],
                 ["李记水果摊", "电子秤", f"{prefix}-4", "2024-03-01"]])


def test_kind_values_are_mapped_once_saved_with_the_mapping_and_reused(client, session, world):
    login(client, "insp_a")
    batch = batch_of(session, upload(client, world.station_a.id, fruit_stall("GS")))
    assert batch.counts["errors"] == 1  # 温度计
    # 计价器 is a taximeter's alias: at a fruit stall the row is kept and warned of, and listed to map.
    assert batch.kind_findings == [{"value": "计价器", "rows": 2, "unknown": False},
                                   {"value": "温度计", "rows": 1, "unknown": True}]
    assert any("通常不属于集贸市场经营户" in m for m in warnings_of(session, batch.id)[2])
    page = text(client.get(f"/imports/{batch.id}"))
    card = page[page.index('id="kind-values-card"'):]
    assert "计价器" in card and "未识别" in card and "非强检器具，跳过" in card and 'name="kind"' in card

    resp = client.post(f"/imports/{batch.id}/kinds", data={"version": batch.version, "value": ["计价器", "温度计"],
                                                           "kind": ["elec_price_scale", "__skip__"]})
    assert resp.status_code == 302
    session.expire_all()
    batch = session.get(type(batch), batch.id)
    assert batch.kind_values == {"计价器": "elec_price_scale", "温度计": ""}
    assert batch.counts["rows"] == 3 and batch.counts["errors"] == 0
    assert batch.skipped.get("not_mandatory") == 1
    page = text(client.get(f"/imports/{batch.id}"))
    assert "非强检器具（按指定跳过） 1" in page
    assert re.search(r'<option value="elec_price_scale" selected>电子计价秤', page)
    assert any("按本文件的指定记为电子计价秤" in m for m in warnings_of(session, batch.id)[2])
    note = session.scalars(select(AuditEntry.note).where(AuditEntry.entity_type == "import_batches",
                                                         AuditEntry.action == "update")).all()
    assert any("计价器→电子计价秤" in n and "温度计→非强检器具，跳过" in n for n in note)

    assert client.post(f"/imports/{batch.id}/mapping/save", data={"name": "水果摊台账"}).status_code == 302
    saved = session.scalars(select(SavedMapping)).one()
    assert saved.kind_values == {"计价器": "elec_price_scale", "温度计": ""}
    assert client.post(f"/imports/{batch.id}/apply", data={"version": batch.version}).status_code == 302
    assert (kind_of(session, "GS-1"), kind_of(session, "GS-3")) == ("elec_price_scale", None)

    # The next file with the same header: the choice is used at once.
    nxt = batch_of(session, upload(client, world.station_a.id, fruit_stall("GT"), "下个月.xlsx"))
    assert nxt.kind_values == {"计价器": "elec_price_scale", "温度计": ""}
    assert nxt.counts["rows"] == 3 and nxt.counts["errors"] == 0 and nxt.skipped.get("not_mandatory") == 1


def test_an_invalid_kind_choice_changes_nothing(client, session, world):
    login(client, "insp_a")
    batch = batch_of(session, upload(client, world.station_a.id, fruit_stall("GS")))
    resp = client.post(f"/imports/{batch.id}/kinds", data={"version": batch.version, "value": "温度计",
                                                           "kind": "no_such_kind"})
    assert resp.status_code == 200 and "器具种类的对应有误" in text(resp)
    session.expire_all()
    assert session.get(type(batch), batch.id).kind_values == {}


# --- industries ----------------------------------------------------------------------------------

def test_a_kind_that_does_not_fit_the_industry_and_a_guessed_industry_are_row_warnings(client, session, world):
    login(client, "insp_a")
    data = xlsx([["张记粮油店", "加油机", "FI-1", "2024-03-01"],  # 2: a grain shop's fuel dispenser
                 ["甲市场摊位1", "计价器", "FI-2", "2024-03-01"],  # 3: a market vendor's taximeter
                 ["顺达出租汽车公司", "计价器", "FI-3", "2024-03-01"],  # 4: fits, industry from the name
                 ["王五", "电子秤", "FI-4", "2024-03-01"]])  # 5: industry from the kind
    batch = batch_of(session, upload(client, world.station_a.id, data))
    assert batch.counts["errors"] == 0 and batch.counts["warnings"] == 4
    warned = warnings_of(session, batch.id)
    assert warned[2] == ["新使用单位“张记粮油店”的行业按名称推定为“集贸市场经营户”，导入后可在使用单位页面修改",
                         "器具种类“燃油加油机”通常不属于集贸市场经营户（使用单位“张记粮油店”），请核对器具种类；"
                         "如不对，可在预览中为本文件指定"]
    assert warned[3] == ["器具种类“出租汽车计价器”通常不属于集贸市场经营户（使用单位“甲市场摊位1”），请核对器具种类；"
                         "如不对，可在预览中为本文件指定"]
    assert warned[4] == ["新使用单位“顺达出租汽车公司”的行业按名称推定为“出租汽车公司”，导入后可在使用单位页面修改"]
    assert warned[5] == ["新使用单位“王五”的行业按器具种类推定为“集贸市场经营户”，导入后可在使用单位页面修改"]
    page = text(client.get(f"/imports/{batch.id}?show=warnings"))
    assert "通常不属于集贸市场经营户" in page

    assert client.post(f"/imports/{batch.id}/apply", data={"version": batch.version}).status_code == 302
    industries = {m.name: m.industry for m in session.scalars(select(Merchant))}
    assert industries["张记粮油店"] == Industry.MARKET_VENDOR and industries["王五"] == Industry.MARKET_VENDOR
    assert industries["顺达出租汽车公司"] == Industry.TAXI_COMPANY
