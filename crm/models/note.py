"""Free-text notes on a municipality's timeline."""
from datetime import date, datetime
from typing import Optional

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.mixins import utcnow
from crm.models.region import Municipality
from crm.models.user import User


class Note(db.Model):
    """A dated note about a municipality, shown on its timeline."""

    # The dashboard's "gone quiet" list asks, per municipality, for the latest note and whether
    # there is one in a date range: one seek each in this index.
    __table_args__ = (Index("ix_note_municipality_date", "municipality_code", "note_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_code: Mapped[int] = mapped_column(ForeignKey("municipality.code"))  # indexed below
    note_date: Mapped[date]
    text: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    municipality: Mapped[Municipality] = relationship()
    created_by: Mapped[Optional[User]] = relationship()
