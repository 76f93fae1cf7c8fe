"""Alembic migrations build exactly the schema the models describe, and unwind to nothing."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from config import BASE_DIR
from crm import create_app
from crm.extensions import db
from tests.conftest import _config_for, postgres_base_url, throwaway_postgres_database

MIGRATIONS = str(BASE_DIR / "migrations")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.sqlite'}"
        return
    base = postgres_base_url()
    if base is None:
        pytest.skip("PostgreSQL not reachable")
    with throwaway_postgres_database(base) as url:
        yield url


def test_upgrade_gives_the_models_schema_and_downgrade_removes_it(empty_database_url):
    app = create_app(_config_for(empty_database_url))
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
        assert differences == [], f"models and migrations differ: {differences}"

        downgrade(directory=MIGRATIONS, revision="base")
        remaining = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert remaining == set()
        db.engine.dispose()


TASKS_REVISION = "4b7d2c9e1a53"  # next steps become tasks


def test_next_steps_are_carried_over_as_open_tasks(empty_database_url):
    """Upgrading from the revision before the task table: each municipality's next step becomes one
    open task with the same text, owner and due date; the old columns are gone; downgrade puts the
    earliest open task back."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    app = create_app(_config_for(empty_database_url))
    with app.app_context():
        script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config(MIGRATIONS))
        previous = script.get_revision(TASKS_REVISION).down_revision
        upgrade(directory=MIGRATIONS, revision=previous)
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO region (code, name) VALUES (1084, 'Region Hovedstaden')"))
            conn.execute(text(
                "INSERT INTO \"user\" (id, email, name, password_hash, role, region_code, active, locale, "
                "digest_enabled, session_token, version, created_at) VALUES (7, 'anne@test.dk', 'Anne', 'x', "
                "'ambassador', 1084, :true, 'da', :true, 'token', 1, '2026-01-01 08:00:00')"), {"true": True})
            conn.execute(text(
                "INSERT INTO municipality (code, name, region_code, version, next_step, next_step_owner_id, "
                "next_step_due, updated_by_id) VALUES "
                "(101, 'København', 1084, 1, 'Ring til jobcenterchefen', 7, '2026-12-01', 7), "
                "(147, 'Frederiksberg', 1084, 1, NULL, NULL, NULL, NULL), "
                "(151, 'Ballerup', 1084, 1, NULL, NULL, '2026-11-30', NULL)"))
            conn.execute(text("INSERT INTO note (municipality_code, note_date, text, created_at) "
                              "VALUES (101, '2026-01-02', 'n', '2026-01-02 08:00:00')"))

        upgrade(directory=MIGRATIONS, revision=TASKS_REVISION)
        with db.engine.connect() as conn:
            tasks = conn.execute(text(
                "SELECT municipality_code, text, owner_id, due_date, status, done_at, created_by_id, version "
                "FROM task ORDER BY municipality_code")).all()
            columns = {c["name"] for c in inspect(conn).get_columns("municipality")}
            notes = conn.execute(text("SELECT count(*) FROM note")).scalar()
        # Raw SQL: SQLite answers dates as text, PostgreSQL as dates.
        assert [(*t[:3], str(t[3]), *t[4:]) for t in tasks] == [
            (101, "Ring til jobcenterchefen", 7, "2026-12-01", "open", None, 7, 1),
            (151, "Næste skridt", None, "2026-11-30", "open", None, None, 1),
        ]
        assert not columns & {"next_step", "next_step_owner_id", "next_step_due"}
        assert notes == 1  # rebuilding the municipality table kept the rows that point to it

        downgrade(directory=MIGRATIONS, revision=previous)
        with db.engine.connect() as conn:
            back = conn.execute(text("SELECT code, next_step, next_step_owner_id, next_step_due FROM municipality "
                                     "ORDER BY code")).all()
            assert "task" not in inspect(conn).get_table_names()
        assert [(*r[:3], r[3] and str(r[3])) for r in back] == [
            (101, "Ring til jobcenterchefen", 7, "2026-12-01"), (147, None, None, None),
            (151, "Næste skridt", None, "2026-11-30")]
        downgrade(directory=MIGRATIONS, revision="base")
        db.engine.dispose()


INSTRUMENTS_REVISION = "7a3e5c1d9f42"  # instruments as data


def test_existing_reviews_become_ips25_version_1(empty_database_url):
    """Upgrading from the revision before instruments with a complete review and a draft present:
    IPS-25 v1 (25 items, the four published bands) exists, both reviews belong to it with their
    totals and ratings unchanged, and the total's band is the same; downgrade drops it all again."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    app = create_app(_config_for(empty_database_url))
    with app.app_context():
        script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config(MIGRATIONS))
        previous = script.get_revision(INSTRUMENTS_REVISION).down_revision
        upgrade(directory=MIGRATIONS, revision=previous)
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO region (code, name) VALUES (1084, 'Region Hovedstaden')"))
            conn.execute(text("INSERT INTO municipality (code, name, region_code, version) "
                              "VALUES (101, 'København', 1084, 1)"))
            conn.execute(text(
                "INSERT INTO fidelity_review (id, municipality_code, review_date, total, created_at, version) "
                "VALUES (1, 101, '2025-05-01', 103, '2025-05-01 08:00:00', 1), "
                "(2, 101, '2025-09-01', NULL, '2025-09-01 08:00:00', 1)"))
            conn.execute(text("INSERT INTO fidelity_rating (review_id, item_key, score) "
                              "VALUES (1, 'Services-4', 4), (2, 'Staffing-1', 2)"))

        upgrade(directory=MIGRATIONS, revision=INSTRUMENTS_REVISION)
        with db.engine.connect() as conn:
            version = conn.execute(text(
                "SELECT v.id, i.code, v.number, v.state FROM instrument_version v "
                "JOIN instrument i ON i.id = v.instrument_id")).one()
            reviews = conn.execute(text(
                "SELECT id, total, instrument_version_id FROM fidelity_review ORDER BY id")).all()
            ratings = conn.execute(text("SELECT review_id, item_key, score FROM fidelity_rating "
                                        "ORDER BY review_id")).all()
            items = conn.execute(text("SELECT count(*), sum(weight), min(min_score), max(max_score) "
                                      "FROM instrument_item WHERE instrument_version_id = :v"),
                                 {"v": version.id}).one()
            band = conn.execute(text("SELECT code FROM instrument_band WHERE instrument_version_id = :v "
                                     "AND 103 BETWEEN lower_total AND upper_total"), {"v": version.id}).scalar()
            bands = conn.execute(text("SELECT count(*) FROM instrument_band")).scalar()
        assert tuple(version)[1:] == ("IPS-25", 1, "active")
        assert [tuple(r) for r in reviews] == [(1, 103, version.id), (2, None, version.id)]
        assert [tuple(r) for r in ratings] == [(1, "Services-4", 4), (2, "Staffing-1", 2)]
        assert tuple(items) == (25, 25, 1, 5)
        assert band == "good" and bands == 4

        downgrade(directory=MIGRATIONS, revision=previous)
        with db.engine.connect() as conn:
            assert "instrument" not in inspect(conn).get_table_names()
            assert conn.execute(text("SELECT total FROM fidelity_review WHERE id = 1")).scalar() == 103
        downgrade(directory=MIGRATIONS, revision="base")
        db.engine.dispose()


LINK_DATE_REVISION = "bcf322cec0c7"  # start date on activity_municipality, kept by triggers


def test_existing_links_get_their_activitys_date_and_the_database_keeps_it(empty_database_url):
    """Upgrading with activities and links present fills each link's start date from its
    activity; afterwards the database's triggers keep it: a new link gets the date, a changed
    activity date reaches its links. Downgrade removes the column and the triggers."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    app = create_app(_config_for(empty_database_url))
    with app.app_context():
        script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config(MIGRATIONS))
        previous = script.get_revision(LINK_DATE_REVISION).down_revision
        upgrade(directory=MIGRATIONS, revision=previous)
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO region (code, name) VALUES (1084, 'Region Hovedstaden')"))
            conn.execute(text("INSERT INTO municipality (code, name, region_code, version) VALUES "
                              "(101, 'København', 1084, 1), (147, 'Frederiksberg', 1084, 1)"))
            conn.execute(text(
                "INSERT INTO activity (id, type, title, start_date, region_code, created_at, version) VALUES "
                "(1, 'workshop', 'A', '2025-03-05', 1084, '2025-03-01 08:00:00', 1), "
                "(2, 'workshop', 'B', '2026-01-20', 1084, '2025-03-01 08:00:00', 1)"))
            conn.execute(text("INSERT INTO activity_municipality (activity_id, municipality_code) VALUES "
                              "(1, 101), (1, 147), (2, 101)"))

        upgrade(directory=MIGRATIONS, revision=LINK_DATE_REVISION)
        query = text("SELECT activity_id, municipality_code, start_date FROM activity_municipality "
                     "ORDER BY activity_id, municipality_code")
        with db.engine.connect() as conn:
            filled = [(a, m, str(d)) for a, m, d in conn.execute(query)]
        assert filled == [(1, 101, "2025-03-05"), (1, 147, "2025-03-05"), (2, 101, "2026-01-20")]
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE activity SET start_date = '2025-04-01' WHERE id = 1"))
            conn.execute(text("INSERT INTO activity_municipality (activity_id, municipality_code) VALUES (2, 147)"))
        with db.engine.connect() as conn:
            kept = [(a, m, str(d)) for a, m, d in conn.execute(query)]
        assert kept == [(1, 101, "2025-04-01"), (1, 147, "2025-04-01"), (2, 101, "2026-01-20"), (2, 147, "2026-01-20")]

        downgrade(directory=MIGRATIONS, revision=previous)
        with db.engine.begin() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("activity_municipality")}
            conn.execute(text("UPDATE activity SET start_date = '2025-05-01' WHERE id = 1"))  # no trigger left
        assert "start_date" not in columns
        downgrade(directory=MIGRATIONS, revision="base")
        db.engine.dispose()


def test_head_has_the_link_date_triggers(empty_database_url):
    """A later migration that rebuilds ``activity`` or ``activity_municipality`` (SQLite batch mode
    copies the table and drops its triggers) must create the triggers again: this fails until it does.
    The same holds for the triggers that keep ``activity_month_total``."""
    from sqlalchemy import text

    app = create_app(_config_for(empty_database_url))
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        with db.engine.connect() as conn:
            if db.engine.dialect.name == "postgresql":
                names = set(conn.scalars(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")))
            else:
                names = set(conn.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
        assert {"tr_activity_municipality_start_date", "tr_activity_start_date_to_links"} <= names
        assert {"tr_activity_month_total_update"} <= names  # and the month totals' (more per dialect)
        assert {"tr_activity_month_total", "tr_activity_month_total_insert"} & names
        downgrade(directory=MIGRATIONS, revision="base")
        db.engine.dispose()


def test_head_renews_the_data_token_on_every_table(empty_database_url):
    """Every table the models define carries the triggers that renew ``data_version``'s token (the
    key of cached pages, crm/views/page_cache.py): a migration that adds or rebuilds a table must
    create them, or its changes would leave cached pages stale."""
    from sqlalchemy import text

    from tests.test_page_cache import tables_without_token_triggers

    app = create_app(_config_for(empty_database_url))
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        with db.engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM data_version")) == 1
            assert tables_without_token_triggers(conn) == []
        downgrade(directory=MIGRATIONS, revision="base")
        db.engine.dispose()


MONTH_TOTALS_REVISION = "a9c4e2f7d1b3"  # activity counts and sums per month, region and type


def test_month_totals_are_filled_from_the_activities_and_kept(empty_database_url):
    """Upgrading with activities present fills activity_month_total with their counts and sums per
    month, region (0 = national) and type, unknown participants and hours not counted as known;
    afterwards the triggers keep it on insert, update and delete. Downgrade removes it all."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    app = create_app(_config_for(empty_database_url))
    with app.app_context():
        script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config(MIGRATIONS))
        previous = script.get_revision(MONTH_TOTALS_REVISION).down_revision
        upgrade(directory=MIGRATIONS, revision=previous)
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO region (code, name) VALUES (1084, 'Region Hovedstaden')"))
            conn.execute(text(
                "INSERT INTO activity (id, type, title, start_date, region_code, participants, hours, created_at, "
                "version) VALUES "
                "(1, 'course', 'A', '2025-03-05', 1084, 10, 1.5, '2025-03-01 08:00:00', 1), "
                "(2, 'course', 'B', '2025-03-31', 1084, NULL, 2.25, '2025-03-01 08:00:00', 1), "
                "(3, 'course', 'C', '2025-04-01', 1084, 4, NULL, '2025-03-01 08:00:00', 1), "
                "(4, 'webinar', 'D', '2025-03-10', NULL, NULL, NULL, '2025-03-01 08:00:00', 1)"))

        upgrade(directory=MIGRATIONS, revision=MONTH_TOTALS_REVISION)
        query = text("SELECT month, region_key, type, activities, participants, participants_known, hours, "
                     "hours_known FROM activity_month_total WHERE activities <> 0 ORDER BY month, region_key, type")

        def totals():
            with db.engine.connect() as conn:  # raw SQL: SQLite answers dates as text, numbers as floats
                return [(str(m), *rest[:5], float(rest[5]), rest[6]) for m, *rest in conn.execute(query)]
        assert totals() == [("2025-03-01", 0, "webinar", 1, 0, 0, 0.0, 0),
                            ("2025-03-01", 1084, "course", 2, 10, 1, 3.75, 2),
                            ("2025-04-01", 1084, "course", 1, 4, 1, 0.0, 0)]
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE activity SET start_date = '2025-04-02', hours = 1 WHERE id = 2"))
            conn.execute(text("DELETE FROM activity WHERE id = 4"))
            conn.execute(text("INSERT INTO activity (id, type, title, start_date, region_code, participants, "
                              "created_at, version) VALUES (5, 'course', 'E', '2025-03-20', NULL, 3, "
                              "'2025-03-01 08:00:00', 1)"))
        assert totals() == [("2025-03-01", 0, "course", 1, 3, 1, 0.0, 0),
                            ("2025-03-01", 1084, "course", 1, 10, 1, 1.5, 1),
                            ("2025-04-01", 1084, "course", 2, 4, 1, 1.0, 1)]

        downgrade(directory=MIGRATIONS, revision=previous)
        with db.engine.begin() as conn:
            assert "activity_month_total" not in inspect(conn).get_table_names()
            conn.execute(text("DELETE FROM activity WHERE id = 1"))  # no trigger left to write the table
        downgrade(directory=MIGRATIONS, revision="base")
        db.engine.dispose()
