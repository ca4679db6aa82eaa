"""credit classes: the rule and each merchant's score

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 00:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('credit_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('window_months', sa.Integer(), nullable=False),
    sa.Column('severe_points', sa.Integer(), nullable=False),
    sa.Column('major_points', sa.Integer(), nullable=False),
    sa.Column('minor_points', sa.Integer(), nullable=False),
    sa.Column('overdue_points', sa.Integer(), nullable=False),
    sa.Column('overdue_cap', sa.Integer(), nullable=False),
    sa.Column('failed_points', sa.Integer(), nullable=False),
    sa.Column('pledge_points', sa.Integer(), nullable=False),
    sa.Column('model_unit_points', sa.Integer(), nullable=False),
    sa.Column('a_max', sa.Integer(), nullable=False),
    sa.Column('b_max', sa.Integer(), nullable=False),
    sa.Column('c_max', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_rules'))
    )
    op.create_table('credit_scores',
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('severe', sa.Integer(), nullable=False),
    sa.Column('major', sa.Integer(), nullable=False),
    sa.Column('minor', sa.Integer(), nullable=False),
    sa.Column('overdue', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('pledged', sa.Boolean(), nullable=False),
    sa.Column('model_unit', sa.Boolean(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('credit_class', sa.String(length=1), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_credit_scores_merchant_id_merchants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('merchant_id', name=op.f('pk_credit_scores'))
    )


def downgrade() -> None:
    op.drop_table('credit_scores')
    op.drop_table('credit_rules')
