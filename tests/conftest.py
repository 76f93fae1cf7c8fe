"""Test fixtures: an app per database (SQLite always, PostgreSQL when reachable), clients, users.

Every test that uses ``app`` runs once per database. The schema is built once per database and
emptied between tests; the 5 regions and 98 municipalities are put back before each test.
"""
import os
import re
import uuid
from contextlib import contextmanager
from typing import Iterator

import psycopg
import pytest
from sqlalchemy import create_engine, event, insert, select, text

from config import TestingConfig
from crm import create_app
from crm.extensions import db
from crm.models import CostLine, Municipality, Region
from crm.models.data_version import INSERT_TOKEN_ROW
from crm.services.instruments import seed_ips25
from crm.services.reference import read_csv
from tests import factories

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_pg_state: dict[str, str] = {}


def postgres_base_url() -> str | None:
    """The PostgreSQL server to test against, or None (then the PostgreSQL run is skipped)."""
    url = os.environ.get("TEST_DATABASE_URL") or PG_DEFAULT
    if not url.startswith("postgresql"):
        return None
    try:
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        psycopg.connect(dsn, connect_timeout=3).close()
    except psycopg.Error as exc:
        _pg_state["why"] = str(exc).strip().splitlines()[0]
        return None
    return url


def pytest_report_header(config):
    url = postgres_base_url()
    if url:
        return f"databases: SQLite and PostgreSQL ({url.rsplit('@', 1)[-1]})"
    return f"databases: SQLite only — PostgreSQL SKIPPED ({_pg_state.get('why', 'not reachable')})"


@contextmanager
def throwaway_postgres_database(base_url: str) -> Iterator[str]:
    """Create a fresh database for this test run and drop it afterwards."""
    name = f"crm_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield re.sub(r"/[^/]+$", f"/{name}", base_url)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory) -> Iterator[str]:
    """One database per kind for the whole run, with the schema built from the models."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.sqlite'}"
        _build_schema(url)
        yield url
        return
    base = postgres_base_url()
    if base is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI must run the PostgreSQL suite, but PostgreSQL is not reachable: {_pg_state.get('why', '')}")
        pytest.skip(f"PostgreSQL not reachable: {_pg_state.get('why', '')}")
    with throwaway_postgres_database(base) as url:
        _build_schema(url)
        yield url


def _config_for(url: str, **overrides) -> type:
    attrs = {"SQLALCHEMY_DATABASE_URI": url, **overrides}
    return type("PerTestConfig", (TestingConfig,), attrs)


def _build_schema(url: str) -> None:
    app = create_app(_config_for(url))
    with app.app_context():
        db.create_all()  # tests only; the app itself always uses Alembic migrations
        db.engine.dispose()


DERIVED_TABLES = {"activity_month_total"}  # kept by triggers on the tables they sum


def _reset_data() -> None:
    """Empty every table and put the reference data back (fast: Core statements, no audit)."""
    # Derived tables last: on SQLite deleting activities fires the triggers that keep
    # activity_month_total, which would leave negative rows in an already emptied table.
    tables = sorted((t.name for t in reversed(db.metadata.sorted_tables)), key=lambda name: name in DERIVED_TABLES)
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    else:
        db.session.commit()
        # Cycles through use_alter keys (updated_by_id → user) make any delete order fail; switch
        # foreign keys off for the reset (PRAGMA works only outside a transaction).
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            for table in tables:
                conn.exec_driver_sql(f'DELETE FROM "{table}"')
            if conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'").first():
                conn.exec_driver_sql("DELETE FROM sqlite_sequence")
            conn.commit()
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
    db.session.execute(insert(Region), [{"code": int(r["code"]), "name": r["name"]} for r in read_csv("regions.csv")])
    db.session.execute(
        insert(Municipality),
        [
            {"code": int(r["code"]), "name": r["name"], "region_code": int(r["region_code"]), "version": 1}
            for r in read_csv("municipalities.csv")
        ],
    )
    db.session.execute(text(INSERT_TOKEN_ROW[db.engine.dialect.name]))  # as the migration does
    db.session.commit()
    seed_ips25()  # what the data migration creates: IPS-25 v1, the scale of every review by default


def _forget_per_request_state() -> None:
    """The test keeps one app context pushed (for factories and queries), and Flask reuses it for
    requests; so clear what extensions cache in ``g`` per request (signed-in user, locale, the
    session's signed CSRF token), as a real server's fresh context would."""
    from flask import g

    for name in ("_login_user", "_flask_babel", "babel_locale", "babel_tzinfo", "csrf_token"):
        g.pop(name, None)


@pytest.fixture
def app(database_url, tmp_path):
    """A fresh app on the current database, with reference data loaded and an upload folder."""
    app = create_app(_config_for(database_url, UPLOAD_FOLDER=str(tmp_path / "uploads")))
    # First of all before-request functions, so that app-wide checks (the second-factor gate) see
    # this request's user, not the previous request's.
    app.before_request_funcs.setdefault(None, []).insert(0, _forget_per_request_state)
    with app.app_context():
        _reset_data()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def limited_app(app, database_url):
    """The same database, but with the rate limiter switched on (the test config turns it off)."""
    limited = create_app(_config_for(database_url, UPLOAD_FOLDER=app.config["UPLOAD_FOLDER"],
                                     RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="10 per minute"))
    yield limited
    create_app(_config_for(database_url))  # the limiter is shared: leave it switched off again


@pytest.fixture
def cost_lines(app) -> dict[str, CostLine]:
    """The cost lines of the call, as `flask seed` adds them: code -> CostLine."""
    from crm.services.reference import seed_cost_lines

    seed_cost_lines()
    db.session.commit()
    return {line.code: line for line in db.session.scalars(select(CostLine))}


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def users(app) -> dict[str, "factories.User"]:
    """One user per role: ambassadors for two regions (A = 1084, B = 1085), working group, admin."""
    return {
        "ambassador": factories.UserFactory(role="ambassador", region_code=1084, email="amb.hov@test.dk"),
        "ambassador_b": factories.UserFactory(role="ambassador", region_code=1085, email="amb.sj@test.dk"),
        "working_group": factories.UserFactory(role="working_group", region_code=None, email="wg@test.dk"),
        "admin": factories.UserFactory(role="admin", region_code=None, email="admin@test.dk"),
    }


class AuthActions:
    """flaskr-style helper: ``auth.login(user)`` signs the test client in through the real form."""

    def __init__(self, client):
        self._client = client

    def login(self, user, password: str = factories.PASSWORD):
        return self._client.post("/login", data={"email": user.email, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def login_as(app):
    """CTFd-style: ``login_as(user)`` returns a new test client already signed in as ``user``."""

    def _login(user):
        signed_in = app.test_client()
        with signed_in.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
        return signed_in

    return _login


class QueryCounter:
    """Counts SQL statements sent to the database inside a ``with`` block."""

    def __init__(self, engine):
        self.engine = engine
        self.count = 0
        self.statements: list[str] = []

    def _on_execute(self, conn, cursor, statement, parameters, context, executemany):
        self.count += 1
        self.statements.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._on_execute)


@pytest.fixture
def count_queries(app):
    """``with count_queries() as q: ...; q.count``."""
    return lambda: QueryCounter(db.engine)
