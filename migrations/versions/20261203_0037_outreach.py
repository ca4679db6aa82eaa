"""Outreach and markets, and a catalogue admins complete: outreach activities (with free verifications by kind and
photos), micro-stations and volunteers with targets per region (a region without its own inherits its parent's,
as in 0034), fair scales, the re-weigh log, the organiser-duty checklist of market inspections, and two more
industries (餐饮, 涉农). The merchants' industry CHECK is replaced (its values written out, as 0013 does); on
SQLite batch mode rebuilds the merchants table for it. New catalogue kinds are seed data (`flask seed`), not
part of this migration.

Revision ID: 0037
Revises: 0034
Create Date: 2026-12-03 19:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0037'
down_revision = '0036'
branch_labels = None
depends_on = None

OLD_INDUSTRIES = ('market_vendor', 'market_organiser', 'fuel_station', 'eyewear_shop', 'medical', 'taxi_company',
                  'charging_operator', 'utility', 'retail', 'other')
NEW_INDUSTRIES = OLD_INDUSTRIES[:-1] + ('catering', 'agriculture', 'other')


def _industry_check(values) -> str:
    return "industry IN (" + ", ".join(f"'{v}'" for v in values) + ")"


# SQLite: rebuilding merchants drops its search triggers (migration 0015); the FTS table keeps its rows (the
# rebuild keeps every id), so the triggers are created again as 0015 made them.
SEARCH_TRIGGERS = (
    '''CREATE TRIGGER trg_merchants_search_insert AFTER INSERT ON merchants BEGIN
        INSERT INTO merchants_search (rowid, search_text) VALUES (new.id, new.search_text); END''',
    '''CREATE TRIGGER trg_merchants_search_update AFTER UPDATE OF search_text ON merchants BEGIN
        UPDATE merchants_search SET search_text = new.search_text WHERE rowid = old.id; END''',
    '''CREATE TRIGGER trg_merchants_search_delete AFTER DELETE ON merchants BEGIN
        DELETE FROM merchants_search WHERE rowid = old.id; END''',
)


def _industries(values) -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    with op.batch_alter_table('merchants') as batch:
        batch.drop_constraint(op.f('ck_merchants_industry_values'), type_='check')
        batch.create_check_constraint(op.f('ck_merchants_industry_values'), _industry_check(values))
    if sqlite:
        for statement in SEARCH_TRIGGERS:
            op.execute(statement)


def _times(versioned: bool = False) -> list:
    cols = [sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False)]
    return cols + ([sa.Column('version', sa.Integer(), nullable=False)] if versioned else [])


def _void() -> list:
    return [sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
            sa.Column('void_reason', sa.Text(), nullable=False),
            sa.Column('voided_by_id', sa.Integer(), nullable=True)]


def _fk(table: str, column: str, target: str, **kw) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f'{target}.id'], name=op.f(f'fk_{table}_{column}_{target}'), **kw)


def upgrade() -> None:
    _industries(NEW_INDUSTRIES)

    op.create_table(
        'outreach_activities',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('held_on', sa.Date(), nullable=False),
        sa.Column('kind', sa.String(20), nullable=False),
        sa.Column('place', sa.String(200), nullable=False),
        sa.Column('place_kind', sa.String(20), nullable=False),
        sa.Column('staff', sa.String(300), nullable=False),
        sa.Column('people_served', sa.Integer(), nullable=False),
        sa.Column('enterprises_visited', sa.Integer(), nullable=False),
        sa.Column('materials', sa.Integer(), nullable=False),
        sa.Column('notes', sa.Text(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        *_times(), *_void(),
        sa.CheckConstraint("kind IN ('metrology_day', 'benefit', 'five_into', 'sme', 'science', 'other')",
                           name=op.f('ck_outreach_activities_kind_values')),
        sa.CheckConstraint("place_kind IN ('school', 'community', 'enterprise', 'hospital', 'care_home', 'market', "
                           "'other')", name=op.f('ck_outreach_activities_place_kind_values')),
        sa.CheckConstraint('people_served >= 0', name=op.f('ck_outreach_activities_people_served_not_negative')),
        sa.CheckConstraint('enterprises_visited >= 0',
                           name=op.f('ck_outreach_activities_enterprises_visited_not_negative')),
        sa.CheckConstraint('materials >= 0', name=op.f('ck_outreach_activities_materials_not_negative')),
        _fk('outreach_activities', 'station_id', 'stations'),
        _fk('outreach_activities', 'created_by_id', 'users'),
        _fk('outreach_activities', 'voided_by_id', 'users'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outreach_activities')),
    )
    op.create_index(op.f('ix_outreach_activities_station_id'), 'outreach_activities', ['station_id'])
    op.create_index(op.f('ix_outreach_activities_held_on'), 'outreach_activities', ['held_on'])

    op.create_table(
        'outreach_verifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('activity_id', sa.Integer(), nullable=False),
        sa.Column('type_id', sa.Integer(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        *_times(),
        sa.CheckConstraint('count > 0', name=op.f('ck_outreach_verifications_count_positive')),
        _fk('outreach_verifications', 'activity_id', 'outreach_activities'),
        _fk('outreach_verifications', 'type_id', 'instrument_types'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outreach_verifications')),
        sa.UniqueConstraint('activity_id', 'type_id', name=op.f('uq_outreach_verifications_activity_id_type_id')),
    )
    op.create_index(op.f('ix_outreach_verifications_activity_id'), 'outreach_verifications', ['activity_id'])

    op.create_table(
        'outreach_photos',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('activity_id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('original_name', sa.String(200), nullable=False),
        sa.Column('stored_name', sa.String(120), nullable=False),
        sa.Column('content_type', sa.String(40), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(64), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('taken_at', sa.DateTime(timezone=True), nullable=True),
        *_times(),
        _fk('outreach_photos', 'activity_id', 'outreach_activities'),
        _fk('outreach_photos', 'station_id', 'stations'),
        _fk('outreach_photos', 'created_by_id', 'users'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outreach_photos')),
        sa.UniqueConstraint('stored_name', name=op.f('uq_outreach_photos_stored_name')),
    )
    op.create_index(op.f('ix_outreach_photos_activity_id'), 'outreach_photos', ['activity_id'])

    op.create_table(
        'micro_stations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('address', sa.String(300), nullable=False),
        sa.Column('opened_on', sa.Date(), nullable=False),
        sa.Column('closed_on', sa.Date(), nullable=True),
        sa.Column('notes', sa.Text(), nullable=False),
        *_times(versioned=True),
        sa.CheckConstraint('closed_on >= opened_on', name=op.f('ck_micro_stations_closed_on_not_before_opened_on')),
        _fk('micro_stations', 'station_id', 'stations'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_micro_stations')),
    )
    op.create_index(op.f('ix_micro_stations_station_id'), 'micro_stations', ['station_id'])

    op.create_table(
        'outreach_volunteers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('micro_station_id', sa.Integer(), nullable=True),
        sa.Column('name', sa.String(50), nullable=False),
        sa.Column('phone', sa.String(30), nullable=False),
        sa.Column('joined_on', sa.Date(), nullable=False),
        sa.Column('left_on', sa.Date(), nullable=True),
        sa.Column('notes', sa.Text(), nullable=False),
        *_times(versioned=True),
        sa.CheckConstraint('left_on >= joined_on', name=op.f('ck_outreach_volunteers_left_on_not_before_joined_on')),
        _fk('outreach_volunteers', 'station_id', 'stations'),
        _fk('outreach_volunteers', 'micro_station_id', 'micro_stations'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outreach_volunteers')),
    )
    op.create_index(op.f('ix_outreach_volunteers_station_id'), 'outreach_volunteers', ['station_id'])

    op.create_table(
        'outreach_targets',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(20), nullable=False),
        sa.Column('scope_key', sa.String(20), nullable=False),
        sa.Column('region_id', sa.Integer(), nullable=True),
        sa.Column('target', sa.Integer(), nullable=False),
        *_times(versioned=True),
        sa.CheckConstraint("kind IN ('micro_stations', 'volunteers')", name=op.f('ck_outreach_targets_kind_values')),
        sa.CheckConstraint('target >= 0', name=op.f('ck_outreach_targets_target_not_negative')),
        _fk('outreach_targets', 'region_id', 'regions', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outreach_targets')),
        sa.UniqueConstraint('kind', 'scope_key', name=op.f('uq_outreach_targets_kind_scope_key')),
    )
    op.create_index(op.f('ix_outreach_targets_region_id'), 'outreach_targets', ['region_id'])

    op.create_table(
        'fair_scales',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instrument_id', sa.Integer(), nullable=False),
        sa.Column('market_id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('location', sa.String(120), nullable=False),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        *_times(versioned=True),
        _fk('fair_scales', 'instrument_id', 'instruments', ondelete='CASCADE'),
        _fk('fair_scales', 'market_id', 'merchants'),
        _fk('fair_scales', 'station_id', 'stations'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fair_scales')),
        sa.UniqueConstraint('instrument_id', name=op.f('uq_fair_scales_instrument_id')),
    )
    op.create_index(op.f('ix_fair_scales_market_id'), 'fair_scales', ['market_id'])
    op.create_index(op.f('ix_fair_scales_station_id'), 'fair_scales', ['station_id'])

    op.create_table(
        'reweighs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('fair_scale_id', sa.Integer(), nullable=False),
        sa.Column('market_id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('stall_id', sa.Integer(), nullable=True),
        sa.Column('weighed_on', sa.Date(), nullable=False),
        sa.Column('goods', sa.String(60), nullable=False),
        sa.Column('category', sa.String(20), nullable=False),
        sa.Column('claimed_g', sa.Integer(), nullable=False),
        sa.Column('found_g', sa.Integer(), nullable=False),
        sa.Column('shortfall_g', sa.Integer(), nullable=False),
        sa.Column('tolerance_g', sa.Integer(), nullable=False),
        sa.Column('notes', sa.Text(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        *_times(), *_void(),
        sa.CheckConstraint('claimed_g > 0', name=op.f('ck_reweighs_claimed_g_positive')),
        sa.CheckConstraint("category IN ('staple', 'fresh', 'dried', 'premium')",
                           name=op.f('ck_reweighs_category_values')),
        sa.CheckConstraint('found_g >= 0', name=op.f('ck_reweighs_found_g_not_negative')),
        sa.CheckConstraint('tolerance_g >= 0', name=op.f('ck_reweighs_tolerance_g_not_negative')),
        _fk('reweighs', 'fair_scale_id', 'fair_scales'),
        _fk('reweighs', 'market_id', 'merchants'),
        _fk('reweighs', 'station_id', 'stations'),
        _fk('reweighs', 'stall_id', 'merchants'),
        _fk('reweighs', 'created_by_id', 'users'),
        _fk('reweighs', 'voided_by_id', 'users'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reweighs')),
    )
    for column in ('fair_scale_id', 'market_id', 'station_id', 'stall_id', 'weighed_on'):
        op.create_index(op.f(f'ix_reweighs_{column}'), 'reweighs', [column])

    op.create_table(
        'market_duty_checks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('inspection_id', sa.Integer(), nullable=False),
        sa.Column('duty', sa.String(20), nullable=False),
        sa.Column('outcome', sa.String(10), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('finding_id', sa.Integer(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        *_times(),
        sa.CheckConstraint("duty IN ('rules', 'agreements', 'registered', 'fair_scales', 'pledges')",
                           name=op.f('ck_market_duty_checks_duty_values')),
        sa.CheckConstraint("outcome IN ('met', 'not_met', 'na')", name=op.f('ck_market_duty_checks_outcome_values')),
        _fk('market_duty_checks', 'inspection_id', 'inspections'),
        _fk('market_duty_checks', 'finding_id', 'findings'),
        _fk('market_duty_checks', 'created_by_id', 'users'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_market_duty_checks')),
        sa.UniqueConstraint('inspection_id', 'duty', name=op.f('uq_market_duty_checks_inspection_id_duty')),
    )
    op.create_index(op.f('ix_market_duty_checks_inspection_id'), 'market_duty_checks', ['inspection_id'])


def downgrade() -> None:
    for table in ('market_duty_checks', 'reweighs', 'fair_scales', 'outreach_targets', 'outreach_volunteers',
                  'micro_stations', 'outreach_photos', 'outreach_verifications', 'outreach_activities'):
        op.drop_table(table)
    _industries(OLD_INDUSTRIES)
