"""Background tasks: a user's monthly report build, large export or label sheet run by a queue worker, with its
state, progress, heartbeat, attempts, error and result file.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-03 16:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'background_tasks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('progress_done', sa.Integer(), nullable=False),
        sa.Column('progress_total', sa.Integer(), nullable=True),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('claim_token', sa.String(length=64), nullable=True),
        sa.Column('runner', sa.String(length=100), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('result_name', sa.String(length=255), nullable=False),
        sa.Column('result_size', sa.BigInteger(), nullable=True),
        sa.Column('result_sha256', sa.String(length=64), nullable=False),
        sa.Column('result_path', sa.String(length=255), nullable=False),
        sa.Column('result_ref', sa.JSON(), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'],
                                name=op.f('fk_background_tasks_requested_by_id_users')),
        sa.CheckConstraint("kind IN ('monthly_report', 'export', 'labels')",
                           name=op.f('ck_background_tasks_kind_values')),
        sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed')",
                           name=op.f('ck_background_tasks_state_values')),
        sa.CheckConstraint('attempts >= 0', name=op.f('ck_background_tasks_attempts_not_negative')),
        sa.CheckConstraint('progress_done >= 0', name=op.f('ck_background_tasks_progress_done_not_negative')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_background_tasks')),
    )
    op.create_index('ix_background_tasks_requested_by', 'background_tasks', ['requested_by_id', 'id'])
    op.create_index('ix_background_tasks_state_heartbeat', 'background_tasks', ['state', 'heartbeat_at'])


def downgrade() -> None:
    op.drop_index('ix_background_tasks_state_heartbeat', table_name='background_tasks')
    op.drop_index('ix_background_tasks_requested_by', table_name='background_tasks')
    op.drop_table('background_tasks')
