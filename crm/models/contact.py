"""Work contacts at job centres, psychiatry and other partners (no private data)."""
from typing import Optional

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.mixins import VersionedMixin
from crm.models.psychiatry import PsychiatricCentre
from crm.models.region import Municipality, Region


class Contact(VersionedMixin, db.Model):
    """A person's work contact details; deleted for good when no longer needed. Edits are
    optimistically locked (``version``): a second editor is refused, not silently overwriting."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(160), default="")
    email: Mapped[Optional[str]] = mapped_column(String(254))
    phone: Mapped[Optional[str]] = mapped_column(String(40))
    region_code: Mapped[int] = mapped_column(ForeignKey("region.code"), index=True)
    municipality_code: Mapped[Optional[int]] = mapped_column(
        ForeignKey("municipality.code"), index=True
    )
    centre_id: Mapped[Optional[int]] = mapped_column(ForeignKey("psychiatric_centre.id"))

    region: Mapped[Region] = relationship()
    municipality: Mapped[Optional[Municipality]] = relationship()
    centre: Mapped[Optional[PsychiatricCentre]] = relationship()
