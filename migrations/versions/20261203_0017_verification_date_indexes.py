"""verifications: the two date indexes also hold voided_at, so the dashboard counts valid records from them alone

Revision ID: 0017
Revises: 0013
Create Date: 2026-12-03 05:30:00

The dashboard's twelve-month trend counts valid (not voided) verification records per month; with `voided_at`
outside the indexes every one of the ~530,000 records of a year at a million instruments was read from the
table (4-6 s on SQLite, 0.7 s on PostgreSQL). The two indexes are replaced by the same columns plus
`voided_at` (not added beside them), so writes keep the same number of indexes: whatever used
(instrument_id, verified_on) or (verified_on) before uses their longer versions now.
"""
from alembic import op


revision = '0017'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_verifications_instrument_date_voided', 'verifications',
                    ['instrument_id', 'verified_on', 'voided_at'], unique=False)
    op.create_index('ix_verifications_date_voided', 'verifications', ['verified_on', 'voided_at'], unique=False)
    op.drop_index('ix_verifications_instrument_date', table_name='verifications')
    op.drop_index('ix_verifications_verified_on', table_name='verifications')


def downgrade() -> None:
    op.create_index('ix_verifications_verified_on', 'verifications', ['verified_on'], unique=False)
    op.create_index('ix_verifications_instrument_date', 'verifications', ['instrument_id', 'verified_on'],
                    unique=False)
    op.drop_index('ix_verifications_date_voided', table_name='verifications')
    op.drop_index('ix_verifications_instrument_date_voided', table_name='verifications')
