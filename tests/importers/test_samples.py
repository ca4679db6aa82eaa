"""The two real-looking ledgers in tests/importers/samples."""
from __future__ import annotations

import datetime as dt

from app.merchants.credit_code import is_valid
from importers import find_tables, open_book, parse_sheet


def test_station_ledger(samples, kinds):
    book = open_book(samples / "ledger_station.xlsx")
    [table] = find_tables(book, kinds=kinds)
    assert table.sheet == "台账" and table.header_rows == (3,) and table.missing == ()

    parsed = parse_sheet(book, kinds=kinds)
    assert parsed.header_rows == (3,)
    assert not list(parsed.errors())
    assert len(parsed.rows) == 150
    assert parsed.skipped["title"] == 2 and parsed.skipped["header"] == 1 and parsed.skipped["blank"] >= 1
    assert sum(parsed.skipped.values()) + len(parsed.rows) == book.sheet("台账").height
    # 编号 holds 1, 2, 3: the row number; 器具编号 is the serial
    assert parsed.mapping.column("row_no") == 0 and parsed.mapping.column("serial_no") == 5

    first, second = parsed.rows[0], parsed.rows[1]
    assert first.row == 4
    assert first.values["merchant_name"] == "连云区金源粮油店"  # the sample pads names with spaces
    assert first.values["credit_code"] == "92320703HF98QU5EU4"  # written lower-case in the sample
    assert first.values["kind"] == "fuel_dispenser"
    assert (first.values["verified_on"], first.values["valid_until"]) == (dt.date(2025, 12, 29), dt.date(2026, 6, 29))
    assert second.values["serial_no"] == "2025122294"
    assert (second.values["verified_on"], second.values["valid_until"]) == (dt.date(2026, 5, 20), dt.date(2027, 5, 20))

    for row in parsed.rows:
        expected = {"merchant_name", "credit_code", "kind", "serial_no", "verified_on", "valid_until", "result"}
        assert expected <= row.values.keys()
        assert is_valid(row.values["credit_code"]) and row.values["credit_code"].isupper()
        assert row.values["merchant_name"] == row.values["merchant_name"].strip()
        assert isinstance(row.values["verified_on"], dt.date)
        assert row.values["valid_until"] >= row.values["verified_on"]
    kinds_seen = {r.values["kind"] for r in parsed.rows}
    assert kinds_seen == {"elec_price_scale", "fuel_dispenser", "taximeter", "ev_ac_charger"}
    # rows stay in sheet order, with the blank rows between them skipped
    numbers = [r.row for r in parsed.rows]
    assert numbers == sorted(numbers) and numbers[-1] == book.sheet("台账").height


def test_tidy_ledger(samples, kinds):
    book = open_book(samples / "ledger_tidy.xlsx")
    parsed = parse_sheet(book, kinds=kinds)
    assert parsed.header_rows == (1,)
    assert not list(parsed.errors())
    assert len(parsed.rows) == 150
    assert dict(parsed.skipped) == {"header": 1}
    assert parsed.mapping.unmapped == []
    row = parsed.rows[0].values
    assert row["merchant_name"] == "赣榆区康宁药房商行"
    assert row["certificate_no"] == "JD2025-51700"
    assert row["phone"] == "14279286166"
    assert row["verified_on"] == dt.date(2025, 2, 13) and row["result"] == "pass"
    assert {r.values["result"] for r in parsed.rows} == {"pass", "fail"}
