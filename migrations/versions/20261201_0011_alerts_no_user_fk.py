"""alerts.acknowledged_by_id without a foreign key (a per-row constraint trigger slowed the first sweep)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 01:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


# SQLite rebuilds `alerts` for this, and will not rename the new table into place while the instruments
# trigger of 0005 names `alerts`: the trigger is dropped for the rebuild and created again.
SQLITE_TRIGGER = """CREATE TRIGGER trg_instruments_delete_alerts AFTER DELETE ON instruments
    BEGIN DELETE FROM alerts WHERE subject_type = 'instrument' AND subject_id = OLD.id; END"""


def _rebuild(change) -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        op.execute('DROP TRIGGER trg_instruments_delete_alerts')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        change(batch_op)
    if sqlite:
        op.execute(SQLITE_TRIGGER)


def upgrade() -> None:
    _rebuild(lambda batch_op: batch_op.drop_constraint('fk_alerts_acknowledged_by_id_users', type_='foreignkey'))


def downgrade() -> None:
    _rebuild(lambda batch_op: batch_op.create_foreign_key('fk_alerts_acknowledged_by_id_users', 'users',
                                                          ['acknowledged_by_id'], ['id']))
