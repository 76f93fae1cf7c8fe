"""Activities the ambassadors log, in the programme's four tracks."""
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Optional

from crm.i18n import lazy_gettext as _l
from sqlalchemy import DDL, JSON, Column, Date, ForeignKey, Index, Numeric, String, Table, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.mixins import VersionedMixin, utcnow
from crm.models.psychiatry import PsychiatricCentre
from crm.models.region import Municipality, Region
from crm.models.user import User

if TYPE_CHECKING:
    from crm.models.material import Material

TRACKS: dict[int, str] = {
    1: _l("Samarbejde"),
    2: _l("Kompetenceudvikling"),
    3: _l("Kommunikation"),
    4: _l("Evaluering"),
}

# code -> (Danish label, track number; None for "any track")
ACTIVITY_TYPES: dict[str, tuple[str, Optional[int]]] = {
    "dialogue_meeting": (_l("Dialogmøde"), 1),
    "workshop": (_l("Workshop om arbejdsgange/organisering"), 1),
    "course": (_l("Undervisningsforløb"), 2),
    "supervision": (_l("Supervision"), 2),
    "professional_network": (_l("Fagligt netværk"), 2),
    "management_network": (_l("Ledelsesnetværk"), 2),
    "conference": (_l("Konference"), 3),
    "webinar": (_l("Webinar"), 3),
    "material": (_l("Materiale/vejledning"), 3),
    # Track 4: data collection, evaluation workshops and interviews, quality-measurement visits
    # that are not fidelity reviews (those are FidelityReview records, counted on their own).
    "evaluation": (_l("Evaluering"), 4),
    "other": (_l("Andet"), None),
}
ACTIVITY_TYPE_CODES = tuple(ACTIVITY_TYPES)
# Everyday Danish words for the types, accepted by the imports beside the codes and labels.
ACTIVITY_TYPE_WORDS = {
    "dialogmøde": "dialogue_meeting", "møde": "dialogue_meeting", "workshop": "workshop",
    "kursus": "course", "undervisning": "course", "uddannelse": "course",
    "supervision": "supervision", "faglig netværk": "professional_network", "fagnetværk": "professional_network",
    "netværksmøde": "professional_network", "ledernetværk": "management_network",
    "konference": "conference", "webinar": "webinar", "materiale": "material", "vejledning": "material",
    "evaluering": "evaluation", "dataindsamling": "evaluation", "evalueringsworkshop": "evaluation",
    "evalueringsinterview": "evaluation", "interview": "evaluation", "kvalitetsmålingsbesøg": "evaluation",
    "andet": "other",
}


def types_in_track(track: int) -> list[str]:
    """Activity type codes belonging to a track."""
    return [code for code, (_label, t) in ACTIVITY_TYPES.items() if t == track]


activity_municipality = Table(
    "activity_municipality",
    db.metadata,
    Column("activity_id", ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True),
    Column("municipality_code", ForeignKey("municipality.code"), primary_key=True),
    # The activity's start date, copied by the database (LINK_START_DATE_TRIGGERS) so that a
    # municipality's activities are read newest first from the index below, which starts with the
    # municipality, instead of walking every activity by date. Never written by the application.
    Column("start_date", Date),
    Index("ix_activity_municipality_code_start", "municipality_code", "start_date", "activity_id"),
)

# Keep ``activity_municipality.start_date`` equal to its activity's start date in the same
# transaction, whatever writes: the ORM's secondary inserts, the imports, the demo loader's bulk
# Core inserts, a bulk ``UPDATE activity`` or hand-written SQL. Triggers rather than ORM events:
# an event sees only ORM flushes and would miss Core inserts and bulk updates. On PostgreSQL a
# BEFORE trigger fills the row as it is written; SQLite has no BEFORE that may change NEW, so an
# AFTER trigger corrects it in the same statement. A direct write to the link's date is put back.
# The migration bcf322cec0c7 creates the same triggers (that SQL is frozen there on purpose).
LINK_START_DATE_TRIGGERS = {
    "postgresql": (
        """CREATE OR REPLACE FUNCTION activity_municipality_start_date() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            SELECT a.start_date INTO NEW.start_date FROM activity a WHERE a.id = NEW.activity_id;
            RETURN NEW;
        END $$""",
        """CREATE TRIGGER tr_activity_municipality_start_date
        BEFORE INSERT OR UPDATE OF activity_id, start_date ON activity_municipality
        FOR EACH ROW EXECUTE FUNCTION activity_municipality_start_date()""",
        """CREATE OR REPLACE FUNCTION activity_start_date_to_links() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE activity_municipality SET start_date = NEW.start_date WHERE activity_id = NEW.id;
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER tr_activity_start_date_to_links
        AFTER UPDATE OF start_date ON activity
        FOR EACH ROW WHEN (OLD.start_date IS DISTINCT FROM NEW.start_date)
        EXECUTE FUNCTION activity_start_date_to_links()""",
    ),
    "sqlite": (
        """CREATE TRIGGER tr_activity_municipality_start_date
        AFTER INSERT ON activity_municipality FOR EACH ROW
        BEGIN
            UPDATE activity_municipality SET start_date = (SELECT start_date FROM activity WHERE id = NEW.activity_id)
            WHERE activity_id = NEW.activity_id AND municipality_code = NEW.municipality_code;
        END""",
        """CREATE TRIGGER tr_activity_municipality_start_date_update
        AFTER UPDATE OF activity_id, start_date ON activity_municipality FOR EACH ROW
        WHEN NEW.start_date IS NOT (SELECT start_date FROM activity WHERE id = NEW.activity_id)
        BEGIN
            UPDATE activity_municipality SET start_date = (SELECT start_date FROM activity WHERE id = NEW.activity_id)
            WHERE activity_id = NEW.activity_id AND municipality_code = NEW.municipality_code;
        END""",
        """CREATE TRIGGER tr_activity_start_date_to_links
        AFTER UPDATE OF start_date ON activity FOR EACH ROW
        WHEN NEW.start_date IS NOT OLD.start_date
        BEGIN
            UPDATE activity_municipality SET start_date = NEW.start_date WHERE activity_id = NEW.id;
        END""",
    ),
}
for _dialect, _statements in LINK_START_DATE_TRIGGERS.items():
    for _statement in _statements:  # tests' create_all; the app's schema comes from the migrations
        event.listen(activity_municipality, "after_create", DDL(_statement).execute_if(dialect=_dialect))
activity_centre = Table(
    "activity_centre",
    db.metadata,
    Column("activity_id", ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True),
    Column("centre_id", ForeignKey("psychiatric_centre.id"), primary_key=True),
)


class Activity(VersionedMixin, db.Model):
    """One logged activity. ``region_code`` empty means a national, corps-wide activity."""

    __table_args__ = (
        Index("ix_activity_type_start", "type", "start_date"),
        Index("ix_activity_region_start", "region_code", "start_date"),
        # Covers counts per region and type over a date range (dashboard, status report): SQLite
        # skip-scans it and groups in index order, without touching the table or sorting; the
        # report's sums of participants and hours are read from it too.
        Index("ix_activity_region_type_start", "region_code", "type", "start_date", "participants", "hours"),
        # PostgreSQL cannot skip-scan the index above: this one gives it the same counts, and the
        # dashboard's latest activities (ids by date), as index-only scans of a date range.
        # SQLite keeps using the ones above and ix_activity_start_date.
        # On PostgreSQL it also carries participants and hours (INCLUDE), so the status report's
        # counts and sums per type and region over a half-year are an index-only scan too.
        Index("ix_activity_start_region_type_id", "start_date", "region_code", "type", "id",
              postgresql_include=["participants", "hours"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(300))
    start_date: Mapped[date] = mapped_column(index=True)
    end_date: Mapped[Optional[date]]
    start_time: Mapped[Optional[time]]
    end_time: Mapped[Optional[time]]
    location: Mapped[Optional[str]] = mapped_column(String(300))
    hours: Mapped[Optional[Decimal]] = mapped_column(Numeric(8, 2))
    region_code: Mapped[Optional[int]] = mapped_column(ForeignKey("region.code"))

    participants: Mapped[Optional[int]]
    participants_municipality: Mapped[Optional[int]]
    participants_psychiatry: Mapped[Optional[int]]
    participants_other: Mapped[Optional[int]]
    participants_staff: Mapped[Optional[int]]
    participants_managers: Mapped[Optional[int]]

    sessions: Mapped[Optional[int]]  # a course's number of sessions
    link: Mapped[Optional[str]] = mapped_column(String(500))  # a material's link
    note: Mapped[Optional[str]] = mapped_column(Text)
    # An automatic note as a code and its parameters (e.g. "calendar_import"), shown in the reader's
    # language by crm.services.auto_notes; ``note`` holds only what a person wrote.
    note_kind: Mapped[Optional[str]] = mapped_column(String(40))
    note_params: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)

    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Duplicate detection for imports: a hash of the row's identifying fields, or the iCalendar UID.
    import_key: Mapped[Optional[str]] = mapped_column(String(300), unique=True)
    # A ``material`` activity that announced a Material record: the status report then counts the
    # Material (once, when first published) instead of this activity (crm.services.report).
    material_id: Mapped[Optional[int]] = mapped_column(ForeignKey("material.id", ondelete="SET NULL"), index=True)

    region: Mapped[Optional[Region]] = relationship()
    created_by: Mapped[Optional[User]] = relationship(foreign_keys=[created_by_id])
    municipalities: Mapped[list[Municipality]] = relationship(
        secondary=activity_municipality, order_by=Municipality.name
    )
    centres: Mapped[list[PsychiatricCentre]] = relationship(secondary=activity_centre)
    material: Mapped[Optional["Material"]] = relationship()

    @property
    def type_label(self) -> str:
        return str(ACTIVITY_TYPES.get(self.type, (self.type, None))[0])

    @property
    def track(self) -> Optional[int]:
        return ACTIVITY_TYPES.get(self.type, ("", None))[1]
