"""import_batches: the header rows and kind chosen for a whole file, and the status 待指定列对应 (needs_mapping)

Revision ID: 0018
Revises: 0021
Create Date: 2026-12-03 08:00:00

A spreadsheet whose table is not recognised, or lacks a required column, no longer ends as
rejected: the batch waits for the user to choose the sheet, the header row(s), each column's
field and values for the whole file (kind, merchant, station). The choices are kept on the batch
so that re-planning and the apply read the file the same way.
"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0021'
branch_labels = None
depends_on = None

OLD = ('planning', 'preview', 'rejected', 'applying', 'applied', 'failed', 'undone')
NEW = ('planning', 'preview', 'needs_mapping', 'rejected', 'applying', 'applied', 'failed', 'undone')


def _status_check(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('header_rows', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('kind_code', sa.String(length=40), nullable=True))
    op.execute("UPDATE import_batches SET header_rows = '[]'")
    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.alter_column('header_rows', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_constraint(op.f('ck_import_batches_status_values'), type_='check')
        batch_op.create_check_constraint(op.f('ck_import_batches_status_values'), _status_check(NEW))


def downgrade() -> None:
    # Batches waiting for a mapping read as refused files, which is what they were before.
    op.execute("UPDATE import_batches SET status = 'rejected' WHERE status = 'needs_mapping'")
    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_import_batches_status_values'), type_='check')
        batch_op.create_check_constraint(op.f('ck_import_batches_status_values'), _status_check(OLD))
        batch_op.drop_column('kind_code')
        batch_op.drop_column('header_rows')
