"""Regions and municipalities: reference data keyed by their official codes."""

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.mixins import VersionedMixin


class Region(db.Model):
    """One of the five Danish regions; ``code`` is the official code 1081–1085."""

    code: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(80), unique=True)

    municipalities: Mapped[list["Municipality"]] = relationship(
        back_populates="region", order_by="Municipality.code"
    )

    @property
    def short_name(self) -> str:
        """'Hovedstaden' for 'Region Hovedstaden', as column headers use it."""
        return self.name.removeprefix("Region ").strip()

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"


class Municipality(VersionedMixin, db.Model):
    """A municipality (its job centre). ``code`` is the official 3-digit code.

    The current pipeline stage is *not* stored here: it is derived from ``StageChange`` history.
    Next steps are ``Task`` rows (several per municipality).
    """

    code: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    region_code: Mapped[int] = mapped_column(ForeignKey("region.code"), index=True)

    region: Mapped[Region] = relationship(back_populates="municipalities")

    @property
    def code_str(self) -> str:
        """The code as written officially, zero-padded to three digits."""
        return f"{self.code:03d}"

    def __repr__(self) -> str:
        return f"<Municipality {self.code} {self.name}>"

