"""monthly report by e-mail: users.wants_monthly_report, one attachment per outbox message

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 00:55:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wants_monthly_report', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachment_name', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('attachment', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.drop_column('attachment')
        batch_op.drop_column('attachment_name')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('wants_monthly_report')
