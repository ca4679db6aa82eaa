"""The due-date worklists read each station's in-use instruments in due order from one index, and stop at the page.

The overdue and due-soon worklists of several stations are paged by keyset station by station (app/keyset.py), in
(next_due_on, id) order, leaving out failed instruments (they have a worklist of their own). No index gave that
order with last_result at hand: PostgreSQL read every overdue instrument of each station from
(station_id, status, last_result, next_due_on, id), two stretches (no result, passed) that it had to sort, before
taking the first rows; page 50 of a city's overdue worklist at 1,000,000 instruments read 95,000 entries and sorted
them (113 ms), and the first page as many. (station_id, status, next_due_on, id, last_result) hands each station's
rows in order with the result to filter on, so a station's part stops after the rows the page needs (23 ms for
page 50). It replaces (station_id, status, next_due_on), whose readers (counts of a station's overdue and due-soon
instruments, the verification plan) read the same leading columns.

On PostgreSQL built and dropped CONCURRENTLY outside the migration's transaction, as 0039's indexes are.

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-04 14:30:00
"""
from alembic import op

revision = '0042'
down_revision = '0041'
branch_labels = None
depends_on = None

TABLE = 'instruments'
NEW, NEW_COLUMNS = 'ix_instruments_station_status_due_id', ['station_id', 'status', 'next_due_on', 'id', 'last_result']
OLD, OLD_COLUMNS = 'ix_instruments_station_status_due', ['station_id', 'status', 'next_due_on']


def _swap(create: str, create_columns: list[str], drop: str) -> None:
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            op.create_index(create, TABLE, create_columns, postgresql_concurrently=True, if_not_exists=True)
            op.drop_index(drop, table_name=TABLE, postgresql_concurrently=True, if_exists=True)
        return
    op.create_index(create, TABLE, create_columns)
    op.drop_index(drop, table_name=TABLE)
    # SQLite plans from sqlite_stat1: an index without its row there looks ten rows per key (as 0017 and 0041 do).
    op.execute('ANALYZE instruments')


def upgrade() -> None:
    _swap(NEW, NEW_COLUMNS, OLD)


def downgrade() -> None:
    _swap(OLD, OLD_COLUMNS, NEW)
