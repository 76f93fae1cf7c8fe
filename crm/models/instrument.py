"""Quality-measurement instruments as data: an instrument (e.g. "IPS-25") has numbered versions,
each with its items (scale, weight) and bands; a fidelity review belongs to one version.

A version goes draft → active → retired. Only a draft's items and bands may change; only an
active version can be chosen for a new review; a review keeps its version forever. Admins map
an item of one version to an item of another so a municipality's item history reads across
versions.
"""
from datetime import date, datetime
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.mixins import VersionedMixin, utcnow

VERSION_DRAFT, VERSION_ACTIVE, VERSION_RETIRED = "draft", "active", "retired"
VERSION_STATES = (VERSION_DRAFT, VERSION_ACTIVE, VERSION_RETIRED)
IPS25_CODE = "IPS-25"


class Instrument(db.Model):
    """A measurement instrument, e.g. code "IPS-25"."""

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_da: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))

    versions: Mapped[list["InstrumentVersion"]] = relationship(
        back_populates="instrument", order_by="InstrumentVersion.number")


class InstrumentVersion(VersionedMixin, db.Model):
    """One numbered version of an instrument with its items and bands."""

    __table_args__ = (UniqueConstraint("instrument_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instrument.id"), index=True)
    number: Mapped[int]
    label: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20), default=VERSION_DRAFT)
    created_on: Mapped[date]
    activated_on: Mapped[Optional[date]]
    retired_on: Mapped[Optional[date]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    instrument: Mapped[Instrument] = relationship(back_populates="versions")
    items: Mapped[list["InstrumentItem"]] = relationship(
        back_populates="instrument_version", cascade="all, delete-orphan", order_by="InstrumentItem.position")
    bands: Mapped[list["InstrumentBand"]] = relationship(
        back_populates="instrument_version", cascade="all, delete-orphan",
        order_by="InstrumentBand.lower_total.desc()")


class InstrumentItem(db.Model):
    """An item of a version: key (e.g. 'Services-4'), section, labels, scale and weight.

    ``allowed_values`` (comma-separated, e.g. "1,3,5") narrows the scale min–max; empty means every
    whole number from ``min_score`` to ``max_score``. A review's total is the weighted sum.
    """

    __table_args__ = (UniqueConstraint("instrument_version_id", "key"),
                      CheckConstraint("min_score <= max_score", name="scale"))

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_version_id: Mapped[int] = mapped_column(ForeignKey("instrument_version.id", ondelete="CASCADE"),
                                                       index=True)
    key: Mapped[str] = mapped_column(String(20))
    section: Mapped[str] = mapped_column(String(100))
    number: Mapped[int]
    position: Mapped[int]
    label_da: Mapped[str] = mapped_column(String(500))
    label_en: Mapped[str] = mapped_column(String(500))
    min_score: Mapped[int] = mapped_column(default=1)
    max_score: Mapped[int] = mapped_column(default=5)
    allowed_values: Mapped[Optional[str]] = mapped_column(String(100))
    weight: Mapped[int] = mapped_column(default=1)

    instrument_version: Mapped[InstrumentVersion] = relationship(back_populates="items")


class InstrumentBand(db.Model):
    """A band of a version: totals from ``lower_total`` to ``upper_total`` (inclusive)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_version_id: Mapped[int] = mapped_column(ForeignKey("instrument_version.id", ondelete="CASCADE"),
                                                       index=True)
    code: Mapped[str] = mapped_column(String(40))
    lower_total: Mapped[int]
    upper_total: Mapped[int]
    label_da: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))

    instrument_version: Mapped[InstrumentVersion] = relationship(back_populates="bands")


class InstrumentItemMapping(db.Model):
    """An admin's statement that ``from_item`` (older version) measures what ``to_item`` measures."""

    __table_args__ = (UniqueConstraint("from_item_id", "to_item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    from_item_id: Mapped[int] = mapped_column(ForeignKey("instrument_item.id", ondelete="CASCADE"), index=True)
    to_item_id: Mapped[int] = mapped_column(ForeignKey("instrument_item.id", ondelete="CASCADE"), index=True)

    from_item: Mapped[InstrumentItem] = relationship(foreign_keys=[from_item_id])
    to_item: Mapped[InstrumentItem] = relationship(foreign_keys=[to_item_id])
