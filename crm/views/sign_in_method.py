"""How this session was signed in: with a password (then the second factor applies) or through an
organisation's identity provider (which owns the second factor). Kept apart so the password views
(crm/views/auth.py) and the provider views (crm/views/oidc.py) share it without importing each other."""
from flask import session

SIGN_IN_METHOD = "sign_in_method"
PASSWORD = "password"
OIDC = "oidc"


def mark_signed_in(method: str) -> None:
    """Record how this session was signed in (``PASSWORD`` or ``OIDC``); call right after
    ``login_user``."""
    session[SIGN_IN_METHOD] = method


def signed_in_by_password() -> bool:
    """Was this session signed in with a password? Sessions from before this mark, and sessions
    restored from a "remember me" cookie, count as password sessions (the safe side)."""
    return session.get(SIGN_IN_METHOD, PASSWORD) == PASSWORD
