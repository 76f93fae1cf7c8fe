"""``/healthz``: public, cookie-free, and honest about the database."""
import time

import pytest
from sqlalchemy import text

from config import TestingConfig
from crm import create_app
from crm.extensions import db

UNREACHABLE = {
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:1/nothing",
    # A file in a directory that does not exist: SQLite cannot open it.
    "sqlite": "sqlite:////nonexistent-dir-for-crm-tests/crm.sqlite",
}


def _app_on(url: str):
    return create_app(type("UnreachableConfig", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": url}))


def test_healthz_ok_without_login_and_without_cookies(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}
    assert response.headers.getlist("Set-Cookie") == []
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_sends_one_statement(client, count_queries):
    """The benchmark baseline must stay minimal: exactly the SELECT 1."""
    client.get("/healthz")  # warm up (first connection)
    with count_queries() as q:
        client.get("/healthz")
    assert q.count == 1


@pytest.mark.parametrize("kind", sorted(UNREACHABLE))
def test_healthz_503_quickly_when_database_unreachable(kind):
    app = _app_on(UNREACHABLE[kind])
    client = app.test_client()
    started = time.monotonic()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "unreachable"}
    assert response.headers["Retry-After"] == "5"
    assert time.monotonic() - started < 5


def test_postgres_engine_gets_a_connect_timeout_and_no_jit():
    app = _app_on(UNREACHABLE["postgresql"])
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"] == {"connect_timeout": 5, "options": "-c jit=off"}
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True


def test_sqlite_engine_gets_no_connect_args():
    app = _app_on("sqlite://")
    assert "connect_args" not in app.config["SQLALCHEMY_ENGINE_OPTIONS"]


def test_postgres_sessions_plan_without_jit(app):
    """A page's millisecond statements never pay for JIT compilation (crm/database.py)."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL only")
        assert db.session.scalar(text("SHOW jit")) == "off"
