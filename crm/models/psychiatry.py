"""Psychiatric centres and units: user-maintained records, one region each."""
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.region import Region


class PsychiatricCentre(db.Model):
    """A regional psychiatric centre or unit that signs cooperation plans."""

    __table_args__ = (UniqueConstraint("region_code", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    region_code: Mapped[int] = mapped_column(ForeignKey("region.code"), index=True)

    region: Mapped[Region] = relationship()

    def __repr__(self) -> str:
        return f"<PsychiatricCentre {self.name}>"
