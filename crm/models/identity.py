"""A user's sign-in identities at OpenID Connect providers (crm/services/oidc.py)."""
from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.mixins import utcnow
from crm.models.user import User


class UserIdentity(db.Model):
    """The provider's stable subject (``iss`` + ``sub``) that signs in as ``user``.

    Made on the user's first sign-in through the provider (matched by a verified e-mail claim to
    a user an admin created); from then on only (issuer, subject) counts, never the e-mail. One
    identity per user and issuer: a second subject from the same issuer is refused, not linked.
    """

    __tablename__ = "user_identity"
    __table_args__ = (
        UniqueConstraint("issuer", "subject", name="uq_user_identity_issuer_subject"),
        UniqueConstraint("user_id", "issuer", name="uq_user_identity_user_issuer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))  # indexed by uq (user_id, issuer)
    # The provider's name in the settings (OIDC_PROVIDERS) when it was linked: for people to read.
    provider: Mapped[str] = mapped_column(String(40))
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    # The e-mail claim it was linked through (shown to admins; never used to match again).
    email: Mapped[str] = mapped_column(String(254), default="")
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[Optional[datetime]]

    user: Mapped[User] = relationship()
