"""IPS fidelity reviews (quality measurements) on the 25-item IPS fidelity scale."""
from datetime import date, datetime
from typing import Optional

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.instrument import IPS25_CODE, Instrument, InstrumentVersion
from crm.models.mixins import VersionedMixin, utcnow
from crm.models.psychiatry import PsychiatricCentre
from crm.models.region import Municipality

FIDELITY_ITEM_COUNT = 25


def _ips25_v1_id(context) -> int:
    """Default instrument version of a review built without one: IPS-25 version 1."""
    return context.connection.scalar(
        select(InstrumentVersion.id).join(Instrument).where(Instrument.code == IPS25_CODE,
                                                            InstrumentVersion.number == 1))


class FidelityReview(VersionedMixin, db.Model):
    """One review of one municipality's IPS service. Complete when all 25 items are rated.

    ``total`` is computed by ``crm.services.fidelity`` from the ratings (never typed) and is
    NULL for a draft; only complete reviews count in reports.
    """

    __table_args__ = (Index("ix_fidelity_review_date_total", "review_date", "total"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_code: Mapped[int] = mapped_column(ForeignKey("municipality.code"), index=True)
    # The instrument version the review was made with; it keeps it forever.
    instrument_version_id: Mapped[int] = mapped_column(ForeignKey("instrument_version.id"), index=True,
                                                       default=_ips25_v1_id)
    centre_id: Mapped[Optional[int]] = mapped_column(ForeignKey("psychiatric_centre.id"))
    team: Mapped[Optional[str]] = mapped_column(String(200))
    review_date: Mapped[date]
    reviewers: Mapped[Optional[str]] = mapped_column(String(500))
    action_plan: Mapped[Optional[str]] = mapped_column(Text)
    total: Mapped[Optional[int]]
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    municipality: Mapped[Municipality] = relationship()
    centre: Mapped[Optional[PsychiatricCentre]] = relationship()
    instrument_version: Mapped[InstrumentVersion] = relationship()
    ratings: Mapped[list["FidelityRating"]] = relationship(
        back_populates="review", cascade="all, delete-orphan", order_by="FidelityRating.item_key"
    )


class FidelityRating(db.Model):
    """The rating (1–5) of one scale item in one review; ``item_key`` like 'Services-4'."""

    __table_args__ = (UniqueConstraint("review_id", "item_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("fidelity_review.id", ondelete="CASCADE"))
    item_key: Mapped[str] = mapped_column(String(20))
    score: Mapped[Optional[int]]
    comment: Mapped[Optional[str]] = mapped_column(Text)

    review: Mapped[FidelityReview] = relationship(back_populates="ratings")
