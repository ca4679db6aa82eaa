"""The benchmark dataset generator (bench/generate.py) gives the same rows for the same seed on any day: two runs
give identical tables, and no timestamp comes from the clock of the run (issue 21)."""
from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
from pathlib import Path

from sqlalchemy import DateTime, create_engine, inspect, select, table, column

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_NOON = dt.datetime(2026, 12, 1, 4, 0)  # bench/generate.py REFERENCE_DAY, noon in Asia/Shanghai, as UTC


def _generate(path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "bench" / "generate.py"), "--instruments", "300",
                             "--stations", "2", "--url", f"sqlite:///{path}"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _tables(path: Path) -> dict[str, tuple[str, int]]:
    """Each table's row count and a digest of its rows in id order (the timestamps' types as stored)."""
    engine = create_engine(f"sqlite:///{path}")
    out = {}
    with engine.connect() as conn:
        for name in inspect(engine).get_table_names():
            if name.startswith(("alembic", "sqlite_")) or "_search" in name:
                continue
            rows = conn.exec_driver_sql(f'SELECT * FROM "{name}" ORDER BY 1').all()
            out[name] = (hashlib.sha256(repr(rows).encode()).hexdigest(), len(rows))
    engine.dispose()
    return out


def _latest_timestamps(path: Path) -> dict[str, dt.datetime]:
    """Every timestamp column's latest value."""
    engine = create_engine(f"sqlite:///{path}")
    found = {}
    insp = inspect(engine)
    with engine.connect() as conn:
        for name in insp.get_table_names():
            for col in insp.get_columns(name):
                if isinstance(col["type"], DateTime):
                    latest = conn.execute(select(column(col["name"])).select_from(table(name))
                                          .order_by(column(col["name"]).desc()).limit(1)).scalar()
                    if latest is not None:
                        found[f"{name}.{col['name']}"] = (dt.datetime.fromisoformat(latest)
                                                          if isinstance(latest, str) else latest)
    engine.dispose()
    return found


def test_the_same_seed_gives_the_same_rows_on_any_day(tmp_path):
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    runs = [_generate(first), _generate(second)]
    for run in runs:
        output = run.communicate(timeout=300)[0]
        assert run.returncode == 0, output
    tables = _tables(first)
    assert tables["instruments"][1] == 300 and tables["verifications"][1] > 300 and tables["alerts"][1] > 0
    assert tables == _tables(second)
    # Nothing stamped with the clock of the run: every timestamp is at or before the reference date's noon.
    stamps = _latest_timestamps(first)
    assert stamps["instruments.created_at"].replace(tzinfo=None) == REFERENCE_NOON
    late = {k: v for k, v in stamps.items() if v.replace(tzinfo=None) > REFERENCE_NOON}
    assert late == {}
