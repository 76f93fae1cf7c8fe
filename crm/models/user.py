"""Users and their roles."""
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Optional

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from crm.extensions import db
from crm.models.mixins import utcnow

if TYPE_CHECKING:
    from crm.models.region import Region

ROLE_AMBASSADOR = "ambassador"
ROLE_WORKING_GROUP = "working_group"
ROLE_ADMIN = "admin"
ROLES = (ROLE_AMBASSADOR, ROLE_WORKING_GROUP, ROLE_ADMIN)


class User(UserMixin, db.Model):
    """A person who signs in. Ambassadors are bound to exactly one region."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20))
    region_code: Mapped[Optional[int]] = mapped_column(ForeignKey("region.code"))
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str] = mapped_column(String(5), default="da")
    digest_enabled: Mapped[bool] = mapped_column(default=True)
    calendar_token: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[Optional[datetime]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    region: Mapped[Optional["Region"]] = relationship()

    # Flask-Login reads is_active; a disabled user can neither sign in nor stay signed in.
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    @property
    def display_name(self) -> str:
        return self.name or self.email

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    @property
    def is_ambassador(self) -> bool:
        return self.role == ROLE_AMBASSADOR

    @property
    def is_working_group(self) -> bool:
        return self.role == ROLE_WORKING_GROUP

    def set_password(self, password: str) -> None:
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def reset_calendar_token(self) -> str:
        """Issue a new feed token; the old feed URL stops working at once."""
        self.calendar_token = secrets.token_urlsafe(32)
        return self.calendar_token

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"
