"""The migrations build the schema on SQLite and PostgreSQL, match the models, and go down and up."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
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


def _diff(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
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
