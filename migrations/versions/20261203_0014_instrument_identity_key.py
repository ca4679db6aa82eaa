"""instruments.serial_key and a unique index on (type_id, serial_key, maker_key): one instrument, one record

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 05:30:00

The serial key is the serial number folded as app.text.match_key folds it (NFKC, upper-case, no blanks),
so fm2026120001, FM2026120001 and ＦＭ 2026120001 are one serial. The key is computed here in Python,
as the application computes it (SQL has no NFKC on SQLite), and frozen into this file so the migration
stays what it was if the application's function changes.

A database may already hold such duplicates. The migration neither merges nor fails: in each group
of rows with the same kind, key and maker key the oldest (lowest id) keeps the key, and every later
copy is held with the key "<key> <id>" (a space, which the folded key never contains), so the unique
index can be built. `flask instruments duplicates` lists the held copies beside the record they
repeat, for a person to resolve; the count is printed here as well.

Plain ADD COLUMN and CREATE INDEX: no table rebuild on SQLite (which would drop the alerts trigger of
0005). The column is added with a '' server default (SQLite needs one for NOT NULL), which PostgreSQL
drops afterwards; the model has none, so a bulk insert that forgets the key fails instead of writing ''.
"""
import re
import unicodedata

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_SPACES = re.compile(r"\s+")
BATCH = 5000


def _key(value):
    """app.text.match_key as of this migration."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", value or "")).upper()


def upgrade() -> None:
    op.add_column('instruments', sa.Column('serial_key', sa.String(length=100), server_default='', nullable=False))
    bind = op.get_bind()
    instruments = sa.table('instruments', sa.column('id', sa.Integer), sa.column('type_id', sa.Integer),
                           sa.column('serial_no', sa.String), sa.column('serial_key', sa.String),
                           sa.column('maker_key', sa.String))
    # Most serials are plain ASCII without blanks, whose key is their upper case: one statement does them;
    # the rest (and any row upper() got wrong) are put right from Python below.
    bind.execute(instruments.update().values(serial_key=sa.func.upper(instruments.c.serial_no)))
    fixes = []
    rows = bind.execute(sa.select(instruments.c.id, instruments.c.serial_no, instruments.c.serial_key)
                        .execution_options(yield_per=BATCH))
    for row_id, serial, stored in rows:
        key = _key(serial)
        if key != stored:
            fixes.append({"row_id": row_id, "key": key})
    update = (instruments.update().where(instruments.c.id == sa.bindparam("row_id"))
              .values(serial_key=sa.bindparam("key")))
    for start in range(0, len(fixes), BATCH):
        bind.execute(update, fixes[start:start + BATCH])

    # Copies registered before the key was unique are held (see above), never merged or deleted.
    groups = (sa.select(instruments.c.type_id, instruments.c.serial_key, instruments.c.maker_key,
                        sa.func.min(instruments.c.id).label("kept"))
              .group_by(instruments.c.type_id, instruments.c.serial_key, instruments.c.maker_key)
              .having(sa.func.count() > 1))
    held = []
    for type_id, key, maker_key, kept in bind.execute(groups).all():
        copies = bind.execute(sa.select(instruments.c.id).where(
            instruments.c.type_id == type_id, instruments.c.serial_key == key, instruments.c.maker_key == maker_key,
            instruments.c.id != kept)).scalars().all()
        held += [{"row_id": copy_id, "key": f"{key} {copy_id}"} for copy_id in copies]
    if held:
        bind.execute(update, held)
        print(f"0014: {len(held)} instrument(s) repeat an earlier record (same kind, serial and maker); they are "
              "kept and listed by `flask instruments duplicates` for a person to resolve")
    if bind.dialect.name == 'postgresql':
        op.alter_column('instruments', 'serial_key', server_default=None)
    op.create_index('uq_instruments_identity_key', 'instruments', ['type_id', 'serial_key', 'maker_key'],
                    unique=True)


def downgrade() -> None:
    op.drop_index('uq_instruments_identity_key', table_name='instruments')
    op.drop_column('instruments', 'serial_key')
