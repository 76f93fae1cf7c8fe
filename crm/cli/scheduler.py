"""``flask --app wsgi scheduler`` (the scheduler process) and ``flask --app wsgi jobs run|list``."""
import signal
import threading
import time

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from crm.audit import acting_as
from crm.cli.common import CLI_ACTOR

jobs_cli = AppGroup("jobs", help="Scheduled jobs: digest, halfyear, mail, pending, saved_reports.")


@click.command("scheduler")
@with_appcontext
def scheduler_command():
    """Run the job scheduler in the foreground; a second one stands by until the first stops."""
    from crm.scheduler import build_scheduler
    from crm.scheduler_lock import SchedulerLock

    app = current_app._get_current_object()
    scheduler = build_scheduler(app, blocking=True)
    jobs = scheduler.get_jobs()
    if not jobs:
        click.echo("Every job is switched off (SCHEDULER_*_ENABLED); nothing to run.")
        return
    # systemd/docker stop with SIGTERM: while standing by, just exit.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    lock = SchedulerLock(app)
    retry = max(0.2, float(app.config.get("SCHEDULER_LOCK_RETRY_SECONDS", 30)))
    try:
        if not lock.acquire():
            click.echo("Another scheduler runs the jobs; standing by until it stops.")
            while not lock.acquire():
                time.sleep(retry)
        click.echo("Scheduler lock taken: this process runs the jobs.")
        for job in jobs:
            click.echo(f"Scheduled {job.id}: {job.trigger}")
        # On SIGTERM let a running job finish its current step, then exit.
        signal.signal(signal.SIGTERM, lambda *_args: scheduler.shutdown(wait=True))
        lost = threading.Event()
        stopped = threading.Event()
        watcher = threading.Thread(target=_watch_lock, args=(lock, scheduler, retry, lost, stopped), daemon=True)
        watcher.start()
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            stopped.set()
            watcher.join()  # it may be using the lock's connection right now
        if lost.is_set():
            raise click.ClickException("Lost the scheduler lock (database connection gone); stopping.")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        lock.release()
    click.echo("Scheduler stopped.")


def _exit_on_sigterm(*_args) -> None:
    raise SystemExit(0)


def _watch_lock(lock, scheduler, interval: float, lost: threading.Event, stopped: threading.Event) -> None:
    """Stop the scheduler when its lock is gone (another scheduler may have taken over by now)."""
    while not stopped.wait(interval):
        if not lock.still_held():
            lost.set()
            scheduler.shutdown(wait=False)
            return


@jobs_cli.command("run")
@click.argument("name")
def run_command(name):
    """Run job NAME now (digest, halfyear, mail or pending) and print its outcome."""
    from crm.services.jobs import JOBS, run_job

    if name not in JOBS:
        raise click.BadParameter(f"choose one of {', '.join(JOBS)}", param_hint="NAME")
    with acting_as(CLI_ACTOR):
        run = run_job(name, triggered_by="cli")
    if run is None:
        raise click.ClickException("Another process is running this job right now.")
    click.echo(f"{name}: {run.outcome} – {run.detail or ''}")
    if run.outcome == "failed":
        raise SystemExit(1)


@jobs_cli.command("list")
def list_command():
    """List the jobs and whether the scheduler runs them."""
    from crm.services.jobs import JOBS

    switches = {"digest": "SCHEDULER_DIGEST_ENABLED", "halfyear": "SCHEDULER_HALFYEAR_ENABLED",
                "mail": "SCHEDULER_MAIL_RETRY_ENABLED", "pending": "SCHEDULER_PENDING_CLEANUP_ENABLED"}
    for name, job in JOBS.items():
        state = "on" if current_app.config.get(switches[name]) else "off"
        click.echo(f"{name}\t{state}\t{job.label}")
