"""Certificate files of verifications (verification_certificates: kept on disk like evidence, voided never
deleted); the catalogue's 项别 and 种别 (JJF 1001 强检目录 2020) for each kind.

Revision ID: 0030
Revises: 0027
Create Date: 2026-12-03 13:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0030'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'verification_certificates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('verification_id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('original_name', sa.String(length=200), nullable=False),
        sa.Column('stored_name', sa.String(length=120), nullable=False),
        sa.Column('content_type', sa.String(length=40), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('void_reason', sa.Text(), nullable=False),
        sa.Column('voided_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['verification_id'], ['verifications.id'],
                                name=op.f('fk_verification_certificates_verification_id_verifications')),
        sa.ForeignKeyConstraint(['station_id'], ['stations.id'],
                                name=op.f('fk_verification_certificates_station_id_stations')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_verification_certificates_created_by_id_users')),
        sa.ForeignKeyConstraint(['voided_by_id'], ['users.id'],
                                name=op.f('fk_verification_certificates_voided_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_verification_certificates')),
        sa.UniqueConstraint('stored_name', name=op.f('uq_verification_certificates_stored_name')),
    )
    op.create_index('ix_verification_certificates_verification_id', 'verification_certificates',
                    ['verification_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_verification_certificates_verification_id', table_name='verification_certificates')
    op.drop_table('verification_certificates')
