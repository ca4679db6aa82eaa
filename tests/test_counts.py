"""The per-station counts (app/counts) stay equal to a fresh count of the ledger after every kind of write:
a new instrument, a verification recorded or voided, an import applied and undone, a retirement, a merchant
moving station, a kind's cycle change with recompute, and the day changing; and the pages over several stations
(navigation, dashboard, county roll-up) show the same figures as the lists."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from app.clock import today
from app.counts import queries
from app.counts.models import FIGURES, StationCount, StationCountDay, StationMonth
from app.counts.services import figures, rebuild, totals, verified_by_month, window
from app.dashboard.services import kind_status_table, worklist_counts
from app.instruments import queries as instrument_queries
from app.instruments.models import InstrumentStatus
from app.instruments.services import record_verification, update_instrument, void_verification
from app.catalog.services import update_instrument_type
from app.db import utcnow
from app.merchants.services import update_merchant
from app.scope import Scope
from tests import factories
from tests.conftest import login
from tests.test_import_pipeline import FIRST, Flow, xlsx

DAYS = 30


def stored_rows(session) -> set[tuple]:
    return {(r.station_id, r.type_id, *(getattr(r, f) for f in FIGURES)) for r in session.scalars(select(StationCount))}


def fresh_rows(session, day: dt.date) -> set[tuple]:
    return {tuple(r) for r in session.execute(queries.counted(day, DAYS))}


def assert_in_step(session, day: dt.date | None = None) -> None:
    """Every station counted for the day, and its rows equal to a fresh grouped count of the ledger."""
    day = day or today()
    session.expire_all()
    assert {d for d, in session.execute(select(StationCountDay.as_of))} == {day}
    assert stored_rows(session) == fresh_rows(session, day)
    ranges = window(day)
    fresh_months = {(sid, first, n) for sid, *counts in session.execute(queries.months_counted(ranges))
                    for (first, _end), n in zip(ranges, counts) if n}
    assert {(m.station_id, m.month, m.verified) for m in session.scalars(select(StationMonth))} == fresh_months


def live_worklists(session, scope: Scope, day: dt.date) -> dict[str, int]:
    return {name: session.execute(instrument_queries.worklist_count(name, scope, day, DAYS)).scalar_one()
            for name in instrument_queries.WORKLISTS}


def built(session) -> None:
    rebuild(session, today(), DAYS)
    session.commit()
    assert_in_step(session)


def test_rebuild_equals_a_fresh_count_and_readers_sum_it(session, world):
    extra = factories.instrument(session, world.merchant_a, "fuel_dispenser", serial="A-F1", nozzle_count=2)
    factories.verify(session, extra, today() - dt.timedelta(days=400))  # overdue by now
    session.commit()
    built(session)
    both = Scope(frozenset({world.station_a.id, world.station_b.id}))
    assert worklist_counts(session, both, today(), DAYS) == live_worklists(session, both, today())
    assert worklist_counts(session, Scope.everything(), today(), DAYS) == live_worklists(session, both, today())
    assert worklist_counts(session, both, today(), DAYS)["overdue"] >= 1
    by_kind = {r["type"].id: r for r in kind_status_table(session, both, today(), days=DAYS)}
    assert by_kind[extra.type_id]["in_use"] == 2 and by_kind[extra.type_id]["overdue"] >= 1


def test_a_new_instrument_and_a_verification_move_the_counts(session, world):
    built(session)
    inst = factories.instrument(session, world.merchant_b, serial="B-NEW")
    session.commit()
    assert_in_step(session)
    record_verification(session, None, inst, {"verified_on": today() - dt.timedelta(days=20), "result": "fail",
                                              "valid_until": None, "certificate_no": ""})
    session.commit()
    assert_in_step(session)
    both = Scope(frozenset({world.station_a.id, world.station_b.id}))
    assert verified_by_month(session, both, today())[-2:] != [0, 0]
    failed = totals(figures(session, Scope(frozenset({world.station_a.id, world.station_b.id})), today(), DAYS))
    assert failed["failed"] == live_worklists(session, Scope.everything(), today())["failed"] >= 1


def test_voiding_a_verification_and_retiring_move_the_counts(session, world):
    built(session)
    ver = world.instrument_a.verifications[0]
    void_verification(session, None, ver, "录错了")
    session.commit()
    assert_in_step(session)
    inst = world.instrument_b
    update_instrument(session, None, Scope.everything(), inst, expected_version=inst.version,
                      values={"type_id": inst.type_id, "merchant_id": inst.merchant_id, "serial_no": inst.serial_no,
                              "nozzle_count": inst.nozzle_count, "status": InstrumentStatus.SCRAPPED.value})
    session.commit()
    assert_in_step(session)


def test_a_merchant_moving_station_moves_its_instruments_counts(session, world):
    built(session)
    m = world.merchant_a
    update_merchant(session, None, Scope.everything(), m, expected_version=m.version,
                    values={"name": m.name, "industry": m.industry.value, "station_id": world.station_b.id})
    session.commit()
    assert_in_step(session)
    assert not session.scalars(select(StationCount).where(StationCount.station_id == world.station_a.id)).all()


def test_a_kinds_cycle_change_with_recompute_moves_the_counts(session, world):
    built(session)
    itype = world.instrument_a.type
    update_instrument_type(session, None, itype, expected_version=itype.version,
                           values={"cycle_months": (itype.cycle_months or 12) * 3}, recompute=True)
    session.commit()
    assert_in_step(session)


def test_an_import_applied_and_undone_moves_the_counts(app, world, session, tmp_path):
    built(session)
    flow = Flow(app, world, tmp_path / "uploads")
    batch_id = flow.run(xlsx(tmp_path, FIRST), today=today())
    assert_in_step(session)
    flow.undo(batch_id)
    assert_in_step(session)


def test_the_day_changing_counts_live_until_the_job_recounts(session, world):
    recent = factories.instrument(session, world.merchant_a, serial="A-NEW")
    factories.verify(session, recent, today() - dt.timedelta(days=10))  # due in about a year
    session.commit()
    built(session)
    tomorrow = today() + dt.timedelta(days=400)  # far enough for the world's instruments to fall overdue
    both = Scope(frozenset({world.station_a.id, world.station_b.id}))
    # Stored rows are of another day: the readers count live, so they still equal the lists.
    assert worklist_counts(session, both, tomorrow, DAYS) == live_worklists(session, both, tomorrow)
    assert live_worklists(session, both, tomorrow) != live_worklists(session, both, today())
    rebuild(session, tomorrow, DAYS)
    session.commit()
    assert_in_step(session, tomorrow)
    assert worklist_counts(session, both, tomorrow, DAYS) == live_worklists(session, both, tomorrow)


def test_a_write_that_names_no_stations_leaves_every_station_counted_live(session, world):
    from sqlalchemy import update

    from app.instruments.models import Instrument

    built(session)
    session.execute(update(Instrument).where(Instrument.id == world.instrument_a.id)
                    .values(status=InstrumentStatus.STOPPED))
    session.commit()
    assert session.scalars(select(StationCountDay)).all() == []
    both = Scope(frozenset({world.station_a.id, world.station_b.id}))
    assert worklist_counts(session, both, today(), DAYS) == live_worklists(session, both, today())


def test_the_city_supervisors_pages_show_the_stored_counts(client, session, world):
    inst = factories.instrument(session, world.merchant_b, serial="B-OLD")
    factories.verify(session, inst, today() - dt.timedelta(days=500))  # overdue: two in station B now
    session.commit()
    built(session)
    both = Scope(frozenset({world.station_a.id, world.station_b.id}))
    expected = live_worklists(session, both, today())
    login(client, "city_super")
    for url in ("/", "/instruments/worklist/overdue"):
        page = client.get(url).get_data(as_text=True)
        for key, n in expected.items():
            assert f'id="nav-count-{key}">{n}</span>' in page, (url, key, n)
    dashboard = client.get("/").get_data(as_text=True)
    assert f'id="card-overdue">{expected["overdue"]}</div>' in dashboard
    # And it is the stored rows the pages read (a tampered row shows), not a recount of the ledger.
    from sqlalchemy import update

    session.execute(update(StationCount).where(StationCount.station_id == world.station_b.id,
                                               StationCount.type_id == inst.type_id)
                    .values(overdue=StationCount.overdue + 700))
    session.commit()
    page = client.get("/instruments/worklist/overdue").get_data(as_text=True)
    assert f'id="nav-count-overdue">{expected["overdue"] + 700}</span>' in page


def test_the_regional_dashboard_is_a_snapshot_dropped_by_any_write(client, session, world):
    built(session)
    login(client, "city_super")
    first = client.get("/").get_data(as_text=True)
    assert 'id="counted-at">统计于 ' in first
    before = live_worklists(session, Scope.everything(), today())["overdue"]
    assert f'id="card-overdue">{before}</div>' in first
    inst = factories.instrument(session, world.merchant_b, serial="B-LATE")
    factories.verify(session, inst, today() - dt.timedelta(days=500))
    session.commit()
    # The commit in this process dropped the snapshot: the page counts again and shows the new instrument.
    again = client.get("/").get_data(as_text=True)
    assert_in_step(session)
    assert f'id="card-overdue">{before + 1}</div>' in again
    assert f'id="nav-count-overdue">{before + 1}</span>' in again


def test_an_inspectors_dashboard_is_a_snapshot_dropped_by_any_write_too(client, session, world):
    built(session)
    login(client, "insp_a")
    first = client.get("/").get_data(as_text=True)
    assert 'id="counted-at">统计于 ' in first
    before = int(re.search(r'id="card-overdue">(\d+)</div>', first).group(1))
    inst = factories.instrument(session, world.merchant_a, serial="A-LATE")
    factories.verify(session, inst, today() - dt.timedelta(days=500))
    session.commit()
    assert f'id="card-overdue">{before + 1}</div>' in client.get("/").get_data(as_text=True)


def test_one_snapshot_is_computed_for_callers_arriving_together():
    import threading

    from app.counts.snapshots import Snapshots

    snaps, calls, gate = Snapshots(), [], threading.Event()

    def compute():
        calls.append(1)
        gate.wait(5)
        return len(calls)

    results = []
    threads = [threading.Thread(target=lambda: results.append(snaps.get("k", compute)[0])) for _ in range(4)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert results == [1, 1, 1, 1] and len(calls) == 1


def test_snapshots_are_not_reused_while_the_shared_counter_cannot_be_read():
    from app.counts import snapshots

    # Nothing listens on port 1: every read of the counter fails at once, as with Redis down.
    snapshots.configure("redis://127.0.0.1:1/0", "test-snapshots-down")
    try:
        snaps, calls = snapshots.Snapshots(), []

        def compute():
            calls.append(1)
            return len(calls)

        assert [snaps.get("k", compute)[0] for _ in range(3)] == [1, 2, 3]  # counted live each time
        snapshots.bump()  # a commit still goes through
    finally:
        snapshots.configure(None)
    assert [snaps.get("k", compute)[0] for _ in range(2)] == [4, 4]  # in-process counter: reused again


def test_a_column_set_while_expired_recounts_its_station(session, world):
    built(session)
    inst = world.instrument_b
    session.commit()  # expires it: the next assignment does not load the value it replaces
    inst.status = InstrumentStatus.STOPPED
    session.commit()
    assert_in_step(session)
    record = world.instrument_a.verifications[0]
    session.commit()
    record.voided_at = utcnow()
    record.void_reason = "录错了"
    session.commit()
    assert_in_step(session)


def shown_total(client, url: str) -> int:
    """The row count a list page shows (共 N 条)."""
    import re

    resp = client.get(url)
    assert resp.status_code == 200, url
    return int(re.search(r'id="total-count">共 ([\d,]+) 条', resp.get_data(as_text=True)).group(1).replace(",", ""))


def test_the_lists_over_several_stations_are_counted_from_the_stored_rows(client, session, world):
    from sqlalchemy import update

    stopped = factories.instrument(session, world.merchant_b, serial="B-STOP")
    stopped.status = InstrumentStatus.STOPPED
    late = factories.instrument(session, world.merchant_b, serial="B-LATE")
    factories.verify(session, late, today() - dt.timedelta(days=500))
    factories.instrument(session, world.merchant_a, "fuel_dispenser", serial="A-NEVER", nozzle_count=1)
    session.commit()
    kind, other = late.type_id, world.instrument_b.type_id
    urls = ["/instruments/", "/instruments/?status=in_use", "/instruments/?status=stopped",
            f"/instruments/?type_id={kind}", f"/instruments/?type_id={other}&status=in_use",
            f"/instruments/?county_id={world.county_b.id}&status=stopped", "/instruments/?sort=serial&page=1",
            *(f"/worklists/{name}" for name in instrument_queries.WORKLISTS),
            "/worklists/due_soon?days=400", f"/worklists/overdue?type_id={kind}", "/worklists/overdue?status=stopped"]
    login(client, "city_super")
    session.execute(queries.delete_days())  # nothing stored: every list counted from the ledger
    session.commit()
    live = {url: shown_total(client, url) for url in urls}
    assert live["/instruments/?status=stopped"] == 1 and live["/worklists/overdue"] >= 1
    assert live["/worklists/never_verified"] >= 1 and live["/worklists/overdue?status=stopped"] == 0
    built(session)
    assert {url: shown_total(client, url) for url in urls} == live
    # The stored rows are what the lists read: a tampered row of station B's kind shows in every list it adds to.
    session.execute(update(StationCount).where(StationCount.station_id == world.station_b.id,
                                               StationCount.type_id == kind)
                    .values(stopped=StationCount.stopped + 700, overdue=StationCount.overdue + 700))
    session.commit()
    # (County B holds one station: its list is counted from the ledger, like an inspector's.)
    moved = {"/instruments/", "/instruments/?status=stopped", f"/instruments/?type_id={kind}",
             "/instruments/?sort=serial&page=1",
             "/worklists/overdue", f"/worklists/overdue?type_id={kind}"}
    assert {url: shown_total(client, url) for url in urls} == {u: n + 700 * (u in moved) for u, n in live.items()}
    # Counted on another day: the statuses still hold, the worklists are counted from the ledger again.
    session.execute(update(StationCountDay).values(as_of=today() - dt.timedelta(days=1)))
    session.commit()
    by_status = {u for u in moved if u.startswith("/instruments/")}
    assert {url: shown_total(client, url) for url in urls} == {u: n + 700 * (u in by_status) for u, n in live.items()}
    # One station's lists are always counted from the ledger.
    client.post("/logout")
    login(client, "insp_b")
    assert shown_total(client, "/instruments/?status=stopped") == 1
