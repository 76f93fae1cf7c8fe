"""Database connection settings that keep data safe on SQLite."""
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """SQLite: enforce foreign keys, write-ahead logging, and wait for locks instead of failing."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode")
    if cursor.fetchone()[0] != "memory":
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def configure_engine_options(app: Flask) -> None:
    """PostgreSQL: give up connecting after ``DATABASE_CONNECT_TIMEOUT`` seconds, and plan
    without JIT compilation.

    During a database outage a request then fails fast with a 503 (see ``crm.views.errors``)
    instead of hanging until the load balancer gives up. JIT pays off for queries running
    seconds; a page's statements run in milliseconds, and at 100 000 activities the planner's
    estimates switched it on for the anchoring map, where compiling took 37 of 92 ms
    (``bench/results/plans-postgresql.md``). Only for PostgreSQL: sqlite3 takes neither
    argument. Called before ``db.init_app`` creates the engine.
    """
    if not str(app.config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql"):
        return
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = dict(options.get("connect_args") or {})
    connect_args.setdefault("connect_timeout", int(app.config.get("DATABASE_CONNECT_TIMEOUT", 5)))
    connect_args.setdefault("options", "-c jit=off")
    options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def column_rows(query, **parameters):
    """Run a select of columns (never entities) as Core on the session's connection.

    Plain rows, without the ORM's per-row loading, which for thousands of report records costs
    more than the query itself; the session is flushed first, as the ORM would autoflush, so
    pending changes are counted. ``parameters`` fill the statement's bound parameters (statements
    built once per process with ``bindparam``).
    """
    from crm.extensions import db

    if db.session.autoflush:
        db.session.flush()
    return db.session.connection().execute(query, parameters or None)
