"""Regions: the province → city → county tree (GB/T 2260 行政区划代码), each station's county and each user's region.

An existing database gets its counties from its stations' division codes: the first six digits, when they are six
digits and name a county (the last two digits are not 00), make the county, and its city (XXXX00) and province
(XX0000) are derived from the code. The migration knows no names, so every region it creates is named by its code
("行政区划 320703") for the admin to rename. Stations without a usable code go to one county, code 000000, named
"本县（区）" for the admin to edit. A database without stations gets no regions.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-03 17:00:00
"""
import datetime as dt
import re

from alembic import op
import sqlalchemy as sa

revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None

# The county that takes stations whose division code names no county; the admin sets its code and name.
FALLBACK_CODE = '000000'
FALLBACK_NAME = '本县（区）'

_SIX_DIGITS = re.compile(r'[0-9]{6}')


def county_code(division_code: str | None) -> str | None:
    """The six-digit county code a station's division code starts with, or None when it names no county."""
    head = (division_code or '').strip()[:6]
    if not _SIX_DIGITS.fullmatch(head) or head.endswith('00'):
        return None
    return head


def upgrade() -> None:
    op.create_table(
        'regions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=6), nullable=False),
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('level', sa.String(length=20), nullable=False),
        sa.Column('parent_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.CheckConstraint("level IN ('province', 'city', 'county')", name=op.f('ck_regions_level_values')),
        sa.ForeignKeyConstraint(['parent_id'], ['regions.id'], name=op.f('fk_regions_parent_id_regions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_regions')),
        sa.UniqueConstraint('code', name=op.f('uq_regions_code')),
    )
    op.create_index(op.f('ix_regions_parent_id'), 'regions', ['parent_id'])
    with op.batch_alter_table('stations') as batch:
        batch.add_column(sa.Column('county_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f('fk_stations_county_id_regions'), 'regions', ['county_id'], ['id'])
        batch.create_index(batch.f('ix_stations_county_id'), ['county_id'])
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('region_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f('fk_users_region_id_regions'), 'regions', ['region_id'], ['id'])
        batch.create_index(batch.f('ix_users_region_id'), ['region_id'])
    _counties_from_stations(op.get_bind())


def _counties_from_stations(conn) -> None:
    """One county per division code in use, with its city and province; the rest share the fallback county."""
    stations = sa.table('stations', sa.column('id'), sa.column('division_code'), sa.column('county_id'))
    regions = sa.table('regions', sa.column('id'), sa.column('code'), sa.column('name'), sa.column('level'),
                       sa.column('parent_id'), sa.column('created_at'), sa.column('updated_at'),
                       sa.column('version'))
    rows = conn.execute(sa.select(stations.c.id, stations.c.division_code)).all()
    if not rows:
        return
    now = dt.datetime.now(dt.timezone.utc)
    ids: dict[str, int] = {}

    def region(code: str, level: str, parent_id: int | None, name: str | None = None) -> int:
        if code not in ids:
            conn.execute(regions.insert().values(code=code, name=name or f'行政区划 {code}', level=level,
                                                 parent_id=parent_id, created_at=now, updated_at=now, version=1))
            ids[code] = conn.execute(sa.select(regions.c.id).where(regions.c.code == code)).scalar_one()
        return ids[code]

    by_county: dict[str, list[int]] = {}
    for station_id, division_code in rows:
        by_county.setdefault(county_code(division_code) or FALLBACK_CODE, []).append(station_id)
    for code in sorted(by_county):
        if code == FALLBACK_CODE:
            county = region(code, 'county', None, FALLBACK_NAME)
        else:
            province = region(code[:2] + '0000', 'province', None)
            city = region(code[:4] + '00', 'city', province)
            county = region(code, 'county', city)
        station_ids = by_county[code]
        for start in range(0, len(station_ids), 500):
            conn.execute(stations.update().where(stations.c.id.in_(station_ids[start:start + 500]))
                         .values(county_id=county))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_index(batch.f('ix_users_region_id'))
        batch.drop_constraint(batch.f('fk_users_region_id_regions'), type_='foreignkey')
        batch.drop_column('region_id')
    with op.batch_alter_table('stations') as batch:
        batch.drop_index(batch.f('ix_stations_county_id'))
        batch.drop_constraint(batch.f('fk_stations_county_id_regions'), type_='foreignkey')
        batch.drop_column('county_id')
    op.drop_index(op.f('ix_regions_parent_id'), table_name='regions')
    op.drop_table('regions')
