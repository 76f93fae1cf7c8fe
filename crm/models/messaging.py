"""Outgoing e-mail (the outbox) and the record of scheduled job runs."""
from datetime import datetime
from typing import Optional

from crm.i18n import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column

from crm.extensions import db
from crm.models.mixins import utcnow

# Outbox statuses. "outbox": no SMTP server is configured, so the message is kept here (and
# logged) instead of sent; "sending": claimed by one process, so no other process sends it too.
MAIL_QUEUED = "queued"
MAIL_SENDING = "sending"
MAIL_SENT = "sent"
MAIL_FAILED = "failed"
MAIL_OUTBOX = "outbox"
MAIL_STATUSES: dict[str, str] = {
    MAIL_QUEUED: _l("I kø"),
    MAIL_SENDING: _l("Sendes"),
    MAIL_SENT: _l("Sendt"),
    MAIL_FAILED: _l("Fejlet"),
    MAIL_OUTBOX: _l("I udbakken (ingen SMTP-server)"),
}

RUN_RUNNING = "running"
RUN_OK = "ok"
RUN_SKIPPED = "skipped"
RUN_FAILED = "failed"
RUN_OUTCOMES: dict[str, str] = {
    RUN_RUNNING: _l("Kører"),
    RUN_OK: _l("Gennemført"),
    RUN_SKIPPED: _l("Sprunget over"),
    RUN_FAILED: _l("Fejlet"),
}


class OutboxMessage(db.Model):
    """One e-mail to one recipient. Never deleted by the app: failures stay visible with their error.

    ``key`` makes a message idempotent (e.g. ``digest:2026-06-03:7``): a job that runs twice, or
    two scheduler processes at once, cannot queue the same message twice.
    """

    __table_args__ = (Index("ix_outbox_message_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[Optional[str]] = mapped_column(String(200), unique=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    attachment_name: Mapped[Optional[str]] = mapped_column(String(200))
    attachment_mimetype: Mapped[Optional[str]] = mapped_column(String(120))
    attachment_size: Mapped[Optional[int]]
    status: Mapped[str] = mapped_column(String(10), default=MAIL_QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    job: Mapped[Optional[str]] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[Optional[datetime]]
    last_attempt_at: Mapped[Optional[datetime]]
    sent_at: Mapped[Optional[datetime]]

    @property
    def status_label(self) -> str:
        return str(MAIL_STATUSES.get(self.status, self.status))


class OutboxAttachment(db.Model):
    """The bytes of a message's attachment, kept apart from the message row.

    Written with a Core insert on purpose: the audit log records every ORM change as JSON, and
    a workbook's bytes say nothing there (the message row, which is audited, names the file).
    """

    message_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_message.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary))


class JobRun(db.Model):
    """One run of a scheduled job (or a "run now"), with its outcome.

    The unique (job, run_key) pair is the lock that keeps several scheduler processes from running
    the same job twice: each inserts its row first, and only the one whose insert succeeds runs.
    Scheduled runs use the day as ``run_key``; manual runs get a key of their own.
    """

    __table_args__ = (
        UniqueConstraint("job", "run_key", name="uq_job_run_job_run_key"),
        Index("ix_job_run_started", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    run_key: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[Optional[datetime]]
    outcome: Mapped[str] = mapped_column(String(10), default=RUN_RUNNING)
    detail: Mapped[Optional[str]] = mapped_column(Text)
    triggered_by: Mapped[str] = mapped_column(String(254), default="scheduler")

    @property
    def outcome_label(self) -> str:
        return str(RUN_OUTCOMES.get(self.outcome, self.outcome))
