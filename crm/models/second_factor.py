"""A second factor for password sign-ins: TOTP (RFC 6238) and one-time recovery codes
(crm/services/second_factor.py)."""
from datetime import datetime
from typing import Optional

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.models.mixins import utcnow


class SecondFactor(db.Model):
    """One user's authenticator app: at most one row per user, kept when the factor is turned off
    (so the audit log shows the change, with an admin's reason, as an update of this row).

    ``totp_secret`` is the shared secret encrypted with Fernet (a key derived from the app's
    SECRET_KEY); it is set while enrolment waits for the first code (``totp_enabled`` false) and
    cleared when the factor is turned off. ``last_used_step`` is the RFC 6238 time step of the last
    accepted code: a code is accepted once only. It is written with a Core statement (bookkeeping,
    not an audited change).
    """

    __tablename__ = "second_factor"

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    totp_secret: Mapped[Optional[str]] = mapped_column(Text)
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    enabled_at: Mapped[Optional[datetime]]
    last_used_step: Mapped[Optional[int]] = mapped_column(BigInteger)
    recovery_codes_issued_at: Mapped[Optional[datetime]]
    # Why an admin turned the factor off (shown in the audit log); cleared on the next enrolment.
    reset_reason: Mapped[Optional[str]] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecoveryCode(db.Model):
    """A one-time recovery code, stored as a password hash (werkzeug). Written with Core statements:
    the audit log shows the issue on ``second_factor.recovery_codes_issued_at`` instead of ten rows."""

    __tablename__ = "recovery_code"
    __table_args__ = (Index("ix_recovery_code_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(256))
    used_at: Mapped[Optional[datetime]]
