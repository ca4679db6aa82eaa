"""Complaints (投诉举报): complaints with their outcomes (evidence: voided or corrected, never edited), the working-day
calendar (calendar_days: holidays and adjusted working days) their deadlines are counted over, and the credit
rule's points per upheld complaint (credit_rules.complaint_points, credit_scores.complaints).

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-03 19:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0035'
down_revision = '0039'
branch_labels = None
depends_on = None


def _stamps(version: bool = True) -> list:
    columns = [sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
               sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False)]
    if version:
        columns.append(sa.Column('version', sa.Integer(), nullable=False))
    return columns


def _voidable(table: str) -> list:
    return [sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
            sa.Column('void_reason', sa.Text(), nullable=False),
            sa.Column('voided_by_id', sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(['voided_by_id'], ['users.id'], name=op.f(f'fk_{table}_voided_by_id_users'))]


def upgrade() -> None:
    op.create_table(
        'calendar_days',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('kind', sa.Enum('holiday', 'workday', name='daykind', native_enum=False, length=20),
                  nullable=False),
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('source', sa.String(length=200), nullable=False),
        *_stamps(),
        sa.CheckConstraint("kind IN ('holiday', 'workday')", name=op.f('ck_calendar_days_kind_values')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_days')),
        sa.UniqueConstraint('day', name=op.f('uq_calendar_days_day')),
    )
    op.create_table(
        'complaints',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('reference', sa.String(length=20), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('merchant_id', sa.Integer(), nullable=False),
        sa.Column('instrument_id', sa.Integer(), nullable=True),
        sa.Column('channel', sa.Enum('public', '12315', '12345', name='channel', native_enum=False, length=20),
                  nullable=False),
        sa.Column('transfer_no', sa.String(length=50), nullable=False),
        sa.Column('received_on', sa.Date(), nullable=False),
        sa.Column('category', sa.Enum('short_weight', 'no_valid_mark', 'refused_reweigh', 'other', name='category',
                                      native_enum=False, length=20), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('phone', sa.String(length=30), nullable=False),
        sa.Column('phone_consent', sa.Boolean(), nullable=False),
        sa.Column('photo_name', sa.String(length=120), nullable=True),
        sa.Column('photo_type', sa.String(length=40), nullable=True),
        sa.Column('photo_size', sa.Integer(), nullable=True),
        sa.Column('photo_sha256', sa.String(length=64), nullable=True),
        sa.Column('deadline', sa.Date(), nullable=False),
        sa.Column('assignee_id', sa.Integer(), nullable=True),
        sa.Column('inspection_id', sa.Integer(), nullable=True),
        sa.Column('state', sa.Enum('new', 'in_progress', 'closed', name='state', native_enum=False, length=20),
                  nullable=False),
        sa.Column('reply', sa.Text(), nullable=False),
        sa.Column('reward_eligible', sa.Boolean(), nullable=False),
        sa.Column('closed_on', sa.Date(), nullable=True),
        sa.Column('challenge_nonce', sa.String(length=40), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        *_voidable('complaints'),
        *_stamps(),
        sa.CheckConstraint("channel IN ('public', '12315', '12345')", name=op.f('ck_complaints_channel_values')),
        sa.CheckConstraint("category IN ('short_weight', 'no_valid_mark', 'refused_reweigh', 'other')",
                           name=op.f('ck_complaints_category_values')),
        sa.CheckConstraint("state IN ('new', 'in_progress', 'closed')", name=op.f('ck_complaints_state_values')),
        sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_complaints_station_id_stations')),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_complaints_merchant_id_merchants')),
        sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'],
                                name=op.f('fk_complaints_instrument_id_instruments')),
        sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_complaints_assignee_id_users')),
        sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'],
                                name=op.f('fk_complaints_inspection_id_inspections')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_complaints_created_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints')),
        sa.UniqueConstraint('reference', name=op.f('uq_complaints_reference')),
        sa.UniqueConstraint('photo_name', name=op.f('uq_complaints_photo_name')),
        sa.UniqueConstraint('challenge_nonce', name=op.f('uq_complaints_challenge_nonce')),
    )
    op.create_index('ix_complaints_station_state_deadline', 'complaints', ['station_id', 'state', 'deadline'])
    op.create_index('ix_complaints_merchant_received', 'complaints', ['merchant_id', 'received_on'])
    op.create_table(
        'complaint_outcomes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('complaint_id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('outcome', sa.Enum('substantiated', 'partly', 'unfounded', 'unreachable', name='outcome',
                                     native_enum=False, length=20), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('corrects_id', sa.Integer(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        *_voidable('complaint_outcomes'),
        *_stamps(version=False),
        sa.CheckConstraint("outcome IN ('substantiated', 'partly', 'unfounded', 'unreachable')",
                           name=op.f('ck_complaint_outcomes_outcome_values')),
        sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'],
                                name=op.f('fk_complaint_outcomes_complaint_id_complaints')),
        sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_complaint_outcomes_station_id_stations')),
        sa.ForeignKeyConstraint(['corrects_id'], ['complaint_outcomes.id'],
                                name=op.f('fk_complaint_outcomes_corrects_id_complaint_outcomes')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_complaint_outcomes_created_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_outcomes')),
    )
    op.create_index(op.f('ix_complaint_outcomes_complaint_id'), 'complaint_outcomes', ['complaint_id'])
    with op.batch_alter_table('credit_rules') as batch:
        batch.add_column(sa.Column('complaint_points', sa.Integer(), nullable=False, server_default='5'))
    with op.batch_alter_table('credit_scores') as batch:
        batch.add_column(sa.Column('complaints', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('credit_scores') as batch:
        batch.drop_column('complaints')
    with op.batch_alter_table('credit_rules') as batch:
        batch.drop_column('complaint_points')
    op.drop_index(op.f('ix_complaint_outcomes_complaint_id'), table_name='complaint_outcomes')
    op.drop_table('complaint_outcomes')
    op.drop_index('ix_complaints_merchant_received', table_name='complaints')
    op.drop_index('ix_complaints_station_state_deadline', table_name='complaints')
    op.drop_table('complaints')
    op.drop_table('calendar_days')
