"""Half-yearly status reports as they were sent to STAR: frozen figures and files."""
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Optional

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.mixins import utcnow

if TYPE_CHECKING:
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
