"""Only one scheduler process runs jobs; a second one stands by and takes over when the first stops.

(The subprocess version, with two real ``flask --app wsgi scheduler`` processes on PostgreSQL, is in
tests/test_deployment.py.)
"""
import threading

import pytest
from apscheduler.schedulers.blocking import BlockingScheduler

from crm.scheduler_lock import SchedulerLock


def test_a_second_lock_waits_until_the_first_is_released(app):
    first, second = SchedulerLock(app), SchedulerLock(app)
    assert first.acquire() and first.still_held()
    assert first.acquire()  # already ours
    assert not second.acquire() and not second.still_held()
    first.release()
    assert second.acquire()
    assert not first.acquire()
    second.release()


def test_the_scheduler_command_stands_by_while_another_holds_the_lock(app, runner, monkeypatch):
    app.config["SCHEDULER_LOCK_RETRY_SECONDS"] = 0.2
    started = []
    monkeypatch.setattr(BlockingScheduler, "start", lambda self: started.append(len(self.get_jobs())))
    holder = SchedulerLock(app)
    assert holder.acquire()
    threading.Timer(1.0, holder.release).start()  # the other scheduler stops after a second
    result = runner.invoke(args=["scheduler"])
    assert result.exit_code == 0, result.output
    assert "standing by" in result.output
    assert started == [5]  # it ran the jobs (digest, half-year, mail, pending, saved reports) only after taking over
    lines = result.output.splitlines()
    assert lines.index("Scheduler lock taken: this process runs the jobs.") > 0
    # And it let go when it stopped.
    after = SchedulerLock(app)
    assert after.acquire()
    after.release()


def test_a_scheduler_whose_database_connection_dies_loses_the_lock(app):
    """PostgreSQL: the lock lives with the connection; when it is cut, a standby may take over and
    the old scheduler notices (``still_held``) and stops (crm/cli/scheduler.py)."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite's file lock ends only with the process")
    from sqlalchemy import text

    from crm.extensions import db
    from crm.scheduler_lock import ADVISORY_KEY

    first, second = SchedulerLock(app), SchedulerLock(app)
    assert first.acquire()
    db.session.execute(text(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND ((classid::bigint << 32) | objid::bigint) = :key"), {"key": ADVISORY_KEY})
    db.session.commit()
    assert not first.still_held()
    assert second.acquire()
    second.release()
    first.release()  # harmless on a dead connection


def test_the_watcher_stops_a_scheduler_that_lost_its_lock():
    from crm.cli.scheduler import _watch_lock

    class LostLock:
        def still_held(self):
            return False

    class Scheduler:
        stopped = False

        def shutdown(self, wait=True):
            self.stopped = True

    scheduler, lost, stopped = Scheduler(), threading.Event(), threading.Event()
    _watch_lock(LostLock(), scheduler, 0.01, lost, stopped)
    assert lost.is_set() and scheduler.stopped
