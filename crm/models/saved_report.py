"""Saved reports that send themselves: a report view (kind, period rule, scope, format) with a
schedule and recipients, and the record of each run.

The unique (saved report, run key) pair of ``SavedReportRun`` is the lock for one due time: a
scheduled run's key is the local wall-clock due time, so two scheduler processes (or a DST hour
that happens twice) insert one row and the other skips.
"""
from datetime import date, datetime
from typing import Optional

from sqlalchemy import Column, Date, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.i18n import lazy_gettext as _l
from crm.models.mixins import VersionedMixin, utcnow
from crm.models.region import Region
from crm.models.user import User

KIND_STATUS = "status"
KIND_ACCOUNTS = "accounts"
KIND_ACCOUNTS = "accounts"

PERIOD_LAST_HALF = "last_completed_half"
PERIOD_CURRENT_HALF = "current_half_to_date"
PERIOD_LAST_YEAR = "last_completed_year"
PERIOD_RULES: dict[str, str] = {
    PERIOD_LAST_HALF: _l("Seneste afsluttede halvår"),
    PERIOD_CURRENT_HALF: _l("Indeværende halvår til dato"),
    PERIOD_LAST_YEAR: _l("Seneste afsluttede kalenderår"),
}

FORMATS: dict[str, str] = {"xlsx": "XLSX (Excel)", "csv": _l("CSV (Excel, semikolon)"), "pdf": "PDF"}

FREQ_WEEKLY = "weekly"
FREQ_MONTHLY = "monthly"
FREQ_HALFYEARLY = "halfyearly"
FREQUENCIES: dict[str, str] = {
    FREQ_WEEKLY: _l("Ugentligt"),
    FREQ_MONTHLY: _l("Månedligt"),
    FREQ_HALFYEARLY: _l("Halvårligt (januar og juli)"),
}

RUN_OK = "ok"
RUN_FAILED = "failed"
RUN_SKIPPED = "skipped"
RUN_RUNNING = "running"
RUN_OUTCOMES: dict[str, str] = {
    RUN_RUNNING: _l("Kører"),
    RUN_OK: _l("Sendt"),
    RUN_SKIPPED: _l("Sprunget over"),
    RUN_FAILED: _l("Fejlet"),
}

saved_report_recipient = Table(
    "saved_report_recipient",
    db.metadata,
    Column("saved_report_id", ForeignKey("saved_report.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
)


class SavedReport(VersionedMixin, db.Model):
    """A report view with a schedule. ``region_code`` None: national.

    Schedule: ``frequency`` weekly (on ``weekday``, 0 = Monday), monthly (on ``day``, 1–28) or
    half-yearly (on ``day`` of January and July), at ``hour`` o'clock Copenhagen time. Nothing is
    sent for a due time before ``schedule_from`` (set when it is created, rescheduled or switched on).
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(20), default=KIND_STATUS)
    period_rule: Mapped[str] = mapped_column(String(30), default=PERIOD_LAST_HALF)
    region_code: Mapped[Optional[int]] = mapped_column(ForeignKey("region.code"), index=True)
    format: Mapped[str] = mapped_column(String(10), default="xlsx")
    frequency: Mapped[str] = mapped_column(String(12), default=FREQ_HALFYEARLY)
    weekday: Mapped[int] = mapped_column(default=0)
    day: Mapped[int] = mapped_column(default=10)
    hour: Mapped[int] = mapped_column(default=7)
    active: Mapped[bool] = mapped_column(default=True)
    schedule_from: Mapped[datetime] = mapped_column(default=utcnow)
    owner_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    region: Mapped[Optional[Region]] = relationship()
    owner: Mapped[Optional[User]] = relationship(foreign_keys=[owner_id])
    recipients: Mapped[list[User]] = relationship(secondary=saved_report_recipient, order_by=User.email)
    addresses: Mapped[list["SavedReportAddress"]] = relationship(
        back_populates="saved_report", cascade="all, delete-orphan", order_by="SavedReportAddress.email")

    @property
    def period_label(self) -> str:
        return str(PERIOD_RULES.get(self.period_rule, self.period_rule))

    @property
    def frequency_label(self) -> str:
        return str(FREQUENCIES.get(self.frequency, self.frequency))


class SavedReportAddress(db.Model):
    """An external recipient (no user of the CRM). Nothing is sent to it until an admin approved it."""

    __table_args__ = (UniqueConstraint("saved_report_id", "email", name="uq_saved_report_address_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    saved_report_id: Mapped[int] = mapped_column(ForeignKey("saved_report.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    proposed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    approved_at: Mapped[Optional[datetime]]

    saved_report: Mapped[SavedReport] = relationship(back_populates="addresses")
    proposed_by: Mapped[Optional[User]] = relationship(foreign_keys=[proposed_by_id])
    approved_by: Mapped[Optional[User]] = relationship(foreign_keys=[approved_by_id])

    @property
    def approved(self) -> bool:
        return self.approved_at is not None


class SavedReportRun(db.Model):
    """One production and sending of a saved report, scheduled or "send now"."""

    __table_args__ = (
        UniqueConstraint("saved_report_id", "run_key", name="uq_saved_report_run_key"),
        Index("ix_saved_report_run_started", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    saved_report_id: Mapped[int] = mapped_column(ForeignKey("saved_report.id", ondelete="CASCADE"), index=True)
    run_key: Mapped[str] = mapped_column(String(80))
    due_at: Mapped[Optional[datetime]]
    period_start: Mapped[Optional[date]] = mapped_column(Date)
    period_end: Mapped[Optional[date]] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[Optional[datetime]]
    outcome: Mapped[str] = mapped_column(String(10), default=RUN_RUNNING)
    detail: Mapped[Optional[str]] = mapped_column(Text)
    message_ids: Mapped[Optional[str]] = mapped_column(Text)
    triggered_by: Mapped[str] = mapped_column(String(254), default="scheduler")

    saved_report: Mapped[SavedReport] = relationship()

    @property
    def outcome_label(self) -> str:
        return str(RUN_OUTCOMES.get(self.outcome, self.outcome))

    @property
    def message_id_list(self) -> list[int]:
        return [int(part) for part in (self.message_ids or "").split(",") if part.strip().isdigit()]
