"""activity counts and sums per month, region and type, kept by triggers (issue 19)

The dashboard's half-year counts and the status report's counts and sums read whole months from
``activity_month_total`` and scan ``activity`` only for the partial months at the edges of their
range. The table is filled here from the existing activities in one INSERT ... SELECT ... GROUP BY;
afterwards triggers on ``activity`` (created here and by the models' DDL events for ``create_all``)
keep it exact in the same transaction as every write.

Revision ID: a9c4e2f7d1b3
Revises: 5e1f0a7c3b92
Create Date: 2026-11-27 18:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a9c4e2f7d1b3'
down_revision = '5e1f0a7c3b92'
branch_labels = None
depends_on = None

# Frozen copy of crm.models.activity_total.MONTH_TOTAL_TRIGGERS as of this revision.
TRIGGERS = {
    "postgresql": (
        """CREATE OR REPLACE FUNCTION activity_month_total_add(
            a_start date, a_region integer, a_type varchar, a_participants integer, a_hours numeric, a_sign integer)
        RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
        INSERT INTO activity_month_total AS t
            (month, region_key, type, activities, participants, participants_known, hours, hours_known)
        VALUES (date_trunc('month', a_start)::date, coalesce(a_region, 0), a_type, a_sign,
                a_sign * coalesce(a_participants, 0), a_sign * (a_participants IS NOT NULL)::int,
                a_sign * coalesce(a_hours, 0), a_sign * (a_hours IS NOT NULL)::int)
        ON CONFLICT (month, region_key, type) DO UPDATE SET
            activities = t.activities + EXCLUDED.activities,
            participants = t.participants + EXCLUDED.participants,
            participants_known = t.participants_known + EXCLUDED.participants_known,
            hours = t.hours + EXCLUDED.hours,
            hours_known = t.hours_known + EXCLUDED.hours_known;
        END $$""",
        """CREATE OR REPLACE FUNCTION activity_month_total_apply() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' THEN
                PERFORM activity_month_total_add(OLD.start_date, OLD.region_code, OLD.type,
                                                 OLD.participants, OLD.hours, -1);
            END IF;
            IF TG_OP <> 'DELETE' THEN
                PERFORM activity_month_total_add(NEW.start_date, NEW.region_code, NEW.type,
                                                 NEW.participants, NEW.hours, 1);
            END IF;
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER tr_activity_month_total
        AFTER INSERT OR DELETE ON activity
        FOR EACH ROW EXECUTE FUNCTION activity_month_total_apply()""",
        """CREATE TRIGGER tr_activity_month_total_update
        AFTER UPDATE OF start_date, region_code, type, participants, hours ON activity
        FOR EACH ROW WHEN (OLD.start_date IS DISTINCT FROM NEW.start_date OR OLD.region_code IS DISTINCT FROM NEW.region_code OR OLD.type IS DISTINCT FROM NEW.type OR OLD.participants IS DISTINCT FROM NEW.participants OR OLD.hours IS DISTINCT FROM NEW.hours)
        EXECUTE FUNCTION activity_month_total_apply()""",
    ),
    "sqlite": (
        """CREATE TRIGGER tr_activity_month_total_insert
        AFTER INSERT ON activity FOR EACH ROW
        BEGIN
        INSERT INTO activity_month_total
            (month, region_key, type, activities, participants, participants_known, hours, hours_known)
        VALUES (date(NEW.start_date, 'start of month'), coalesce(NEW.region_code, 0), NEW.type, 1,
                coalesce(NEW.participants, 0), (NEW.participants IS NOT NULL),
                coalesce(NEW.hours, 0), (NEW.hours IS NOT NULL))
        ON CONFLICT (month, region_key, type) DO UPDATE SET
            activities = activities + excluded.activities,
            participants = participants + excluded.participants,
            participants_known = participants_known + excluded.participants_known,
            hours = round(hours + excluded.hours, 2),
            hours_known = hours_known + excluded.hours_known;
        END""",
        """CREATE TRIGGER tr_activity_month_total_delete
        AFTER DELETE ON activity FOR EACH ROW
        BEGIN
        INSERT INTO activity_month_total
            (month, region_key, type, activities, participants, participants_known, hours, hours_known)
        VALUES (date(OLD.start_date, 'start of month'), coalesce(OLD.region_code, 0), OLD.type, -1,
                -coalesce(OLD.participants, 0), -(OLD.participants IS NOT NULL),
                -coalesce(OLD.hours, 0), -(OLD.hours IS NOT NULL))
        ON CONFLICT (month, region_key, type) DO UPDATE SET
            activities = activities + excluded.activities,
            participants = participants + excluded.participants,
            participants_known = participants_known + excluded.participants_known,
            hours = round(hours + excluded.hours, 2),
            hours_known = hours_known + excluded.hours_known;
        END""",
        """CREATE TRIGGER tr_activity_month_total_update
        AFTER UPDATE OF start_date, region_code, type, participants, hours ON activity FOR EACH ROW
        WHEN OLD.start_date IS NOT NEW.start_date OR OLD.region_code IS NOT NEW.region_code OR OLD.type IS NOT NEW.type OR OLD.participants IS NOT NEW.participants OR OLD.hours IS NOT NEW.hours
        BEGIN
        INSERT INTO activity_month_total
            (month, region_key, type, activities, participants, participants_known, hours, hours_known)
        VALUES (date(OLD.start_date, 'start of month'), coalesce(OLD.region_code, 0), OLD.type, -1,
                -coalesce(OLD.participants, 0), -(OLD.participants IS NOT NULL),
                -coalesce(OLD.hours, 0), -(OLD.hours IS NOT NULL))
        ON CONFLICT (month, region_key, type) DO UPDATE SET
            activities = activities + excluded.activities,
            participants = participants + excluded.participants,
            participants_known = participants_known + excluded.participants_known,
            hours = round(hours + excluded.hours, 2),
            hours_known = hours_known + excluded.hours_known;
        INSERT INTO activity_month_total
            (month, region_key, type, activities, participants, participants_known, hours, hours_known)
        VALUES (date(NEW.start_date, 'start of month'), coalesce(NEW.region_code, 0), NEW.type, 1,
                coalesce(NEW.participants, 0), (NEW.participants IS NOT NULL),
                coalesce(NEW.hours, 0), (NEW.hours IS NOT NULL))
        ON CONFLICT (month, region_key, type) DO UPDATE SET
            activities = activities + excluded.activities,
            participants = participants + excluded.participants,
            participants_known = participants_known + excluded.participants_known,
            hours = round(hours + excluded.hours, 2),
            hours_known = hours_known + excluded.hours_known;
        END""",
    ),
}
DROP = {
    "postgresql": (
        "DROP TRIGGER IF EXISTS tr_activity_month_total_update ON activity",
        "DROP TRIGGER IF EXISTS tr_activity_month_total ON activity",
        "DROP FUNCTION IF EXISTS activity_month_total_apply()",
        "DROP FUNCTION IF EXISTS activity_month_total_add(date, integer, varchar, integer, numeric, integer)",
    ),
    "sqlite": (
        "DROP TRIGGER IF EXISTS tr_activity_month_total_update",
        "DROP TRIGGER IF EXISTS tr_activity_month_total_delete",
        "DROP TRIGGER IF EXISTS tr_activity_month_total_insert",
    ),
}
# The existing activities, grouped as the triggers keep them (region 0 = national).
MONTH = {"postgresql": "date_trunc('month', start_date)::date", "sqlite": "date(start_date, 'start of month')"}
BACKFILL = """INSERT INTO activity_month_total
    (month, region_key, type, activities, participants, participants_known, hours, hours_known)
SELECT {month}, coalesce(region_code, 0), type, count(*), coalesce(sum(participants), 0), count(participants),
       {hours}, count(hours)
FROM activity GROUP BY {month}, coalesce(region_code, 0), type"""
HOURS = {"postgresql": "coalesce(sum(hours), 0)", "sqlite": "round(coalesce(sum(hours), 0), 2)"}


def upgrade():
    dialect = op.get_bind().dialect.name
    op.create_table('activity_month_total',
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('region_key', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('type', sa.String(length=30), nullable=False),
    sa.Column('activities', sa.Integer(), nullable=False),
    sa.Column('participants', sa.BigInteger(), nullable=False),
    sa.Column('participants_known', sa.Integer(), nullable=False),
    sa.Column('hours', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('hours_known', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month', 'region_key', 'type', name=op.f('pk_activity_month_total'))
    )
    # Triggers first, then the backfill, in the migration's one transaction: no write falls between.
    for statement in TRIGGERS.get(dialect, ()):
        op.execute(statement)
    op.execute(BACKFILL.format(month=MONTH.get(dialect, MONTH["sqlite"]), hours=HOURS.get(dialect, HOURS["sqlite"])))


def downgrade():
    dialect = op.get_bind().dialect.name
    for statement in DROP.get(dialect, ()):
        op.execute(statement)
    op.drop_table('activity_month_total')
