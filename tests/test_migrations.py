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
