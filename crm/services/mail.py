"""E-mail: queue messages in the outbox table, deliver them over SMTP, retry the failures.

Every message is first a row in ``outbox_message``; delivery only changes its status. With no
``MAIL_SERVER`` configured (development, tests) nothing is sent: messages get the status
"outbox", are written to the log, and admins read them on the outbox page. A failed send keeps
the message with its error and attempt count; the scheduler retries it until
``MAIL_MAX_ATTEMPTS`` and an admin can always retry by hand. Nothing is silently dropped.

Two processes never send the same message: each claims a message with a conditional UPDATE
(queued/failed → sending) and only the one whose UPDATE changed the row sends it.
"""
import logging
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Iterable, Optional
from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for
from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from crm.extensions import db
from crm.models.messaging import (
    MAIL_FAILED,
    MAIL_OUTBOX,
    MAIL_QUEUED,
    MAIL_SENDING,
    MAIL_SENT,
    OutboxAttachment,
    OutboxMessage,
)
from crm.models.mixins import utcnow
from crm.services.safe_text import clean_text

log = logging.getLogger("crm.mail")

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A claim older than this belongs to a process that died mid-send; the message is retried.
STALE_CLAIM = timedelta(minutes=15)


# --- Links in e-mails and feeds --------------------------------------------------------------


def external_url(endpoint: str, **values) -> str:
    """An absolute URL for ``endpoint``: under ``PUBLIC_BASE_URL`` when set, else the request's host.

    Works outside requests too (scheduler jobs), where it falls back to http://localhost.
    """
    base = current_app.config.get("PUBLIC_BASE_URL") or ""
    if not base and has_request_context():
        return url_for(endpoint, _external=True, **values)
    parts = urlsplit(base or "http://localhost")
    adapter = current_app.url_map.bind(
        parts.netloc or "localhost", script_name=parts.path or "/", url_scheme=parts.scheme or "http"
    )
    return adapter.build(endpoint, values, force_external=True)


# --- Queueing --------------------------------------------------------------------------------


def already_queued(key: str) -> bool:
    """Is there a message with this idempotency key?"""
    return db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key)) is not None


def queue_message(recipient: str, subject: str, body: str, *, key: Optional[str] = None,
                  job: Optional[str] = None, attachment: Optional[tuple[str, str, bytes]] = None
                  ) -> Optional[OutboxMessage]:
    """Add a message to the outbox (flushed, not committed); None if ``key`` was queued before.

    ``attachment`` is (file name, MIME type, bytes). The caller commits.
    """
    if key is not None and already_queued(key):
        return None
    message = OutboxMessage(
        key=key, recipient=recipient.strip(), subject=header_text(subject, 300), body=body, job=job,
        status=MAIL_QUEUED, attempts=0,
    )
    if attachment is not None:
        message.attachment_name, message.attachment_mimetype = attachment[0], attachment[1]
        message.attachment_size = len(attachment[2])
    try:
        # A savepoint: another process may queue the same key at this moment; then we lose quietly.
        with db.session.begin_nested():
            db.session.add(message)
            db.session.flush()
    except IntegrityError:
        return None
    if attachment is not None:
        db.session.execute(insert(OutboxAttachment).values(message_id=message.id, data=attachment[2]))
    return message


def attachment_bytes(message: OutboxMessage) -> Optional[bytes]:
    """The stored attachment of ``message``, or None."""
    return db.session.scalar(select(OutboxAttachment.data).where(OutboxAttachment.message_id == message.id))


# --- Delivery --------------------------------------------------------------------------------


def smtp_configured() -> bool:
    """True when an SMTP server is set in ``MAIL_SERVER``."""
    return bool(current_app.config.get("MAIL_SERVER"))


def _retryable(now: datetime, max_attempts: Optional[int]):
    """Condition for messages a delivery run may claim."""
    waiting = OutboxMessage.status == MAIL_QUEUED
    failed = OutboxMessage.status == MAIL_FAILED
    if max_attempts is not None:
        failed = and_(failed, OutboxMessage.attempts < max_attempts)
    stale = and_(OutboxMessage.status == MAIL_SENDING, OutboxMessage.claimed_at < now - STALE_CLAIM)
    return or_(waiting, failed, stale)


def pending_ids(now: Optional[datetime] = None, max_attempts: Optional[int] = None) -> list[int]:
    """Ids of messages waiting to be sent or retried, oldest first."""
    now = now or utcnow()
    if max_attempts is None:
        max_attempts = int(current_app.config.get("MAIL_MAX_ATTEMPTS", 5))
    return list(db.session.scalars(
        select(OutboxMessage.id).where(_retryable(now, max_attempts)).order_by(OutboxMessage.id)
    ))


def _claim(message_id: int, now: datetime, max_attempts: Optional[int]) -> bool:
    """Mark one message "sending" if it is still claimable; True if this process won it.

    A conditional Core UPDATE on purpose: it is atomic in the database, so of two processes only
    one sees a changed row. (It is bookkeeping, not a user's change; the outcome that follows is
    written through the ORM and audited.)
    """
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, _retryable(now, max_attempts))
        .values(status=MAIL_SENDING, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


class MailHeaderError(ValueError):
    """An address that would break the message's headers (a line break or control character)."""


def header_text(value: Optional[str], max_length: Optional[int] = None) -> str:
    """Text for a header such as Subject or a file name: one line, no control characters (a CR/LF
    would start a forged header such as ``Bcc:``); long text is folded by the e-mail library."""
    return clean_text(value, single_line=True, max_length=max_length)


def _address(value: Optional[str]) -> str:
    """An address header as it is, or MailHeaderError: an address is never silently changed."""
    value = (value or "").strip()
    if not value or value != header_text(value):
        from crm.i18n import gettext as _

        raise MailHeaderError(_("Ugyldig modtageradresse (tom, linjeskift eller kontroltegn)."))
    return value


def _email(message: OutboxMessage) -> EmailMessage:
    """The standard-library e-mail for an outbox row (MailHeaderError for a broken address)."""
    config = current_app.config
    email = EmailMessage()
    email["From"] = _address(config.get("MAIL_DEFAULT_SENDER") or "ips-crm@localhost")
    email["To"] = _address(message.recipient)
    email["Subject"] = header_text(message.subject)
    email["Date"] = formatdate(localtime=True)
    email["Message-ID"] = make_msgid(domain="ips-crm")
    email.set_content(message.body)
    if message.attachment_name:
        data = attachment_bytes(message) or b""
        maintype, _slash, subtype = (message.attachment_mimetype or "application/octet-stream").partition("/")
        email.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream",
                             filename=header_text(message.attachment_name, 200) or "bilag")
    return email


def _connect() -> smtplib.SMTP:
    """An open, authenticated SMTP connection from the MAIL_* settings."""
    config = current_app.config
    timeout = int(config.get("MAIL_TIMEOUT", 30))
    if config.get("MAIL_USE_SSL"):
        smtp = smtplib.SMTP_SSL(config["MAIL_SERVER"], int(config.get("MAIL_PORT", 465)), timeout=timeout)
    else:
        smtp = smtplib.SMTP(config["MAIL_SERVER"], int(config.get("MAIL_PORT", 587)), timeout=timeout)
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
    if config.get("MAIL_USERNAME"):
        smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
    return smtp


def _record_failure(message: OutboxMessage, error: Exception, now: datetime) -> None:
    """Keep a failed message with its error and attempt count (it will be retried)."""
    message.status = MAIL_FAILED
    message.attempts = (message.attempts or 0) + 1
    message.last_attempt_at = now
    message.last_error = f"{type(error).__name__}: {error}"[:2000]
    log.warning("E-mail %s to %s failed (attempt %s): %s", message.id, message.recipient,
                message.attempts, message.last_error)


def _deliver_one(message: OutboxMessage, smtp_holder: dict, now: datetime) -> bool:
    """Send one claimed message (or keep it in the outbox without SMTP); True when sent."""
    if not smtp_configured():
        message.status = MAIL_OUTBOX
        message.last_attempt_at = now
        log.info("E-mail kept in the outbox (no MAIL_SERVER): to=%s subject=%r\n%s",
                 message.recipient, message.subject, message.body)
        return False
    try:
        if smtp_holder.get("smtp") is None:
            smtp_holder["smtp"] = _connect()
        smtp_holder["smtp"].send_message(_email(message))
    except ValueError as error:  # a header the e-mail library refuses (MailHeaderError and the like)
        _record_failure(message, error, now)
        return False
    except (smtplib.SMTPException, OSError) as error:
        smtp_holder["smtp"] = None  # a broken connection is not reused for the next message
        _record_failure(message, error, now)
        return False
    message.status = MAIL_SENT
    message.attempts = (message.attempts or 0) + 1
    message.last_attempt_at = message.sent_at = now
    message.last_error = None
    return True


def deliver(message_ids: Iterable[int], now: Optional[datetime] = None,
            max_attempts: Optional[int] = None) -> dict[str, int]:
    """Claim and deliver the given messages, committing each outcome; returns counts by result.

    ``max_attempts`` None means no limit (an admin's manual retry).
    """
    now = now or utcnow()
    counts = {"sent": 0, "failed": 0, "outbox": 0, "skipped": 0}
    smtp_holder: dict = {}
    try:
        for message_id in message_ids:
            if not _claim(message_id, now, max_attempts):
                counts["skipped"] += 1  # another process has it, or it was sent meanwhile
                continue
            message = db.session.get(OutboxMessage, message_id)
            sent = _deliver_one(message, smtp_holder, now)
            db.session.commit()
            counts["sent" if sent else message.status] += 1
    finally:
        if smtp_holder.get("smtp") is not None:
            try:
                smtp_holder["smtp"].quit()
            except (smtplib.SMTPException, OSError):
                pass
    return counts


def deliver_pending(now: Optional[datetime] = None) -> dict[str, int]:
    """Deliver everything queued and retry failures below ``MAIL_MAX_ATTEMPTS``."""
    now = now or utcnow()
    max_attempts = int(current_app.config.get("MAIL_MAX_ATTEMPTS", 5))
    return deliver(pending_ids(now, max_attempts), now, max_attempts)


def can_retry(message: OutboxMessage, now: Optional[datetime] = None) -> bool:
    """May an admin send this message again? Not when it was sent, nor while a process is
    sending it (unless that claim is stale): a second send would be a duplicate."""
    now = now or utcnow()
    if message.status == MAIL_SENT:
        return False
    if message.status == MAIL_SENDING:
        return message.claimed_at is None or message.claimed_at < now - STALE_CLAIM
    return True


def retry(message: OutboxMessage, now: Optional[datetime] = None) -> dict[str, int]:
    """An admin's "send again": one more attempt now, whatever the attempt count (not for a
    message already sent or being sent)."""
    now = now or utcnow()
    if not can_retry(message, now):
        return {"sent": 0, "failed": 0, "outbox": 0, "skipped": 1}
    if message.status != MAIL_QUEUED:
        message.status = MAIL_QUEUED
        db.session.commit()
    return deliver([message.id], now, max_attempts=None)


def describe_counts(counts: dict[str, int]) -> str:
    """'sendt 2, fejlet 1, i udbakken 0' for job details and flash messages."""
    from crm.i18n import gettext as _

    return _("sendt %(sent)s, fejlet %(failed)s, i udbakken %(outbox)s",
             sent=counts.get("sent", 0), failed=counts.get("failed", 0), outbox=counts.get("outbox", 0))
