"""Failed sign-in attempts, kept for back-off (crm/services/signin.py)."""
from datetime import datetime
from typing import Optional

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db


class SignInThrottle(db.Model):
    """Failed password checks for one (e-mail as typed, client address) pair.

    ``key`` is a keyed hash of the pair, so neither e-mails nor addresses are stored. Kept in the
    database so every worker and every app server on the same database sees the same back-off.
    Written with Core statements only: attempts are bookkeeping, not audited changes.
    """

    __tablename__ = "sign_in_throttle"
    __table_args__ = (Index("ix_sign_in_throttle_last_failure_at", "last_failure_at"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime]
    blocked_until: Mapped[Optional[datetime]]
