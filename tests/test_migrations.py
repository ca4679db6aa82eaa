"""The migrations build the schema on SQLite and PostgreSQL, match the models, and go down and up."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, Enum, column, create_engine, func, inspect, select, text
from sqlalchemy import table as sa_table
from sqlalchemy.engine import make_url

from app import migrate as migrations
from app.models import metadata
from tests.conftest import PG_URL, WORKER


@pytest.fixture(params=["sqlite"] + (["postgresql"] if PG_URL else []))
def scratch_url(request, tmp_path):
    """An empty database of its own, so downgrades do not disturb other tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mig.db'}"
        return
    base = make_url(PG_URL)
    name = f"{base.database}_migrations" + (f"_{WORKER}" if WORKER else "")  # one per pytest-xdist worker
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_single_head():
    script = ScriptDirectory.from_config(migrations.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def _not_search_index(obj, name, type_, reflected, compare_to) -> bool:
    """The search indexes of migration 0015 are made by SQL the models cannot declare (FTS5 tables, GIN)."""
    return not (type_ in ("table", "index") and name and name.endswith(("_search", "_search_trgm"))
                or type_ == "table" and name and "_search_" in name)


def _diff(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _not_search_index})
            return compare_metadata(ctx, metadata)
    finally:
        engine.dispose()


def test_models_match_migrated_schema(scratch_url):
    migrations.upgrade(scratch_url)
    assert _diff(scratch_url) == []


def test_upgrade_downgrade_upgrade(scratch_url):
    migrations.upgrade(scratch_url)
    migrations.downgrade(scratch_url, "base")
    engine = create_engine(scratch_url)
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    engine.dispose()
    assert tables == set()
    migrations.upgrade(scratch_url)
    assert _diff(scratch_url) == []


def test_alerts_delete_trigger_survives_later_migrations(scratch_url):
    """Migration 0005's trigger (no foreign key on alerts) must outlive every later change to instruments."""
    def has_trigger() -> bool:
        engine = create_engine(scratch_url)
        try:
            with engine.connect() as conn:
                if engine.dialect.name == "sqlite":
                    sql = "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'trg_instruments_delete_alerts'"
                else:
                    sql = "SELECT count(*) FROM pg_trigger WHERE tgname = 'trg_instruments_delete_alerts'"
                return conn.execute(text(sql)).scalar_one() == 1
        finally:
            engine.dispose()

    migrations.upgrade(scratch_url)
    assert has_trigger()
    migrations.downgrade(scratch_url, "0005")
    assert has_trigger()
    migrations.upgrade(scratch_url)
    assert has_trigger()


def _model_checks() -> dict[str, set[str]]:
    return {t.name: {c.name for c in t.constraints if isinstance(c, CheckConstraint)} for t in metadata.sorted_tables}


def test_the_migrations_create_the_models_check_constraints(scratch_url):
    """compare_metadata does not compare CHECK constraints: the names are compared here, on both backends
    (a later SQLite batch rebuild that dropped one would fail this too)."""
    migrations.upgrade(scratch_url)
    engine = create_engine(scratch_url)
    try:
        inspector = inspect(engine)
        found = {t: {c["name"] for c in inspector.get_check_constraints(t)} for t in _model_checks()}
    finally:
        engine.dispose()
    assert sum(map(len, _model_checks().values())) >= 30
    assert found == _model_checks()


def test_every_enum_column_is_held_to_its_values():
    """A new enum column gets its CHECK too (app.db.one_of), or this fails."""
    missing = [f"{t.name}.{c.name}" for t in metadata.sorted_tables for c in t.columns
               if isinstance(c.type, Enum) and f"ck_{t.name}_{c.name}_values" not in _model_checks()[t.name]]
    assert not missing, missing


# Added by migrations 0022 (instruments) and 0030 (instrument_types), after the revisions whose upgrades these
# tests write rows for.
LATER_INSTRUMENT_COLUMNS = ("install_address", "region", "purpose", "origin", "submission", "category", "subcategory")


def _insert(conn, table_name: str, **values) -> int:
    """A row written as it was before 0014 (no serial key, no search text, none of 0022's instrument columns): given
    values, else the model's scalar defaults."""
    import datetime as dt

    table = metadata.tables[table_name]
    now = dt.datetime.now(dt.timezone.utc)
    row = {}
    for col in table.columns:
        if col.primary_key or col.name in ("serial_key", "search_text", *LATER_INSTRUMENT_COLUMNS):
            continue
        if col.name in values:
            row[col.name] = values[col.name]
        elif col.nullable or col.server_default is not None:
            continue
        elif col.name in ("created_at", "updated_at"):
            row[col.name] = now
        else:
            default = col.default.arg
            row[col.name] = getattr(default, "value", default)
    plain = sa_table(table_name, *[column(name) for name in row])
    conn.execute(plain.insert().values(**row))
    return conn.execute(select(func.max(table.c.id))).scalar_one()


def test_0014_keeps_existing_duplicates_and_the_command_lists_them(scratch_url):
    """A database that already holds one instrument twice (fm/FM, full width, spaces) upgrades without failing;
    nothing is merged or deleted, and `flask instruments duplicates` lists the copies for a person."""
    from app import create_app
    from config import TestConfig

    migrations.upgrade(scratch_url, "0013")
    engine = create_engine(scratch_url)
    with engine.begin() as conn:
        station = _insert(conn, "stations", name="城关所", code="CG")
        merchant = _insert(conn, "merchants", name="华联超市（城关店）", name_key="华联超市(城关店)",
                           industry="retail", station_id=station)
        kind = _insert(conn, "instrument_types", code="scale_x", name_zh="电子计价秤", rule="periodic",
                       cycle_months=12)
        common = {"type_id": kind, "merchant_id": merchant, "station_id": station, "maker": "上海友声",
                  "maker_key": "上海友声"}
        ids = [_insert(conn, "instruments", serial_no=serial, **common)
               for serial in ("FM2026120001", "fm2026120001", "ＦＭ 2026120001")]
        other = _insert(conn, "instruments", serial_no="FM2026120002", **common)
        # Without a maker beside the same serial with one: one instrument for the forms, two keys for the index.
        no_maker = _insert(conn, "instruments", serial_no="fm2026120002", **{**common, "maker": "", "maker_key": ""})
    engine.dispose()

    migrations.upgrade(scratch_url)
    engine = create_engine(scratch_url)
    with engine.connect() as conn:
        keys = dict(conn.execute(text("SELECT id, serial_key FROM instruments")).all())
        serials = dict(conn.execute(text("SELECT id, serial_no FROM instruments")).all())
    engine.dispose()
    assert keys[ids[0]] == "FM2026120001" and keys[other] == keys[no_maker] == "FM2026120002"
    assert keys[ids[1]] == f"FM2026120001 {ids[1]}" and keys[ids[2]] == f"FM2026120001 {ids[2]}"
    assert len(serials) == 5 and serials[ids[2]] == "ＦＭ 2026120001"  # nothing merged, nothing rewritten

    app = create_app(TestConfig, DATABASE_URL=scratch_url)
    try:
        result = app.test_cli_runner().invoke(args=["instruments", "duplicates"])
    finally:
        app.extensions["database"].engine.dispose()
    assert result.exit_code == 0, result.output
    out = result.output
    for instrument_id in (*ids, other, no_maker):
        assert f"#{instrument_id} " in out
    assert "共 2 组、3 条多余记录" in out and "不修改任何数据" in out
    assert out.count("迁移时发现的重复记录") == 2

    engine = create_engine(scratch_url)
    with engine.connect() as conn:
        assert dict(conn.execute(text("SELECT id, serial_key FROM instruments")).all()) == keys  # merged nothing
    engine.dispose()


def test_campaign_names_key_keeps_existing_duplicates(scratch_url):
    """Migration 0016 gives campaigns a unique name key without failing on campaigns already named alike in one
    year: the oldest keeps the plain key, later ones get their id appended (and must be renamed when edited)."""
    import datetime as dt

    migrations.upgrade(scratch_url, "0013")
    engine = create_engine(scratch_url)
    now = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    rows = [("城关专项", dt.date(2026, 3, 1)), ("城关专项 ", dt.date(2026, 9, 1)), ("城关专项", dt.date(2025, 3, 1))]
    with engine.begin() as conn:
        for name, starts_on in rows:
            conn.execute(text("INSERT INTO campaigns (name, starts_on, ends_on, type_ids, industries, station_ids, "
                              "notes, version, created_at, updated_at) VALUES (:n, :s, :s, '[]', '[]', '[]', '', 1, "
                              ":t, :t)"), {"n": name, "s": starts_on, "t": now})
    engine.dispose()
    migrations.upgrade(scratch_url)
    engine = create_engine(scratch_url)
    with engine.connect() as conn:
        keys = [k for (k,) in conn.execute(text("SELECT name_key FROM campaigns ORDER BY id"))]
    engine.dispose()
    assert keys == ["2026|城关专项", "2026|城关专项#2", "2025|城关专项"]


def test_the_search_index_is_built_backfilled_and_dropped(scratch_url):
    """Migration 0015: the trigram index exists (GIN on PostgreSQL, FTS5 table and its triggers on SQLite),
    rows written before it get their search text, and it goes down and up."""
    def search_objects() -> set[str]:
        engine = create_engine(scratch_url)
        try:
            with engine.connect() as conn:
                if engine.dialect.name == "sqlite":
                    sql = ("SELECT name FROM sqlite_master WHERE name IN ('merchants_search', 'instruments_search') "
                           "OR (type = 'trigger' AND name LIKE 'trg_%_search_%')")
                else:
                    sql = ("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix_%_search_trgm' "
                           "AND indexdef LIKE '%gin_trgm_ops%'")
                return set(conn.execute(text(sql)).scalars())
        finally:
            engine.dispose()

    migrations.upgrade(scratch_url, "0013")
    engine = create_engine(scratch_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO stations (id, name, code, division_code, version, created_at, updated_at) "
                          "VALUES (1, '城关所', 'GS', '330100', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO merchants (id, name, name_key, industry, address, contact, phone, notes, "
                          "station_id, version, created_at, updated_at) VALUES (1, '华联超市（城关店）', 'X', "
                          "'retail', '人民路 12 号', '', '', '', 1, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    engine.dispose()
    migrations.upgrade(scratch_url)
    # Migration 0040 made the trigram index lead with the station (btree_gin).
    expected = ({"ix_merchants_station_search_trgm", "ix_instruments_station_search_trgm"}
                if scratch_url.startswith("postgresql")
                else {"merchants_search", "instruments_search"}
                | {f"trg_{t}_search_{w}" for t in ("merchants", "instruments") for w in ("insert", "update", "delete")})
    assert search_objects() == expected
    engine = create_engine(scratch_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT search_text FROM merchants")).scalar_one() == "华联超市城关店 人民路12号"
        if engine.dialect.name == "sqlite":
            assert conn.execute(text("SELECT rowid FROM merchants_search WHERE search_text MATCH '\"超市城关\"'")
                                ).scalar_one() == 1
    engine.dispose()
    migrations.downgrade(scratch_url, "0013")
    assert search_objects() == set()
    migrations.upgrade(scratch_url)
    assert search_objects() == expected
    if scratch_url.startswith("postgresql"):
        # Below 0040 the index holds the trigrams alone, as 0015 made it.
        migrations.downgrade(scratch_url, "0037")
        assert search_objects() == {"ix_merchants_search_trgm", "ix_instruments_search_trgm"}
        migrations.upgrade(scratch_url)
        assert search_objects() == expected


def test_0026_bodies_codes_unique_when_given_and_downgrade(scratch_url):
    """Migration 0026: bodies without a code do not collide, a repeated code is refused; going down drops the
    table and verifications.body_id (the free text was never touched)."""
    import datetime as dt

    from sqlalchemy.exc import IntegrityError

    migrations.upgrade(scratch_url)
    engine = create_engine(scratch_url)
    now = dt.datetime(2026, 12, 3, tzinfo=dt.timezone.utc)
    insert = text("INSERT INTO verification_bodies (name, name_key, code, type_ids, contact_person, contact_phone, "
                  "is_active, version, created_at, updated_at) VALUES (:n, :n, :c, '[]', '', '', true, 1, :t, :t)")
    with engine.begin() as conn:
        for name in ("甲所", "乙所"):
            conn.execute(insert, {"n": name, "c": None, "t": now})
        conn.execute(insert, {"n": "丙所", "c": "JD-1", "t": now})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert, {"n": "丁所", "c": "JD-1", "t": now})
    engine.dispose()
    migrations.downgrade(scratch_url, "0025")
    engine = create_engine(scratch_url)
    inspector = inspect(engine)
    assert "verification_bodies" not in inspector.get_table_names()
    assert "body_id" not in {c["name"] for c in inspector.get_columns("verifications")}
    engine.dispose()


def test_0030_fills_the_seeded_kinds_and_keeps_instruments(scratch_url):
    """Migration 0030 gives the seeded kinds their 项别 and 种别, leaves an admin's own kind empty, and keeps every
    instrument's e-CQS texts as they were typed (no constraint on them)."""
    migrations.upgrade(scratch_url, "0027")
    engine = create_engine(scratch_url)
    with engine.begin() as conn:
        station = _insert(conn, "stations", name="城关所", code="CG")
        conn.execute(text("INSERT INTO merchants (name, name_key, industry, address, contact, phone, notes, station_id,"
                          " search_text, version, created_at, updated_at) VALUES ('城关菜场', '城关菜场', 'retail', '',"
                          " '', '', '', :s, '', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"s": station})
        merchant = conn.execute(text("SELECT max(id) FROM merchants")).scalar_one()
        for code in ("elec_price_scale", "own_kind"):
            _insert(conn, "instrument_types", code=code, name_zh=code, rule="periodic", cycle_months=12)
        kind = conn.execute(text("SELECT id FROM instrument_types WHERE code = 'elec_price_scale'")).scalar_one()
        conn.execute(text("INSERT INTO instruments (type_id, merchant_id, station_id, serial_no, serial_key, maker,"
                          " maker_key, model, measuring_range, accuracy_class, location, install_address, region,"
                          " purpose, origin, submission, status, notes, search_text, version, created_at, updated_at)"
                          " VALUES (:t, :m, :s, 'L-1', 'L-1', '', '', '', '', '', '', '', '城东区', '贸易结算用', '',"
                          " '上门', 'in_use', '', '', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                     {"t": kind, "m": merchant, "s": station})
    engine.dispose()
    migrations.upgrade(scratch_url)
    engine = create_engine(scratch_url)
    with engine.connect() as conn:
        kinds = {r.code: (r.category, r.subcategory) for r in conn.execute(
            text("SELECT code, category, subcategory FROM instrument_types"))}
        kept = conn.execute(text("SELECT region, purpose, submission FROM instruments")).one()
        assert conn.execute(text("SELECT count(*) FROM verification_certificates")).scalar_one() == 0
    engine.dispose()
    assert kinds == {"elec_price_scale": ("非自动衡器", "数字指示秤"), "own_kind": ("", "")}
    assert tuple(kept) == ("城东区", "贸易结算用", "上门")


def test_0033_makes_counties_from_the_stations_division_codes(scratch_url):
    """An existing single-county database upgrades to one county per six-digit county code in use (with its
    city and province, named by code for the admin to rename), and one fallback county for the stations
    without a usable code; users keep seeing what they saw (no region: the whole installation)."""
    migrations.upgrade(scratch_url, "0032")
    engine = create_engine(scratch_url)
    with engine.begin() as conn:
        codes = {"CG": "320706001000", "CD": "320706", "LY": "320703100", "XX": "", "BAD": "3207",
                 "CITY": "320700", "ABC": "32O706"}
        stations = {code: _insert(conn, "stations", name=f"{code}所", code=code, division_code=division)
                    for code, division in codes.items()}
    engine.dispose()

    migrations.upgrade(scratch_url)
    engine = create_engine(scratch_url)
    with engine.connect() as conn:
        regions = {r.code: r for r in conn.execute(text("SELECT id, code, name, level, parent_id FROM regions"))}
        county_of = dict(conn.execute(text("SELECT id, county_id FROM stations")).all())
    engine.dispose()
    assert set(regions) == {"320000", "320700", "320703", "320706", "000000"}
    by_id = {r.id: r for r in regions.values()}
    assert regions["320706"].name == "行政区划 320706" and regions["320706"].level == "county"
    assert by_id[regions["320706"].parent_id].code == "320700" and regions["320700"].level == "city"
    assert by_id[regions["320700"].parent_id].code == "320000" and regions["320000"].parent_id is None
    assert regions["000000"].name == "本县（区）" and regions["000000"].parent_id is None
    assert county_of[stations["CG"]] == county_of[stations["CD"]] == regions["320706"].id
    assert county_of[stations["LY"]] == regions["320703"].id
    for code in ("XX", "BAD", "CITY", "ABC"):
        assert county_of[stations[code]] == regions["000000"].id, code

    # The app runs on it: a region-less supervisor sees every station; the tree command lists the counties.
    from app import create_app
    from app.accounts.models import Role, User
    from app.scope import Scope
    from config import TestConfig

    app = create_app(TestConfig, DATABASE_URL=scratch_url)
    try:
        with app.extensions["database"].session_scope() as session:
            user = User(username="kz", display_name="科长", role=Role.SUPERVISOR, password_hash="x")
            session.add(user)
            session.flush()
            assert Scope.for_user(user).is_all
        result = app.test_cli_runner().invoke(args=["regions", "list"])
    finally:
        app.extensions["database"].engine.dispose()
    assert result.exit_code == 0, result.output
    assert "320706 行政区划 320706  [县（区）]  监管所 2 个" in result.output
    assert "000000 本县（区）  [县（区）]  监管所 4 个" in result.output


def test_0033_on_a_database_without_stations_makes_no_regions(scratch_url):
    migrations.upgrade(scratch_url)
    engine = create_engine(scratch_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM regions")).scalar_one() == 0
    engine.dispose()
