"""The REST API (issue 16): (updated_at, id) indexes for the change feeds the API pages through (and
(station_id, updated_at, id) for instruments), and the store
of answered Idempotency-Key requests (api_idempotent_requests).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-03 13:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None

FEEDS = ("instruments", "merchants", "verifications", "inspections", "findings", "rectifications", "alerts")


def upgrade() -> None:
    for table in FEEDS:
        op.create_index(f"ix_{table}_updated_id", table, ["updated_at", "id"])
    op.create_index("ix_instruments_station_updated_id", "instruments", ["station_id", "updated_at", "id"])
    op.create_table(
        'api_idempotent_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('operation', sa.String(length=80), nullable=False),
        sa.Column('request_hash', sa.String(length=64), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('body', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], ondelete='CASCADE',
                                name=op.f('fk_api_idempotent_requests_token_id_api_tokens')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_idempotent_requests')),
        sa.UniqueConstraint('token_id', 'key', name='uq_api_idempotent_requests_token_key'),
    )
    op.create_index(op.f('ix_api_idempotent_requests_created_at'), 'api_idempotent_requests', ['created_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_api_idempotent_requests_created_at'), table_name='api_idempotent_requests')
    op.drop_table('api_idempotent_requests')
    op.drop_index("ix_instruments_station_updated_id", table_name="instruments")
    for table in FEEDS:
        op.drop_index(f"ix_{table}_updated_id", table_name=table)
