"""Pipeline stages and the dated stage history that is their single source of truth."""
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Optional

from crm.i18n import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.mixins import VersionedMixin, utcnow

if TYPE_CHECKING:
    from crm.models.region import Municipality
    from crm.models.user import User

# Fixed codes, in pipeline order. Labels are Danish msgids, translated to English by the catalog.
STAGES: dict[str, str] = {
    "not_contacted": _l("Ikke kontaktet"),
    "dialogue": _l("I dialog"),
    "plan_in_progress": _l("Samarbejdsplan undervejs"),
    "plan_signed": _l("Samarbejdsplan underskrevet"),
    "in_operation": _l("IPS i drift"),
    "paused": _l("Sat i bero"),
}
STAGE_CODES = tuple(STAGES)
DEFAULT_STAGE = "not_contacted"
# A municipality counts toward the national 2/3 target while in one of these stages.
COVERED_STAGES = frozenset({"plan_signed", "in_operation"})


class StageChange(VersionedMixin, db.Model):
    """A municipality entered ``stage`` on ``effective_date`` (which may be backdated).

    Corrections and deletions are optimistically locked (``version``), like the next step."""

    __table_args__ = (
        UniqueConstraint("municipality_code", "effective_date"),
        Index("ix_stage_change_date_municipality", "effective_date", "municipality_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_code: Mapped[int] = mapped_column(ForeignKey("municipality.code"))
    stage: Mapped[str] = mapped_column(String(20))
    effective_date: Mapped[date]
    note: Mapped[Optional[str]] = mapped_column(Text)
    # An automatic note as a code and its parameters (e.g. "plan_signed" with the plan's title),
    # shown in the reader's language by crm.services.auto_notes; ``note`` is what a person wrote.
    note_kind: Mapped[Optional[str]] = mapped_column(String(40))
    note_params: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    recorded_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    municipality: Mapped["Municipality"] = relationship()
    recorded_by: Mapped[Optional["User"]] = relationship(foreign_keys=[recorded_by_id])

    @property
    def stage_label(self) -> str:
        return str(STAGES.get(self.stage, self.stage))
