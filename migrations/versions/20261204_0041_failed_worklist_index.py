"""The failed worklist reads its instruments from an index, station by station, in due order.

The worklist of in-use instruments whose last verification failed is paged by keyset station by station
(app/keyset.py), in due order. No index held (station, status, last_result, next_due_on): each station's part was
read from (station_id, status, next_due_on), fetching every in-use instrument's row to find the few failed ones
(265 ms for the supervisor's first page at 1,000,000 instruments on SQLite, p95 3.8 s with 8 users of `make run`,
bench/README.md). With last_result in the key each station's failed instruments are read in order directly.

On PostgreSQL built CONCURRENTLY outside the migration's transaction, as 0039's indexes are.

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-04 07:20:00
"""
from alembic import op

revision = '0041'
down_revision = '0040'
branch_labels = None
depends_on = None

NAME, TABLE, COLUMNS = ('ix_instruments_station_result_due', 'instruments',
                        ['station_id', 'status', 'last_result', 'next_due_on', 'id'])


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            op.create_index(NAME, TABLE, COLUMNS, postgresql_concurrently=True, if_not_exists=True)
        return
    op.create_index(NAME, TABLE, COLUMNS)
    # SQLite plans from sqlite_stat1: an index without its row there looks ten rows per key, so the verification
    # plan's query took it over (station_id, status, next_due_on) and went from 0.3 s to 1.4 s (as 0017 does).
    op.execute('ANALYZE instruments')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            op.drop_index(NAME, table_name=TABLE, postgresql_concurrently=True, if_exists=True)
        return
    op.drop_index(NAME, table_name=TABLE)
