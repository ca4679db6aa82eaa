"""Per-station counts (station_counts, station_count_days, station_months): each station's instruments by kind,
status and worklist, and its valid verification records in each of the last twelve months, kept in step by the
ledger's writes and rebuilt daily, so pages over many stations read a few hundred rows instead of recounting the
ledger (issue 18 point 3, issue 21). The tables start empty: until the daily job fills them
(`flask jobs run station_counts`), every station is counted live as before.

Revision ID: 0038
Revises: 0034
Create Date: 2026-12-03 19:10:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0038'
down_revision = '0034'
branch_labels = None
depends_on = None

FIGURES = ('in_use', 'stopped', 'scrapped', 'replaced', 'due_soon', 'overdue', 'past_service_life',
           'never_verified', 'failed')


def upgrade() -> None:
    op.create_table(
        'station_counts',
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('type_id', sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in FIGURES),
        sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_station_counts_station_id_stations'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['type_id'], ['instrument_types.id'],
                                name=op.f('fk_station_counts_type_id_instrument_types'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('station_id', 'type_id', name=op.f('pk_station_counts')),
    )
    op.create_table(
        'station_count_days',
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('due_soon_days', sa.Integer(), nullable=False),
        sa.Column('counted_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['station_id'], ['stations.id'],
                                name=op.f('fk_station_count_days_station_id_stations'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('station_id', name=op.f('pk_station_count_days')),
    )
    op.create_table(
        'station_months',
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('verified', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_station_months_station_id_stations'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('station_id', 'month', name=op.f('pk_station_months')),
    )


def downgrade() -> None:
    op.drop_table('station_months')
    op.drop_table('station_count_days')
    op.drop_table('station_counts')
