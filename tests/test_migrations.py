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
