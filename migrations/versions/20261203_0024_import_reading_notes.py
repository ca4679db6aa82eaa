"""import_batches.reading_notes: how a ledger was read where the file left it open (the order of day and
month in its short dates, merged cells filled down), shown in the preview beside the column mapping

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-03 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0024'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('import_batches') as batch:
        batch.add_column(sa.Column('reading_notes', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('import_batches') as batch:
        batch.drop_column('reading_notes')
