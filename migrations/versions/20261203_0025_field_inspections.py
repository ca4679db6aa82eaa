"""Field inspections on a phone: the phone's id of an inspection (client_id, unique: a resent draft never makes a
second inspection) and where it was recorded; when each photo was taken; signatures of the 现场检查笔录

Revision ID: 0025
Revises: 0023
Create Date: 2026-12-03 10:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0025'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Inspections recorded in the desktop form have no client_id; NULLs never collide in a unique constraint.
    with op.batch_alter_table('inspections') as batch:
        batch.add_column(sa.Column('client_id', sa.String(length=36), nullable=True))
        batch.add_column(sa.Column('latitude', sa.Float(), nullable=True))
        batch.add_column(sa.Column('longitude', sa.Float(), nullable=True))
        batch.add_column(sa.Column('location_accuracy', sa.Float(), nullable=True))
        batch.create_unique_constraint(batch.f('uq_inspections_client_id'), ['client_id'])
    with op.batch_alter_table('evidence_files') as batch:
        batch.add_column(sa.Column('taken_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'inspection_signatures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('inspection_id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('signer_name', sa.String(length=50), nullable=False),
        sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('stored_name', sa.String(length=120), nullable=False),
        sa.Column('content_type', sa.String(length=40), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('merchant', 'inspector')", name=op.f('ck_inspection_signatures_role_values')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_inspection_signatures_created_by_id_users')),
        sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'],
                                name=op.f('fk_inspection_signatures_inspection_id_inspections')),
        sa.ForeignKeyConstraint(['station_id'], ['stations.id'],
                                name=op.f('fk_inspection_signatures_station_id_stations')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_inspection_signatures_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_signatures')),
        sa.UniqueConstraint('stored_name', name=op.f('uq_inspection_signatures_stored_name')),
    )
    op.create_index(op.f('ix_inspection_signatures_inspection_id'), 'inspection_signatures', ['inspection_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_inspection_signatures_inspection_id'), table_name='inspection_signatures')
    op.drop_table('inspection_signatures')
    with op.batch_alter_table('evidence_files') as batch:
        batch.drop_column('taken_at')
    with op.batch_alter_table('inspections') as batch:
        batch.drop_constraint(batch.f('uq_inspections_client_id'), type_='unique')
        batch.drop_column('location_accuracy')
        batch.drop_column('longitude')
        batch.drop_column('latitude')
        batch.drop_column('client_id')
