"""The migrations build the schema on SQLite and PostgreSQL, match the models, and go down and up."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, Enum, create_engine, inspect, text
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
    expected = ({"ix_merchants_search_trgm", "ix_instruments_search_trgm"} if scratch_url.startswith("postgresql")
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
