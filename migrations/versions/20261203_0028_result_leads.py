"""Verification results from the bodies (issue 16 point 2): an import batch says what it imports (a ledger, or a
body's results file) and, for results, which body sent them; results with no instrument in the ledger become
leads (未备案器具线索) kept as received, for a station's staff to register or dismiss with a reason.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-03 13:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('import_batches') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=20), nullable=False, server_default='ledger'))
        batch.add_column(sa.Column('body_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f('fk_import_batches_body_id_verification_bodies'), 'verification_bodies',
                                 ['body_id'], ['id'])
        batch.create_check_constraint(batch.f('ck_import_batches_kind_values'), "kind IN ('ledger', 'results')")
    op.create_table(
        'result_leads',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=True),
        sa.Column('merchant_id', sa.Integer(), nullable=True),
        sa.Column('body_id', sa.Integer(), nullable=True),
        sa.Column('batch_id', sa.Integer(), nullable=True),
        sa.Column('type_id', sa.Integer(), nullable=True),
        sa.Column('match_key', sa.String(length=400), nullable=False),
        sa.Column('kind_text', sa.String(length=200), nullable=False),
        sa.Column('serial_no', sa.String(length=80), nullable=False),
        sa.Column('maker', sa.String(length=120), nullable=False),
        sa.Column('model', sa.String(length=80), nullable=False),
        sa.Column('certificate_no', sa.String(length=60), nullable=False),
        sa.Column('verified_on', sa.Date(), nullable=False),
        sa.Column('result', sa.String(length=10), nullable=False),
        sa.Column('valid_until', sa.Date(), nullable=True),
        sa.Column('submitter', sa.String(length=200), nullable=False),
        sa.Column('fail_reason', sa.Text(), nullable=False),
        sa.Column('institution', sa.String(length=120), nullable=False),
        sa.Column('received_from', sa.String(length=200), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('instrument_id', sa.Integer(), nullable=True),
        sa.Column('handled_by_id', sa.Integer(), nullable=True),
        sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('pending', 'registered', 'dismissed')", name=op.f('ck_result_leads_state_values')),
        sa.CheckConstraint("result IN ('pass', 'fail')", name=op.f('ck_result_leads_result_values')),
        sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_result_leads_station_id_stations')),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_result_leads_merchant_id_merchants')),
        sa.ForeignKeyConstraint(['body_id'], ['verification_bodies.id'],
                                name=op.f('fk_result_leads_body_id_verification_bodies')),
        sa.ForeignKeyConstraint(['batch_id'], ['import_batches.id'],
                                name=op.f('fk_result_leads_batch_id_import_batches')),
        sa.ForeignKeyConstraint(['type_id'], ['instrument_types.id'],
                                name=op.f('fk_result_leads_type_id_instrument_types')),
        sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'],
                                name=op.f('fk_result_leads_instrument_id_instruments')),
        sa.ForeignKeyConstraint(['handled_by_id'], ['users.id'], name=op.f('fk_result_leads_handled_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_result_leads')),
    )
    with op.batch_alter_table('result_leads') as batch:
        batch.create_index('ix_result_leads_station_state', ['station_id', 'state', 'id'])
        batch.create_index('ix_result_leads_match_key', ['match_key'])
        batch.create_index(batch.f('ix_result_leads_batch_id'), ['batch_id'])


def downgrade() -> None:
    op.drop_table('result_leads')
    with op.batch_alter_table('import_batches') as batch:
        batch.drop_constraint(batch.f('ck_import_batches_kind_values'), type_='check')
        batch.drop_constraint(batch.f('fk_import_batches_body_id_verification_bodies'), type_='foreignkey')
        batch.drop_column('body_id')
        batch.drop_column('kind')
