"""The job scheduler (APScheduler), run as its own process: ``flask --app wsgi scheduler``.

Web workers never start it, so several gunicorn workers cannot fire a job several times. Even two
scheduler processes (a deploy overlap, a second machine) send nothing twice: ``run_job`` takes a
database lock per run (a unique ``JobRun`` row) and the loser skips. Times and on/off per job
come from settings (``SCHEDULER_*`` in config.py), in Europe/Copenhagen time.
"""
import logging
from datetime import datetime
from typing import Callable
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from crm.audit import acting_as

log = logging.getLogger("crm.scheduler")
SCHEDULER_ACTOR = "scheduler"


def job_runner(app: Flask, name: str) -> Callable[[], None]:
    """The callable APScheduler fires: runs job ``name`` in an app context, audited as the scheduler."""

    def run() -> None:
        from crm.extensions import db
        from crm.services.jobs import run_job

        with app.app_context(), acting_as(SCHEDULER_ACTOR):
            try:
                run_job(name, triggered_by=SCHEDULER_ACTOR, scheduled=True)
            finally:
                db.session.remove()

    run.__name__ = f"run_{name}"
    return run


def build_scheduler(app: Flask, blocking: bool = True) -> BaseScheduler:
    """A scheduler with the jobs switched on in ``app.config`` (not started)."""
    config = app.config
    tz = ZoneInfo(config.get("SCHEDULER_TIMEZONE", "Europe/Copenhagen"))
    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone=tz)
    # A missed firing (process down for a moment) runs once when it comes back, within the hour.
    options = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600, "replace_existing": True}
    if config.get("SCHEDULER_DIGEST_ENABLED"):
        scheduler.add_job(job_runner(app, "digest"), CronTrigger(
            hour=config["SCHEDULER_DIGEST_HOUR"], minute=config.get("SCHEDULER_DIGEST_MINUTE", 0), timezone=tz),
            id="digest", name="digest", **options)
    if config.get("SCHEDULER_HALFYEAR_ENABLED"):
        # Daily in June and December; the job itself sends once per half year from the set day on.
        scheduler.add_job(job_runner(app, "halfyear"), CronTrigger(
            month="6,12", hour=config["SCHEDULER_HALFYEAR_HOUR"], minute=0, timezone=tz),
            id="halfyear", name="halfyear", **options)
    if config.get("SCHEDULER_MAIL_RETRY_ENABLED"):
        scheduler.add_job(job_runner(app, "mail"), IntervalTrigger(
            minutes=max(1, int(config.get("SCHEDULER_MAIL_RETRY_MINUTES", 15))), timezone=tz),
            id="mail", name="mail", **options)
    if config.get("SCHEDULER_PENDING_CLEANUP_ENABLED"):
        scheduler.add_job(job_runner(app, "pending"), IntervalTrigger(
            minutes=max(1, int(config.get("SCHEDULER_PENDING_CLEANUP_MINUTES", 15))), timezone=tz),
            id="pending", name="pending", **options)
    if config.get("SCHEDULER_SAVED_REPORTS_ENABLED"):
        # Looks for due saved reports at start (a time missed while the process was down goes
        # out now) and then every N minutes; each due time is sent once (crm/services/saved_reports.py).
        scheduler.add_job(job_runner(app, "saved_reports"), IntervalTrigger(
            minutes=max(1, int(config.get("SCHEDULER_SAVED_REPORTS_MINUTES", 15))), timezone=tz),
            id="saved_reports", name="saved_reports", next_run_time=datetime.now(tz), **options)
    return scheduler
