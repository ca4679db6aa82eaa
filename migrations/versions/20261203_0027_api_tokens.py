"""API tokens for /api/v1: a name, the SHA-256 of the secret (never the secret), scope (read or write over
chosen stations, or a verification body's results), optional merchant (a utility company's own meters),
expiry, revocation, last use and a per-token rate.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-03 13:10:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'api_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('prefix', sa.String(length=12), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('scope', sa.String(length=20), nullable=False),
        sa.Column('body_id', sa.Integer(), nullable=True),
        sa.Column('merchant_id', sa.Integer(), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_by_id', sa.Integer(), nullable=True),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('rate_per_minute', sa.Integer(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['body_id'], ['verification_bodies.id'],
                                name=op.f('fk_api_tokens_body_id_verification_bodies')),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_api_tokens_merchant_id_merchants')),
        sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], name=op.f('fk_api_tokens_revoked_by_id_users')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_api_tokens_created_by_id_users')),
        sa.CheckConstraint("scope IN ('read', 'write', 'institution')", name=op.f('ck_api_tokens_scope_values')),
        sa.CheckConstraint('rate_per_minute > 0', name=op.f('ck_api_tokens_rate_per_minute_positive')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash')),
    )
    op.create_index(op.f('ix_api_tokens_body_id'), 'api_tokens', ['body_id'])
    op.create_index(op.f('ix_api_tokens_merchant_id'), 'api_tokens', ['merchant_id'])
    op.create_table(
        'api_token_stations',
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], ondelete='CASCADE',
                                name=op.f('fk_api_token_stations_token_id_api_tokens')),
        sa.ForeignKeyConstraint(['station_id'], ['stations.id'], ondelete='CASCADE',
                                name=op.f('fk_api_token_stations_station_id_stations')),
        sa.PrimaryKeyConstraint('token_id', 'station_id', name=op.f('pk_api_token_stations')),
    )


def downgrade() -> None:
    op.drop_table('api_token_stations')
    op.drop_index(op.f('ix_api_tokens_merchant_id'), table_name='api_tokens')
    op.drop_index(op.f('ix_api_tokens_body_id'), table_name='api_tokens')
    op.drop_table('api_tokens')
