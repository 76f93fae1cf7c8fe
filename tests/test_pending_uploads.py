"""Unconfirmed uploads (spreadsheet and calendar imports) are removed once older than an hour: when
the app starts, when a new upload is stored, and by the scheduler's ``pending`` job."""
import io
import os
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from crm import create_app
from crm.extensions import db
from crm.models.messaging import JobRun
from crm.services.jobs import run_job
from tests.conftest import _config_for

CPH = ZoneInfo("Europe/Copenhagen")
HOUR = 3600


def _pending(app, folder: str, name: str, age_seconds: float, now: float = None) -> Path:
    """A pending upload file last written ``age_seconds`` before ``now``."""
    path = Path(app.config["UPLOAD_FOLDER"]) / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"municipality,quarter\n")
    moment = (time.time() if now is None else now) - age_seconds
    os.utime(path, (moment, moment))
    return path


def _layout(app, now: float = None) -> dict[str, Path]:
    return {
        "old_import": _pending(app, "imports", "a" * 32 + ".data", HOUR + 60, now),
        "old_meta": _pending(app, "imports", "a" * 32 + ".json", HOUR + 60, now),
        "old_ics": _pending(app, "ics-import", "1-" + "b" * 32 + ".ics", 2 * HOUR, now),
        "fresh_import": _pending(app, "imports", "c" * 32 + ".data", HOUR - 120, now),
        "fresh_ics": _pending(app, "ics-import", "1-" + "d" * 32 + ".ics", 60, now),
        "plan": _pending(app, ".", "e" * 32 + ".pdf", 30 * 24 * HOUR, now),  # a stored plan PDF: kept
    }


def _left(files: dict[str, Path]) -> set[str]:
    return {name for name, path in files.items() if path.exists()}


def test_app_start_removes_uploads_older_than_an_hour(app, database_url):
    files = _layout(app)
    create_app(_config_for(database_url, UPLOAD_FOLDER=app.config["UPLOAD_FOLDER"]))
    assert _left(files) == {"fresh_import", "fresh_ics", "plan"}


def test_app_start_without_an_upload_folder_starts(database_url, tmp_path):
    started = create_app(_config_for(database_url, UPLOAD_FOLDER=str(tmp_path / "none" / "yet")))
    assert started is not None


def test_scheduler_job_removes_them_and_skips_when_nothing_is_stale(app):
    now = datetime(2026, 6, 3, 10, 0, tzinfo=CPH)
    files = _layout(app, now.timestamp())
    run = run_job("pending", now=now, scheduled=True)
    assert run.outcome == "ok" and "3" in run.detail
    assert _left(files) == {"fresh_import", "fresh_ics", "plan"}
    later = datetime(2026, 6, 3, 10, 1, tzinfo=CPH)
    assert run_job("pending", now=later, scheduled=True) is None  # nothing stale: no run recorded
    assert len(db.session.scalars(select(JobRun).where(JobRun.job == "pending")).all()) == 1


def test_scheduler_runs_the_job_on_its_interval_unless_switched_off(app):
    from crm.scheduler import build_scheduler

    app.config.update(SCHEDULER_PENDING_CLEANUP_MINUTES=10)
    job = next(job for job in build_scheduler(app, blocking=False).get_jobs() if job.id == "pending")
    assert "0:10:00" in str(job.trigger)
    app.config.update(SCHEDULER_PENDING_CLEANUP_ENABLED=False)
    assert "pending" not in [job.id for job in build_scheduler(app, blocking=False).get_jobs()]


def test_the_age_is_a_setting(app):
    files = _layout(app)
    app.config.update(PENDING_UPLOAD_MAX_AGE_MINUTES=5)
    run_job("pending")
    assert _left(files) == {"fresh_ics", "plan"}


def test_a_new_upload_removes_stale_ones(app, users, login_as):
    files = _layout(app)
    client = login_as(users["admin"])
    data = b"municipality,quarter,citizens,with_paid_hours,with_employment,with_education," \
           b"ever_paid_hours_or_education\n101,2025Q3,100,30,20,10,50\n"
    response = client.post("/resultater/import", data={"outcomes-file": (io.BytesIO(data), "star.csv")},
                           content_type="multipart/form-data")
    assert 'name="token"' in response.text
    assert {"old_import", "old_meta", "old_ics"}.isdisjoint(_left(files))


def test_cli_runs_the_cleanup(app, runner):
    files = _layout(app)
    result = runner.invoke(args=["jobs", "run", "pending"])
    assert result.exit_code == 0 and result.output.startswith("pending: ok")
    assert _left(files) == {"fresh_import", "fresh_ics", "plan"}
    assert "pending\ton" in runner.invoke(args=["jobs", "list"]).output
