"""integrity pledges, targets; public tokens of instruments

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 00:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pledges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('signed_on', sa.Date(), nullable=False),
    sa.Column('scope_text', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('active', 'revoked', 'expired', name='pledgestatus', native_enum=False, length=20), nullable=False),
    sa.Column('review_on', sa.Date(), nullable=True),
    sa.Column('document_name', sa.String(length=255), nullable=False),
    sa.Column('document_path', sa.String(length=100), nullable=False),
    sa.Column('document_type', sa.String(length=10), nullable=False),
    sa.Column('document_size', sa.Integer(), nullable=False),
    sa.Column('document_sha256', sa.String(length=64), nullable=False),
    sa.Column('is_model_unit', sa.Boolean(), nullable=False),
    sa.Column('model_unit_on', sa.Date(), nullable=True),
    sa.Column('model_unit_decision', sa.String(length=300), nullable=False),
    sa.Column('revoked_on', sa.Date(), nullable=True),
    sa.Column('revoke_reason', sa.Text(), nullable=False),
    sa.Column('revoked_finding_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_pledges_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pledges'))
    )
    with op.batch_alter_table('pledges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pledges_merchant_id'), ['merchant_id'], unique=False)
        batch_op.create_index('ix_pledges_status_review', ['status', 'review_on', 'merchant_id'], unique=False)
    op.create_table('integrity_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('pledges', 'model_units', name='targetkind', native_enum=False, length=20), nullable=False),
    sa.Column('scope_key', sa.String(length=20), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=True),
    sa.Column('target', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_integrity_targets_station_id_stations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integrity_targets')),
    sa.UniqueConstraint('kind', 'scope_key', name=op.f('uq_integrity_targets_kind_scope_key'))
    )
    # Tokens are given lazily, so the column is nullable; unique so one token names one instrument.
    # A unique index, not a constraint: on SQLite a new constraint rebuilds the table, which would drop
    # the alerts' delete trigger of migration 0005 (and copy a million rows).
    op.add_column('instruments', sa.Column('public_token', sa.String(length=43), nullable=True))
    op.create_index('uq_instruments_public_token', 'instruments', ['public_token'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_instruments_public_token', table_name='instruments')
    with op.batch_alter_table('instruments', schema=None) as batch_op:
        batch_op.drop_column('public_token')
    if op.get_bind().dialect.name == 'sqlite':
        # Dropping the column rebuilt the table on SQLite, and with it the alerts' delete trigger (0005).
        op.execute("""CREATE TRIGGER trg_instruments_delete_alerts AFTER DELETE ON instruments
                      BEGIN DELETE FROM alerts WHERE subject_type = 'instrument' AND subject_id = OLD.id; END""")
    op.drop_table('integrity_targets')
    with op.batch_alter_table('pledges', schema=None) as batch_op:
        batch_op.drop_index('ix_pledges_status_review')
        batch_op.drop_index(batch_op.f('ix_pledges_merchant_id'))
    op.drop_table('pledges')
