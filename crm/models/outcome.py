"""Aggregate outcome monitoring per municipality and quarter (no data about individuals)."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.mixins import utcnow
from crm.models.region import Municipality


class OutcomeQuarter(db.Model):
    """STAR's quarterly counts for one municipality: only numbers, never people."""

    __table_args__ = (
        UniqueConstraint("municipality_code", "quarter"),
        CheckConstraint(
            "with_paid_hours <= citizens AND with_employment <= citizens AND with_education <= citizens "
            "AND ever_paid_hours_or_education <= citizens",
            name="counts_within_citizens",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_code: Mapped[int] = mapped_column(ForeignKey("municipality.code"), index=True)
    quarter: Mapped[str] = mapped_column(String(6), index=True)  # e.g. "2025Q3"
    citizens: Mapped[int]
    with_paid_hours: Mapped[int]
    with_employment: Mapped[int]
    with_education: Mapped[int]
    ever_paid_hours_or_education: Mapped[int]
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)

    municipality: Mapped[Municipality] = relationship()
