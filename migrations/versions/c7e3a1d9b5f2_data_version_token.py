"""data_version: a token the database renews on every change, the key of cached pages (issue 19)

One row (id 1) holding a random token; triggers on every table write a new one in the same
transaction as any change (on PostgreSQL once, at commit). ``crm.views.page_cache`` keeps rendered
pages under it. The SQL is a frozen copy of ``crm.models.data_version`` as of this revision, with
the tables that existed then; a later migration that adds a table, or rebuilds one (SQLite batch
mode drops its triggers), must create its triggers: tests/test_page_cache.py checks the head.

Revision ID: c7e3a1d9b5f2
Revises: a9c4e2f7d1b3
Create Date: 2026-11-28 01:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c7e3a1d9b5f2'
down_revision = 'a9c4e2f7d1b3'
branch_labels = None
depends_on = None

TABLES = (
    "activity", "activity_centre", "activity_month_total", "activity_municipality", "anchoring_entry",
    "anchoring_item", "audit_log", "budget_line", "budget_version", "contact", "cooperation_plan",
    "cost_line", "expense", "fidelity_rating", "fidelity_review", "instrument", "instrument_band",
    "instrument_item", "instrument_item_mapping", "instrument_version", "job_run", "material",
    "material_author", "material_comment", "material_region", "material_transition", "material_version",
    "municipality", "note", "outbox_attachment", "outbox_message", "outcome_quarter", "period_reopening",
    "plan_centre", "plan_municipality", "plan_target_group", "psychiatric_centre", "recovery_code",
    "region", "region_grant", "report_submission", "saved_report", "saved_report_address",
    "saved_report_recipient", "saved_report_run", "second_factor", "sign_in_throttle", "stage_change",
    "target_group", "task", "user", "user_identity",
)
NEW_TOKEN = {"postgresql": "floor(random() * 9.0e18)::bigint", "sqlite": "random()"}
PG_FUNCTION = f"""CREATE OR REPLACE FUNCTION data_version_renew() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('crm.data_version_renewed', true) IS DISTINCT FROM 'on' THEN
        UPDATE data_version SET token = {NEW_TOKEN["postgresql"]} WHERE id = 1;
        PERFORM set_config('crm.data_version_renewed', 'on', true);
    END IF;
    RETURN NULL;
END $$"""
OPERATIONS = ("INSERT", "UPDATE", "DELETE")


def upgrade():
    dialect = op.get_bind().dialect.name
    op.create_table('data_version',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('token', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_version'))
    )
    op.execute(f"INSERT INTO data_version (id, token) VALUES (1, {NEW_TOKEN.get(dialect, NEW_TOKEN['sqlite'])})")
    if dialect == "postgresql":
        op.execute(PG_FUNCTION)
        for table in TABLES:
            op.execute(f'CREATE CONSTRAINT TRIGGER tr_data_version AFTER INSERT OR UPDATE OR DELETE ON "{table}" '
                       "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION data_version_renew()")
    else:
        for table in TABLES:
            for operation in OPERATIONS:
                op.execute(f'CREATE TRIGGER "tr_data_version_{table}_{operation.lower()}" AFTER {operation} '
                           f'ON "{table}" FOR EACH ROW BEGIN UPDATE data_version SET token = random() '
                           "WHERE id = 1; END")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in TABLES:
            op.execute(f'DROP TRIGGER IF EXISTS tr_data_version ON "{table}"')
        op.execute("DROP FUNCTION IF EXISTS data_version_renew()")
    else:
        for table in TABLES:
            for operation in OPERATIONS:
                op.execute(f'DROP TRIGGER IF EXISTS "tr_data_version_{table}_{operation.lower()}"')
    op.drop_table('data_version')
