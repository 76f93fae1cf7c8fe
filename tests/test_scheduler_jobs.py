"""Scheduled jobs driven with a frozen clock (``now`` passed in; no sleeping): the outbox holds the
expected digests and half-year reminders; two schedulers at once send each digest once; job runs
are recorded and visible to admins only."""
import io
import os
import subprocess
import sys
import threading
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import JobRun, Municipality, OutboxMessage
from crm.services import jobs, mail
from crm.services.jobs import Job, run_job
from tests import factories

CPH = ZoneInfo("Europe/Copenhagen")
DIGEST_DAY = datetime(2026, 6, 3, 7, 0, tzinfo=CPH)
HOVEDSTADEN = (101, 147, 151, 153, 155, 157, 159, 161, 163, 165, 167, 169, 173, 175, 183, 185, 187, 190, 201,
               210, 217, 219, 223, 230, 240, 250, 260, 270, 400)
SJAELLAND = (253, 259, 265, 269, 306, 316, 320, 326, 329, 330, 336, 340, 350, 360, 370, 376, 390)


def _messages(job=None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.recipient, OutboxMessage.id)
    if job:
        query = query.where(OutboxMessage.job == job)
    return list(db.session.scalars(query))


def _set_step(code: int, text: str, due: date, **extra) -> None:
    factories.TaskFactory(municipality_code=code, text=text, due_date=due, **extra)


@pytest.fixture
def digest_data(app, users):
    """Region A (1084) has things due; region B (1085) has nothing to report."""
    assert set(HOVEDSTADEN) == set(db.session.scalars(select(Municipality.code).where(Municipality.region_code == 1084)))
    assert set(SJAELLAND) == set(db.session.scalars(select(Municipality.code).where(Municipality.region_code == 1085)))
    # Recent contact everywhere except Herlev (163: last contact 1 Oct 2025) and Albertslund (165: never).
    for code in HOVEDSTADEN + SJAELLAND:
        if code not in (163, 165):
            factories.NoteFactory(municipality_code=code, note_date=date(2026, 5, 1))
    factories.NoteFactory(municipality_code=163, note_date=date(2025, 10, 1))
    _set_step(101, "Ring til jobcenterchefen", date(2026, 6, 1))  # overdue by 2 days
    _set_step(147, "Send udkast til samarbejdsplan", date(2026, 6, 8))  # within 7 days
    _set_step(151, "Opfølgning", date(2026, 6, 20))  # too far ahead
    _set_step(751, "Møde i Aarhus", date(2026, 6, 2))  # Midtjylland: nobody here gets it
    _set_step(101, "Allerede ringet", date(2026, 5, 20), status="done")  # done: not in the digest
    # Fidelity: plan signed → first review due 12 months later.
    factories.StageChangeFactory(municipality_code=157, stage="plan_signed", effective_date=date(2025, 7, 15))  # due 15-07-2026
    factories.StageChangeFactory(municipality_code=159, stage="plan_signed", effective_date=date(2025, 1, 1))  # overdue
    factories.StageChangeFactory(municipality_code=161, stage="plan_signed", effective_date=date(2025, 10, 1))  # not yet
    quiet_off = factories.UserFactory(role="ambassador", region_code=1084, email="off@test.dk", digest_enabled=False)
    retired = factories.UserFactory(role="ambassador", region_code=1084, email="gone@test.dk", active=False)
    return {"off": quiet_off, "retired": retired}


def test_digest_content_per_ambassador(app, users, digest_data):
    run = run_job("digest", now=DIGEST_DAY)
    assert run.outcome == "ok"
    messages = _messages("digest")
    assert [m.recipient for m in messages] == ["amb.hov@test.dk"]  # B had nothing; off/inactive skipped
    [digest] = messages
    assert digest.key == f"digest:2026-06-03:{users['ambassador'].id}"
    assert digest.status == "outbox"  # no SMTP in tests
    assert "03-06-2026" in digest.subject and "1 over fristen" in digest.subject
    body = digest.body
    overdue = body.split("Opgaver over fristen (1):")[1].split("\n\n")[0]
    assert "København: Ring til jobcenterchefen (frist 01-06-2026, 2 dage over)" in overdue
    upcoming = body.split("Opgaver med frist inden for 7 dage (1):")[1].split("\n\n")[0]
    assert "Frederiksberg: Send udkast til samarbejdsplan (frist 08-06-2026)" in upcoming
    assert "Opfølgning" not in body and "Allerede ringet" not in body
    reviews = body.split("Fidelitetsmålinger der forfalder inden for 60 dage (2):")[1].split("\n\n")[0]
    assert "Gentofte: forfalder 15-07-2026" in reviews
    assert "Gladsaxe: over fristen 01-01-2026" in reviews
    assert "Glostrup" not in reviews
    quiet = body.split("Kommuner uden kontakt i 6 måneder (2):")[1].split("\n\n")[0]
    assert "Albertslund: ingen kontakt registreret" in quiet
    assert "Herlev: sidste kontakt 01-10-2025" in quiet
    assert "Aarhus" not in body and "Greve" not in body
    assert "/kommuner/101" in body and "/kalender/" in body
    assert "1 ambassadør" in run.detail and "1 uden noget at melde" in run.detail


def test_digest_is_sent_once_per_day(app, users, digest_data):
    run_job("digest", now=DIGEST_DAY)
    second = run_job("digest", now=DIGEST_DAY.replace(hour=9))  # "run now" later the same day
    assert second.outcome == "ok" and "1 fik det allerede i dag" in second.detail
    assert len(_messages("digest")) == 1
    run_job("digest", now=datetime(2026, 6, 4, 7, tzinfo=CPH))
    assert [m.key.split(":")[1] for m in _messages("digest")] == ["2026-06-03", "2026-06-04"]


def test_digest_respects_the_users_switch(app, users, digest_data):
    users["ambassador"].digest_enabled = False
    db.session.commit()
    run_job("digest", now=DIGEST_DAY)
    assert _messages("digest") == []


@pytest.mark.parametrize("day, sent", [
    (date(2026, 5, 31), False), (date(2026, 6, 1), True), (date(2026, 7, 1), False),
    (date(2026, 11, 30), False), (date(2026, 12, 1), True), (date(2027, 1, 5), False),
])
def test_halfyear_reminder_only_in_june_and_december(app, users, day, sent):
    app.config["HALFYEAR_EXTRA_RECIPIENTS"] = ["star.kontakt@example.dk"]
    run = run_job("halfyear", now=datetime.combine(day, datetime.min.time(), tzinfo=CPH).replace(hour=8))
    assert run.outcome == ("ok" if sent else "skipped")
    assert bool(_messages("halfyear")) is sent


def test_halfyear_reminder_goes_once_per_half_year_with_the_xlsx(app, users):
    app.config["HALFYEAR_EXTRA_RECIPIENTS"] = ["star.kontakt@example.dk", "WG@test.dk"]
    factories.UserFactory(role="working_group", region_code=None, email="wg2@test.dk")
    factories.UserFactory(role="working_group", region_code=None, email="wg.old@test.dk", active=False)
    factories.ActivityFactory(region_code=1084, start_date=date(2026, 3, 1), type="course")
    run_job("halfyear", now=datetime(2026, 6, 1, 8, tzinfo=CPH))
    messages = _messages("halfyear")
    assert [m.recipient for m in messages] == ["star.kontakt@example.dk", "wg2@test.dk", "wg@test.dk"]
    for message in messages:
        assert message.key.startswith("halfyear:2026-1:")
        assert "1. halvår 2026" in message.subject
        assert message.attachment_name == "statusrapport-2026-1-halvaar-udkast.xlsx"
        data = mail.attachment_bytes(message)
        assert message.attachment_size == len(data)
        workbook = load_workbook(io.BytesIO(data), read_only=True)
        assert workbook.sheetnames
    # Later in June, and a "run now": nothing more.
    assert run_job("halfyear", now=datetime(2026, 6, 2, 8, tzinfo=CPH)).outcome == "skipped"
    assert run_job("halfyear", now=datetime(2026, 6, 30, 23, tzinfo=CPH)).outcome == "skipped"
    assert len(_messages("halfyear")) == 3
    # December is the second half.
    run_job("halfyear", now=datetime(2026, 12, 1, 8, tzinfo=CPH))
    assert sorted({m.key.split(":")[1] for m in _messages("halfyear")}) == ["2026-1", "2026-2"]
    assert len(_messages("halfyear")) == 6


def test_halfyear_waits_for_the_configured_day(app, users):
    app.config["SCHEDULER_HALFYEAR_DAY"] = 10
    assert run_job("halfyear", now=datetime(2026, 6, 9, 8, tzinfo=CPH)).outcome == "skipped"
    assert run_job("halfyear", now=datetime(2026, 6, 10, 8, tzinfo=CPH)).outcome == "ok"


def test_two_schedulers_at_once_send_each_digest_once(app, users, digest_data):
    db.session.remove()
    barrier = threading.Barrier(2)
    results, errors = [], []

    def scheduler_thread():
        try:
            with app.app_context():  # its own session and connection
                barrier.wait(timeout=10)
                run = run_job("digest", now=DIGEST_DAY, scheduled=True)
                results.append(None if run is None else run.outcome)
                db.session.remove()
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=scheduler_thread) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(results, key=str) == [None, "ok"]
    assert [m.recipient for m in _messages("digest")] == ["amb.hov@test.dk"]
    assert db.session.scalar(select(func.count(JobRun.id))) == 1


SCHEDULER_PROCESS = """
import sys
from datetime import datetime
from config import TestingConfig
from crm import create_app
from crm.services.jobs import run_job
app = create_app(type("C", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": sys.argv[1]}))
with app.app_context():
    run = run_job("digest", now=datetime.fromisoformat(sys.argv[2]), scheduled=True)
    print("ran" if run else "skipped")
"""


def test_two_scheduler_processes_send_each_digest_once(app, users, digest_data, database_url):
    db.session.remove()
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    processes = [
        subprocess.Popen([sys.executable, "-c", SCHEDULER_PROCESS, database_url, DIGEST_DAY.isoformat()],
                         cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert sorted(out.strip().splitlines()[-1] for out, _err in outputs) == ["ran", "skipped"]
    assert [m.recipient for m in _messages("digest")] == ["amb.hov@test.dk"]


def test_job_runs_are_recorded_and_failures_shown(app, users, monkeypatch):
    run = run_job("halfyear", now=datetime(2026, 3, 3, 8, tzinfo=CPH), triggered_by="admin@test.dk")
    assert (run.job, run.outcome, run.triggered_by) == ("halfyear", "skipped", "admin@test.dk")
    assert run.started_at == datetime(2026, 3, 3, 7, 0) and run.finished_at is not None

    def explode(now):
        raise RuntimeError("databasen er væk")

    monkeypatch.setitem(jobs.JOBS, "digest", Job("digest", "Overblik", explode))
    failed = run_job("digest", now=DIGEST_DAY)
    assert failed.outcome == "failed" and "databasen er væk" in failed.detail
    assert jobs.latest_runs()["digest"].id == failed.id


def test_scheduled_mail_retry_records_nothing_when_idle(app):
    assert run_job("mail", now=DIGEST_DAY, scheduled=True) is None
    mail.queue_message("x@test.dk", "Emne", "Tekst")
    db.session.commit()
    run = run_job("mail", now=DIGEST_DAY, scheduled=True)
    assert run.outcome == "ok" and run.run_key == "2026-06-03T07:00"
    assert _messages()[0].status == "outbox"


def test_build_scheduler_follows_settings(app):
    from crm.scheduler import build_scheduler

    app.config.update(SCHEDULER_DIGEST_HOUR=6, SCHEDULER_DIGEST_MINUTE=30)
    scheduler = build_scheduler(app, blocking=False)
    assert sorted(job.id for job in scheduler.get_jobs()) == ["digest", "halfyear", "mail", "pending", "saved_reports"]
    digest = next(job for job in scheduler.get_jobs() if job.id == "digest")
    assert "hour='6'" in str(digest.trigger) and "minute='30'" in str(digest.trigger)
    halfyear = next(job for job in scheduler.get_jobs() if job.id == "halfyear")
    assert "month='6,12'" in str(halfyear.trigger)
    app.config.update(SCHEDULER_DIGEST_ENABLED=False, SCHEDULER_MAIL_RETRY_ENABLED=False,
                      SCHEDULER_PENDING_CLEANUP_ENABLED=False, SCHEDULER_SAVED_REPORTS_ENABLED=False)
    assert [job.id for job in build_scheduler(app, blocking=False).get_jobs()] == ["halfyear"]


def test_scheduler_runner_uses_its_own_app_context_and_lock(app, users):
    from crm.scheduler import job_runner

    runner = job_runner(app, "halfyear")
    runner()
    runner()  # the same day again: the lock row exists, so it is skipped without a second record
    runs = db.session.scalars(select(JobRun)).all()
    assert len(runs) == 1 and runs[0].triggered_by == "scheduler"


def test_cli_runs_a_job_now_and_the_scheduler_command_starts(app, runner, monkeypatch):
    result = runner.invoke(args=["jobs", "run", "mail"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("mail: ok")
    assert runner.invoke(args=["jobs", "run", "nope"]).exit_code != 0
    assert "digest" in runner.invoke(args=["jobs", "list"]).output

    from apscheduler.schedulers.blocking import BlockingScheduler

    started = []
    monkeypatch.setattr(BlockingScheduler, "start", lambda self: started.append(len(self.get_jobs())))
    result = runner.invoke(args=["scheduler"])
    assert result.exit_code == 0, result.output
    assert started == [5] and "Scheduled digest" in result.output and "Scheduled pending" in result.output


@pytest.mark.parametrize("role", ["ambassador", "working_group"])
def test_job_pages_are_admin_only(app, users, login_as, role):
    client = login_as(users[role])
    assert client.get("/admin/koersler").status_code == 403
    assert client.post("/admin/koersler/koer", data={"job": "mail"}).status_code == 403
    assert db.session.scalar(select(func.count(JobRun.id))) == 0


def test_admin_runs_a_job_now_and_sees_the_runs(app, users, login_as, count_queries):
    client = login_as(users["admin"])
    response = client.post("/admin/koersler/koer", data={"job": "halfyear"})
    assert response.status_code == 302
    run = db.session.scalar(select(JobRun))
    assert run.triggered_by == "admin@test.dk" and run.run_key.startswith("manual:")
    page = client.get("/admin/koersler").get_data(as_text=True)
    assert "Halvårspåmindelse til arbejdsgruppen" in page and "Kør nu" in page
    assert client.post("/admin/koersler/koer", data={"job": "rm -rf"}).status_code == 400
    db.session.expire_all()
    with count_queries() as few:
        client.get("/admin/koersler")
    for n in range(10):
        run_job("mail", now=datetime(2026, 1, 1, n, tzinfo=CPH))
    db.session.expire_all()
    with count_queries() as many:
        client.get("/admin/koersler")
    assert many.count == few.count
