"""Tasks on a municipality ("next steps"): several open at once, each done by someone at some time."""
from datetime import date, datetime
from typing import Optional

from sqlalchemy import ForeignKey, Index, String, Text, and_
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.mixins import VersionedMixin, utcnow
from crm.models.region import Municipality
from crm.models.user import User

TASK_OPEN = "open"
TASK_DONE = "done"
TASK_STATUSES = (TASK_OPEN, TASK_DONE)


class Task(VersionedMixin, db.Model):
    """Something to do about a municipality: what, who, by when; done by whom and when.

    History (every edit, done and reopened) is in the audit log; the municipality's timeline shows
    when each task was created and done. ``version`` (optimistic locking) protects edits.
    """

    # Open tasks by due date (start page, digest, "Mine opgaver") and one municipality's tasks.
    __table_args__ = (
        Index("ix_task_status_due", "status", "due_date"),
        Index("ix_task_municipality_status", "municipality_code", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_code: Mapped[int] = mapped_column(ForeignKey("municipality.code"))
    text: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"), index=True)
    due_date: Mapped[Optional[date]]
    status: Mapped[str] = mapped_column(String(10), default=TASK_OPEN, server_default=TASK_OPEN)
    done_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    done_at: Mapped[Optional[datetime]]
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    municipality: Mapped[Municipality] = relationship()
    owner: Mapped[Optional[User]] = relationship(foreign_keys=[owner_id])
    done_by: Mapped[Optional[User]] = relationship(foreign_keys=[done_by_id])
    created_by: Mapped[Optional[User]] = relationship(foreign_keys=[created_by_id])

    @property
    def is_done(self) -> bool:
        return self.status == TASK_DONE

    @hybrid_method
    def is_overdue(self, today: date) -> bool:
        """The one "overdue" rule: open, with a due date before ``today`` (Copenhagen's date, see
        crm.clock.local_today). On a loaded task a bool; on the class the same rule as SQL,
        ``select(Task).where(Task.is_overdue(today))``."""
        return self.status == TASK_OPEN and self.due_date is not None and self.due_date < today

    @is_overdue.expression
    def is_overdue(cls, today: date):
        return and_(cls.status == TASK_OPEN, cls.due_date.is_not(None), cls.due_date < today)

    def __repr__(self) -> str:
        return f"<Task {self.id} {self.municipality_code} {self.status}>"
