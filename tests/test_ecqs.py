"""e-CQS fields of an instrument: 用途 and 送检方式 from e-CQS's choices, 使用地点行政区划 a 6-digit code inside the
station's division; legacy texts kept as typed; the catalogue's 项别 and 种别; the monthly report by 用途; the
ledger exported in the e-CQS template imports back."""
from __future__ import annotations

import pytest

from app.errors import Invalid
from app.instruments import services
from app.instruments.ecqs import division_prefix, purpose_of, region_problem, submission_of
from tests import factories
from tests.conftest import login


@pytest.mark.parametrize("division,region,ok", [
    ("320703", "320703", True), ("320703", "320704", False),
    ("320703001", "320703", True), ("320703001", "320705", False),  # a township lies in its county
    ("320703001001", "320703", True),
    ("320700", "320703", True), ("320700", "320803", False),  # a prefecture holds its counties
    ("320000", "321102", True), ("", "110101", True),  # a station without a division: the format only
    ("320703", "32070", False), ("320703", "３２０７０３", False)])
def test_region_lies_within_the_station_division(division, region, ok):
    assert (region_problem(region, division) is None) == ok
    assert division_prefix("320700") == "3207" and division_prefix("320703001") == "320703"


def test_clear_spellings_map_and_others_do_not():
    assert purpose_of("贸易结算用") == purpose_of("贸易结算") == "贸易结算" and purpose_of("医疗") == "医疗卫生"
    assert purpose_of("计量比对") is None and submission_of("上门检定") == "现场检定" and submission_of("邮寄") is None


def test_forms_and_services_accept_only_the_choices_but_keep_legacy_text(client, session, world):
    world.station_a.division_code = "320703001"
    session.flush()
    values = {"type_id": world.instrument_a.type_id, "merchant_id": world.merchant_a.id, "serial_no": "EC-1"}
    for field, bad, message in (("purpose", "贸易结算用", "器具用途应为贸易结算、安全防护、医疗卫生、环境监测之一"),
                                ("submission", "邮寄", "送检方式应为送检、现场检定之一"),
                                ("region", "3207", "应为6位数字"), ("region", "320705", "不在本监管所的行政区划")):
        with pytest.raises(Invalid, match=message):
            services.create_instrument(session, None, factories.ALL, {**values, field: bad})
    inst = services.create_instrument(session, None, factories.ALL, {
        **values, "purpose": "医疗卫生", "submission": "送检", "region": "320703"})
    assert (inst.purpose, inst.submission, inst.region) == ("医疗卫生", "送检", "320703")
    # A legacy text stays as typed when the form is saved unchanged; the edit form offers it as its own choice.
    legacy = factories.instrument(session, world.merchant_a, serial="EC-OLD")
    legacy.purpose, legacy.region = "贸易结算用", "城东区"  # as migration 0022's rows and past imports hold them
    session.commit()
    login(client, "insp_a")
    page = client.get(f"/instruments/{legacy.id}/edit").get_data(as_text=True)
    assert "贸易结算用（原值，不是可选值之一）" in page and "<select" in page
    resp = client.post(f"/instruments/{legacy.id}/edit", data={
        "type_id": legacy.type_id, "serial_no": "EC-OLD", "status": "in_use", "purpose": "贸易结算用",
        "region": "城东区", "notes": "改了备注", "version": legacy.version})
    assert resp.status_code == 302
    session.refresh(legacy)
    assert (legacy.purpose, legacy.region, legacy.notes) == ("贸易结算用", "城东区", "改了备注")
    resp = client.post(f"/instruments/{legacy.id}/edit", data={
        "type_id": legacy.type_id, "serial_no": "EC-OLD", "status": "in_use", "purpose": "随便写",
        "region": "城东区", "version": legacy.version})
    assert resp.status_code == 200 and "器具用途应为" in resp.get_data(as_text=True)


def test_the_catalogue_shows_every_kind_with_its_category_and_subcategory(client, session, world):
    from sqlalchemy import select

    from app.catalog.models import InstrumentType

    kinds = session.scalars(select(InstrumentType)).all()
    assert kinds and all(k.category and k.subcategory for k in kinds)  # every seeded kind has both
    login(client, "admin1")
    page = client.get("/catalog/types").get_data(as_text=True)
    assert "<th>项别</th><th>种别</th>" in page and "<td>非自动衡器</td><td>数字指示秤</td>" in page
    scale = factories.kind(session, "elec_price_scale")
    resp = client.post(f"/catalog/types/{scale.id}/edit", data={
        "rule": "periodic", "cycle_months": "12", "lead_days": "30", "category": " 衡器 ", "subcategory": "非自动秤",
        "regulation": scale.regulation, "regulation_title": scale.regulation_title, "note": scale.note,
        "is_active": "y", "version": scale.version})
    assert resp.status_code == 302
    session.refresh(scale)
    assert (scale.category, scale.subcategory) == ("衡器", "非自动秤")


def test_the_ecqs_template_headers_are_those_the_import_recognises():
    from importers.fields import candidates, header_key
    from reports.ecqs import ECQS_COLUMNS, ECQS_FIELDS

    for column, field in zip(ECQS_COLUMNS, ECQS_FIELDS, strict=True):
        found = candidates(header_key(column.header))
        assert found, column.header
        # The field the column feeds is its best claim (a lower rank wins), or it is one of the kind's other words.
        assert (field or "kind") in {name for _, name in found}, column.header


ROUND_TRIP_FIELDS = ("model", "maker", "measuring_range", "accuracy_class", "location", "install_address", "region",
                     "purpose", "origin", "submission", "nozzle_count", "status", "last_verified_on", "last_result",
                     "next_due_on", "replace_by")


def _facts(session, inst) -> dict:
    from sqlalchemy import select

    from app.instruments.models import Verification

    latest = session.scalars(select(Verification).where(Verification.instrument_id == inst.id,
                                                        Verification.in_force())
                             .order_by(Verification.verified_on.desc(), Verification.id.desc())).first()
    facts = {name: getattr(inst, name) for name in ROUND_TRIP_FIELDS}
    facts["kind"] = inst.type.code
    if latest is not None:
        facts.update(verified_on=latest.verified_on, result=latest.result, valid_until=latest.valid_until,
                     certificate_no=latest.certificate_no, institution=latest.institution)
    return facts


def test_a_merchant_ledger_exported_as_ecqs_imports_back_the_same(app, client, session, world, tmp_path):
    """Export a merchant's ledger in the e-CQS layout, import it into a station that holds none of it: the same
    instruments with the same fields and latest verification (kinds whose 种别 several kinds share included)."""
    import datetime as dt

    from sqlalchemy import select

    from app.instruments.models import Instrument
    from app.instruments.services import record_verification
    from reports.ecqs import SHEET
    from tests.test_import_pipeline import Flow

    m = factories.merchant(session, world.station_a, "城东综合市场管理处", industry="other")
    scale = factories.instrument(session, m, serial="RT-S1", model="ACS-15", maker="上海友声", measuring_range="15kg",
                                 accuracy_class="Ⅲ", location="12号摊位", purpose="贸易结算", submission="现场检定",
                                 region="330102", origin="上海")
    record_verification(session, None, scale, {"verified_on": dt.date(2025, 3, 1), "result": "pass",
                                               "valid_until": dt.date(2026, 2, 28), "certificate_no": "JD-1",
                                               "institution": "县计量检定所"})
    pump = factories.instrument(session, m, "fuel_dispenser", serial="RT-F1", nozzle_count=4, submission="送检")
    factories.verify(session, pump, dt.date(2025, 6, 1), result="fail")
    water = factories.instrument(session, m, "water_meter_le25", serial="RT-W1", model="DN20",
                                 install_address="幸福小区3栋", purpose="贸易结算")
    factories.verify(session, water, dt.date(2024, 5, 1))
    gas = factories.instrument(session, m, "gas_meter_other", serial="RT-G1")
    factories.instrument(session, m, "bp_auto", serial="RT-B1", purpose="医疗卫生")  # never verified
    session.commit()
    login(client, "insp_a")
    resp = client.get(f"/instruments/ecqs.xlsx?merchant_id={m.id}")
    assert resp.status_code == 200 and resp.headers["Content-Disposition"].startswith("attachment")
    data = resp.data
    assert gas.type.subcategory == "膜式燃气表"  # shared with gas_meter_ng: the file names the kind itself
    sources = session.scalars(select(Instrument).where(Instrument.merchant_id == m.id)).all()
    before = {i.serial_no: _facts(session, i) for i in sources}
    assert len(before) == 5
    # The station B county holds none of them: the originals take other serials.
    for inst in sources:
        inst.serial_no = f"OLD-{inst.serial_no}"
    session.commit()

    flow = Flow(app, world, tmp_path / "uploads")
    batch_id = flow.upload(data, f"{SHEET}.xlsx", station=world.station_b)
    preview = flow.preview(batch_id)
    assert preview["errors"] == 0 and preview["instruments"]["create"] == 5, preview
    flow.confirm(batch_id)
    flow.apply(batch_id)
    session.expire_all()
    after = {}
    for serial in before:
        inst = session.scalars(select(Instrument).where(Instrument.serial_no == serial)).one()
        assert inst.station_id == world.station_b.id and inst.merchant.name == "城东综合市场管理处"
        after[serial] = _facts(session, inst)
    assert after == before
    # Other stations' merchants are not exported to this inspector.
    assert client.get(f"/instruments/ecqs.xlsx?merchant_id={world.merchant_b.id}").status_code == 404


def test_the_public_page_says_when_the_ledger_last_changed(client, session, world):
    import datetime as dt

    from sqlalchemy import update

    from app.instruments.models import Instrument
    from app.public.services import ensure_public_token

    inst = factories.instrument(session, world.merchant_a, serial="PUB-1")
    token = ensure_public_token(session, None, inst)
    # Last changed 2025-01-02 16:30 UTC: 2025-01-03 in Beijing.
    session.execute(update(Instrument).where(Instrument.id == inst.id)
                    .values(updated_at=dt.datetime(2025, 1, 2, 16, 30, tzinfo=dt.timezone.utc)))
    session.commit()
    assert "台账信息更新于 2025年1月3日" in client.get(f"/public/i/{token}").get_data(as_text=True)
    factories.verify(session, session.get(Instrument, inst.id), dt.date(2025, 6, 1))  # recorded now
    session.commit()
    from app.clock import today

    now = today()
    assert f"台账信息更新于 {now.year}年{now.month}月{now.day}日" in client.get(f"/public/i/{token}").get_data(as_text=True)
