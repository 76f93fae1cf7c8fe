"""Users and their roles."""
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Optional

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import ColumnElement, ForeignKey, String, func
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from crm.extensions import db
from crm.models.mixins import utcnow

if TYPE_CHECKING:
    from crm.models.region import Region

ROLE_AMBASSADOR = "ambassador"
ROLE_WORKING_GROUP = "working_group"
ROLE_ADMIN = "admin"
# STAR's expert panel: sees the materials area only (materials in review and published ones),
# comments on versions and gives verdicts; it changes no CRM record.
ROLE_EXPERT_PANEL = "expert_panel"
ROLES = (ROLE_AMBASSADOR, ROLE_WORKING_GROUP, ROLE_ADMIN, ROLE_EXPERT_PANEL)
# The roles that see the CRM itself (municipalities, activities, reports…).
CRM_ROLES = (ROLE_AMBASSADOR, ROLE_WORKING_GROUP, ROLE_ADMIN)


def new_token() -> str:
    """A fresh random secret (session token, feed token)."""
    return secrets.token_urlsafe(32)


class User(UserMixin, db.Model):
    """A person who signs in. Ambassadors are bound to exactly one region.

    ``session_token`` is part of every session and remember cookie (see ``get_id``); rotating it
    ends all of them at once. ``version`` is optimistic locking for the admin's user form: it is
    raised by hand (``version_id_generator`` off) when an admin changes the record, so a user's
    own sign-out or language change never makes an admin's open form stale.
    """

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
    session_token: Mapped[str] = mapped_column(String(64), default=new_token)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    updated_at: Mapped[Optional[datetime]]
    updated_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id"))

    region: Mapped[Optional["Region"]] = relationship()

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and the remember cookie: id and session token."""
        return f"{self.id}:{self.session_token}"

    def rotate_session_token(self) -> None:
        """End every session and remember cookie of this user (the next request finds no user)."""
        self.session_token = new_token()

    # Flask-Login reads is_active; a disabled user can neither sign in nor stay signed in.
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    @hybrid_property
    def display_name(self) -> str:
        """The name, or the e-mail address when no name is set (in Python and in SQL alike)."""
        return self.name or self.email

    @display_name.inplace.expression
    @classmethod
    def _display_name_expression(cls) -> ColumnElement[str]:
        return func.coalesce(func.nullif(cls.name, ""), cls.email)

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    @property
    def is_ambassador(self) -> bool:
        return self.role == ROLE_AMBASSADOR

    @property
    def is_working_group(self) -> bool:
        return self.role == ROLE_WORKING_GROUP

    @property
    def is_expert_panel(self) -> bool:
        return self.role == ROLE_EXPERT_PANEL

    def set_password(self, password: str) -> None:
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def reset_calendar_token(self) -> str:
        """Issue a new feed token; the old feed URL stops working at once."""
        self.calendar_token = new_token()
        return self.calendar_token

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"
