"""users.session_token (ends every session of a user when rotated) and users.must_change_password

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 22:20:00
"""
import secrets

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild on SQLite); the '' default is replaced for every row below.
    op.add_column('users', sa.Column('session_token', sa.String(length=64), server_default='', nullable=False))
    op.add_column('users', sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(),
                                     nullable=False))
    # Every existing user gets a random token of their own; cookies made before, which carry none, stop working.
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('session_token', sa.String))
    bind = op.get_bind()
    for (user_id,) in bind.execute(sa.select(users.c.id)).all():
        bind.execute(users.update().where(users.c.id == user_id).values(session_token=secrets.token_urlsafe(32)))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
        batch_op.drop_column('session_token')
