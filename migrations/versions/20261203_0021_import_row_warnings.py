"""import_rows.warnings: problems that keep a row (a phone Excel mangled, a date that disagrees with the
computed one), shown in the preview beside the row while the row is still imported

Revision ID: 0021
Revises: 0017
Create Date: 2026-12-03 08:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('import_rows') as batch:
        batch.add_column(sa.Column('warnings', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('import_rows') as batch:
        batch.drop_column('warnings')
