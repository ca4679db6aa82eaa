"""Certificate files of verifications (verification_certificates: kept on disk like evidence, voided never
deleted); the catalogue's 项别 and 种别 (强检目录 2020) for each kind; the index the monthly report's counts by
用途 read. Instruments' e-CQS texts (purpose, submission, region) keep their rows as typed: no constraint.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-03 13:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

# 项别 and 种别 of each seeded kind (app/catalog/seed/instrument_types.csv at this revision).
SEEDED = {
    'elec_price_scale': ('非自动衡器', '数字指示秤'), 'fuel_dispenser': ('燃油加油机', '燃油加油机'),
    'cng_dispenser': ('加气机', '压缩天然气加气机'), 'lpg_dispenser': ('加气机', '液化石油气加气机'),
    'taximeter': ('出租汽车计价器', '出租汽车计价器'), 'ev_ac_charger': ('电动汽车充电桩', '交流充电桩'),
    'ev_dc_charger': ('电动汽车充电桩', '非车载充电机'), 'water_meter_le25': ('水表', '水表'),
    'water_meter_25_50': ('水表', '水表'), 'water_meter_gt50': ('水表', '水表'),
    'gas_meter_ng': ('燃气表', '膜式燃气表'), 'gas_meter_other': ('燃气表', '膜式燃气表'),
    'gas_meter_ultrasonic': ('燃气表', '超声波燃气表'), 'elec_meter': ('电能表', '电能表'),
    'bp_manual': ('血压计', '血压计、血压表'), 'bp_auto': ('血压计', '无创自动测量血压计'),
    'refractometer': ('验光仪', '验光仪'), 'lensmeter': ('焦度计', '焦度计'),
    'trial_lens_set': ('验光镜片组', '验光镜片组'),
}


def upgrade() -> None:
    op.create_table(
        'verification_certificates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('verification_id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('original_name', sa.String(length=200), nullable=False),
        sa.Column('stored_name', sa.String(length=120), nullable=False),
        sa.Column('content_type', sa.String(length=40), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('void_reason', sa.Text(), nullable=False),
        sa.Column('voided_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['verification_id'], ['verifications.id'],
                                name=op.f('fk_verification_certificates_verification_id_verifications')),
        sa.ForeignKeyConstraint(['station_id'], ['stations.id'],
                                name=op.f('fk_verification_certificates_station_id_stations')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_verification_certificates_created_by_id_users')),
        sa.ForeignKeyConstraint(['voided_by_id'], ['users.id'],
                                name=op.f('fk_verification_certificates_voided_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_verification_certificates')),
        sa.UniqueConstraint('stored_name', name=op.f('uq_verification_certificates_stored_name')),
    )
    op.create_index('ix_verification_certificates_verification_id', 'verification_certificates',
                    ['verification_id', 'id'])
    # Plain add_column, not a batch: rebuilding instrument_types on SQLite is not needed to add a column.
    for name in ('category', 'subcategory'):
        op.add_column('instrument_types', sa.Column(name, sa.String(length=60), nullable=False, server_default=''))
        if op.get_bind().dialect.name == 'postgresql':
            op.alter_column('instrument_types', name, server_default=None)
    op.create_index('ix_instruments_status_purpose', 'instruments', ['status', 'purpose', 'station_id'])
    # The seeded kinds get their 项别 and 种别 (a copy of the seed's, as of this revision); a kind an admin added
    # keeps them empty until an admin fills them in.
    types = sa.table('instrument_types', sa.column('code', sa.String), sa.column('category', sa.String),
                     sa.column('subcategory', sa.String))
    for code, (category, subcategory) in SEEDED.items():
        op.execute(types.update().where(types.c.code == code, types.c.category == '')
                   .values(category=category, subcategory=subcategory))


def downgrade() -> None:
    op.drop_index('ix_instruments_status_purpose', table_name='instruments')
    with op.batch_alter_table('instrument_types') as batch:
        batch.drop_column('subcategory')
        batch.drop_column('category')
    op.drop_index('ix_verification_certificates_verification_id', table_name='verification_certificates')
    op.drop_table('verification_certificates')
