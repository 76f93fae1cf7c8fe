"""Sign-in as OWASP ASVS level 2 asks: one answer, one cost, back-off per account and address.

- Every attempt costs one password hash, also for an unknown e-mail (a dummy hash) and during a
  back-off, so neither the answer nor its timing tells whether an account exists.
- Failures are counted per (e-mail as typed, client address). After ``SIGNIN_FREE_FAILURES``
  failures each further one blocks that pair for ``SIGNIN_BACKOFF_SECONDS``, doubling up to
  ``SIGNIN_BACKOFF_MAX_SECONDS``. A colleague signing in from another address is not affected,
  so nobody can lock someone else out; a correct password resets the count.
- The counts live in the database (``sign_in_throttle``): every worker and every app server on
  the same database applies the same back-off. The per-address Flask-Limiter limit comes on top.
The current-password check on the account page goes through the same back-off.
"""
import hashlib
import hmac
import math
import secrets
from datetime import timedelta
from typing import Optional

from flask import current_app
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from werkzeug.security import check_password_hash, generate_password_hash

from crm.extensions import db
from crm.i18n import gettext as _
from crm.models.mixins import utcnow
from crm.models.signin import SignInThrottle
from crm.models.user import User

# Failures older than this are forgotten (the count starts again).
FAILURE_MEMORY = timedelta(days=1)

_table = SignInThrottle.__table__


def throttle_key(email: str, address: Optional[str]) -> str:
    """A keyed hash of (e-mail as typed, client address): no e-mail or address is stored."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    message = f"{(email or '').strip().casefold()}\n{address or ''}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _dummy_hash() -> str:
    """A hash made the way real ones are, to check against when there is no account."""
    cache = current_app.extensions.setdefault("crm_signin", {})
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    if cache.get("method") != method:
        cache.update(method=method, hash=generate_password_hash(secrets.token_hex(16), method=method))
    return cache["hash"]


def _password_matches(user: Optional[User], password: str) -> bool:
    """Check the password, paying one hash whether or not there is a user."""
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return False
    return user.check_password(password)


def seconds_blocked(key: str) -> int:
    """Seconds until this (e-mail, address) pair may try again; 0 when it may now."""
    blocked_until = db.session.scalar(select(_table.c.blocked_until).where(_table.c.key == key))
    if blocked_until is None:
        return 0
    remaining = (blocked_until - utcnow()).total_seconds()
    return max(0, math.ceil(remaining))


def _backoff_seconds(failures: int) -> int:
    config = current_app.config
    free = int(config.get("SIGNIN_FREE_FAILURES", 4))
    if failures <= free:
        return 0
    base = float(config.get("SIGNIN_BACKOFF_SECONDS", 30))
    cap = float(config.get("SIGNIN_BACKOFF_MAX_SECONDS", 900))
    return math.ceil(min(cap, base * 2 ** min(failures - free - 1, 30)))


def record_failure(key: str) -> int:
    """Count one failure (atomically, also under concurrent workers); returns the seconds the
    pair is now blocked. Commits."""
    now = utcnow()
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    db.session.execute(
        dialect.insert(_table).values(key=key, failures=0, last_failure_at=now).on_conflict_do_nothing(
            index_elements=["key"]
        )
    )
    db.session.execute(
        update(_table)
        .where(_table.c.key == key)
        .values(
            failures=case((_table.c.last_failure_at < now - FAILURE_MEMORY, 1), else_=_table.c.failures + 1),
            last_failure_at=now,
        )
    )
    failures = db.session.scalar(select(_table.c.failures).where(_table.c.key == key)) or 1
    wait = _backoff_seconds(failures)
    if wait:
        db.session.execute(
            update(_table).where(_table.c.key == key).values(blocked_until=now + timedelta(seconds=wait))
        )
    # Forget what no longer matters (cheap: indexed on last_failure_at).
    db.session.execute(
        delete(_table).where(
            _table.c.last_failure_at < now - FAILURE_MEMORY,
            func.coalesce(_table.c.blocked_until, _table.c.last_failure_at) < now,
        )
    )
    db.session.commit()
    return wait


def clear_failures(key: str) -> None:
    """A correct password: the pair starts afresh. Commits."""
    db.session.execute(delete(_table).where(_table.c.key == key))
    db.session.commit()


def wait_message(seconds: int) -> str:
    """The answer during a back-off: the same for every e-mail, existing or not."""
    if seconds >= 120:
        return _("For mange forkerte forsøg. Vent %(minutes)d minutter, og prøv igen.", minutes=math.ceil(seconds / 60))
    return _("For mange forkerte forsøg. Vent %(seconds)d sekunder, og prøv igen.", seconds=seconds)


def checked_password(user: Optional[User], email: str, password: str, address: Optional[str],
                     wrong_message: str) -> Optional[str]:
    """Check ``password`` for ``user`` (None: unknown ``email``) under the back-off of
    (``email``, ``address``). None when it is right; else the message to show, which depends only
    on the attempts from this address, never on whether the account exists."""
    key = throttle_key(email, address)
    wait = seconds_blocked(key)
    matches = _password_matches(user, password)  # always one hash: the same time in every case
    if wait:
        return wait_message(wait)
    if not matches:
        wait = record_failure(key)
        return wait_message(wait) if wait else wrong_message
    clear_failures(key)
    return None


def authenticate(email: str, password: str, address: Optional[str]) -> tuple[Optional[User], Optional[str]]:
    """(user, None) for a correct sign-in, else (None, the message for the password field)."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == (email or "").strip().lower()))
    error = checked_password(user, email, password, address, _("Forkert e-mail eller adgangskode."))
    if error:
        return None, error
    if not user.active:  # only told to someone who knows the password
        return None, _("Kontoen er deaktiveret. Kontakt en administrator.")
    return user, None
