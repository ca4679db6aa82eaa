"""import_batches: a workbook batch (one sheet per station) is a parent of single-sheet batches

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 08:00:00

`parent_id` names the workbook batch a single-sheet batch belongs to (NULL for an upload of one sheet);
`is_workbook` marks the parent, which has no rows of its own: its children are ordinary batches, each
with its own station, sheet, mapping and preview rows, applied and undone together.
"""
from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('import_batches') as batch:
        batch.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('is_workbook', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_foreign_key('fk_import_batches_parent_id_import_batches', 'import_batches', ['parent_id'],
                                 ['id'], ondelete='CASCADE')
        batch.create_index('ix_import_batches_parent_id', ['parent_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('import_batches') as batch:
        batch.drop_index('ix_import_batches_parent_id')
        batch.drop_constraint('fk_import_batches_parent_id_import_batches', type_='foreignkey')
        batch.drop_column('is_workbook')
        batch.drop_column('parent_id')
