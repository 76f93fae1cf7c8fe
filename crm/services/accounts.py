"""Users: the password policy, ending sessions, (de)activation, the last-admin rule, and the
changes an admin or the user makes (each committed here).

Sessions: Flask-Login keeps ``User.get_id()`` ("id:session_token") in the session and in the
remember cookie; ``user_for_session`` accepts only the current token. Rotating the token ends
every session and remember cookie of that user at once, on every worker and app server.
"""
import hmac
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

from sqlalchemy import inspect, select

from crm.extensions import db
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from crm.models.user import ROLE_ADMIN, ROLE_AMBASSADOR, User
from crm.services.errors import FieldError
from crm.services.locking import commit_versioned, ensure_version, mark_updated

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 200
# "aaaaaaaaaaaa" and "abababababab" are long but not secret (NIST SP 800-63B: repetitive).
MIN_DISTINCT_CHARACTERS = 5
# E-mail and name parts shorter than this are too common to refuse inside a password ("jo").
MIN_CONTEXT_WORD = 3

# Shown under every field where a password is chosen.
PASSWORD_RULES = _l(
    "Mindst %(count)d tegn. Ikke en almindelig adgangskode, og hverken e-mailadressen eller navnet.",
    count=MIN_PASSWORD_LENGTH,
)


class UserError(FieldError):
    """A user change the rules refuse; ``field`` is the admin form's field."""


# --- Password policy (NIST SP 800-63B 5.1.1.2) -----------------------------------------------

@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 30 000 most common passwords, as zxcvbn ships them (lower case)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.casefold() for word in FREQUENCY_LISTS["passwords"])


def _context_words(email: str, name: str) -> set[str]:
    """The parts of the user's e-mail (before the @) and name a password must not contain."""
    local = (email or "").strip().casefold().split("@", 1)[0]
    words = {local, *re.split(r"[\W_]+", local), *re.split(r"[\W_]+", (name or "").casefold())}
    return {w for w in words if len(w) >= MIN_CONTEXT_WORD}


def password_problem(password: str, email: str = "", name: str = "") -> Optional[str]:
    """None for an acceptable password, else the code of the first rule it breaks:
    ``too_short``, ``too_long``, ``repetitive``, ``common`` or ``personal``."""
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        return "too_short"
    if len(password) > MAX_PASSWORD_LENGTH:
        return "too_long"
    folded = password.casefold()
    if len(set(folded)) < MIN_DISTINCT_CHARACTERS:
        return "repetitive"
    if folded in common_passwords() or folded.strip() in common_passwords():
        return "common"
    if any(word in folded for word in _context_words(email, name)):
        return "personal"
    return None


def password_message(code: str) -> str:
    """The Danish message shown beside the password field for a ``password_problem`` code."""
    messages = {
        "too_short": _("Mindst %(count)d tegn.", count=MIN_PASSWORD_LENGTH),
        "too_long": _("Højst %(count)d tegn.", count=MAX_PASSWORD_LENGTH),
        "repetitive": _("Brug flere forskellige tegn: adgangskoden er for ensformig."),
        "common": _("Adgangskoden er for almindelig: den står på listen over ofte brugte adgangskoder."),
        "personal": _("Adgangskoden må ikke indeholde e-mailadressen eller navnet."),
    }
    return messages[code]


def check_new_password(password: str, email: str, name: str) -> Optional[str]:
    """None when ``password`` may be set for this user, else the message for the field."""
    code = password_problem(password, email, name)
    return password_message(code) if code else None


# --- Sessions ----------------------------------------------------------------------------------

def user_for_session(session_id: str) -> Optional[User]:
    """Flask-Login's user loader: the user whose id and *current* session token these are."""
    user_id, _sep, token = str(session_id or "").partition(":")
    if not token or not user_id.isdigit():
        return None  # also a cookie from before session tokens: sign in again
    user = db.session.get(User, int(user_id))
    if user is None or not user.session_token:
        return None
    if not hmac.compare_digest(user.session_token.encode(), token.encode()):
        return None
    return user


def end_sessions(user: User) -> None:
    """Sign ``user`` out everywhere: every session and remember cookie stops working."""
    user.rotate_session_token()


def sign_out_everywhere(user: User) -> None:
    """``end_sessions`` on sign-out or by an admin; commits."""
    end_sessions(user)
    db.session.commit()


def change_password(user: User, password: str) -> None:
    """Set a new password (already checked against the policy) and end the user's sessions; the
    caller signs the current session in again with the new token where that is wanted."""
    user.set_password(password)
    end_sessions(user)


def change_own_password(user: User, password: str) -> None:
    """``change_password`` on the user's own account page; commits."""
    change_password(user, password)
    db.session.commit()


def set_locale(user: User, locale: str) -> None:
    """The language the user reads the app in; commits. Not an admin-visible change, so an admin's
    open form of the user stays current."""
    user.locale = locale
    db.session.commit()


def set_active(user: User, active: bool) -> None:
    """Activate or deactivate. Either way old sessions, remember cookies and the feed link die:
    deactivation ends them, and reactivation revives none of them."""
    if bool(user.active) == bool(active):
        return
    if not active:
        ensure_admin_remains(user, role=user.role, active=False)
    user.active = active
    end_sessions(user)
    if user.calendar_token:
        user.reset_calendar_token()
    _bump_version(user)


# --- The last admin -----------------------------------------------------------------------------

def ensure_admin_remains(user: User, role: str, active: bool) -> None:
    """Refuse a change that would leave no active administrator (the form field it concerns)."""
    if not (user.id and user.role == ROLE_ADMIN and user.active) or (role == ROLE_ADMIN and active):
        return
    # Lock the active admins (PostgreSQL; SQLite writes one at a time anyway), so two admins
    # demoting each other at the same moment cannot both succeed.
    admins = db.session.scalars(
        select(User.id).where(User.role == ROLE_ADMIN, User.active.is_(True)).order_by(User.id).with_for_update()
    ).all()
    if not any(admin_id != user.id for admin_id in admins):
        raise UserError(
            _("Der skal være mindst én aktiv administrator. Gør først en anden bruger til administrator."),
            "role" if role != ROLE_ADMIN else "active",
        )


# --- The admin's user form ----------------------------------------------------------------------

@dataclass
class UserData:
    """What the admin's user form submits."""

    email: str
    name: str
    role: str
    region_code: Optional[int]
    active: bool
    password: str = ""


def save_user(user: Optional[User], data: UserData, version: Any = None, *, actor) -> User:
    """Create or change a user as an admin (``actor``); commits. Raises ``UserError`` (field
    named) when a rule refuses and ``Conflict`` when another admin saved the user since
    ``version`` was shown; then nothing is written."""
    try:
        # No flush before the commit: the database's version check belongs to ``commit_versioned``.
        with db.session.no_autoflush:
            saved = _save_user(user, data, version, actor)
        commit_versioned(saved)
    except FieldError:
        db.session.rollback()  # nothing half-done stays, and the admins' rows are unlocked
        raise
    return saved


def _save_user(user: Optional[User], data: UserData, version: Any, actor) -> User:
    if data.password:
        problem = check_new_password(data.password, data.email, data.name)
        if problem:
            raise UserError(problem, "password")
    elif user is None:
        raise UserError(_("Angiv en adgangskode for en ny bruger."), "password")
    if user is not None:
        ensure_admin_remains(user, role=data.role, active=data.active)
        ensure_version(user, version)
    else:
        user = User(email="", password_hash="", role=data.role, active=True)
        db.session.add(user)
    user.email = data.email.strip().lower()
    user.name = data.name or ""
    user.role = data.role
    user.region_code = data.region_code if data.role == ROLE_AMBASSADOR else None
    if data.password:
        change_password(user, data.password)
    if user.id is not None:
        set_active(user, data.active)
        _bump_version(user)
        mark_updated(user, actor)
    else:
        user.active = data.active
    return user


def _bump_version(user: User) -> None:
    """Optimistic locking for users is by hand (see ``User``): only admin-visible changes count,
    once per unit of work (``save_user`` and ``set_active`` may both ask)."""
    if user.id is not None and not inspect(user).attrs.version.history.has_changes():
        user.version = (user.version or 1) + 1
