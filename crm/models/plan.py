"""Cooperation plans (samarbejdsplaner) between job centres and regional psychiatry."""
from datetime import date
from typing import Optional

from sqlalchemy import Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.mixins import VersionedMixin
from crm.models.psychiatry import PsychiatricCentre
from crm.models.region import Municipality, Region

plan_municipality = Table(
    "plan_municipality",
    db.metadata,
    Column("plan_id", ForeignKey("cooperation_plan.id", ondelete="CASCADE"), primary_key=True),
    Column("municipality_code", ForeignKey("municipality.code"), primary_key=True),
)
plan_centre = Table(
    "plan_centre",
    db.metadata,
    Column("plan_id", ForeignKey("cooperation_plan.id", ondelete="CASCADE"), primary_key=True),
    Column("centre_id", ForeignKey("psychiatric_centre.id"), primary_key=True),
)
plan_target_group = Table(
    "plan_target_group",
    db.metadata,
    Column("plan_id", ForeignKey("cooperation_plan.id", ondelete="CASCADE"), primary_key=True),
    Column("target_group_id", ForeignKey("target_group.id"), primary_key=True),
)


class TargetGroup(db.Model):
    """A target group a plan may cover; each region maintains its own list."""

    __table_args__ = (UniqueConstraint("region_code", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    region_code: Mapped[int] = mapped_column(ForeignKey("region.code"), index=True)

    region: Mapped[Region] = relationship()


class CooperationPlan(VersionedMixin, db.Model):
    """A plan signed (or being drafted) by one or more municipalities and psychiatry.

    ``region_code`` is the region whose ambassador owns the record.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[int] = mapped_column(ForeignKey("region.code"), index=True)
    signed_date: Mapped[Optional[date]] = mapped_column(index=True)
    valid_from: Mapped[Optional[date]]
    valid_to: Mapped[Optional[date]]
    health_cluster: Mapped[Optional[str]] = mapped_column(String(200))
    health_agreement: Mapped[Optional[str]] = mapped_column(String(500))
    note: Mapped[Optional[str]] = mapped_column(Text)
    # The uploaded PDF lives on disk under UPLOAD_FOLDER; only its stored name is kept here.
    document_file: Mapped[Optional[str]] = mapped_column(String(80))
    document_name: Mapped[Optional[str]] = mapped_column(String(200))

    region: Mapped[Region] = relationship()
    municipalities: Mapped[list[Municipality]] = relationship(
        secondary=plan_municipality, order_by=Municipality.name
    )
    centres: Mapped[list[PsychiatricCentre]] = relationship(secondary=plan_centre)
    target_groups: Mapped[list[TargetGroup]] = relationship(secondary=plan_target_group)
