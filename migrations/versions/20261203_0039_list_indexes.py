"""Indexes for keyset pages (app/keyset.py): every sort a list offers is read in order from one index per station,
whatever the depth, for one station, several (merged station by station) or all.

- instruments (station_id, serial_no, id) and (station_id, next_due_on, id): the instrument list sorted by serial
  number or due date (PostgreSQL's index entries end with the row's place, not its id, so id is a column here; on
  SQLite the rowid already ends every index);
- instruments (station_id, status, id) WHERE last_verified_on IS NULL: the 未检定 worklist newest first, a station
  at a time (a small partial index: the never-verified are a few per cent of the ledger; SQLite uses it too,
  as the condition is written literally in the query);
- merchants (station_id, name, id): the merchant list by name;
- alerts (station_id, status, due_on, id): the alert centre's open alerts by due date.

On PostgreSQL each index is built CONCURRENTLY outside the migration's transaction (autocommit_block), so a live
ten-million-row table keeps taking writes while it builds (a few minutes an index there); IF NOT EXISTS lets a
build that was interrupted be rerun after dropping the invalid index it leaves.

Revision ID: 0039
Revises: 0034
Create Date: 2026-12-03 19:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0039'
down_revision = '0038'
branch_labels = None
depends_on = None

NEVER_VERIFIED = 'last_verified_on IS NULL'
INDEXES = (
    ('ix_instruments_station_serial_id', 'instruments', ['station_id', 'serial_no', 'id'], None),
    ('ix_instruments_station_due_id', 'instruments', ['station_id', 'next_due_on', 'id'], None),
    ('ix_instruments_never_verified', 'instruments', ['station_id', 'status', 'id'], NEVER_VERIFIED),
    ('ix_merchants_station_name_id', 'merchants', ['station_id', 'name', 'id'], None),
    ('ix_alerts_station_status_due', 'alerts', ['station_id', 'status', 'due_on', 'id'], None),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            for name, table, columns, where in INDEXES:
                op.create_index(name, table, columns, postgresql_concurrently=True, if_not_exists=True,
                                postgresql_where=sa.text(where) if where else None)
        return
    for name, table, columns, where in INDEXES:
        op.create_index(name, table, columns, sqlite_where=sa.text(where) if where else None)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            for name, table, _columns, _where in INDEXES:
                op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
        return
    for name, table, _columns, _where in INDEXES:
        op.drop_index(name, table_name=table)
