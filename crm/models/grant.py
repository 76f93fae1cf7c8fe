"""The grant side: the cost lines of STAR's call, each region's grant, its budget versions per
year and the expenses booked against it.

Money is whole øre in 64-bit integers, never floats: sums are exact in SQL and in Python alike,
and 12 345,67 kr. is stored as 1234567.
"""
from datetime import date, datetime
from typing import TYPE_CHECKING, Optional

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.i18n import current_locale
from crm.models.mixins import VersionedMixin, utcnow

if TYPE_CHECKING:
    from crm.models.activity import Activity
    from crm.models.region import Region
    from crm.models.user import User

# The call: the final account is signed by an auditor for grants of 500 000 kr. or more.
AUDITOR_THRESHOLD_ORE = 500_000 * 100

EXPENSE_SOURCE_FORM = "form"
EXPENSE_SOURCE_IMPORT = "import"


class CostLine(VersionedMixin, db.Model):
    """A cost line of the call (seeded from crm/data/cost_lines.csv, then the admins' to edit).
    ``code`` never changes once made: imports, exports and history use it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    label_da: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))
    guidance: Mapped[Optional[str]] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def label(self) -> str:
        """The label in the reader's language (English for English, Danish otherwise)."""
        return self.label_en if current_locale().language == "en" else self.label_da

    def __repr__(self) -> str:
        return f"<CostLine {self.code}>"


class Grant(VersionedMixin, db.Model):
    """A region's grant from STAR (each region is a grant recipient): the amount granted for the
    whole project period, which decides the final account's sign-off, and the period, whose end
    decides the final account's deadline. (The table is not called "grant": an SQL keyword.)"""

    __tablename__ = "region_grant"
    __table_args__ = (CheckConstraint("amount_ore >= 0", name="amount_not_negative"),
                      CheckConstraint("project_start <= project_end", name="period_in_order"))

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[int] = mapped_column(ForeignKey("region.code"), unique=True)
    amount_ore: Mapped[int] = mapped_column(BigInteger)
    project_start: Mapped[date]
    project_end: Mapped[date]
    reference: Mapped[Optional[str]] = mapped_column(String(60))

    region: Mapped["Region"] = relationship()


class BudgetVersion(db.Model):
    """One version of a region's budget for a year. A revision is a new version (with its date
    and reason), never an edit of an approved one; ``approved_on`` marks STAR's approval, and the
    region's budget for the year is its newest approved version."""

    __table_args__ = (UniqueConstraint("region_code", "year", "number", name="uq_budget_version_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[int] = mapped_column(ForeignKey("region.code"))
    year: Mapped[int]
    number: Mapped[int] = mapped_column(default=1)
    revised_on: Mapped[date]
    reason: Mapped[str] = mapped_column(Text)
    approved_on: Mapped[Optional[date]]
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    region: Mapped["Region"] = relationship()
    created_by: Mapped[Optional["User"]] = relationship()
    lines: Mapped[list["BudgetLine"]] = relationship(
        back_populates="version", cascade="all, delete-orphan", order_by="BudgetLine.cost_line_id")


class BudgetLine(db.Model):
    """The amount a budget version sets for one cost line, with the note STAR's template requires."""

    __table_args__ = (UniqueConstraint("version_id", "cost_line_id", name="uq_budget_line_cost_line"),
                      CheckConstraint("amount_ore >= 0", name="amount_not_negative"))

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("budget_version.id", ondelete="CASCADE"))
    cost_line_id: Mapped[int] = mapped_column(ForeignKey("cost_line.id"))
    amount_ore: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text)

    version: Mapped[BudgetVersion] = relationship(back_populates="lines")
    cost_line: Mapped[CostLine] = relationship()


class Expense(VersionedMixin, db.Model):
    """An expense booked on a cost line of a region's grant. ``voucher`` is the finance system's
    voucher (bilag) reference; with the cost line it identifies the row, so importing the same
    finance extract twice changes nothing. A credit note is a negative amount."""

    __table_args__ = (
        UniqueConstraint("region_code", "voucher", "cost_line_id", name="uq_expense_voucher"),
        Index("ix_expense_region_date", "region_code", "spent_on"),
        Index("ix_expense_cost_line", "cost_line_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[int] = mapped_column(ForeignKey("region.code"))
    spent_on: Mapped[date]
    cost_line_id: Mapped[int] = mapped_column(ForeignKey("cost_line.id"))
    amount_ore: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(String(300))
    voucher: Mapped[str] = mapped_column(String(60))
    activity_id: Mapped[Optional[int]] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"), index=True)
    source: Mapped[str] = mapped_column(String(10), default=EXPENSE_SOURCE_FORM)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    region: Mapped["Region"] = relationship()
    cost_line: Mapped[CostLine] = relationship()
    activity: Mapped[Optional["Activity"]] = relationship()
    created_by: Mapped[Optional["User"]] = relationship(foreign_keys=[created_by_id])

    def __repr__(self) -> str:
        return f"<Expense {self.region_code} {self.spent_on} {self.voucher} {self.amount_ore}>"
