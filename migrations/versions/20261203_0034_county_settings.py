"""County settings and roll-ups: a kind's alert lead time per region (region_lead_days), a credit rule per region
(credit_rules.region_id), integrity targets set for a region (integrity_targets.region_id) and monthly reports of a
city or province (monthly_reports.region_id). A region without its own row inherits its parent's; every existing
row keeps region_id NULL, the installation's, so an upgraded database behaves as before.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-03 17:20:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None

# table -> the region column's foreign key and index (credit rules: one rule per region, a unique index).
REGION_COLUMNS = ('credit_rules', 'integrity_targets', 'monthly_reports')


def upgrade() -> None:
    op.create_table(
        'region_lead_days',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('region_id', sa.Integer(), nullable=False),
        sa.Column('type_id', sa.Integer(), nullable=False),
        sa.Column('lead_days', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.CheckConstraint('lead_days >= 0', name=op.f('ck_region_lead_days_lead_days_not_negative')),
        sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_region_lead_days_region_id_regions'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['type_id'], ['instrument_types.id'],
                                name=op.f('fk_region_lead_days_type_id_instrument_types'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_region_lead_days')),
        sa.UniqueConstraint('region_id', 'type_id', name=op.f('uq_region_lead_days_region_id_type_id')),
    )
    for table in REGION_COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('region_id', sa.Integer(), nullable=True))
            batch.create_foreign_key(batch.f(f'fk_{table}_region_id_regions'), 'regions', ['region_id'], ['id'])
            batch.create_index(batch.f(f'ix_{table}_region_id'), ['region_id'], unique=table == 'credit_rules')


def downgrade() -> None:
    for table in reversed(REGION_COLUMNS):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(batch.f(f'ix_{table}_region_id'))
            batch.drop_constraint(batch.f(f'fk_{table}_region_id_regions'), type_='foreignkey')
            batch.drop_column('region_id')
    op.drop_table('region_lead_days')
