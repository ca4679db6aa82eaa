"""Instruments keep what household-meter and e-CQS ledgers say about them: install_address (用户地址),
region (使用地点行政区划), purpose (器具用途), origin (器具产地) and submission (送检方式)

Revision ID: 0022
Revises: 0019
Create Date: 2026-12-03 09:00:00

The import mapped 用户地址 and then dropped it (issue 14). The columns are added NOT NULL with a server
default of '' (SQLite cannot add a NOT NULL column without one), the way 0015 added search_text: plain
ADD COLUMN on both backends, so SQLite does not rebuild the table (which would drop 0005's and 0015's
triggers). The search text (app/search/keys.py) now includes install_address; every existing row's
address is '', so no stored search text changes and nothing is backfilled.
"""
from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0019'
branch_labels = None
depends_on = None

COLUMNS = (('install_address', 300), ('region', 60), ('purpose', 60), ('origin', 60), ('submission', 30))


def upgrade() -> None:
    bind = op.get_bind()
    for name, length in COLUMNS:
        op.add_column('instruments', sa.Column(name, sa.String(length), nullable=False, server_default=''))
        if bind.dialect.name == 'postgresql':
            op.alter_column('instruments', name, server_default=None)


def downgrade() -> None:
    bind = op.get_bind()
    for name, _length in reversed(COLUMNS):
        if bind.dialect.name == 'postgresql':
            op.drop_column('instruments', name)
        else:
            # In place (SQLite >= 3.35): batch mode would rebuild the table and lose its triggers.
            op.execute(f'ALTER TABLE instruments DROP COLUMN {name}')
