"""Sign-in through OpenID Connect providers: the settings, and who a verified ID token signs in.

The protocol (discovery, authorization code with PKCE, ``state``, ``nonce``, the ID token's
signature, issuer, audience and expiry) is Authlib's, driven by ``crm/views/oidc.py``. What
Authlib leaves to the application is decided here, from the ID token's verified claims:

- Only users an admin created sign in; there is no self-registration.
- A person is recognised by the provider's stable subject: (``iss``, ``sub``) of a
  ``UserIdentity``. The e-mail is used once only, on the first sign-in, to link that subject to
  the active user with the same e-mail, and only when the provider vouches for the address
  (``email_verified`` true). A user has at most one subject per issuer, so a later token with
  another ``sub`` and the same e-mail is refused, never re-linked.
- Deactivated users are refused even with a valid token.
- Role and region are the CRM's own (set by an admin); no claim changes them.
- Every refusal is logged and written to the audit log (action "refused").
"""
import logging
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm.audit import acting_as
from crm.extensions import db
from crm.i18n import gettext as _
from crm.models.audit import AuditEntry
from crm.models.identity import UserIdentity
from crm.models.mixins import utcnow
from crm.models.user import User
from crm.services.permissions import ensure_can_manage_users

log = logging.getLogger(__name__)

DEFAULT_SCOPES = "openid email profile"
MAX_LEEWAY_SECONDS = 300
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")

# Why a sign-in was refused (the audit log's "reason").
REFUSED_PROVIDER = "provider_error"  # the provider said no, or could not be reached
REFUSED_STATE = "state"  # unknown, used or missing state: a replayed or forged answer
REFUSED_TOKEN = "invalid_token"  # signature, issuer, audience, nonce… of the ID token
REFUSED_EXPIRED = "expired_token"
REFUSED_UNKNOWN = "unknown_user"  # no user an admin created for this person
REFUSED_UNVERIFIED = "unverified_email"
REFUSED_OTHER_SUBJECT = "other_subject"  # the user is linked to another subject of this issuer
REFUSED_INACTIVE = "inactive"


@dataclass(frozen=True)
class ProviderSettings:
    """One entry of ``OIDC_PROVIDERS``."""

    name: str
    display_name: str
    issuer: str
    client_id: str
    client_secret: str
    scopes: str = DEFAULT_SCOPES
    discovery_url: str = ""
    # Entra ID sends no email_verified claim; true accepts an e-mail claim without one (never
    # one that says false). Only for a provider whose tenant owns the addresses it issues.
    trust_unverified_email: bool = False
    # The claim with the work e-mail: "email", or e.g. "nemlogin.email" at a NemLog-in broker.
    # Taken from the ID token, else from the userinfo endpoint (same ``sub`` required).
    email_claim: str = "email"

    @property
    def metadata_url(self) -> str:
        return self.discovery_url or self.issuer.rstrip("/") + "/.well-known/openid-configuration"


class SignInRefused(Exception):
    """A sign-in the rules refuse: ``reason`` for the log, ``message`` for the person."""

    def __init__(self, reason: str, message: str):
        super().__init__(reason)
        self.reason = reason
        self.message = message


def configured_providers(entries: Any) -> dict[str, ProviderSettings]:
    """The providers of the ``OIDC_PROVIDERS`` setting by name; ``ValueError`` for a broken one
    (raised at start, so a typo is found before anyone tries to sign in)."""
    if not entries:
        return {}
    if not isinstance(entries, list):
        raise ValueError("OIDC_PROVIDERS must be a JSON list of objects")
    providers: dict[str, ProviderSettings] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise ValueError("OIDC_PROVIDERS: every provider is a JSON object")
        missing = [k for k in ("name", "issuer", "client_id", "client_secret") if not entry.get(k)]
        if missing:
            raise ValueError(f"OIDC_PROVIDERS: a provider lacks {', '.join(missing)}")
        name = str(entry["name"])
        if not set(name) <= _NAME_CHARS or len(name) > 40:
            raise ValueError(f"OIDC_PROVIDERS: name {name!r} must be lower-case letters, digits, - or _")
        if name in providers:
            raise ValueError(f"OIDC_PROVIDERS: name {name!r} is used twice")
        known = set(ProviderSettings.__dataclass_fields__)
        unknown = set(entry) - known
        if unknown:
            raise ValueError(f"OIDC_PROVIDERS: unknown keys {', '.join(sorted(unknown))} for {name!r}")
        scopes = str(entry.get("scopes") or DEFAULT_SCOPES)
        if "openid" not in scopes.split():
            raise ValueError(f"OIDC_PROVIDERS: the scopes of {name!r} must include openid")
        providers[name] = ProviderSettings(
            name=name,
            display_name=str(entry.get("display_name") or name),
            issuer=str(entry["issuer"]),
            client_id=str(entry["client_id"]),
            client_secret=str(entry["client_secret"]),
            scopes=scopes,
            discovery_url=str(entry.get("discovery_url") or ""),
            trust_unverified_email=bool(entry.get("trust_unverified_email", False)),
            email_claim=str(entry.get("email_claim") or "email"),
        )
    return providers


def leeway_seconds(value: Any) -> int:
    """The accepted clock skew, bounded to 0…300 seconds."""
    return max(0, min(MAX_LEEWAY_SECONDS, int(value)))


def refusal_message(reason: str, provider: ProviderSettings) -> str:
    """What the login page says for ``reason``."""
    name = provider.display_name
    messages = {
        REFUSED_PROVIDER: _("Log ind via %(provider)s lykkedes ikke: udbyderen afviste eller svarede ikke. "
                            "Prøv igen om lidt.", provider=name),
        REFUSED_STATE: _("Log ind-svaret passer ikke til et log ind, der er startet her, eller det er allerede "
                         "brugt. Start forfra med knappen herunder."),
        REFUSED_TOKEN: _("Svaret fra %(provider)s kunne ikke bekræftes (ugyldigt ID-token). Du er ikke logget ind. "
                         "Prøv igen, og kontakt en administrator, hvis det gentager sig.", provider=name),
        REFUSED_EXPIRED: _("Svaret fra %(provider)s er udløbet. Start forfra, og kontakt en administrator, "
                           "hvis det gentager sig (serverens ur kan gå forkert).", provider=name),
        REFUSED_UNKNOWN: _("Der er ingen bruger i CRM'et til din konto hos %(provider)s. En administrator skal "
                           "oprette dig med din arbejdsmail, før du kan logge ind.", provider=name),
        REFUSED_UNVERIFIED: _("%(provider)s bekræfter ikke din e-mailadresse, så den kan ikke kobles til en bruger "
                              "i CRM'et. Kontakt en administrator.", provider=name),
        REFUSED_OTHER_SUBJECT: _("Din bruger i CRM'et er allerede koblet til en anden konto hos %(provider)s. "
                                 "Log ind med den, eller bed en administrator om at fjerne koblingen.",
                                 provider=name),
        REFUSED_INACTIVE: _("Kontoen er deaktiveret. Kontakt en administrator."),
    }
    return messages.get(reason, messages[REFUSED_TOKEN])


def refuse(provider: ProviderSettings, reason: str, *, claims: Optional[Mapping[str, Any]] = None,
           user: Optional[User] = None, detail: str = "", address: Optional[str] = None) -> SignInRefused:
    """Log and audit a refused sign-in (commits); returns the exception to raise."""
    claims = claims or {}
    email = str(claims.get(provider.email_claim) or "")[:254]
    subject = str(claims.get("sub") or "")
    db.session.rollback()
    log.warning("OIDC sign-in refused: provider=%s reason=%s sub=%r email=%r address=%s detail=%s",
                provider.name, reason, subject, email, address, detail)
    db.session.add(AuditEntry(
        user_id=user.id if user else None,
        actor=(f"{provider.name}: {email or subject or '?'}")[:254],
        entity="user_identity",
        entity_id=str(user.id) if user else "",
        action="refused",
        changes={"reason": reason, "provider": provider.name, "issuer": str(claims.get("iss") or provider.issuer),
                 "subject": subject, "email": email, "detail": detail[:300], "address": address or ""},
    ))
    db.session.commit()
    return SignInRefused(reason, refusal_message(reason, provider))


def _email_vouched(provider: ProviderSettings, claims: Mapping[str, Any]) -> bool:
    verified = claims.get("email_verified")
    if verified is True or (isinstance(verified, str) and verified.lower() == "true"):
        return True
    return verified is None and provider.trust_unverified_email


def sign_in(provider: ProviderSettings, claims: Mapping[str, Any], *, address: Optional[str] = None) -> User:
    """The user the verified ID token ``claims`` sign in as (commits), or ``SignInRefused``.

    ``claims`` must come from an ID token Authlib has verified (signature, iss, aud, exp, nonce).
    """
    issuer, subject = str(claims.get("iss") or ""), str(claims.get("sub") or "")
    if not issuer or not subject or len(issuer) > 255 or len(subject) > 255:
        raise refuse(provider, REFUSED_TOKEN, claims=claims, detail="iss or sub missing or too long",
                     address=address)
    identity = db.session.scalar(
        select(UserIdentity).where(UserIdentity.issuer == issuer, UserIdentity.subject == subject)
    )
    if identity is not None:
        user = identity.user
        if not user.active:
            raise refuse(provider, REFUSED_INACTIVE, claims=claims, user=user, address=address)
        with acting_as(user.email, user.id):
            identity.last_sign_in_at = utcnow()
            db.session.commit()
        return user

    # First sign-in of this subject: link it through a verified e-mail, once.
    email = str(claims.get(provider.email_claim) or "").strip()
    if not email:
        raise refuse(provider, REFUSED_UNKNOWN, claims=claims, detail="no email claim", address=address)
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.lower()))
    if user is None:
        raise refuse(provider, REFUSED_UNKNOWN, claims=claims, address=address)
    if not _email_vouched(provider, claims):
        raise refuse(provider, REFUSED_UNVERIFIED, claims=claims, user=user, address=address)
    if not user.active:
        raise refuse(provider, REFUSED_INACTIVE, claims=claims, user=user, address=address)
    linked = db.session.scalar(
        select(UserIdentity).where(UserIdentity.user_id == user.id, UserIdentity.issuer == issuer)
    )
    if linked is not None:
        raise refuse(provider, REFUSED_OTHER_SUBJECT, claims=claims, user=user,
                     detail=f"linked to subject {linked.subject!r}", address=address)
    now = utcnow()
    try:
        with acting_as(user.email, user.id):
            db.session.add(UserIdentity(user_id=user.id, provider=provider.name, issuer=issuer, subject=subject,
                                        email=email[:254], linked_at=now, last_sign_in_at=now))
            db.session.commit()
    except IntegrityError:  # the same person's sign-in in another tab linked first
        db.session.rollback()
        raced = db.session.scalar(
            select(UserIdentity).where(UserIdentity.issuer == issuer, UserIdentity.subject == subject)
        )
        if raced is not None and raced.user_id == user.id:
            return user
        raise refuse(provider, REFUSED_OTHER_SUBJECT, claims=claims, user=user, detail="linked concurrently",
                     address=address) from None
    log.info("OIDC identity linked: provider=%s user=%s sub=%r", provider.name, user.id, subject)
    return user


def identities_of(user: User) -> list[UserIdentity]:
    """The user's linked identities, oldest first."""
    return list(db.session.scalars(
        select(UserIdentity).where(UserIdentity.user_id == user.id).order_by(UserIdentity.linked_at, UserIdentity.id)
    ))


def unlink_identity(identity: UserIdentity, *, actor) -> None:
    """Remove a link (audited as its deletion): the subject signs in no more, and the user's next
    sign-in at that provider links again through a verified e-mail. Commits."""
    ensure_can_manage_users(actor)
    db.session.delete(identity)
    db.session.commit()
