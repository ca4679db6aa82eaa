"""Search text of merchants and instruments, trigram-indexed: pg_trgm GIN on PostgreSQL, FTS5 trigram on SQLite

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-03 05:10:00

`search_text` holds the searched fields folded in Python (NFKC, casefold, no spaces or punctuation:
app/search/keys.py), so a search ignores width, bracket style and case. The backfill computes it here
with the same function, streaming the rows (1,000,000 instruments: see bench/README.md for the time).
On PostgreSQL a GIN index with gin_trgm_ops serves `search_text LIKE '%…%'`. SQLite has no trigram
index on an ordinary column: an FTS5 table with the trigram tokenizer (SQLite >= 3.34) holds a copy of
the text under the record's id, kept in step by triggers on the table. The column is added NOT NULL
with a server default of '' (SQLite cannot add a NOT NULL column without one, nor drop the default
without rebuilding the table); the app always writes the value.
"""
from alembic import op
import sqlalchemy as sa

from app.search.keys import search_text


revision = '0015'
down_revision = '0016'
branch_labels = None
depends_on = None

TABLES = ('merchants', 'instruments')
# The searched columns as they were at this revision (app/search/keys.py has grown since: 0022 added
# instruments.install_address, which does not exist yet here).
SOURCES = {'merchants': ('name', 'address', 'credit_code'), 'instruments': ('serial_no', 'location')}
CHUNK = 20_000


def _sqlite_statements(table: str) -> list[str]:
    fts = f'{table}_search'
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5(search_text, tokenize = 'trigram')",
        f'INSERT INTO {fts} (rowid, search_text) SELECT id, search_text FROM {table}',
        f'''CREATE TRIGGER trg_{table}_search_insert AFTER INSERT ON {table} BEGIN
            INSERT INTO {fts} (rowid, search_text) VALUES (new.id, new.search_text); END''',
        f'''CREATE TRIGGER trg_{table}_search_update AFTER UPDATE OF search_text ON {table} BEGIN
            UPDATE {fts} SET search_text = new.search_text WHERE rowid = old.id; END''',
        f'''CREATE TRIGGER trg_{table}_search_delete AFTER DELETE ON {table} BEGIN
            DELETE FROM {fts} WHERE rowid = old.id; END''',
    ]


def _backfill(bind, table: str) -> None:
    """Compute every row's search text in Python (streamed in chunks by id) and write it back."""
    sources = SOURCES[table]
    t = sa.table(table, sa.column('id'), *(sa.column(c) for c in sources))
    postgresql = bind.dialect.name == 'postgresql'
    raw = bind.connection.driver_connection
    if postgresql:
        # Every row is rewritten anyway: COPY the texts into a temporary table, then one rewrite below.
        with raw.cursor() as cur:
            cur.execute('CREATE TEMPORARY TABLE search_backfill (id integer PRIMARY KEY, search_text text) '
                        'ON COMMIT DROP')
    last = 0
    while True:
        rows = bind.execute(sa.select(t.c.id, *(t.c[c] for c in sources)).where(t.c.id > last)
                            .order_by(t.c.id).limit(CHUNK)).all()
        if not rows:
            break
        last = rows[-1][0]
        if postgresql:
            with raw.cursor() as cur, cur.copy('COPY search_backfill (id, search_text) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row((row[0], search_text(*row[1:])))
        else:
            raw.executemany(f'UPDATE {table} SET search_text = ? WHERE id = ?',
                            [(search_text(*row[1:]), row[0]) for row in rows])
    if postgresql:
        # Not UPDATE: updating 1,000,000 rows inserts into each of the table's dozen indexes row by row
        # (10 minutes here). ALTER COLUMN ... TYPE ... USING rewrites the table once and rebuilds its
        # indexes in bulk; the USING expression reads each row's text through a temporary function.
        with raw.cursor() as cur:
            cur.execute('CREATE FUNCTION pg_temp.search_text_of(integer) RETURNS text LANGUAGE sql STABLE '
                        'AS $$ SELECT search_text FROM search_backfill WHERE id = $1 $$')
            cur.execute(f"ALTER TABLE {table} ALTER COLUMN search_text TYPE text "
                        f"USING coalesce(pg_temp.search_text_of(id), '')")
            cur.execute('DROP FUNCTION pg_temp.search_text_of(integer)')
            cur.execute('DROP TABLE search_backfill')


def upgrade():
    bind = op.get_bind()
    for table in TABLES:
        # ADD COLUMN on both backends (no table rebuild on SQLite, no rewrite on PostgreSQL).
        op.add_column(table, sa.Column('search_text', sa.Text(), nullable=False, server_default=''))
    for table in TABLES:
        _backfill(bind, table)
    if bind.dialect.name == 'postgresql':
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        # A GIN index builds several times faster with room to sort its entries (the default is 64 MB).
        op.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for table in TABLES:
            op.alter_column(table, 'search_text', server_default=None)
            op.execute(f'CREATE INDEX ix_{table}_search_trgm ON {table} USING gin (search_text gin_trgm_ops)')
            # The rewrite left the planner without statistics for the table.
            op.execute(f'ANALYZE {table}')
    else:
        for table in TABLES:
            for statement in _sqlite_statements(table):
                op.execute(statement)


def downgrade():
    bind = op.get_bind()
    for table in TABLES:
        if bind.dialect.name == 'postgresql':
            op.execute(f'DROP INDEX ix_{table}_search_trgm')
            # The extension stays: it may serve other databases' objects, and keeping it is harmless.
        else:
            for trigger in ('insert', 'update', 'delete'):
                op.execute(f'DROP TRIGGER trg_{table}_search_{trigger}')
            op.execute(f'DROP TABLE {table}_search')
        if bind.dialect.name == 'postgresql':
            op.drop_column(table, 'search_text')
        else:
            # SQLite >= 3.35 drops a column in place; batch mode would rebuild the table and lose its
            # other triggers (0005's on instruments).
            op.execute(f'ALTER TABLE {table} DROP COLUMN search_text')
