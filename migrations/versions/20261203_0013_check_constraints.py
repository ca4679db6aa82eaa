"""CHECK constraints: enum columns hold their values, counts are not negative (nozzles positive), dates in order;
instrument_types.confirmed is an enum (yes / partly / no)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 02:30:00

The importer's bulk path writes without the services that hold these rules: now the database refuses a row
that breaks them, on both backends. The values are written out here (not read from the models' enums), so
the migration stays what it was when the enums change; a later migration that changes an enum's values
replaces its constraint. SQLite cannot add a constraint to a table: batch mode rebuilds each table (the
instruments trigger of 0005 is dropped around the rebuilds and created again, see 0011).
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


CHECKS = {
    'alerts': [
        ('ck_alerts_status_values', "status IN ('open', 'resolved')"),
    ],
    'finding_codes': [
        ('ck_finding_codes_severity_values', "severity IN ('info', 'minor', 'major', 'severe')"),
    ],
    'instrument_types': [
        ('ck_instrument_types_confirmed_values', "confirmed IN ('yes', 'partly', 'no')"),
        ('ck_instrument_types_cycle_months_positive', "cycle_months > 0"),
        ('ck_instrument_types_lead_days_not_negative', "lead_days >= 0"),
        ('ck_instrument_types_rule_values', "rule IN ('periodic', 'service_life')"),
        ('ck_instrument_types_service_life_years_positive', "service_life_years > 0"),
    ],
    'users': [
        ('ck_users_role_values', "role IN ('admin', 'supervisor', 'inspector')"),
    ],
    'campaigns': [
        ('ck_campaigns_ends_on_not_before_starts_on', "ends_on >= starts_on"),
    ],
    'integrity_targets': [
        ('ck_integrity_targets_kind_values', "kind IN ('pledges', 'model_units')"),
        ('ck_integrity_targets_target_not_negative', "target >= 0"),
    ],
    'job_runs': [
        ('ck_job_runs_outcome_values', "outcome IN ('running', 'succeeded', 'failed', 'interrupted')"),
        ('ck_job_runs_trigger_values', "trigger IN ('schedule', 'manual', 'command')"),
    ],
    'mail_outbox': [
        ('ck_mail_outbox_attempts_not_negative', "attempts >= 0"),
        ('ck_mail_outbox_status_values', "status IN ('pending', 'sending', 'sent')"),
    ],
    'merchants': [
        ('ck_merchants_industry_values', "industry IN ('market_vendor', 'market_organiser', 'fuel_station', 'eyewear_shop', 'medical', 'taxi_company', 'charging_operator', 'utility', 'retail', 'other')"),
    ],
    'import_batches': [
        ('ck_import_batches_status_values', "status IN ('planning', 'preview', 'rejected', 'applying', 'applied', 'failed', 'undone')"),
    ],
    'inspections': [
        ('ck_inspections_visit_outcome_values', "visit_outcome IN ('conducted', 'no_activity', 'unreachable')"),
    ],
    'instruments': [
        ('ck_instruments_last_result_values', "last_result IN ('pass', 'fail')"),
        ('ck_instruments_nozzle_count_positive', "nozzle_count > 0"),
        ('ck_instruments_status_values', "status IN ('in_use', 'stopped', 'scrapped', 'replaced')"),
    ],
    'pledges': [
        ('ck_pledges_review_on_not_before_signed_on', "review_on >= signed_on"),
        ('ck_pledges_revoked_on_not_before_signed_on', "revoked_on >= signed_on"),
        ('ck_pledges_status_values', "status IN ('active', 'revoked', 'expired')"),
    ],
    'import_rows': [
        ('ck_import_rows_instrument_action_values', "instrument_action IN ('create', 'update', 'unchanged', 'error', 'skip')"),
        ('ck_import_rows_merchant_action_values', "merchant_action IN ('create', 'update', 'unchanged', 'error', 'skip')"),
        ('ck_import_rows_verification_action_values', "verification_action IN ('create', 'update', 'unchanged', 'error', 'skip')"),
    ],
    'inspection_instruments': [
        ('ck_inspection_instruments_outcome_values', "outcome IN ('ok', 'problem')"),
        ('ck_inspection_instruments_status_values', "status IN ('in_use', 'stopped', 'scrapped', 'replaced')"),
    ],
    'verifications': [
        ('ck_verifications_result_values', "result IN ('pass', 'fail')"),
        ('ck_verifications_valid_until_not_before_verified_on', "valid_until >= verified_on"),
    ],
    'findings': [
        ('ck_findings_measure_values', "measure IN ('on_the_spot', 'rectify', 'stop_use', 'case')"),
    ],
    'rectifications': [
        ('ck_rectifications_closed_on_not_before_issued_on', "closed_on >= issued_on"),
        ('ck_rectifications_deadline_not_before_issued_on', "deadline >= issued_on"),
    ],
}

SQLITE_TRIGGER = """CREATE TRIGGER trg_instruments_delete_alerts AFTER DELETE ON instruments
    BEGIN DELETE FROM alerts WHERE subject_type = 'instrument' AND subject_id = OLD.id; END"""


def _each_table(change) -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        op.execute('DROP TRIGGER trg_instruments_delete_alerts')
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, condition in checks:
                change(batch_op, name, condition)
    if sqlite:
        op.execute(SQLITE_TRIGGER)


def upgrade() -> None:
    # The catalogue's confirmation was free text, seeded as yes / partly / no; anything else was never confirmed.
    kinds = sa.table('instrument_types', sa.column('confirmed', sa.String))
    op.execute(kinds.update().values(confirmed=sa.func.lower(sa.func.trim(kinds.c.confirmed))))
    op.execute(kinds.update().where(kinds.c.confirmed.not_in(('yes', 'partly', 'no'))).values(confirmed='no'))
    _each_table(lambda batch_op, name, condition: batch_op.create_check_constraint(op.f(name), condition))


def downgrade() -> None:
    _each_table(lambda batch_op, name, condition: batch_op.drop_constraint(op.f(name), type_='check'))
