"""One scheduler runs jobs per installation; any other scheduler process stands by.

``flask --app wsgi scheduler`` takes this lock before it schedules anything. On PostgreSQL it is a
session-level advisory lock held by a connection kept open for the process's life: when the
process dies or loses its connection, PostgreSQL releases the lock and a waiting scheduler takes
over. On SQLite (one machine) it is an exclusive ``flock`` on a file beside the database. The
per-run ``JobRun`` row (crm/services/jobs.py) still keeps a job from running twice on a day, for
example when an admin runs it by hand while the scheduler does.
"""
import fcntl
import logging
from pathlib import Path
from typing import Optional

from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger("crm.scheduler")

# pg_advisory_lock key: "IPSCRM" in ASCII. Advisory locks are per database, so two installations
# on one PostgreSQL server (two databases) do not wait for each other.
ADVISORY_KEY = 0x495053_43524D


class SchedulerLock:
    """``acquire()`` without waiting; ``still_held()`` for a periodic check; ``release()``."""

    def __init__(self, app: Flask):
        self.app = app
        self._connection: Optional[Connection] = None
        self._file = None

    @property
    def _is_postgresql(self) -> bool:
        return str(self.app.config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql")

    def _lock_path(self) -> Path:
        """SQLite: ``<database file>.scheduler-lock``; an in-memory database uses the instance folder."""
        from crm.extensions import db

        with self.app.app_context():
            database = db.engine.url.database
        if database and database != ":memory:":
            return Path(database).with_name(Path(database).name + ".scheduler-lock")
        return Path(self.app.instance_path) / "scheduler.lock"

    def acquire(self) -> bool:
        """True when this process now holds the lock (or already did), False when another one does."""
        if self._connection is not None or self._file is not None:
            return True
        if self._is_postgresql:
            return self._acquire_advisory()
        return self._acquire_file()

    def _acquire_advisory(self) -> bool:
        from crm.extensions import db

        with self.app.app_context():
            connection = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = bool(connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}))
        except SQLAlchemyError:
            connection.close()
            raise
        if got:
            self._connection = connection
        else:
            connection.close()
        return got

    def _acquire_file(self) -> bool:
        path = self._lock_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")  # noqa: SIM115  (kept open while the lock is held)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def still_held(self) -> bool:
        """PostgreSQL: is the lock's connection (and so the lock) still alive?"""
        if self._file is not None:
            return True
        if self._connection is None:
            return False
        try:
            self._connection.scalar(text("SELECT 1"))
        except SQLAlchemyError as exc:
            log.error("Scheduler lock lost with its database connection: %s", exc.__class__.__name__)
            return False
        return True

    def release(self) -> None:
        """Let a waiting scheduler take over (also happens when the process ends)."""
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
            except SQLAlchemyError:
                pass  # the connection is gone, and the lock with it
            finally:
                self._connection.close()
                self._connection = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
