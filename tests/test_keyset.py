"""Keyset pages (app/keyset.py, app/web.py paginate): the same rows as the plain ordered query, page after page,
with ties and NULLs in the sort key, across several stations merged station by station, with rows inserted
between requests; the pager's page numbers and links; sorts a list does not offer."""
from __future__ import annotations

import datetime as dt
import re
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select

from app.accounts.models import Role
from app.instruments import queries
from app.instruments.models import Instrument
from app.keyset import Split, order_of, walk
from app.scope import Scope
from tests import factories
from tests.conftest import login

DUE = [dt.date(2027, 1, 5), dt.date(2027, 3, 1), dt.date(2026, 6, 30), None]
REPLACE = [dt.date(2030, 1, 1), None, dt.date(2029, 5, 5)]
SERIALS = ["S-1", "S-2", "S-1", "A-9", "S-2"]  # repeated: ties in the serial, told apart by the maker


def _make(session, merchant, i: int) -> Instrument:
    inst = factories.instrument(session, merchant, serial=SERIALS[i % len(SERIALS)], maker=f"厂{i}")
    inst.next_due_on, inst.replace_by = DUE[i % len(DUE)], REPLACE[i % len(REPLACE)]
    if i % 3 == 0:
        inst.last_verified_on = dt.date(2026, 1, 1)
    return inst


@pytest.fixture()
def ledger(session):
    """Three stations of uneven size (21, 9, 3 instruments) with ties and NULLs in every sort column."""
    stations = [factories.station(session, code) for code in ("K1", "K2", "K3")]
    merchants = [factories.merchant(session, s, f"商户{s.code}") for s in stations]
    i = 0
    for merchant, count in zip(merchants, (21, 9, 3)):
        for _ in range(count):
            _make(session, merchant, i)
            i += 1
    session.flush()
    session.commit()
    return stations, merchants


@contextmanager
def _statements(session):
    """The SQL statements run inside the block."""
    seen: list[str] = []
    engine = session.get_bind().engine

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _ids(rows) -> list[int]:
    return [r.id for r in rows]


def _pages_forward(session, stmt, order, per_page, split):
    seen, boundary = [], None
    while True:
        rows = walk(session, stmt, order, boundary=boundary, forward=True, limit=per_page, split=split)
        if not rows:
            return seen
        seen += _ids(rows)
        boundary = order.values(rows[-1])


def _pages_backward(session, stmt, order, per_page, split):
    seen, boundary = [], None
    while True:
        rows = walk(session, stmt, order, boundary=boundary, forward=False, limit=per_page, split=split)
        if not rows:
            return seen
        seen = _ids(rows) + seen
        boundary = order.values(rows[0])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sort=st.sampled_from(sorted(queries.SORTS)), which=st.sets(st.sampled_from([0, 1, 2]), min_size=1),
       everything=st.booleans(), per_page=st.integers(1, 8), worklist=st.sampled_from([None, *queries.WORKLISTS]))
def test_keyset_walks_give_the_plain_querys_rows(session, ledger, sort, which, everything, per_page, worklist):
    """Forward, backward and by offset from either end, one station's or several merged or all: the rows of the
    plain ordered query, each once, in its order (the database's own NULL placement included)."""
    stations, _ = ledger
    ours = frozenset(stations[i].id for i in which)
    scope = Scope(None) if everything else Scope(ours)
    if worklist:
        stmt = queries.worklist(worklist, scope, queries.InstrumentFilter(), dt.date(2027, 2, 1), 400, sort,
                                frozenset(queries.SORTS))
    else:
        stmt = queries.instrument_list(scope, queries.InstrumentFilter(), sort, queries.SORTS)
    if everything:  # the test's stations among whatever else the database holds
        stmt = stmt.where(Instrument.station_id.in_([s.id for s in stations]))
    expected = _ids(session.scalars(stmt))
    order = order_of(stmt)
    assert order is not None
    merged_ids = tuple(sorted(ours if not everything else [s.id for s in stations]))
    for split in (None, Split(Instrument.station_id, merged_ids)):
        with _statements(session) as seen:
            assert _pages_forward(session, stmt, order, per_page, split) == expected
        # The merge really ran (LATERAL on PostgreSQL, UNION ALL on SQLite) whenever there were stations to merge.
        merged = any("LATERAL" in s or "UNION ALL" in s for s in seen)
        postgres = session.get_bind().dialect.name == "postgresql"
        assert merged == (split is not None and len(merged_ids) > (0 if postgres else 1))
        assert _pages_backward(session, stmt, order, per_page, split) == expected
        for start in range(0, len(expected) + 1, per_page):
            assert _ids(walk(session, stmt, order, boundary=None, forward=True, limit=per_page, offset=start,
                             split=split)) == expected[start:start + per_page]
            from_end = max(0, len(expected) - start - per_page)
            size = min(per_page, len(expected) - start)
            if size > 0:
                assert _ids(walk(session, stmt, order, boundary=None, forward=False, limit=size, offset=from_end,
                                 split=split)) == expected[start:start + size]


@pytest.mark.parametrize("sort", ["new", "due", "-due", "serial", "replace"])
def test_rows_inserted_between_pages_neither_skip_nor_repeat_the_others(session, ledger, sort):
    """A walk that follows cursors sees every row that was there from the start exactly once, in order, although
    rows sorting before and after the cursor were added between pages."""
    stations, merchants = ledger
    scope = Scope(frozenset(s.id for s in stations))
    stmt = queries.instrument_list(scope, queries.InstrumentFilter(), sort, queries.SORTS)
    order = order_of(stmt)
    split = Split(Instrument.station_id, tuple(sorted(s.id for s in stations)))
    original = _ids(session.scalars(stmt))
    seen, boundary, n = [], None, 100
    while True:
        rows = walk(session, stmt, order, boundary=boundary, forward=True, limit=4, split=split)
        if not rows:
            break
        seen += _ids(rows)
        boundary = order.values(rows[-1])
        for merchant in merchants[:2]:  # new rows, some before the cursor in this order, some after it
            _make(session, merchant, n)
            n += 1
        session.commit()
    assert len(seen) == len(set(seen))
    assert [i for i in seen if i in set(original)] == original


def _list_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<td><a href="/instruments/(\d+)">', html)]


def _link(html: str, which: str) -> str | None:
    found = re.search(rf'<li class="page-item ([a-z]*)\s*"><a class="page-link" id="page-{which}" href="([^"]*)"',
                      html)
    assert found, which
    return None if found.group(1) == "disabled" else found.group(2).replace("&amp;", "&")


@pytest.mark.parametrize("sort", ["", "due", "-serial"])
def test_pager_links_walk_the_list_with_page_numbers(app, client, session, ledger, sort):
    """An inspector of the three stations follows 下一页 to the end and 上一页 back: every instrument once, in the
    plain query's order, with the page number and row positions shown; 首页, 末页 and a typed number agree."""
    stations, _ = ledger
    factories.user(session, "insp_three", Role.INSPECTOR, stations)
    session.commit()
    app.config["PAGE_SIZE"] = 5
    login(client, "insp_three")
    expected = _ids(session.scalars(queries.instrument_list(Scope(frozenset(s.id for s in stations)),
                                                            queries.InstrumentFilter(), sort or "new")))
    assert len(expected) == 33
    url, pages, seen, number = f"/instruments/?sort={sort}" if sort else "/instruments/", [], [], 1
    while url:
        html = client.get(url if url.startswith("/") else "/instruments/" + url).get_data(as_text=True)
        first = (number - 1) * 5 + 1
        assert f"第 {number} 页 / 共 7 页" in html
        assert f"第 {first}–{min(first + 4, 33)} 条" in html
        pages.append(_list_ids(html))
        seen += pages[-1]
        url, number = _link(html, "next"), number + 1
    assert seen == expected and number == 8
    # Back from the last page by 上一页, cursor by cursor.
    html = client.get("/instruments/" + _link(html, "first").replace("page=1", "page=7")).get_data(as_text=True)
    back = [_list_ids(html)]
    while (prev := _link(html, "prev")) is not None:
        html = client.get("/instruments/" + prev).get_data(as_text=True)
        back.insert(0, _list_ids(html))
    assert back == pages and "第 1 页 / 共 7 页" in html
    for typed in (1, 3, 4, 6, 7):
        html = client.get(f"/instruments/?sort={sort}&page={typed}").get_data(as_text=True)
        assert _list_ids(html) == pages[typed - 1], typed
    # A number past the end shows the last page; a cursor that is not ours is ignored.
    assert _list_ids(client.get("/instruments/?page=999").get_data(as_text=True)) == \
        _list_ids(client.get("/instruments/?page=7").get_data(as_text=True))
    bad = client.get("/instruments/?page=2&after=%5B%22x%22%5D")
    assert bad.status_code == 200 and "第 2 页 / 共 7 页" in bad.get_data(as_text=True)


def test_worklist_pages_merge_stations(app, client, session, ledger):
    """The never-verified worklist over three stations (newest first), walked by its links, is the plain query's."""
    stations, _ = ledger
    factories.user(session, "insp_three", Role.INSPECTOR, stations)
    session.commit()
    app.config["PAGE_SIZE"] = 4
    login(client, "insp_three")
    stmt = queries.worklist("never_verified", Scope(frozenset(s.id for s in stations)), queries.InstrumentFilter(),
                            dt.date(2027, 2, 1), 30)
    expected = _ids(session.scalars(stmt))
    assert len(expected) > 8
    url, seen = "/worklists/never_verified", []
    while url:
        html = client.get(url if url.startswith("/") else "/worklists/never_verified" + url).get_data(as_text=True)
        seen += _list_ids(html)
        url = _link(html, "next")
    assert seen == expected


@pytest.mark.parametrize("path, refused, offered", [
    ("/instruments/", "replace", "serial"),
    ("/worklists/overdue", "serial", "due"),
    ("/worklists/never_verified", "due", None),
    ("/worklists/past_service_life", "serial", "replace"),
])
def test_a_sort_not_offered_gets_the_default_order(client, session, world, ledger, path, refused, offered):
    """The header offers only indexed sorts; a link asking for another gets the list's default order, no error."""
    login(client, "super1")
    default = client.get(path).get_data(as_text=True)
    asked = client.get(f"{path}?sort={refused}")
    assert asked.status_code == 200
    assert _list_ids(asked.get_data(as_text=True)) == _list_ids(default)
    assert f"sort={refused}&amp;" not in default and f"sort={refused}\"" not in default
    if offered:
        assert f"sort={offered}" in default


def test_export_keeps_every_sort(client, session, world, ledger):
    """An export is read once in full: it still takes the sorts a page does not offer (its rows as before)."""
    login(client, "super1")
    stmt = queries.instrument_list(Scope(None), queries.InstrumentFilter(), "replace", queries.SORTS)
    assert [c.element if hasattr(c, "element") else c for c in stmt._order_by_clauses][0] is not None
    assert order_of(stmt).keys[0].attr == "replace_by"
    resp = client.get("/instruments/export.xlsx?sort=replace")
    assert resp.status_code == 200


def test_order_of_refuses_what_it_cannot_page():
    """Selects that are not one entity ordered down to its key page by OFFSET (None)."""
    assert order_of(select(Instrument).order_by(Instrument.type_id, Instrument.serial_no)) is None
    assert order_of(select(Instrument.id).order_by(Instrument.id)) is None
    assert order_of(select(Instrument).order_by(Instrument.id.desc())) is not None
