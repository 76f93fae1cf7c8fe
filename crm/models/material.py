"""Materials the corps develops (guides, templates, course material…), each version kept, reviewed
by STAR's expert panel and published by the working group.

The workflow itself (which moves exist, from which states, and who makes each) is data in
``crm.services.materials``; the models only store what happened: the material's current ``state``,
every version with its file or link, the panel's comments and verdict per version, and one
``MaterialTransition`` row per move (the review trail every user sees).
"""
from datetime import date, datetime
from typing import Optional

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.i18n import lazy_gettext as _l
from crm.models.mixins import VersionedMixin, utcnow
from crm.models.region import Region
from crm.models.user import User

MATERIAL_KINDS: dict[str, object] = {
    "guide": _l("Vejledning"),
    "template": _l("Skabelon"),
    "course_material": _l("Undervisningsmateriale"),
    "video": _l("Video"),
    "slide_deck": _l("Præsentation (slides)"),
    "other": _l("Andet"),
}

DRAFT = "draft"
SUBMITTED = "submitted"
IN_REVIEW = "in_review"
CHANGES_REQUESTED = "changes_requested"
APPROVED = "approved"
PUBLISHED = "published"
RETIRED = "retired"
MATERIAL_STATES: dict[str, object] = {
    DRAFT: _l("Kladde"),
    SUBMITTED: _l("Indsendt"),
    IN_REVIEW: _l("Til vurdering i ekspertpanelet"),
    CHANGES_REQUESTED: _l("Ændringer ønsket"),
    APPROVED: _l("Godkendt"),
    PUBLISHED: _l("Udgivet"),
    RETIRED: _l("Udgået"),
}
# A version's verdict is one of the two states the panel can send a material to.
VERDICTS: dict[str, object] = {CHANGES_REQUESTED: _l("Ændringer ønsket"), APPROVED: _l("Godkendt")}

material_region = Table(
    "material_region",
    db.metadata,
    Column("material_id", ForeignKey("material.id", ondelete="CASCADE"), primary_key=True),
    Column("region_code", ForeignKey("region.code"), primary_key=True, index=True),
)
material_author = Table(
    "material_author",
    db.metadata,
    Column("material_id", ForeignKey("material.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("user.id"), primary_key=True),
)


class Material(VersionedMixin, db.Model):
    """A material: what it is, which track and regions it serves, who wrote it, where it stands.

    ``published_on`` is the Danish date of its *first* publication: set once and never cleared
    (a later version published again, or retirement, leave it), so the status report counts a
    material exactly once, in the period it was first published. ``version`` is the optimistic
    lock (``VersionedMixin``); the material's own versions are ``versions``.
    """

    __table_args__ = (Index("ix_material_state_title", "state", "title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    track: Mapped[int]
    summary: Mapped[Optional[str]] = mapped_column(Text)
    authors_text: Mapped[Optional[str]] = mapped_column(String(300))  # authors without an account
    state: Mapped[str] = mapped_column(String(20), default=DRAFT, server_default=DRAFT)
    published_on: Mapped[Optional[date]] = mapped_column(index=True)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    created_by: Mapped[Optional[User]] = relationship(foreign_keys=[created_by_id])
    regions: Mapped[list[Region]] = relationship(secondary=material_region, order_by=Region.code)
    author_users: Mapped[list[User]] = relationship(secondary=material_author, order_by=User.name)
    versions: Mapped[list["MaterialVersion"]] = relationship(
        back_populates="material", cascade="all, delete-orphan", order_by="MaterialVersion.number"
    )
    transitions: Mapped[list["MaterialTransition"]] = relationship(
        back_populates="material", cascade="all, delete-orphan",
        order_by="[MaterialTransition.at, MaterialTransition.id]",
    )

    @property
    def kind_label(self) -> str:
        return str(MATERIAL_KINDS.get(self.kind, self.kind))

    @property
    def state_label(self) -> str:
        return str(MATERIAL_STATES.get(self.state, self.state))

    @property
    def latest_version(self) -> Optional["MaterialVersion"]:
        return self.versions[-1] if self.versions else None

    @property
    def region_codes(self) -> set[int]:
        return {region.code for region in self.regions}

    def __repr__(self) -> str:
        return f"<Material {self.id} {self.state}>"


class MaterialVersion(db.Model):
    """One version of a material, kept for good: a stored PDF or a link, a note, who and when;
    the expert panel's verdict on it (if any) and its comments."""

    __table_args__ = (UniqueConstraint("material_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("material.id", ondelete="CASCADE"))
    number: Mapped[int]
    # The uploaded PDF lives on disk under UPLOAD_FOLDER (crm.services.uploads); only its names here.
    document_file: Mapped[Optional[str]] = mapped_column(String(80))
    document_name: Mapped[Optional[str]] = mapped_column(String(200))
    link: Mapped[Optional[str]] = mapped_column(String(500))
    note: Mapped[Optional[str]] = mapped_column(Text)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    verdict: Mapped[Optional[str]] = mapped_column(String(20))
    verdict_note: Mapped[Optional[str]] = mapped_column(Text)
    verdict_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    verdict_at: Mapped[Optional[datetime]]

    material: Mapped[Material] = relationship(back_populates="versions")
    created_by: Mapped[Optional[User]] = relationship(foreign_keys=[created_by_id])
    verdict_by: Mapped[Optional[User]] = relationship(foreign_keys=[verdict_by_id])
    comments: Mapped[list["MaterialComment"]] = relationship(
        back_populates="material_version", cascade="all, delete-orphan",
        order_by="[MaterialComment.created_at, MaterialComment.id]",
    )

    @property
    def verdict_label(self) -> str:
        return str(VERDICTS.get(self.verdict, self.verdict or ""))

    def __repr__(self) -> str:
        return f"<MaterialVersion {self.material_id} v{self.number}>"


class MaterialComment(db.Model):
    """An expert-panel member's comment on one version."""

    id: Mapped[int] = mapped_column(primary_key=True)
    material_version_id: Mapped[int] = mapped_column(
        ForeignKey("material_version.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    material_version: Mapped[MaterialVersion] = relationship(back_populates="comments")
    author: Mapped[Optional[User]] = relationship()


class MaterialTransition(db.Model):
    """One move in a material's workflow (created, submitted, verdict, published…): the state
    history and review trail shown on the material's page."""

    __table_args__ = (Index("ix_material_transition_material_at", "material_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("material.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[Optional[str]] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    version_number: Mapped[Optional[int]]
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[Optional[str]] = mapped_column(Text)

    material: Mapped[Material] = relationship(back_populates="transitions")
    actor: Mapped[Optional[User]] = relationship()
