"""Column mixins shared by several models."""
from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from crm.clock import utcnow


class VersionedMixin:
    """Optimistic locking: SQLAlchemy refuses an UPDATE whose version no longer matches.

    Forms carry the version they were rendered with; ``crm.services.locking`` compares it so a
    second editor is told who changed the record meanwhile instead of silently overwriting.
    """

    version: Mapped[int] = mapped_column(default=1, server_default="1")
    updated_at: Mapped[Optional[datetime]] = mapped_column(default=utcnow, onupdate=utcnow)

    @declared_attr
    def updated_by_id(cls) -> Mapped[Optional[int]]:
        return mapped_column(ForeignKey("user.id"), nullable=True)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"version_id_col": cls.__table__.c.version}
