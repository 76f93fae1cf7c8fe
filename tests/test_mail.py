"""E-mail delivery: the outbox without SMTP, sending with SMTP, failures retried and shown, never
dropped, and only admins see the outbox."""
import logging
import re
import smtplib
import threading
from email import message_from_bytes

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import OutboxMessage
from crm.services import mail


class FakeSMTP:
    """Stands in for smtplib.SMTP: records what was sent; ``fail_with`` makes every send raise."""

    sent: list = []
    fail_with = None
    connections = 0

    def __init__(self, host, port, timeout=None):
        type(self).connections += 1
        self.host, self.port = host, port

    def starttls(self):
        pass

    def login(self, user, password):
        pass

    def send_message(self, message):
        if type(self).fail_with is not None:
            raise type(self).fail_with
        type(self).sent.append(message)

    def quit(self):
        pass


@pytest.fixture
def smtp(app, monkeypatch):
    """SMTP configured and smtplib.SMTP replaced by FakeSMTP."""
    FakeSMTP.sent, FakeSMTP.fail_with, FakeSMTP.connections = [], None, 0
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    app.config.update(MAIL_SERVER="smtp.example.dk", MAIL_USERNAME="crm", MAIL_PASSWORD="x", MAIL_MAX_ATTEMPTS=3)
    return FakeSMTP


def _queue(key=None, attachment=None):
    message = mail.queue_message("amb@test.dk", "Emne med æøå", "Hej\nlinje to", key=key, attachment=attachment)
    db.session.commit()
    return message


def test_without_smtp_messages_stay_in_the_outbox_and_are_logged(app, caplog):
    message = _queue()
    with caplog.at_level(logging.INFO, logger="crm.mail"):
        counts = mail.deliver_pending()
    assert counts["outbox"] == 1 and counts["sent"] == 0
    db.session.refresh(message)
    assert message.status == "outbox"
    assert "Emne med æøå" in caplog.text and "amb@test.dk" in caplog.text


def test_smtp_sends_the_message_with_its_attachment(app, smtp):
    message = _queue(attachment=("rapport.xlsx", mail.XLSX_MIMETYPE, b"PK\x03\x04data"))
    counts = mail.deliver_pending()
    assert counts["sent"] == 1
    db.session.refresh(message)
    assert (message.status, message.attempts, message.last_error) == ("sent", 1, None)
    assert message.sent_at is not None
    [sent] = smtp.sent
    parsed = message_from_bytes(sent.as_bytes())
    assert parsed["To"] == "amb@test.dk"
    assert "Emne med" in str(sent["Subject"])
    attachments = [part for part in parsed.walk() if part.get_filename()]
    assert [a.get_filename() for a in attachments] == ["rapport.xlsx"]
    assert attachments[0].get_payload(decode=True) == b"PK\x03\x04data"
    # Nothing left to send: a second delivery sends nothing more.
    assert mail.deliver_pending()["sent"] == 0
    assert len(smtp.sent) == 1


def test_failed_sends_are_retried_counted_and_never_dropped(app, smtp, users, login_as):
    smtp.fail_with = smtplib.SMTPServerDisconnected("forbindelsen blev afbrudt")
    message = _queue()
    for attempt in (1, 2, 3):
        counts = mail.deliver_pending()
        assert counts["failed"] == 1
        db.session.refresh(message)
        assert (message.status, message.attempts) == ("failed", attempt)
        assert "forbindelsen blev afbrudt" in message.last_error
    # MAIL_MAX_ATTEMPTS reached: the automatic retry leaves it alone, but it stays visible...
    assert mail.deliver_pending() == {"sent": 0, "failed": 0, "outbox": 0, "skipped": 0}
    db.session.refresh(message)
    assert message.status == "failed"
    page = login_as(users["admin"]).get("/admin/udbakke?status=failed").get_data(as_text=True)
    assert "forbindelsen blev afbrudt" in page and "Fejlet" in page and "Send igen" in page
    # ... and an admin can send it again once the server works.
    smtp.fail_with = None
    response = login_as(users["admin"]).post("/admin/udbakke/send-igen", data={"message_id": message.id})
    assert response.status_code == 302
    db.session.refresh(message)
    assert (message.status, message.attempts, message.last_error) == ("sent", 4, None)
    assert len(smtp.sent) == 1
    # A sent message is not sent again.
    login_as(users["admin"]).post("/admin/udbakke/send-igen", data={"message_id": message.id})
    assert len(smtp.sent) == 1


def test_connection_errors_count_as_failures(app, smtp, monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(smtplib, "SMTP", refuse)
    message = _queue()
    mail.deliver_pending()
    db.session.refresh(message)
    assert message.status == "failed" and message.attempts == 1
    assert "Connection refused" in message.last_error


def test_same_key_is_queued_once(app):
    assert _queue(key="digest:2026-06-03:1") is not None
    assert _queue(key="digest:2026-06-03:1") is None
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1


def test_a_key_queued_meanwhile_by_another_process_is_skipped_quietly(app, monkeypatch):
    """The check before the insert can race with another process; the unique key then decides and
    the rest of the transaction carries on."""
    _queue(key="halfyear:2026-1:wg@test.dk")
    monkeypatch.setattr(mail, "already_queued", lambda key: False)  # as if the other insert came after our check
    assert mail.queue_message("wg@test.dk", "Igen", "Tekst", key="halfyear:2026-1:wg@test.dk") is None
    assert mail.queue_message("ny@test.dk", "Ny", "Tekst", key="halfyear:2026-1:ny@test.dk") is not None
    db.session.commit()
    assert sorted(db.session.scalars(select(OutboxMessage.recipient))) == ["amb@test.dk", "ny@test.dk"]


def test_two_processes_delivering_at_once_send_each_message_once(app, smtp):
    ids = [_queue(key=f"k{n}").id for n in range(6)]
    db.session.remove()
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                mail.deliver(ids)
                db.session.remove()
        except Exception as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(m["Subject"] for m in smtp.sent) == sorted(["Emne med æøå"] * 6)
    assert db.session.scalar(select(func.count()).where(OutboxMessage.status == "sent")) == 6


@pytest.mark.parametrize("role", ["ambassador", "working_group"])
def test_outbox_pages_are_admin_only(app, users, login_as, role):
    message = _queue()
    client = login_as(users[role])
    assert client.get("/admin/udbakke").status_code == 403
    assert client.get(f"/admin/udbakke/{message.id}").status_code == 403
    assert client.post("/admin/udbakke/send-igen", data={"message_id": message.id}).status_code == 403


def test_outbox_needs_login(client):
    response = client.get("/admin/udbakke")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_message_page_and_attachment_download(app, users, login_as):
    message = _queue(attachment=("rapport.xlsx", mail.XLSX_MIMETYPE, b"PK\x03\x04data"))
    client = login_as(users["admin"])
    page = client.get(f"/admin/udbakke/{message.id}").get_data(as_text=True)
    assert "Hej\nlinje to" in page and "rapport.xlsx" in page
    download = client.get(f"/admin/udbakke/{message.id}/vedhaeftning")
    assert download.data == b"PK\x03\x04data"
    assert download.mimetype == mail.XLSX_MIMETYPE
    plain = _queue()
    assert client.get(f"/admin/udbakke/{plain.id}/vedhaeftning").status_code == 404
    assert client.post("/admin/udbakke/send-igen", data={"message_id": "x"}).status_code == 400
    assert client.post("/admin/udbakke/send-igen", data={"message_id": "999999"}).status_code == 404


def test_outbox_page_query_count_is_constant(app, users, login_as, count_queries):
    client = login_as(users["admin"])
    _queue()
    client.get("/admin/udbakke")
    db.session.expire_all()  # the request reloads the signed-in user in both runs
    with count_queries() as few:
        client.get("/admin/udbakke")
    for n in range(20):
        _queue(attachment=("a.xlsx", mail.XLSX_MIMETYPE, b"x") if n % 2 else None)
    db.session.expire_all()
    with count_queries() as many:
        client.get("/admin/udbakke")
    assert many.count == few.count


HOSTILE_SUBJECTS = [
    "Statusrapport\r\nBcc: angriber@example.com",
    "Første\nanden",
    "Kun CR\rX-Evil: 1",
    "Escape \x1b[31mrød\x7f og \x0bvt",
    "Æøå " * 120,  # longer than a header line and than the column: folded, cut to 300
]


@pytest.mark.parametrize("subject", HOSTILE_SUBJECTS)
def test_subject_with_line_breaks_or_control_characters_cannot_forge_headers(app, smtp, subject):
    message = mail.queue_message("amb@test.dk", subject, "Hej", attachment=(f"rapport\r\nX-Evil: 1 {subject[:20]}.xlsx",
                                                                           mail.XLSX_MIMETYPE, b"PK"))
    db.session.commit()
    assert "\n" not in message.subject and "\r" not in message.subject and "\x1b" not in message.subject
    assert len(message.subject) <= 300
    assert mail.deliver_pending()["sent"] == 1
    [sent] = smtp.sent
    raw = sent.as_bytes()
    assert all(len(line.rstrip(b"\r")) <= 998 for line in raw.split(b"\n"))  # RFC 5322 line limit
    parsed = message_from_bytes(raw)
    assert "Bcc" not in parsed and "X-Evil" not in parsed
    assert parsed.get_all("Subject") and len(parsed.get_all("Subject")) == 1
    assert str(sent["Subject"]) == message.subject
    assert not re.search(r"[\x00-\x1f\x7f]", message.subject)
    [attachment] = [part for part in parsed.walk() if part.get_filename()]
    assert "\n" not in attachment.get_filename() and attachment.get_payload(decode=True) == b"PK"


def test_a_recipient_with_a_line_break_fails_without_sending_or_crashing(app, smtp):
    message = mail.queue_message("amb@test.dk\r\nBcc: angriber@example.com", "Emne", "Hej")
    good = mail.queue_message("amb@test.dk", "Emne", "Hej")
    db.session.commit()
    counts = mail.deliver_pending()
    assert counts["sent"] == 1 and counts["failed"] == 1
    db.session.refresh(message)
    assert message.status == "failed" and "modtager" in message.last_error.lower()
    assert [str(sent["To"]) for sent in smtp.sent] == ["amb@test.dk"]
    assert good.status == "sent"
