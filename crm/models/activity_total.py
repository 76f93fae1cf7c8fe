"""Activity counts and sums per month, region and type, kept exact by the database.

The dashboard's half-year counts and the status report's counts and sums read whole months from
here and scan ``activity`` only for the partial months at the edges of their range, so their cost
follows the number of groups shown rather than the number of activities logged. Never written by
the application: triggers on ``activity`` maintain it in the same transaction as the activity.
"""
from datetime import date
from decimal import Decimal

from sqlalchemy import DDL, BigInteger, Numeric, String, event
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.models.activity import Activity


class ActivityMonthTotal(db.Model):
    """The activities starting in one month, of one type, in one region (or national)."""

    __tablename__ = "activity_month_total"

    month: Mapped[date] = mapped_column(primary_key=True)  # first day of the month of start_date
    # The region code, or 0 for national activities (region_code NULL): a primary key column cannot
    # be NULL, and a NULL would not collide with itself on PostgreSQL, so the upsert could never
    # find the national row. No region has code 0; the queries turn 0 back into NULL.
    region_key: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(30), primary_key=True)
    activities: Mapped[int]
    # Sums of the non-NULL values with how many there were, so that a group whose values are all
    # NULL reads as NULL, exactly like SUM over the activities themselves.
    participants: Mapped[int] = mapped_column(BigInteger)
    participants_known: Mapped[int]
    hours: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    hours_known: Mapped[int]


# Subtract the old row, add the new one, on every INSERT, DELETE and UPDATE of a column summed or
# grouped on, whatever writes (ORM, imports, the demo loader's Core inserts, bulk UPDATEs, raw SQL):
# triggers rather than ORM events, which would miss all but ORM flushes. Rows that fall to zero stay
# (activities = 0) and the queries skip them. SQLite keeps hours as floating point, so its sums are
# rounded to the cents the column holds at each step and cannot drift.
# A later migration that rebuilds ``activity`` (SQLite batch mode copies the table and drops its
# triggers) must create these again; tests/test_migrations.py checks the head has them.
# The migration a9c4e2f7d1b3 creates the same triggers (that SQL is frozen there on purpose).
_PG_UPSERT = """INSERT INTO activity_month_total AS t
            (month, region_key, type, activities, participants, participants_known, hours, hours_known)
        VALUES (date_trunc('month', a_start)::date, coalesce(a_region, 0), a_type, a_sign,
                a_sign * coalesce(a_participants, 0), a_sign * (a_participants IS NOT NULL)::int,
                a_sign * coalesce(a_hours, 0), a_sign * (a_hours IS NOT NULL)::int)
        ON CONFLICT (month, region_key, type) DO UPDATE SET
            activities = t.activities + EXCLUDED.activities,
            participants = t.participants + EXCLUDED.participants,
            participants_known = t.participants_known + EXCLUDED.participants_known,
            hours = t.hours + EXCLUDED.hours,
            hours_known = t.hours_known + EXCLUDED.hours_known;"""


# One activity added to (ROW = NEW, SIGN empty) or taken from (ROW = OLD, SIGN "-") its month's
# total: the SQLite trigger bodies, filled in by ``_sqlite_upsert`` with those constants only.
_SQLITE_UPSERT = """INSERT INTO activity_month_total
            (month, region_key, type, activities, participants, participants_known, hours, hours_known)
        VALUES (date(ROW.start_date, 'start of month'), coalesce(ROW.region_code, 0), ROW.type, SIGN1,
                SIGNcoalesce(ROW.participants, 0), SIGN(ROW.participants IS NOT NULL),
                SIGNcoalesce(ROW.hours, 0), SIGN(ROW.hours IS NOT NULL))
        ON CONFLICT (month, region_key, type) DO UPDATE SET
            activities = activities + excluded.activities,
            participants = participants + excluded.participants,
            participants_known = participants_known + excluded.participants_known,
            hours = round(hours + excluded.hours, 2),
            hours_known = hours_known + excluded.hours_known;"""


def _sqlite_upsert(row: str, sign: str) -> str:
    """``_SQLITE_UPSERT`` for the trigger's ``row`` ("NEW" or "OLD") and ``sign`` ("" or "-")."""
    if row not in ("NEW", "OLD") or sign not in ("", "-"):
        raise ValueError(f"not a trigger row and sign: {row!r}, {sign!r}")
    return _SQLITE_UPSERT.replace("ROW", row).replace("SIGN", sign)


_CHANGED = ("OLD.start_date IS DISTINCT FROM NEW.start_date OR OLD.region_code IS DISTINCT FROM NEW.region_code "
            "OR OLD.type IS DISTINCT FROM NEW.type OR OLD.participants IS DISTINCT FROM NEW.participants "
            "OR OLD.hours IS DISTINCT FROM NEW.hours")

MONTH_TOTAL_TRIGGERS = {
    "postgresql": (
        f"""CREATE OR REPLACE FUNCTION activity_month_total_add(
            a_start date, a_region integer, a_type varchar, a_participants integer, a_hours numeric, a_sign integer)
        RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
        {_PG_UPSERT}
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
        f"""CREATE TRIGGER tr_activity_month_total_update
        AFTER UPDATE OF start_date, region_code, type, participants, hours ON activity
        FOR EACH ROW WHEN ({_CHANGED})
        EXECUTE FUNCTION activity_month_total_apply()""",
    ),
    "sqlite": (
        f"""CREATE TRIGGER tr_activity_month_total_insert
        AFTER INSERT ON activity FOR EACH ROW
        BEGIN
        {_sqlite_upsert("NEW", "")}
        END""",
        f"""CREATE TRIGGER tr_activity_month_total_delete
        AFTER DELETE ON activity FOR EACH ROW
        BEGIN
        {_sqlite_upsert("OLD", "-")}
        END""",
        f"""CREATE TRIGGER tr_activity_month_total_update
        AFTER UPDATE OF start_date, region_code, type, participants, hours ON activity FOR EACH ROW
        WHEN {_CHANGED.replace("IS DISTINCT FROM", "IS NOT")}
        BEGIN
        {_sqlite_upsert("OLD", "-")}
        {_sqlite_upsert("NEW", "")}
        END""",
    ),
}
# Tests' create_all; the app's schema comes from the migrations. With the ``activity`` table they
# sit on, so a create_all over an existing schema creates nothing twice; this table may come later
# (both databases resolve a trigger body's tables when it runs).
for _dialect, _statements in MONTH_TOTAL_TRIGGERS.items():
    for _statement in _statements:
        event.listen(Activity.__table__, "after_create", DDL(_statement).execute_if(dialect=_dialect))
