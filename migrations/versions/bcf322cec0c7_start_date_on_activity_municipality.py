"""start date on activity_municipality (kept by triggers), and participants and hours in the
date-first activity index on PostgreSQL

A municipality's activities, newest first, are read from an index that starts with the
municipality: ``activity_municipality.start_date`` is a copy of the activity's start date that the
database keeps (triggers, created here and by the models' DDL events for ``create_all``), filled
here for the existing rows. The status report's half-year counts and sums become an index-only scan
on PostgreSQL through ``INCLUDE (participants, hours)``.

Revision ID: bcf322cec0c7
Revises: 0b7d2c4e6a18
Create Date: 2026-11-27 13:25:34.781493

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'bcf322cec0c7'
down_revision = '0b7d2c4e6a18'
branch_labels = None
depends_on = None

# Frozen copy of crm.models.activity.LINK_START_DATE_TRIGGERS as of this revision.
TRIGGERS = {
    "postgresql": (
        """CREATE OR REPLACE FUNCTION activity_municipality_start_date() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            SELECT a.start_date INTO NEW.start_date FROM activity a WHERE a.id = NEW.activity_id;
            RETURN NEW;
        END $$""",
        """CREATE TRIGGER tr_activity_municipality_start_date
        BEFORE INSERT OR UPDATE OF activity_id, start_date ON activity_municipality
        FOR EACH ROW EXECUTE FUNCTION activity_municipality_start_date()""",
        """CREATE OR REPLACE FUNCTION activity_start_date_to_links() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE activity_municipality SET start_date = NEW.start_date WHERE activity_id = NEW.id;
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER tr_activity_start_date_to_links
        AFTER UPDATE OF start_date ON activity
        FOR EACH ROW WHEN (OLD.start_date IS DISTINCT FROM NEW.start_date)
        EXECUTE FUNCTION activity_start_date_to_links()""",
    ),
    "sqlite": (
        """CREATE TRIGGER tr_activity_municipality_start_date
        AFTER INSERT ON activity_municipality FOR EACH ROW
        BEGIN
            UPDATE activity_municipality SET start_date = (SELECT start_date FROM activity WHERE id = NEW.activity_id)
            WHERE activity_id = NEW.activity_id AND municipality_code = NEW.municipality_code;
        END""",
        """CREATE TRIGGER tr_activity_municipality_start_date_update
        AFTER UPDATE OF activity_id, start_date ON activity_municipality FOR EACH ROW
        WHEN NEW.start_date IS NOT (SELECT start_date FROM activity WHERE id = NEW.activity_id)
        BEGIN
            UPDATE activity_municipality SET start_date = (SELECT start_date FROM activity WHERE id = NEW.activity_id)
            WHERE activity_id = NEW.activity_id AND municipality_code = NEW.municipality_code;
        END""",
        """CREATE TRIGGER tr_activity_start_date_to_links
        AFTER UPDATE OF start_date ON activity FOR EACH ROW
        WHEN NEW.start_date IS NOT OLD.start_date
        BEGIN
            UPDATE activity_municipality SET start_date = NEW.start_date WHERE activity_id = NEW.id;
        END""",
    ),
}
DROP = {
    "postgresql": (
        "DROP TRIGGER IF EXISTS tr_activity_start_date_to_links ON activity",
        "DROP TRIGGER IF EXISTS tr_activity_municipality_start_date ON activity_municipality",
        "DROP FUNCTION IF EXISTS activity_start_date_to_links()",
        "DROP FUNCTION IF EXISTS activity_municipality_start_date()",
    ),
    "sqlite": (
        "DROP TRIGGER IF EXISTS tr_activity_start_date_to_links",
        "DROP TRIGGER IF EXISTS tr_activity_municipality_start_date_update",
        "DROP TRIGGER IF EXISTS tr_activity_municipality_start_date",
    ),
}


def upgrade():
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table('activity_municipality', schema=None) as batch_op:
        batch_op.add_column(sa.Column('start_date', sa.Date(), nullable=True))
    # The existing links take their activity's date, then the database keeps it.
    op.execute("UPDATE activity_municipality SET start_date = "
               "(SELECT activity.start_date FROM activity WHERE activity.id = activity_municipality.activity_id)")
    with op.batch_alter_table('activity_municipality', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activity_municipality_municipality_code'))
        batch_op.create_index('ix_activity_municipality_code_start', ['municipality_code', 'start_date', 'activity_id'],
                              unique=False)
    for statement in TRIGGERS.get(dialect, ()):
        op.execute(statement)
    if dialect == "postgresql":
        op.drop_index('ix_activity_start_region_type_id', table_name='activity')
        op.create_index('ix_activity_start_region_type_id', 'activity', ['start_date', 'region_code', 'type', 'id'],
                        unique=False, postgresql_include=['participants', 'hours'])


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.drop_index('ix_activity_start_region_type_id', table_name='activity')
        op.create_index('ix_activity_start_region_type_id', 'activity', ['start_date', 'region_code', 'type', 'id'],
                        unique=False)
    for statement in DROP.get(dialect, ()):
        op.execute(statement)
    with op.batch_alter_table('activity_municipality', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_municipality_code_start')
        batch_op.create_index(batch_op.f('ix_activity_municipality_municipality_code'), ['municipality_code'],
                              unique=False)
        batch_op.drop_column('start_date')
