"""The anchoring checklist: items an admin maintains, and the dated, append-only entries that
record each municipality's (or, for region-level items, each region's) state of an item."""
from datetime import date, datetime
from typing import TYPE_CHECKING, Optional

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.i18n import current_locale
from crm.i18n import lazy_gettext as _l
from crm.models.mixins import VersionedMixin, utcnow

if TYPE_CHECKING:
    from crm.models.user import User

# Item levels: a municipality-level item has an entry per municipality; a region-level item one
# per region, shown on (and counted for) every municipality of that region.
LEVEL_MUNICIPALITY = "municipality"
LEVEL_REGION = "region"
ANCHORING_LEVELS: dict[str, str] = {LEVEL_MUNICIPALITY: _l("Kommune"), LEVEL_REGION: _l("Region")}

# What an item asks for besides its state: nothing, counts of job-centre departments and
# outpatient clinics, the year ("per year": an entry belongs to one year), or nothing at all
# because the state is derived from the pipeline (a signed cooperation plan).
KIND_STATE = "state"
KIND_COUNTS = "counts"
KIND_PER_YEAR = "per_year"
KIND_PIPELINE = "pipeline"
ANCHORING_KINDS: dict[str, str] = {
    KIND_STATE: _l("Status"),
    KIND_COUNTS: _l("Status og antal afdelinger og ambulatorier"),
    KIND_PER_YEAR: _l("Status pr. år"),
    KIND_PIPELINE: _l("Afledt af faserne (samarbejdsplan underskrevet)"),
}

# Entry states, in order.
STATE_NOT_STARTED = "not_started"
STATE_IN_PROGRESS = "in_progress"
STATE_IN_PLACE = "in_place"
STATE_NOT_RELEVANT = "not_relevant"
ANCHORING_STATES: dict[str, str] = {
    STATE_NOT_STARTED: _l("Ikke påbegyndt"),
    STATE_IN_PROGRESS: _l("I gang"),
    STATE_IN_PLACE: _l("På plads"),
    STATE_NOT_RELEVANT: _l("Ikke relevant"),
}


class AnchoringItem(VersionedMixin, db.Model):
    """One item of the checklist. ``code`` never changes once made (exports and history use it);
    the labels, order and active period are the admin's to edit. An item is applicable on a date
    between ``active_from`` and ``active_to`` (both inclusive, empty: open)."""

    __table_args__ = (
        CheckConstraint("level IN ('municipality', 'region')", name="level"),
        CheckConstraint("kind IN ('state', 'counts', 'per_year', 'pipeline')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    label_da: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(20), default=LEVEL_MUNICIPALITY)
    kind: Mapped[str] = mapped_column(String(20), default=KIND_STATE)
    track: Mapped[int] = mapped_column(default=1)
    position: Mapped[int] = mapped_column(default=0)
    active_from: Mapped[Optional[date]]
    active_to: Mapped[Optional[date]]

    @property
    def label(self) -> str:
        """The label in the reader's language (English for English, Danish otherwise)."""
        return self.label_en if current_locale().language == "en" else self.label_da

    def active_on(self, day: date) -> bool:
        """Is the item applicable on ``day``?"""
        started = self.active_from is None or self.active_from <= day
        return started and (self.active_to is None or day <= self.active_to)


class AnchoringEntry(db.Model):
    """A dated state of one item for one municipality (region-level items: for one region, and
    ``municipality_code`` empty). Entries are only ever added: a change of state is a new entry,
    so the state on any date is the latest entry dated on or before it (ties: the later entry)."""

    __table_args__ = (
        CheckConstraint("state IN ('not_started', 'in_progress', 'in_place', 'not_relevant')", name="state"),
        Index("ix_anchoring_entry_lookup", "anchoring_item_id", "municipality_code", "region_code", "effective_date"),
        # A region's own series (the health agreement): PostgreSQL cannot walk the lookup index
        # in date order past its "municipality_code IS NULL" column, so the latest entry of each
        # region series is a seek here instead of a sort of the whole series.
        Index("ix_anchoring_entry_region_series", "anchoring_item_id", "region_code", "effective_date", "id",
              postgresql_where=text("municipality_code IS NULL"), sqlite_where=text("municipality_code IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    anchoring_item_id: Mapped[int] = mapped_column(ForeignKey("anchoring_item.id"))
    region_code: Mapped[int] = mapped_column(ForeignKey("region.code"), index=True)
    municipality_code: Mapped[Optional[int]] = mapped_column(ForeignKey("municipality.code"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    effective_date: Mapped[date] = mapped_column(index=True)  # the map's slider starts at the earliest
    year: Mapped[Optional[int]]
    departments: Mapped[Optional[int]]
    clinics: Mapped[Optional[int]]
    evidence_url: Mapped[Optional[str]] = mapped_column(String(500))
    # An uploaded PDF lives on disk under UPLOAD_FOLDER (crm.services.uploads); only its names here.
    evidence_file: Mapped[Optional[str]] = mapped_column(String(80))
    evidence_name: Mapped[Optional[str]] = mapped_column(String(200))
    note: Mapped[Optional[str]] = mapped_column(Text)
    recorded_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    item: Mapped[AnchoringItem] = relationship()
    recorded_by: Mapped[Optional["User"]] = relationship(foreign_keys=[recorded_by_id])

    @property
    def state_label(self) -> str:
        return str(ANCHORING_STATES.get(self.state, self.state))
