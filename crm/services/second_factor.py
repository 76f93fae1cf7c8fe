"""A second factor for password sign-ins: TOTP (RFC 6238, ``pyotp``) and one-time recovery codes.

- Enrolment: ``start_enrolment`` keeps a new secret (not yet in force) and the account page shows it
  as a QR code and as text; ``confirm_enrolment`` turns the factor on only when a code made from it
  is typed, and issues ten recovery codes (shown once).
- The secret is stored encrypted with Fernet (``cryptography``) under a key derived by HKDF-SHA256
  from the app's SECRET_KEY: a copy of the database alone does not give anyone the secrets.
  Changing SECRET_KEY therefore makes every enrolled secret unreadable: users sign in with a
  recovery code or an admin resets their factor.
- A code is valid in its 30-second step and one step either side; each step is accepted once per
  user (``last_used_step``, claimed with one conditional UPDATE, so two concurrent requests cannot
  both use it). Recovery codes are stored as password hashes and used once (also one conditional
  UPDATE).
- Wrong codes go through the sign-in back-off of ``crm.services.signin`` (the same table and
  settings), keyed per user across addresses: someone who knows the password cannot guess codes
  from many addresses, and a correct password does not reset the count of wrong codes.
- Required for admins (``TOTP_REQUIRED_FOR_ADMINS``) or for everyone (``TOTP_REQUIRED_FOR_ALL``).
- Turning the factor on or off, resetting it and new recovery codes end the user's other sessions.
"""
import base64
import hmac
import logging
import re
import secrets
import time
from typing import Optional

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import delete, func, insert, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from crm.extensions import db
from crm.i18n import gettext as _
from crm.models.mixins import utcnow
from crm.models.second_factor import RecoveryCode, SecondFactor
from crm.models.user import User
from crm.services import accounts, signin
from crm.services.errors import FieldError
from crm.services.permissions import ensure_can_manage_users

log = logging.getLogger(__name__)

RECOVERY_CODE_COUNT = 10
# Lower-case letters and digits without look-alikes (0/o, 1/l/i): 31 symbols, 10 per code ≈ 49 bits.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
STEP_SECONDS = 30
VALID_WINDOW = 1  # steps either side of now
MAX_REASON_LENGTH = 500


# --- Settings ----------------------------------------------------------------------------------

def is_required(user: User) -> bool:
    """Must ``user`` have a second factor to use the CRM after a password sign-in?"""
    config = current_app.config
    if config.get("TOTP_REQUIRED_FOR_ALL"):
        return True
    return bool(user.is_admin and config.get("TOTP_REQUIRED_FOR_ADMINS"))


# --- The secret at rest ------------------------------------------------------------------------

def _fernet() -> Fernet:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"ips-crm second factor").derive(secret)
    return Fernet(base64.urlsafe_b64encode(key))


def _encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def _decrypt(token: Optional[str]) -> Optional[str]:
    if not token:
        return None
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        log.warning("A stored TOTP secret cannot be decrypted (was SECRET_KEY changed?)")
        return None


# --- Reading -----------------------------------------------------------------------------------

def factor_of(user: User) -> Optional[SecondFactor]:
    return db.session.get(SecondFactor, user.id)


def is_enabled(user: User) -> bool:
    factor = factor_of(user)
    return bool(factor and factor.totp_enabled)


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(
        select(func.count()).select_from(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                              RecoveryCode.used_at.is_(None))
    ) or 0


def grouped(secret: str) -> str:
    """The base32 secret in groups of four, as people type it into an authenticator app."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(user: User, secret: str) -> str:
    """The ``otpauth://`` URI the QR code holds."""
    issuer = current_app.config.get("TOTP_ISSUER") or "IPS CRM"
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


# --- Enrolment ---------------------------------------------------------------------------------

def pending_secret(user: User) -> Optional[str]:
    """The secret waiting for its first code, or None."""
    factor = factor_of(user)
    if factor is None or factor.totp_enabled:
        return None
    return _decrypt(factor.totp_secret)


def start_enrolment(user: User, *, actor) -> str:
    """The secret to show for enrolment: the one already waiting (a reload shows the same QR code),
    else a new one. Commits. ``FieldError`` when the factor is already on."""
    if actor.id != user.id:
        raise FieldError(_("Kun brugeren selv kan slå totrinsbekræftelse til."))
    factor = factor_of(user)
    if factor is not None and factor.totp_enabled:
        raise FieldError(_("Totrinsbekræftelse er allerede slået til."))
    secret = pending_secret(user)
    if secret:
        return secret
    secret = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends
    if factor is None:
        factor = SecondFactor(user_id=user.id)
        db.session.add(factor)
    factor.totp_secret = _encrypt(secret)
    factor.last_used_step = None
    db.session.commit()
    return secret


def confirm_enrolment(user: User, code: str, *, actor, at: Optional[float] = None) -> list[str]:
    """Turn the factor on when ``code`` was made from the waiting secret; returns the ten recovery
    codes to show once. Ends the user's other sessions (the caller signs this one in again).
    Commits. ``FieldError`` on ``code`` otherwise."""
    if actor.id != user.id:
        raise FieldError(_("Kun brugeren selv kan slå totrinsbekræftelse til."))
    factor = factor_of(user)
    secret = pending_secret(user)
    if factor is None or secret is None:
        raise FieldError(_("Start forfra: der er ingen hemmelig nøgle, der venter på en kode."), "code")
    step = _matching_step(secret, code, at)
    if step is None:
        raise FieldError(_("Koden passer ikke. Tjek uret på telefonen, og skriv den kode, appen viser nu."), "code")
    factor.totp_enabled = True
    factor.enabled_at = utcnow()
    factor.last_used_step = step
    factor.reset_reason = None
    codes = _issue_recovery_codes(user, factor)
    accounts.end_sessions(user)
    db.session.commit()
    return codes


# --- Codes -------------------------------------------------------------------------------------

def _digits(code: str) -> Optional[str]:
    cleaned = re.sub(r"[\s-]", "", code or "")
    return cleaned if re.fullmatch(r"\d{6}", cleaned) else None


def _matching_step(secret: str, code: str, at: Optional[float]) -> Optional[int]:
    """The time step within the window whose code ``code`` is, or None."""
    digits = _digits(code)
    if digits is None:
        return None
    totp = pyotp.TOTP(secret)
    now_step = int((time.time() if at is None else at) // STEP_SECONDS)
    for step in range(now_step - VALID_WINDOW, now_step + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), digits):
            return step
    return None


def _use_totp(user: User, code: str, at: Optional[float]) -> bool:
    factor = factor_of(user)
    secret = _decrypt(factor.totp_secret) if factor and factor.totp_enabled else None
    if secret is None:
        return False
    step = _matching_step(secret, code, at)
    if step is None:
        return False
    table = SecondFactor.__table__
    claimed = db.session.execute(
        update(table)
        .where(table.c.user_id == user.id, or_(table.c.last_used_step.is_(None), table.c.last_used_step < step))
        .values(last_used_step=step)
    ).rowcount
    db.session.commit()
    return claimed == 1


def _normalised_recovery(code: str) -> Optional[str]:
    cleaned = re.sub(r"[\s-]", "", (code or "").lower())
    if len(cleaned) != 10 or any(ch not in RECOVERY_ALPHABET for ch in cleaned):
        return None
    return cleaned


def _use_recovery_code(user: User, code: str) -> bool:
    cleaned = _normalised_recovery(code)
    if cleaned is None:
        return False
    rows = db.session.execute(
        select(RecoveryCode.id, RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id,
                                                              RecoveryCode.used_at.is_(None))
    ).all()
    for row_id, code_hash in rows:
        if check_password_hash(code_hash, cleaned):
            table = RecoveryCode.__table__
            used = db.session.execute(
                update(table).where(table.c.id == row_id, table.c.used_at.is_(None)).values(used_at=utcnow())
            ).rowcount
            db.session.commit()
            return used == 1
    return False


def verify(user: User, code: str, *, at: Optional[float] = None) -> Optional[str]:
    """Use ``code`` for ``user`` (no back-off here): "totp" or "recovery" for the kind of code that
    was accepted (and is now spent), None when it is not valid. Commits."""
    if _digits(code) is not None:
        return "totp" if _use_totp(user, code, at) else None
    return "recovery" if _use_recovery_code(user, code) else None


def _throttle_key(user: User) -> str:
    return signin.throttle_key(f"second-factor:{user.id}", None)


def check_code(user: User, code: str, *, at: Optional[float] = None) -> Optional[str]:
    """``verify`` under the sign-in back-off: None when the code was accepted, else the message for
    the code field (wrong code, or wait). Commits."""
    key = _throttle_key(user)
    wait = signin.seconds_blocked(key)
    if wait:
        return signin.wait_message(wait)
    if verify(user, code, at=at) is None:
        wait = signin.record_failure(key)
        return signin.wait_message(wait) if wait else _("Koden er forkert eller allerede brugt.")
    signin.clear_failures(key)
    return None


# --- Recovery codes ----------------------------------------------------------------------------

def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _issue_recovery_codes(user: User, factor: SecondFactor) -> list[str]:
    """Replace the user's recovery codes by ten new ones (the caller commits)."""
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    factor.recovery_codes_issued_at = utcnow()  # before the statements below flush: one audit entry
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.execute(
        insert(RecoveryCode),
        [{"user_id": user.id, "code_hash": generate_password_hash(code.replace("-", ""), method=method)}
         for code in codes],
    )
    return codes


def regenerate_recovery_codes(user: User, code: str, *, actor, at: Optional[float] = None) -> list[str]:
    """New recovery codes (the old ones stop working) after a current code; ends the user's other
    sessions. Commits. ``FieldError`` on ``code``."""
    factor = _own_enabled_factor(user, actor)
    error = check_code(user, code, at=at)
    if error:
        raise FieldError(error, "code")
    codes = _issue_recovery_codes(user, factor)
    accounts.end_sessions(user)
    db.session.commit()
    return codes


# --- Turning it off ----------------------------------------------------------------------------

def _own_enabled_factor(user: User, actor) -> SecondFactor:
    if actor.id != user.id:
        raise FieldError(_("Kun brugeren selv kan ændre sin totrinsbekræftelse."))
    factor = factor_of(user)
    if factor is None or not factor.totp_enabled:
        raise FieldError(_("Totrinsbekræftelse er ikke slået til."))
    return factor


def _turn_off(user: User, factor: SecondFactor, reason: Optional[str]) -> None:
    factor.totp_enabled = False
    factor.totp_secret = None
    factor.enabled_at = None
    factor.recovery_codes_issued_at = None
    factor.reset_reason = reason
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    accounts.end_sessions(user)


def disable(user: User, code: str, *, actor, at: Optional[float] = None) -> None:
    """The user turns the factor off with a current code (or a recovery code); ends the user's
    other sessions. Commits. ``FieldError`` on ``code``."""
    factor = _own_enabled_factor(user, actor)
    error = check_code(user, code, at=at)
    if error:
        raise FieldError(error, "code")
    _turn_off(user, factor, None)
    db.session.commit()


def reset(user: User, reason: str, *, actor) -> None:
    """An admin turns a user's factor off (lost phone): secret and recovery codes are removed, the
    reason is kept for the audit log, and every session of the user ends; a user for whom the
    factor is required enrols again at the next sign-in. Commits. ``Forbidden`` for non-admins,
    ``FieldError`` on ``reason``."""
    ensure_can_manage_users(actor)
    _reset(user, reason)


def reset_from_command_line(user: User, reason: str) -> None:
    """``reset`` by whoever runs ``flask user reset-second-factor`` on the server (the way back in
    when the only admin has lost phone and recovery codes). Commits."""
    _reset(user, reason)


def _reset(user: User, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise FieldError(_("Skriv hvorfor totrinsbekræftelsen nulstilles."), "reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise FieldError(_("Højst %(count)d tegn.", count=MAX_REASON_LENGTH), "reason")
    factor = factor_of(user)
    if factor is None or not (factor.totp_enabled or factor.totp_secret):
        raise FieldError(_("Brugeren har ikke totrinsbekræftelse slået til."), "reason")
    _turn_off(user, factor, reason)
    db.session.commit()


# --- The half-signed-in state ------------------------------------------------------------------

def user_awaiting_code(user_id: int, session_token: str) -> Optional[User]:
    """The user a half-finished sign-in belongs to, if that user is still active, still has the
    session token the password step saw (no password change or sign-out everywhere since) and
    still has the factor on."""
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active or not user.session_token:
        return None
    if not hmac.compare_digest(user.session_token.encode(), str(session_token).encode()):
        return None
    return user if is_enabled(user) else None
