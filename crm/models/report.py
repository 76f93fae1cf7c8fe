"""Half-yearly status reports as they were sent to STAR: frozen figures and files."""
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Optional

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.mixins import utcnow

if TYPE_CHECKING:
    from crm.models.region import Region
    from crm.models.user import User


class ReportSubmission(db.Model):
    """A status report marked as submitted: the exact figures and files sent, who and when.

    Never updated after it is created, so later data changes (or backdated stage changes) cannot
    alter what was sent. ``figures`` maps metric key -> {"1081": value, ..., "total": value}.
    The generated files are deferred so lists of submissions do not load them.
    """

    __table_args__ = (Index("ix_report_submission_period", "period_start", "period_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    csv_data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    xlsx_data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    note: Mapped[Optional[str]] = mapped_column(Text)
    submitted_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)

    submitted_by: Mapped[Optional["User"]] = relationship()

    def __repr__(self) -> str:
        """For logs and the shell."""
        return f"<ReportSubmission {self.period_start}–{self.period_end} at {self.submitted_at}>"


class PeriodReopening(db.Model):
    """An administrator's opening of a submitted period's lock for one region (``region_code``
    None: the national activities, which have no region), with the required reason; re-locked
    later (``relocked_at``). While open (``relocked_at`` None), that region's records dated in the
    period may be changed again; the audit log keeps every change. Submitting the period again
    re-locks it. ``submission`` is the submission the lock was opened from (its page shows it)."""

    __table_args__ = (Index("ix_period_reopening_period", "period_start", "period_end", "region_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("report_submission.id"), index=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    region_code: Mapped[Optional[int]] = mapped_column(ForeignKey("region.code"))
    reason: Mapped[str] = mapped_column(Text)
    opened_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    relocked_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    relocked_at: Mapped[Optional[datetime]]

    submission: Mapped[ReportSubmission] = relationship()
    opened_by: Mapped[Optional["User"]] = relationship(foreign_keys=[opened_by_id])
    relocked_by: Mapped[Optional["User"]] = relationship(foreign_keys=[relocked_by_id])
    region: Mapped[Optional["Region"]] = relationship()

    @property
    def region_label(self) -> str:
        """The region's name, or the national activities'."""
        from crm.i18n import gettext as _

        return self.region.name if self.region is not None else _("Landsdækkende aktiviteter")

    @property
    def is_open(self) -> bool:
        """True until an administrator re-locks it (or the period is submitted again)."""
        return self.relocked_at is None

    def __repr__(self) -> str:
        """For logs and the shell."""
        return f"<PeriodReopening {self.region_code} {self.period_start}–{self.period_end} open={self.is_open}>"
