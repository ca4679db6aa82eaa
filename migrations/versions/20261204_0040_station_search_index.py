"""The search's trigram index leads with the station (PostgreSQL): a search over several stations reads each
station's part of the index instead of every match in the installation.

Migration 0015's GIN index held the trigrams alone. A search by a city's supervisor (50 stations of a 500-station
province) built the bitmap of every row in the province holding the key's trigrams, then dropped the other cities'
rows: for `00000001`, whose trigrams ("000", "001") most serial and account numbers hold, 654,000 candidates and
1,160,000 rows rechecked for 4 matches (bench/README.md, "search: worst case"). With btree_gin the station is a key
of the same GIN index, so `station_id = s AND search_text LIKE ...` intersects the station's entries with the
trigrams' inside the index (app/search/queries.matching_ids asks station by station). A search over every station
uses the index's second column alone, as before. SQLite keeps its FTS5 tables.

Built CONCURRENTLY outside the migration's transaction, like 0039's: ten million instruments keep taking writes
while it builds (about five minutes there); the old index is dropped after the new one is valid. btree_gin, like
pg_trgm, is a trusted extension (PostgreSQL 13+): the database owner may create it.

Revision ID: 0040
Revises: 0037
Create Date: 2026-12-04 06:50:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0040'
down_revision = '0037'
branch_labels = None
depends_on = None

TABLES = ('merchants', 'instruments')


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('CREATE EXTENSION IF NOT EXISTS btree_gin')
    with op.get_context().autocommit_block():
        op.execute("SET maintenance_work_mem = '256MB'")
        for table in TABLES:
            name = f'ix_{table}_station_search_trgm'
            if _invalid(name):
                # A concurrent build that was interrupted leaves an invalid index, which IF NOT EXISTS would keep.
                op.execute(f'DROP INDEX CONCURRENTLY {name}')
            op.execute(f'CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} '
                       'USING gin (station_id, search_text gin_trgm_ops)')
            if _invalid(name) is not False:
                raise RuntimeError(f'{name} was not built: the old index ix_{table}_search_trgm is kept')
            op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS ix_{table}_search_trgm')
        op.execute('RESET maintenance_work_mem')


def _invalid(name: str) -> bool | None:
    """Whether the index exists but is invalid (None: there is no such index)."""
    sql = sa.text('SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid '
                  'WHERE c.relname = :name')
    return op.get_bind().execute(sql, {'name': name}).scalar()


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    with op.get_context().autocommit_block():
        for table in TABLES:
            op.execute(f'CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_{table}_search_trgm ON {table} '
                       'USING gin (search_text gin_trgm_ops)')
            op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS ix_{table}_station_search_trgm')
    # btree_gin stays, as pg_trgm does: it may serve other objects, and keeping it is harmless.
