"""Verification bodies (检定机构) as records: name as typed with a unique match key, code (unique when given),
the catalogue kinds it is authorised for, contact, active; verifications.body_id links a record to its body.
No body is created from existing free text: the bureau registers the bodies, and registering one links the
verifications whose institution text matches its name (app/bodies/services.py); the text is kept as written.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03 12:20:00
"""
from alembic import op
import sqlalchemy as sa



revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'verification_bodies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('name_key', sa.String(length=120), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=True),
        sa.Column('type_ids', sa.JSON(), nullable=False),
        sa.Column('contact_person', sa.String(length=50), nullable=False),
        sa.Column('contact_phone', sa.String(length=40), nullable=False),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_verification_bodies')),
        sa.UniqueConstraint('name_key', name=op.f('uq_verification_bodies_name_key')),
        sa.UniqueConstraint('code', name=op.f('uq_verification_bodies_code')),
    )
    with op.batch_alter_table('verifications') as batch:
        batch.add_column(sa.Column('body_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f('fk_verifications_body_id_verification_bodies'), 'verification_bodies',
                                 ['body_id'], ['id'])
        batch.create_index(batch.f('ix_verifications_body_id'), ['body_id'])


def downgrade() -> None:
    with op.batch_alter_table('verifications') as batch:
        batch.drop_index(batch.f('ix_verifications_body_id'))
        batch.drop_constraint(batch.f('fk_verifications_body_id_verification_bodies'), type_='foreignkey')
        batch.drop_column('body_id')
    op.drop_table('verification_bodies')
