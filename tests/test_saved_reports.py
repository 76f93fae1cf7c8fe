"""Saved reports that send themselves: due times (Copenhagen time, DST-safe), period rules, one
send per due time, external addresses only once approved, who may do what, and delivery through a
real SMTP server (aiosmtpd) with the attachment readable: XLSX, CSV and PDF."""
import csv
import io
import socket
from datetime import date, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import JobRun, OutboxMessage, SavedReport, SavedReportAddress, SavedReportRun
from crm.services import saved_reports as service
from crm.services.jobs import run_job
from crm.services.report import METRICS, TOTAL, column_names, display_order, status_report
from tests import factories

CPH = ZoneInfo("Europe/Copenhagen")
SEND_TIME = datetime(2026, 7, 10, 7, 5, tzinfo=CPH)  # five minutes after a half-yearly due time
H1_2026 = (date(2026, 1, 1), date(2026, 6, 30))


def _runs() -> list[SavedReportRun]:
    return list(db.session.scalars(select(SavedReportRun).order_by(SavedReportRun.id)))


def _messages() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.recipient)))


def _figures_data():
    """Some counted records in H1 2026 in both regions (the figures the files must show)."""
    factories.StageChangeFactory(municipality_code=101, stage="plan_signed", effective_date=date(2026, 3, 1))
    factories.StageChangeFactory(municipality_code=147, stage="plan_signed", effective_date=date(2026, 5, 1))
    factories.StageChangeFactory(municipality_code=253, stage="plan_signed", effective_date=date(2026, 2, 1))
    factories.StageChangeFactory(municipality_code=151, stage="dialogue", effective_date=date(2026, 4, 1))


# --- Due times and periods -------------------------------------------------------------------


def _report(**values) -> SavedReport:
    defaults = {"frequency": "halfyearly", "weekday": 0, "day": 10, "hour": 7, "active": True,
                "schedule_from": datetime(2020, 1, 1)}
    return SavedReport(**{**defaults, **values})


def test_half_yearly_due_times_are_after_each_half_in_copenhagen_time():
    report = _report()
    assert service.next_due(report, datetime(2026, 2, 1, tzinfo=CPH)) == datetime(2026, 7, 10, 7, tzinfo=CPH)
    # 07:00 summer time is 05:00 UTC, in winter 06:00 UTC.
    assert service.utc_naive(datetime(2026, 7, 10, 7, tzinfo=CPH)) == datetime(2026, 7, 10, 5)
    assert service.utc_naive(datetime(2027, 1, 10, 7, tzinfo=CPH)) == datetime(2027, 1, 10, 6)
    assert service.last_due(report, datetime(2026, 7, 10, 6, 59, tzinfo=CPH))[0] == date(2026, 1, 10)
    assert service.last_due(report, datetime(2026, 7, 10, 7, 0, tzinfo=CPH))[0] == date(2026, 7, 10)
    assert service.next_due(report, datetime(2026, 7, 10, 7, 0, tzinfo=CPH)) == datetime(2027, 1, 10, 7, tzinfo=CPH)


def test_monthly_and_weekly_due_times():
    monthly = _report(frequency="monthly", day=28, hour=23)
    assert service.next_due(monthly, datetime(2027, 2, 28, 23, 0, tzinfo=CPH)) == datetime(2027, 3, 28, 23, tzinfo=CPH)
    weekly = _report(frequency="weekly", weekday=4, hour=16)  # Fridays 16:00
    assert service.next_due(weekly, datetime(2026, 11, 27, 12, tzinfo=CPH)) == datetime(2026, 11, 27, 16, tzinfo=CPH)
    assert service.last_due(weekly, datetime(2026, 11, 27, 12, tzinfo=CPH))[0] == date(2026, 11, 20)
    assert service.schedule_text(weekly) == "Hver fredag kl. 16:00"


def test_autumn_hour_that_happens_twice_sends_once(app, users):
    """Sundays at 02:00: on 25 October 2026 02:00–03:00 happens twice (summer, then winter time)."""
    report = factories.SavedReportFactory(frequency="weekly", weekday=6, hour=2, recipients=[users["admin"]],
                                          schedule_from=datetime(2026, 10, 1))
    first = datetime(2026, 10, 25, 2, 30, tzinfo=CPH)  # summer time (fold 0)
    second = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=CPH)  # an hour later, winter time
    assert service.utc_naive(second) > service.utc_naive(first)
    assert service.due_now(report, first)[0] == service.due_now(report, second)[0] == "2026-10-25T02"
    service.run_due(first)
    service.run_due(second)
    assert [run.run_key for run in _runs()] == ["2026-10-25T02"]
    assert len(_messages()) == 1


def test_spring_hour_that_does_not_exist_still_sends_once(app, users):
    """On 29 March 2026 02:00 does not exist: the report goes at 03:00 summer time, once."""
    report = factories.SavedReportFactory(frequency="weekly", weekday=6, hour=2, recipients=[users["admin"]],
                                          schedule_from=datetime(2026, 3, 25))
    assert service.due_now(report, datetime(2026, 3, 29, 1, 59, tzinfo=CPH)) is None
    assert service.run_due(datetime(2026, 3, 29, 1, 59, tzinfo=CPH))[0] == "skipped"
    service.run_due(datetime(2026, 3, 29, 3, 0, tzinfo=CPH))
    service.run_due(datetime(2026, 3, 29, 4, 0, tzinfo=CPH))
    assert [run.run_key for run in _runs()] == ["2026-03-29T02"]


@pytest.mark.parametrize("rule, today, period", [
    ("last_completed_half", date(2026, 7, 10), (date(2026, 1, 1), date(2026, 6, 30))),
    ("last_completed_half", date(2027, 1, 10), (date(2026, 7, 1), date(2026, 12, 31))),
    ("last_completed_half", date(2026, 6, 30), (date(2025, 7, 1), date(2025, 12, 31))),
    ("current_half_to_date", date(2026, 11, 27), (date(2026, 7, 1), date(2026, 11, 27))),
    ("current_half_to_date", date(2026, 1, 1), (date(2026, 1, 1), date(2026, 1, 1))),
    ("last_completed_year", date(2026, 1, 10), (date(2025, 1, 1), date(2025, 12, 31))),
])
def test_period_rules(rule, today, period):
    assert service.period_for(rule, today) == period


def test_nothing_is_sent_for_a_due_time_before_the_report_was_scheduled(app, users):
    factories.SavedReportFactory(recipients=[users["admin"]], schedule_from=datetime(2026, 7, 10, 6))  # 08:00 local
    assert service.run_due(SEND_TIME) == ("skipped", "Ingen automatiske rapporter var forfaldne.")
    assert _runs() == []


# --- Idempotency -----------------------------------------------------------------------------


def test_two_runs_for_one_due_time_send_once(app, users):
    factories.SavedReportFactory(recipients=[users["admin"], users["working_group"]])
    outcome, detail = service.run_due(SEND_TIME)
    assert outcome == "ok", detail
    assert service.run_due(SEND_TIME) == ("skipped", "Ingen automatiske rapporter var forfaldne.")
    assert service.run_due(datetime(2026, 7, 10, 9, tzinfo=CPH))[0] == "skipped"  # a later tick
    [run] = _runs()
    assert run.run_key == "2026-07-10T07" and (run.period_start, run.period_end) == H1_2026
    assert [m.recipient for m in _messages()] == ["admin@test.dk", "wg@test.dk"]
    assert all(m.attachment_name == "statusrapport-2026-01-01-2026-06-30.xlsx" for m in _messages())
    assert sorted(run.message_id_list) == sorted(m.id for m in _messages())


def test_the_scheduler_job_takes_its_lock_and_skips_when_nothing_is_due(app, users):
    factories.SavedReportFactory(recipients=[users["admin"]], schedule_from=datetime(2026, 2, 1))
    assert run_job("saved_reports", now=datetime(2026, 7, 9, 12, tzinfo=CPH), scheduled=True) is None
    run = run_job("saved_reports", now=SEND_TIME, scheduled=True)
    assert run.outcome == "ok" and run.run_key == "2026-07-10T07:00"
    assert run_job("saved_reports", now=SEND_TIME, scheduled=True) is None  # same slot: the lock
    assert run_job("saved_reports", now=datetime(2026, 7, 10, 7, 20, tzinfo=CPH), scheduled=True) is None  # sent
    assert len(_messages()) == 1 and db.session.scalar(select(func.count(JobRun.id))) == 1


def test_a_race_for_the_same_due_time_is_decided_by_the_unique_run(app, users):
    """Another process inserted the run between our check and our insert: we send nothing."""
    report = factories.SavedReportFactory(recipients=[users["admin"]])
    db.session.add(SavedReportRun(saved_report_id=report.id, run_key="2026-07-10T07", outcome="ok"))
    db.session.commit()
    assert service.produce(report, "2026-07-10T07", SEND_TIME, triggered_by="scheduler", now=SEND_TIME) is None
    assert _messages() == []


def test_a_build_error_is_a_failed_run_and_other_reports_still_go(app, users, monkeypatch):
    broken = factories.SavedReportFactory(name="Går i stykker", recipients=[users["admin"]])
    factories.SavedReportFactory(name="Virker", recipients=[users["admin"]], format="csv")

    real = service.KINDS["status"].build_xlsx

    def boom(*args):
        raise RuntimeError("regnearket kunne ikke skrives")

    monkeypatch.setitem(service.KINDS, "status", service.KINDS["status"].__class__(
        **{**service.KINDS["status"].__dict__, "build_xlsx": boom}))
    outcome, _detail = service.run_due(SEND_TIME)
    assert outcome == "failed"
    runs = {run.saved_report_id: run for run in _runs()}
    assert runs[broken.id].outcome == "failed" and "regnearket kunne ikke skrives" in runs[broken.id].detail
    assert [m.attachment_name for m in _messages()] == ["statusrapport-2026-01-01-2026-06-30.csv"]
    assert real is not boom


# --- External addresses ----------------------------------------------------------------------


def _form(**values) -> dict:
    data = {"name": "Halvårsstatus", "kind": "status", "period_rule": "last_completed_half", "region": "",
            "format": "xlsx", "frequency": "halfyearly", "weekday": "0", "day": "10", "hour": "7", "active": "y",
            "addresses": ""}
    data.update(values)
    return data


def test_an_ambassadors_external_address_waits_for_an_admin(app, users, login_as):
    ambassador = login_as(users["ambassador"])
    response = ambassador.post("/rapporter/automatiske/ny", data=_form(
        region="1084", recipients=[str(users["ambassador"].id)], addresses="chef@jobcenter.dk"))
    assert response.status_code == 302, response.get_data(as_text=True)
    report = db.session.scalar(select(SavedReport))
    report.schedule_from = datetime(2026, 1, 1)
    db.session.commit()
    [address] = report.addresses
    assert not address.approved and address.proposed_by_id == users["ambassador"].id
    page = ambassador.get(f"/rapporter/automatiske/{report.id}").get_data(as_text=True)
    assert "Venter på godkendelse" in page and "Godkend chef@jobcenter.dk" not in page
    # Only an admin approves.
    assert ambassador.post(f"/rapporter/automatiske/adresser/{address.id}/godkend").status_code == 403
    assert login_as(users["working_group"]).post(f"/rapporter/automatiske/adresser/{address.id}/godkend").status_code == 403

    service.run_due(SEND_TIME)
    assert [m.recipient for m in _messages()] == ["amb.hov@test.dk"]
    assert "1 ekstern adresse venter på godkendelse" in _runs()[0].detail

    admin = login_as(users["admin"])
    assert "Godkend chef@jobcenter.dk" in admin.get(f"/rapporter/automatiske/{report.id}").get_data(as_text=True)
    assert admin.post(f"/rapporter/automatiske/adresser/{address.id}/godkend").status_code == 302
    db.session.expire_all()
    assert db.session.get(SavedReportAddress, address.id).approved_by_id == users["admin"].id
    service.run_due(datetime(2027, 1, 10, 7, 5, tzinfo=CPH))
    assert sorted(m.recipient for m in _messages()) == ["amb.hov@test.dk", "amb.hov@test.dk", "chef@jobcenter.dk"]


def test_an_admins_address_is_approved_at_once_and_a_changed_address_waits_again(app, users, login_as):
    admin = login_as(users["admin"])
    assert admin.post("/rapporter/automatiske/ny", data=_form(addresses="star@star.dk")).status_code == 302
    report = db.session.scalar(select(SavedReport))
    assert [a.approved for a in report.addresses] == [True]
    # The admin keeps star@star.dk; an ambassador cannot edit the admin's report at all.
    assert login_as(users["ambassador"]).post(f"/rapporter/automatiske/{report.id}/rediger",
                                               data=_form(version=report.version)).status_code == 403
    response = admin.post(f"/rapporter/automatiske/{report.id}/rediger", data=_form(
        version=report.version, addresses="star@star.dk\nny@star.dk"))
    assert response.status_code == 302
    db.session.expire_all()
    assert {a.email: a.approved for a in db.session.get(SavedReport, report.id).addresses} == {
        "star@star.dk": True, "ny@star.dk": True}


# --- Forms and permissions -------------------------------------------------------------------


def test_form_errors_are_shown_beside_the_field_with_the_input_kept(app, users, login_as):
    admin = login_as(users["admin"])
    response = admin.post("/rapporter/automatiske/ny", data=_form(addresses="ikke-en-adresse", name="Min rapport"))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "»ikke-en-adresse« er ikke en e-mailadresse." in page and 'value="Min rapport"' in page
    response = admin.post("/rapporter/automatiske/ny", data=_form(frequency="monthly", day="31"))
    assert response.status_code == 400 and "Dagen skal være mellem 1 og 28" in response.get_data(as_text=True)
    response = admin.post("/rapporter/automatiske/ny", data=_form(format="docx"))
    assert response.status_code == 400 and "Vælg et filformat fra listen." in response.get_data(as_text=True)
    assert admin.post("/rapporter/automatiske/ny", data=_form(name="")).status_code == 400
    assert db.session.scalar(select(func.count(SavedReport.id))) == 0


def test_who_may_do_what(app, users, login_as):
    ambassador = login_as(users["ambassador"])
    assert ambassador.post("/rapporter/automatiske/ny", data=_form(region="1085")).status_code == 403  # region B
    assert ambassador.post("/rapporter/automatiske/ny", data=_form(name="National")).status_code == 302
    assert ambassador.post("/rapporter/automatiske/ny", data=_form(name="Egen", region="1084")).status_code == 302
    own = db.session.scalar(select(SavedReport).where(SavedReport.name == "Egen"))
    assert own.owner_id == users["ambassador"].id
    wg = login_as(users["working_group"])
    assert wg.get("/rapporter/automatiske/").status_code == 200
    assert wg.get(f"/rapporter/automatiske/{own.id}").status_code == 200
    assert wg.get("/rapporter/automatiske/ny").status_code == 403
    assert wg.post(f"/rapporter/automatiske/{own.id}/send").status_code == 403
    other = login_as(users["ambassador_b"])
    assert other.get(f"/rapporter/automatiske/{own.id}/rediger").status_code == 403
    assert other.post(f"/rapporter/automatiske/{own.id}/send").status_code == 403
    assert other.post(f"/rapporter/automatiske/{own.id}/slet", data={"version": own.version}).status_code == 403
    assert _runs() == []
    assert login_as(users["ambassador"]).post(f"/rapporter/automatiske/{own.id}/slet",
                                              data={"version": own.version}).status_code == 302
    assert db.session.get(SavedReport, own.id) is None
    assert app.test_client().get("/rapporter/automatiske/").status_code == 302  # to the sign-in page


def test_send_now_and_the_run_history(app, users, login_as):
    report = factories.SavedReportFactory(name="Status nu", recipients=[users["ambassador"]], owner_id=users["ambassador"].id,
                                          period_rule="current_half_to_date", format="csv")
    response = login_as(users["ambassador"]).post(f"/rapporter/automatiske/{report.id}/send")
    assert response.status_code == 302
    [run] = _runs()
    assert run.run_key.startswith("manual:") and run.triggered_by == "amb.hov@test.dk" and run.outcome == "ok"
    [message] = _messages()
    assert message.status == "outbox"  # no SMTP server in tests: kept in the outbox
    page = login_as(users["admin"]).get(f"/rapporter/automatiske/{report.id}").get_data(as_text=True)
    assert "I udbakken" in page and "Send nu" in page


def test_list_page_query_count_is_constant(app, users, login_as, count_queries):
    def add_report(n):
        report = factories.SavedReportFactory(recipients=[users["admin"], users["working_group"]],
                                              region_code=1084 if n % 2 else None, owner_id=users["ambassador"].id)
        db.session.add(SavedReportAddress(saved_report_id=report.id, email=f"x{n}@star.dk"))
        db.session.commit()

    add_report(1)
    service.run_due(SEND_TIME)
    client = login_as(users["admin"])
    client.get("/rapporter/automatiske/")
    db.session.expire_all()
    with count_queries() as few:
        assert client.get("/rapporter/automatiske/").status_code == 200
    for n in range(6):
        add_report(n)
    service.run_due(datetime(2027, 1, 10, 7, 5, tzinfo=CPH))
    db.session.expire_all()
    with count_queries() as many:
        assert client.get("/rapporter/automatiske/").status_code == 200
    assert many.count == few.count, many.statements


# --- Delivery through a real SMTP server -----------------------------------------------------


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(app):
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False, MAIL_USE_SSL=False,
                      MAIL_USERNAME="", MAIL_TIMEOUT=5, MAIL_MAX_ATTEMPTS=3)
    inbox.controller = controller

    def restart():
        inbox.controller = Controller(inbox, hostname="127.0.0.1", port=port)
        inbox.controller.start()

    inbox.restart = restart
    yield inbox
    try:
        inbox.controller.stop()
    except (AssertionError, RuntimeError):
        pass  # stopped by the test


def _attachment(message) -> tuple[str, bytes]:
    [part] = list(message.iter_attachments())
    return part.get_filename(), part.get_content()


def test_a_scheduled_xlsx_arrives_and_its_figures_are_the_report(app, users, smtp_server):

    _figures_data()
    factories.SavedReportFactory(name="Hovedstaden halvår", region_code=1084, recipients=[users["ambassador"]])
    run = run_job("saved_reports", now=SEND_TIME, scheduled=True)
    assert run.outcome == "ok", run.detail
    [message] = smtp_server.messages
    assert message["To"] == "amb.hov@test.dk" and "Hovedstaden halvår" in message["Subject"]
    filename, data = _attachment(message)
    assert filename == "statusrapport-2026-01-01-2026-06-30-region-1084.xlsx"
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    expected = status_report(*H1_2026)
    names = column_names()
    header = [cell.value for cell in sheet[4]]
    assert header[2:] == [names[1084], names[TOTAL]]
    rows = {row[0]: row[2:] for row in sheet.iter_rows(min_row=5, values_only=True) if row[0]}
    for metric in METRICS:
        assert list(rows[metric.key]) == pytest.approx(
            [expected.value(metric.key, 1084), expected.value(metric.key, TOTAL)]), metric.key
    assert rows["plans_signed_in_period"] == (2, 3)  # built above: two in Hovedstaden, three in all
    assert db.session.scalar(select(OutboxMessage.status)) == "sent"


def test_a_csv_arrives_and_parses(app, users, smtp_server):
    _figures_data()
    factories.SavedReportFactory(format="csv", recipients=[users["working_group"]])
    assert service.run_due(SEND_TIME)[0] == "ok"
    [message] = smtp_server.messages
    filename, data = _attachment(message)
    assert filename.endswith(".csv")
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    expected = status_report(*H1_2026)
    header = rows[0]
    by_key = {row[0]: row for row in rows[1:]}
    for metric in METRICS:
        for column in expected.columns:
            text = by_key[metric.key][header.index(str(column))]
            assert float(text.replace(",", ".")) == pytest.approx(expected.value(metric.key, column))
    assert by_key["plans_signed_in_period"][header.index("total")] == "3"


def test_a_pdf_made_from_the_print_view_arrives_readable(app, users, smtp_server):
    from pypdf import PdfReader

    _figures_data()
    factories.SavedReportFactory(format="pdf", recipients=[users["admin"]])
    outcome, detail = service.run_due(SEND_TIME)
    assert outcome == "ok", detail
    [message] = smtp_server.messages
    filename, data = _attachment(message)
    assert filename.endswith(".pdf") and data.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert "statusrapport til STAR" in text and "1. halvår 2026" in text
    expected = status_report(*H1_2026)
    signed = next(m for m in METRICS if m.key == "plans_signed_in_period")
    figures = " ".join(str(expected.value(signed.key, c)) for c in display_order(expected.columns))
    assert figures == "2 1 0 0 0 3"  # built above: Hovedstaden 2, Sjælland 1, the nation 3
    # A long label may wrap in its cell, depending on the machine's fonts: compare the words.
    assert f"{signed.label} {figures}" in " ".join(text.split())


def test_a_failed_smtp_is_a_failed_run_shown_to_admins_and_retried_by_the_outbox(app, users, smtp_server,
                                                                                 login_as):
    factories.SavedReportFactory(name="Til STAR", recipients=[users["admin"]])
    smtp_server.controller.stop()  # the mail server is down
    outcome, _detail = service.run_due(SEND_TIME)
    assert outcome == "failed"
    [run] = _runs()
    assert run.outcome == "failed" and "Udbakken prøver igen" in run.detail
    [message] = _messages()
    assert message.status == "failed" and message.attempts == 1
    admin = login_as(users["admin"])
    assert "Fejlede afsendelser" in admin.get("/rapporter/automatiske/").get_data(as_text=True)
    assert "Fejlede automatiske rapporter" in admin.get("/admin/koersler").get_data(as_text=True)
    assert "Fejlede afsendelser" not in login_as(users["working_group"]).get(
        "/rapporter/automatiske/").get_data(as_text=True)
    # The server is back: the outbox's retry job delivers the same message, once.
    smtp_server.restart()
    assert run_job("mail", now=datetime(2026, 7, 10, 7, 20, tzinfo=CPH), scheduled=True).outcome == "ok"
    assert len(smtp_server.messages) == 1
    db.session.expire_all()
    assert db.session.scalar(select(OutboxMessage.status)) == "sent"
    page = admin.get(f"/rapporter/automatiske/{run.saved_report_id}").get_data(as_text=True)
    assert "Sendt" in page


SCHEDULER_PROCESS = """
import sys
from config import TestingConfig
from crm import create_app
settings = {"SQLALCHEMY_DATABASE_URI": sys.argv[1], "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": int(sys.argv[2]),
            "MAIL_USE_TLS": False, "MAIL_USERNAME": "", "SCHEDULER_LOCK_RETRY_SECONDS": 0.5}
app = create_app(type("C", (TestingConfig,), settings))
result = app.test_cli_runner().invoke(args=["scheduler"])  # the scheduler process's own command
print(result.output)
"""


def test_the_scheduler_process_sends_a_due_report(app, users, smtp_server, database_url):
    """The real scheduler command (APScheduler, its lock) finds a report due earlier today and
    sends it through the SMTP server; it is killed once the message has arrived."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    now = datetime.now(CPH)
    factories.SavedReportFactory(name="Ugens status", frequency="weekly", weekday=now.weekday(), hour=now.hour,
                                 format="csv", recipients=[users["working_group"]],
                                 schedule_from=datetime(2020, 1, 1))  # due today at this hour, not sent yet
    db.session.remove()
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen(  # nosec B603
        [sys.executable, "-c", SCHEDULER_PROCESS, database_url, str(app.config["MAIL_PORT"])], cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not smtp_server.messages and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.3)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        output = process.communicate(timeout=30)[0]
    assert len(smtp_server.messages) == 1, output
    assert smtp_server.messages[0]["To"] == "wg@test.dk" and "Ugens status" in smtp_server.messages[0]["Subject"]
    [run] = _runs()
    assert run.outcome == "ok" and run.triggered_by == "scheduler"
    assert "Scheduled saved_reports" in output


def _accounts_data(cost_lines):
    """Hovedstaden's grant, approved 2026 budget (120 000,00 kr. on courses) and H1 2026 expenses:
    25 000,50 + 4 999,50 kr. in the half-year, one in H2 that must not count."""
    from crm.models import BudgetLine, BudgetVersion, Expense, Grant

    courses = cost_lines["courses"]
    db.session.add(Grant(region_code=1084, amount_ore=340_000_000, project_start=date(2023, 1, 1),
                         project_end=date(2026, 12, 31)))
    version = BudgetVersion(region_code=1084, year=2026, number=1, revised_on=date(2026, 1, 5), reason="Budget",
                            approved_on=date(2026, 1, 20))
    version.lines.append(BudgetLine(cost_line_id=courses.id, amount_ore=12_000_000, note="Kurser"))
    db.session.add(version)
    for voucher, day, amount in (("K-1", date(2026, 2, 3), 2_500_050), ("K-2", date(2026, 6, 30), 499_950),
                                 ("K-3", date(2026, 7, 1), 100_000)):
        db.session.add(Expense(region_code=1084, spent_on=day, cost_line_id=courses.id, amount_ore=amount,
                               description="Kursus", voucher=voucher))
    db.session.commit()
    return courses


def test_scheduled_partial_accounts_arrive_as_xlsx_with_the_half_years_figures(app, users, smtp_server, cost_lines):
    courses = _accounts_data(cost_lines)
    factories.SavedReportFactory(name="Delregnskab Hovedstaden", kind="accounts", region_code=1084,
                                 recipients=[users["ambassador"]])
    outcome, detail = service.run_due(SEND_TIME)
    assert outcome == "ok", detail
    [message] = smtp_server.messages
    filename, data = _attachment(message)
    assert filename == "delregnskab-2026-1-halvaar-1084.xlsx"
    cells = [value for row in load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(values_only=True)
             for value in row]
    # The half-year's actual (25 000,50 + 4 999,50 kr.) and half the year's budget (60 000 kr.).
    assert 30_000.00 in cells and 60_000.00 in cells
    assert courses.label_da in cells


def test_scheduled_partial_accounts_arrive_as_a_readable_pdf(app, users, smtp_server, cost_lines):
    from pypdf import PdfReader

    _accounts_data(cost_lines)
    factories.SavedReportFactory(kind="accounts", format="pdf", region_code=1084, recipients=[users["admin"]])
    outcome, detail = service.run_due(SEND_TIME)
    assert outcome == "ok", detail
    [message] = smtp_server.messages
    filename, data = _attachment(message)
    assert filename == "delregnskab-2026-1-halvaar-1084.pdf" and data.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert "1. halvår 2026" in text and "30.000,00" in text and "60.000,00" in text
