"""Kinds as people write them: instrument_type_aliases (the spellings the import recognises, shipped as
seed data and extended by admins), and the per-file kind value map of import batches and saved mappings

Revision ID: 0023
Revises: 0024
Create Date: 2026-12-03 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0023'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'instrument_type_aliases',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('type_id', sa.Integer(), nullable=False),
        sa.Column('alias', sa.String(length=60), nullable=False),
        sa.Column('alias_key', sa.String(length=80), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['type_id'], ['instrument_types.id'],
                                name=op.f('fk_instrument_type_aliases_type_id_instrument_types'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_instrument_type_aliases')),
        sa.UniqueConstraint('alias_key', name=op.f('uq_instrument_type_aliases_alias_key')),
    )
    op.create_index(op.f('ix_instrument_type_aliases_type_id'), 'instrument_type_aliases', ['type_id'])
    # The user's choices for the file's kind values ({text: code, or "" to skip the rows}) and the
    # values the last dry run could not place with certainty ([{value, rows, unknown}]).
    with op.batch_alter_table('import_batches') as batch:
        batch.add_column(sa.Column('kind_values', sa.JSON(), nullable=False, server_default='{}'))
        batch.add_column(sa.Column('kind_findings', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('import_mappings') as batch:
        batch.add_column(sa.Column('kind_values', sa.JSON(), nullable=False, server_default='{}'))
    # The aliases themselves are seed data: `flask seed` (and `flask setup`) load them for every
    # kind that has none yet, so an upgraded database gets them the same way a new one does.


def downgrade() -> None:
    with op.batch_alter_table('import_mappings') as batch:
        batch.drop_column('kind_values')
    with op.batch_alter_table('import_batches') as batch:
        batch.drop_column('kind_findings')
        batch.drop_column('kind_values')
    op.drop_index(op.f('ix_instrument_type_aliases_type_id'), table_name='instrument_type_aliases')
    op.drop_table('instrument_type_aliases')
