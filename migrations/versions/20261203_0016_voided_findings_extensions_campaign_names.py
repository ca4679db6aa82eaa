"""findings can be voided (voided_at / voided_by_id / void_reason, as verifications); deadline_extensions of
rectification orders; campaigns.name_key, unique: one campaign name per year

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-03 05:30:00

campaigns.name_key is "<year of starts_on>|<name NFKC-folded, without blanks, upper-case>", the same key as
app/inspections/services.campaign_key() computes (written out here so the migration stays what it was). Existing
campaigns with the same name in the same year are not renamed and the migration does not fail: the oldest keeps
the plain key, each later one gets "#<id>" appended and is listed in the migration's log. Editing such a campaign
then asks for a name of its own.
"""
import logging
import re
import unicodedata

from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0014'
branch_labels = None
depends_on = None

log = logging.getLogger('alembic.runtime.migration')


def _key(starts_on, name) -> str:
    folded = re.sub(r'\s+', '', unicodedata.normalize('NFKC', name or '')).upper()
    return f'{starts_on.year}|{folded}'[:200]


def upgrade() -> None:
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('void_reason', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('voided_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_findings_voided_by_id_users'), 'users', ['voided_by_id'], ['id'])
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.alter_column('void_reason', server_default=None)

    op.create_table('deadline_extensions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rectification_id', sa.Integer(), nullable=False),
    sa.Column('old_deadline', sa.Date(), nullable=False),
    sa.Column('new_deadline', sa.Date(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('new_deadline > old_deadline', name=op.f('ck_deadline_extensions_new_deadline_after_old_deadline')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_deadline_extensions_created_by_id_users')),
    sa.ForeignKeyConstraint(['rectification_id'], ['rectifications.id'], name=op.f('fk_deadline_extensions_rectification_id_rectifications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deadline_extensions'))
    )
    with op.batch_alter_table('deadline_extensions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deadline_extensions_rectification_id'), ['rectification_id'], unique=False)

    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_key', sa.String(length=220), nullable=True))
    campaigns = sa.table('campaigns', sa.column('id', sa.Integer), sa.column('name', sa.String),
                         sa.column('starts_on', sa.Date), sa.column('name_key', sa.String))
    bind = op.get_bind()
    seen: dict[str, int] = {}
    for cid, name, starts_on in bind.execute(sa.select(campaigns.c.id, campaigns.c.name, campaigns.c.starts_on)
                                             .order_by(campaigns.c.id)).all():
        key = _key(starts_on, name)
        if key in seen:
            log.warning('专项检查行动 #%s “%s” 与 #%s 同年同名：保留原名，请改名', cid, name, seen[key])
            key = f'{key}#{cid}'
        else:
            seen[key] = cid
        bind.execute(campaigns.update().where(campaigns.c.id == cid).values(name_key=key))
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.alter_column('name_key', existing_type=sa.String(length=220), nullable=False)
        batch_op.create_index('uq_campaigns_name_key', ['name_key'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_index('uq_campaigns_name_key')
        batch_op.drop_column('name_key')
    with op.batch_alter_table('deadline_extensions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deadline_extensions_rectification_id'))
    op.drop_table('deadline_extensions')
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_findings_voided_by_id_users'), type_='foreignkey')
        batch_op.drop_column('voided_by_id')
        batch_op.drop_column('void_reason')
        batch_op.drop_column('voided_at')
