"""One clock: every time shown or printed is Danish time (Europe/Copenhagen), across the DST change."""
import re
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from crm.extensions import db
from crm.models import AuditEntry, JobRun, OutboxMessage
from crm.services import report as report_service
from crm.formatting import format_datetime

ROOT = Path(__file__).resolve().parent.parent

# (stored naive UTC, shown in Denmark): both sides of the spring and the autumn change of 2026.
DST_CASES = [
    (datetime(2026, 3, 29, 0, 59), "29-03-2026 01:59"),   # last minute of winter time (UTC+1)
    (datetime(2026, 3, 29, 1, 0), "29-03-2026 03:00"),    # first minute of summer time (UTC+2)
    (datetime(2026, 10, 25, 0, 30), "25-10-2026 02:30"),  # summer time: 02:30 the first time
    (datetime(2026, 10, 25, 1, 30), "25-10-2026 02:30"),  # winter time: 02:30 the second time
    (datetime(2026, 11, 27, 4, 42), "27-11-2026 05:42"),  # the "Optalt 04:42"
    (datetime(2026, 12, 31, 23, 30), "01-01-2027 00:30"),  # the day and year turn in Denmark
]


@pytest.mark.parametrize("stored, shown", DST_CASES)
def test_format_datetime_is_copenhagen_time(stored, shown):
    assert format_datetime(stored) == shown
    assert format_datetime(stored.replace(tzinfo=timezone.utc)) == shown


@pytest.mark.parametrize("stored, shown", DST_CASES[:2] + DST_CASES[4:5])
def test_print_view_says_when_it_was_counted_in_danish_time(app, users, login_as, monkeypatch, stored, shown):
    monkeypatch.setattr("crm.clock.utcnow", lambda: stored)
    response = login_as(users["working_group"]).get("/rapporter/udskrift?start=2026-01-01&end=2026-06-30")
    assert response.status_code == 200
    assert f"Optalt {shown}." in response.text


def _stored_times(users, at: datetime) -> None:
    submission = report_service.submit_report(date(2026, 1, 1), date(2026, 6, 30), actor=users["admin"])
    submission.submitted_at = at
    db.session.add(OutboxMessage(recipient="a@test.dk", subject="Emne", body="Tekst", created_at=at, sent_at=at,
                                 status="sent"))
    db.session.add(JobRun(job="digest", run_key="x", started_at=at, finished_at=at, outcome="ok"))
    db.session.commit()
    db.session.execute(AuditEntry.__table__.update().values(at=at))
    db.session.commit()


@pytest.mark.parametrize("path", ["/rapporter/", "/rapporter/indsendelser/{id}", "/rapporter/udskrift?start=2026-01-01&end=2026-06-30&indsendelse={id}",
                                  "/admin/udbakke", "/admin/koersler", "/admin/audit"])
def test_stored_times_on_every_page_are_danish_time(app, users, login_as, path):
    at, shown = DST_CASES[1]
    _stored_times(users, at)
    submission_id = db.session.scalar(db.select(db.func.max(report_service.ReportSubmission.id)))
    response = login_as(users["admin"]).get(path.format(id=submission_id))
    assert response.status_code == 200, path
    assert shown in response.text, path
    assert "29-03-2026 01:00" not in response.text and "2026-03-29" not in response.text, path


def test_no_template_or_module_formats_a_time_on_its_own():
    """Times go through crm.formatting.format_datetime (|dkdatetime) and crm.clock, nowhere else:
    no strftime in templates, no server-local datetime.now() or hand-made DD-MM-YYYY in the code."""
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        if "strftime(" in path.read_text(encoding="utf-8"):
            offenders.append(str(path.relative_to(ROOT)))
    for path in (ROOT / "crm").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"datetime\.now\(\)|datetime\.utcnow\(|ZoneInfo\(\"Europe/Copenhagen\"\)|strftime\(\"%d-%m-%Y", text) \
                and path.name != "clock.py":
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_today_is_the_danish_day_not_the_servers(app, users, login_as, monkeypatch):
    """At 23:30 UTC on 28 March it is already 29 March in Denmark: forms and the dashboard say so."""
    from crm import clock

    monkeypatch.setattr("crm.clock.utcnow", lambda: datetime(2026, 3, 28, 23, 30))
    assert clock.local_today() == date(2026, 3, 29)
    client = login_as(users["ambassador"])
    assert 'value="29-03-2026"' in client.get("/kommuner/101").text  # the stage form's default date
    assert "29-03-2026" in client.get("/overblik/").text
