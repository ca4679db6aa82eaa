"""verifications: the two date indexes also hold voided_at, so the dashboard counts valid records from them alone;
the instruments' public token index covers tokens only; instruments by station, newest first, and by merchant,
kind and serial; never-verified instruments by id

Revision ID: 0017
Revises: 0013
Create Date: 2026-12-03 05:30:00

The dashboard's twelve-month trend counts valid (not voided) verification records per month; with `voided_at`
outside the indexes every one of the ~530,000 records of a year at a million instruments was read from the
table (4-6 s on SQLite, 0.7 s on PostgreSQL). The two indexes are replaced by the same columns plus
`voided_at` (not added beside them), so writes keep the same number of indexes: whatever used
(instrument_id, verified_on) or (verified_on) before uses their longer versions now.

`uq_instruments_public_token` becomes partial (WHERE public_token IS NOT NULL): tokens are given lazily, and
over every row SQLite's ANALYZE (which the sweep runs) counts the NULLs of the instruments without one as a
single value with a million rows, after which its planner scanned the whole table to find one token (the
public instrument page took 1.4 s). Equality on the token implies IS NOT NULL, so both planners use it.

`ix_instruments_station_id` (station_id, id): an inspector's instrument list, newest first, walked the primary
key backwards until it found 50 rows of the station; instruments come in station by station (registration,
imports), so for an old station that meant most of the table (1.4 s at a million instruments).

`ix_instruments_merchant_type_serial` (merchant_id, type_id, serial_no) replaces `ix_instruments_merchant_id`
(it still serves the foreign key): the merchant page lists a merchant's instruments in that order, and for a
large merchant PostgreSQL walked the identity index in that order filtering on the merchant (1.5 s).

`ix_instruments_status_verified_id` (status, last_verified_on, id, station_id) replaces
`ix_instruments_status_verified` (status, last_verified_on, station_id): the never-verified worklist is newest
first, and with station_id before id every never-verified instrument's row (25,000) was read and sorted.
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_verifications_instrument_date_voided', 'verifications',
                    ['instrument_id', 'verified_on', 'voided_at'], unique=False)
    op.create_index('ix_verifications_date_voided', 'verifications', ['verified_on', 'voided_at'], unique=False)
    op.drop_index('ix_verifications_instrument_date', table_name='verifications')
    op.drop_index('ix_verifications_verified_on', table_name='verifications')
    op.drop_index('uq_instruments_public_token', table_name='instruments')
    op.create_index('uq_instruments_public_token', 'instruments', ['public_token'], unique=True,
                    sqlite_where=sa.text('public_token IS NOT NULL'),
                    postgresql_where=sa.text('public_token IS NOT NULL'))
    op.create_index('ix_instruments_station_id', 'instruments', ['station_id', 'id'], unique=False)
    op.create_index('ix_instruments_merchant_type_serial', 'instruments', ['merchant_id', 'type_id', 'serial_no'],
                    unique=False)
    op.drop_index('ix_instruments_merchant_id', table_name='instruments')
    op.create_index('ix_instruments_status_verified_id', 'instruments',
                    ['status', 'last_verified_on', 'id', 'station_id'], unique=False)
    op.drop_index('ix_instruments_status_verified', table_name='instruments')
    # Statistics for the new indexes at once: SQLite's planner otherwise guesses (nothing analyses
    # these tables on its own), and its guess for the old token index was what made that page slow.
    op.execute('ANALYZE instruments')
    op.execute('ANALYZE verifications')


def downgrade() -> None:
    op.create_index('ix_instruments_status_verified', 'instruments', ['status', 'last_verified_on', 'station_id'],
                    unique=False)
    op.drop_index('ix_instruments_status_verified_id', table_name='instruments')
    op.create_index('ix_instruments_merchant_id', 'instruments', ['merchant_id'], unique=False)
    op.drop_index('ix_instruments_merchant_type_serial', table_name='instruments')
    op.drop_index('ix_instruments_station_id', table_name='instruments')
    op.drop_index('uq_instruments_public_token', table_name='instruments')
    op.create_index('uq_instruments_public_token', 'instruments', ['public_token'], unique=True)
    op.create_index('ix_verifications_verified_on', 'verifications', ['verified_on'], unique=False)
    op.create_index('ix_verifications_instrument_date', 'verifications', ['instrument_id', 'verified_on'],
                    unique=False)
    op.drop_index('ix_verifications_date_voided', table_name='verifications')
    op.drop_index('ix_verifications_instrument_date_voided', table_name='verifications')
