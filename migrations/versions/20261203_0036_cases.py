"""Cases and penalties (案件): cases opened by 立案 findings, their appended stages, confiscated instruments,
enforcement brigades (执法大队) as teams of users, per-stage time limits; credit_scores.repeat_offender (重点关注).

Every finding already recorded with the measure 立案 (in force) gets its case at the 立案 stage, dated on its
inspection, with the default 60-day limit to 调查取证 (app/cases/services.py DEFAULT_LIMITS).

Revision ID: 0036
Revises: 0034
Create Date: 2026-12-03 18:55:55
"""
import datetime as dt
from alembic import op
import sqlalchemy as sa


revision = '0036'
down_revision = '0035'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_stage_limits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.Enum('filed', 'investigation', 'notice', 'decision', 'execution', 'closed', name='stage', native_enum=False, length=20), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("stage IN ('filed', 'investigation', 'notice', 'decision', 'execution', 'closed')", name=op.f('ck_case_stage_limits_stage_values')),
    sa.CheckConstraint('days > 0', name=op.f('ck_case_stage_limits_days_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_stage_limits')),
    sa.UniqueConstraint('stage', name=op.f('uq_case_stage_limits_stage'))
    )
    op.create_table('enforcement_teams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enforcement_teams')),
    sa.UniqueConstraint('name', name=op.f('uq_enforcement_teams_name'))
    )
    op.create_table('enforcement_team_members',
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['enforcement_teams.id'], name=op.f('fk_enforcement_team_members_team_id_enforcement_teams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_enforcement_team_members_user_id_users')),
    sa.PrimaryKeyConstraint('team_id', 'user_id', name=op.f('pk_enforcement_team_members'))
    )
    with op.batch_alter_table('enforcement_team_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enforcement_team_members_user_id'), ['user_id'], unique=False)

    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_no', sa.String(length=60), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('discovered_on', sa.Date(), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('stage', sa.Enum('filed', 'investigation', 'notice', 'decision', 'execution', 'closed', name='stage', native_enum=False, length=20), nullable=False),
    sa.Column('stage_on', sa.Date(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('published_on', sa.Date(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.Text(), nullable=False),
    sa.Column('voided_by_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("stage IN ('filed', 'investigation', 'notice', 'decision', 'execution', 'closed')", name=op.f('ck_cases_stage_values')),
    sa.CheckConstraint('closed_on >= opened_on', name=op.f('ck_cases_closed_on_not_before_opened_on')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_cases_created_by_id_users')),
    sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], name=op.f('fk_cases_finding_id_findings')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_cases_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_cases_station_id_stations')),
    sa.ForeignKeyConstraint(['team_id'], ['enforcement_teams.id'], name=op.f('fk_cases_team_id_enforcement_teams')),
    sa.ForeignKeyConstraint(['voided_by_id'], ['users.id'], name=op.f('fk_cases_voided_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('case_no', name=op.f('uq_cases_case_no')),
    sa.UniqueConstraint('finding_id', name=op.f('uq_cases_finding_id'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_merchant_id'), ['merchant_id'], unique=False)
        batch_op.create_index('ix_cases_open_due', ['closed_on', 'due_on'], unique=False)
        batch_op.create_index('ix_cases_station_stage', ['station_id', 'stage'], unique=False)
        batch_op.create_index('ix_cases_team', ['team_id'], unique=False)

    op.create_table('case_stages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.Enum('filed', 'investigation', 'notice', 'decision', 'execution', 'closed', name='stage', native_enum=False, length=20), nullable=False),
    sa.Column('stage_on', sa.Date(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('corrects_id', sa.Integer(), nullable=True),
    sa.Column('decision', sa.Enum('penalty', 'no_penalty', name='decisionkind', native_enum=False, length=20), nullable=True),
    sa.Column('fine', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('confiscation', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('basis', sa.Enum('first_minor', 'minor', 'no_fault', 'other', name='nopenaltybasis', native_enum=False, length=20), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("basis IN ('first_minor', 'minor', 'no_fault', 'other')", name=op.f('ck_case_stages_basis_values')),
    sa.CheckConstraint("decision IN ('penalty', 'no_penalty')", name=op.f('ck_case_stages_decision_values')),
    sa.CheckConstraint("stage IN ('filed', 'investigation', 'notice', 'decision', 'execution', 'closed')", name=op.f('ck_case_stages_stage_values')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_stages_case_id_cases')),
    sa.ForeignKeyConstraint(['corrects_id'], ['case_stages.id'], name=op.f('fk_case_stages_corrects_id_case_stages')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_case_stages_created_by_id_users')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_case_stages_station_id_stations')),
    sa.ForeignKeyConstraint(['team_id'], ['enforcement_teams.id'], name=op.f('fk_case_stages_team_id_enforcement_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_stages')),
    sa.UniqueConstraint('corrects_id', name=op.f('uq_case_stages_corrects_id'))
    )
    with op.batch_alter_table('case_stages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_stages_case_id'), ['case_id'], unique=False)

    op.create_table('case_confiscations',
    sa.Column('stage_id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_case_confiscations_instrument_id_instruments')),
    sa.ForeignKeyConstraint(['stage_id'], ['case_stages.id'], name=op.f('fk_case_confiscations_stage_id_case_stages')),
    sa.PrimaryKeyConstraint('stage_id', 'instrument_id', name=op.f('pk_case_confiscations'))
    )
    with op.batch_alter_table('case_confiscations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_confiscations_instrument_id'), ['instrument_id'], unique=False)

    with op.batch_alter_table('credit_scores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('repeat_offender', sa.Boolean(), nullable=False, server_default=sa.false()))
    _open_existing_cases()


def _open_existing_cases() -> None:
    """A case at 立案 for each 立案 finding in force (dated on its inspection), so the worklist starts complete."""
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT f.id, f.case_no, i.merchant_id, i.station_id, i.inspected_on, f.created_by_id "
        "FROM findings f JOIN inspections i ON i.id = f.inspection_id "
        "WHERE f.measure = 'case' AND f.case_no IS NOT NULL AND f.voided_at IS NULL ORDER BY f.id")).all()
    cases = sa.table('cases', *(sa.column(c) for c in (
        'id', 'case_no', 'finding_id', 'merchant_id', 'station_id', 'discovered_on', 'opened_on', 'stage', 'stage_on',
        'due_on', 'created_by_id', 'void_reason', 'version', 'created_at', 'updated_at')))
    stages = sa.table('case_stages', *(sa.column(c) for c in (
        'case_id', 'stage', 'stage_on', 'station_id', 'deadline', 'notes', 'created_by_id', 'created_at',
        'updated_at')))
    now = dt.datetime.now(dt.timezone.utc)
    for finding_id, case_no, merchant_id, station_id, inspected_on, created_by in rows:
        on = inspected_on if isinstance(inspected_on, dt.date) else dt.date.fromisoformat(str(inspected_on)[:10])
        case_id = bind.execute(cases.insert().values(
            case_no=case_no, finding_id=finding_id, merchant_id=merchant_id, station_id=station_id,
            discovered_on=on, opened_on=on, stage='filed', stage_on=on, due_on=on + dt.timedelta(days=60),
            created_by_id=created_by, void_reason='', version=1, created_at=now, updated_at=now
        ).returning(cases.c.id)).scalar_one()
        bind.execute(stages.insert().values(case_id=case_id, stage='filed', stage_on=on, station_id=station_id,
                                            deadline=on + dt.timedelta(days=15), notes='由立案问题自动建立',
                                            created_by_id=created_by, created_at=now, updated_at=now))



def downgrade() -> None:
    with op.batch_alter_table('credit_scores', schema=None) as batch_op:
        batch_op.drop_column('repeat_offender')

    with op.batch_alter_table('case_confiscations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_confiscations_instrument_id'))

    op.drop_table('case_confiscations')
    with op.batch_alter_table('case_stages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_stages_case_id'))

    op.drop_table('case_stages')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_team')
        batch_op.drop_index('ix_cases_station_stage')
        batch_op.drop_index('ix_cases_open_due')
        batch_op.drop_index(batch_op.f('ix_cases_merchant_id'))

    op.drop_table('cases')
    with op.batch_alter_table('enforcement_team_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforcement_team_members_user_id'))

    op.drop_table('enforcement_team_members')
    op.drop_table('enforcement_teams')
    op.drop_table('case_stage_limits')
