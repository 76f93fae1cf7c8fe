"""Sign-in through the organisation's OpenID Connect provider (settings: ``OIDC_PROVIDERS``).

Authlib's Flask client does the protocol: discovery, the authorization code flow with PKCE
(S256), ``state`` and ``nonce`` kept in the session and checked once, and the ID token's
signature (the provider's published keys), issuer, audience and expiry (``OIDC_LEEWAY_SECONDS``
of clock skew). Whom the verified claims sign in is decided in ``crm/services/oidc.py``.
Sign-out (``auth.logout``) also ends the session at the provider when it offers
``end_session_endpoint`` (``end_session_url``).
"""
import logging
from typing import Optional
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, abort, current_app, flash, redirect, request, session, url_for
from flask_login import current_user, login_user
from joserfc.errors import ExpiredTokenError, JoseError

from crm.extensions import db, limiter
from crm.models.identity import UserIdentity
from crm.services import oidc
from crm.views.access import admin_required
from crm.views.sign_in_method import OIDC, mark_signed_in

log = logging.getLogger(__name__)

bp = Blueprint("oidc", __name__)

# What the session keeps of a provider sign-in, for the provider's sign-out.
SESSION_KEY = "oidc_sign_in"
NEXT_KEY = "oidc_next"


def _providers() -> dict[str, oidc.ProviderSettings]:
    return current_app.extensions["crm_oidc"]["providers"]


def _client(name: str):
    return current_app.extensions["crm_oidc"]["oauth"].create_client(name)


@bp.record_once
def _init(state) -> None:
    init_app(state.app)


def init_app(app: Flask) -> None:
    """Read ``OIDC_PROVIDERS`` (fails at start when broken) and register each with Authlib."""
    providers = oidc.configured_providers(app.config.get("OIDC_PROVIDERS"))
    oauth = OAuth(app)
    timeout = float(app.config.get("OIDC_HTTP_TIMEOUT", 10))
    for settings in providers.values():
        oauth.register(
            settings.name,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            server_metadata_url=settings.metadata_url,
            client_kwargs={"scope": settings.scopes, "code_challenge_method": "S256", "default_timeout": timeout},
        )
    app.extensions["crm_oidc"] = {"providers": providers, "oauth": oauth}


@bp.app_context_processor
def _login_choices() -> dict:
    """For the login page: the provider buttons and whether the password form is shown."""
    return {
        "oidc_providers": list(_providers().values()),
        "password_login_enabled": current_app.config.get("PASSWORD_LOGIN_ENABLED", True),
    }


@bp.app_template_global("user_identities")
def _user_identities(user) -> list[UserIdentity]:
    """For the admin's user page: the user's linked provider identities."""
    return oidc.identities_of(user)


def _settings_or_404(name: str) -> oidc.ProviderSettings:
    settings = _providers().get(name)
    if settings is None:
        abort(404)
    return settings


def _external(endpoint: str, **values) -> str:
    """An absolute URL of this site: ``PUBLIC_BASE_URL`` when set (behind a proxy), else the request's."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def _safe_next(target: Optional[str]) -> Optional[str]:
    """Only a path on this site (no open redirect), as ``auth.login`` does; else None."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


@bp.route("/login/oidc/<name>", methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
def start(name: str):
    """Send the browser to the provider (state, nonce and PKCE verifier kept in the session)."""
    settings = _settings_or_404(name)
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    session[NEXT_KEY] = _safe_next(request.args.get("next"))
    try:
        return _client(settings.name).authorize_redirect(_external("oidc.callback", name=settings.name))
    except (requests.RequestException, ValueError, RuntimeError) as exc:  # discovery unreachable or broken
        refused = oidc.refuse(settings, oidc.REFUSED_PROVIDER, detail=f"discovery: {exc}",
                              address=request.remote_addr)
        flash(refused.message, "warning")
        return redirect(url_for("auth.login"))


@bp.route("/login/oidc/<name>/callback")
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
def callback(name: str):
    """The provider's answer: verify it (Authlib), then sign in whom it names (the service)."""
    settings = _settings_or_404(name)
    try:
        user, id_token = _verified_sign_in(settings)
    except oidc.SignInRefused as refused:
        flash(refused.message, "warning")
        return redirect(url_for("auth.login"))
    login_user(user)
    mark_signed_in(OIDC)  # the provider owns the second factor: the password's does not apply
    session[SESSION_KEY] = {"provider": settings.name, "id_token": id_token}
    return redirect(session.pop(NEXT_KEY, None) or url_for("main.index"))


def _verified_sign_in(settings: oidc.ProviderSettings):
    address = request.remote_addr
    client = _client(settings.name)

    def refused(reason: str, exc: Exception | str) -> oidc.SignInRefused:
        return oidc.refuse(settings, reason, detail=f"{type(exc).__name__}: {exc}", address=address)

    if request.args.get("error"):  # the person cancelled, or the provider refused
        raise refused(oidc.REFUSED_PROVIDER, OAuthError(request.args["error"], request.args.get("error_description")))
    try:
        metadata = client.load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        raise refused(oidc.REFUSED_PROVIDER, exc) from exc
    if metadata.get("issuer") != settings.issuer:  # OpenID Connect Discovery 1.0, 4.3
        raise refused(oidc.REFUSED_TOKEN, f"discovery names issuer {metadata.get('issuer')!r}")
    # RFC 9207: where the provider names itself in the answer, it must be the one we asked.
    if "iss" in request.args and request.args["iss"] != settings.issuer:
        raise refused(oidc.REFUSED_TOKEN, f"answer from issuer {request.args['iss']!r}")
    leeway = oidc.leeway_seconds(current_app.config.get("OIDC_LEEWAY_SECONDS", 60))
    try:
        token = client.authorize_access_token(leeway=leeway)
    except MismatchingStateError as exc:
        raise refused(oidc.REFUSED_STATE, exc) from exc
    except ExpiredTokenError as exc:
        raise refused(oidc.REFUSED_EXPIRED, exc) from exc
    except JoseError as exc:  # bad signature, audience, issuer, nonce, unknown key…
        raise refused(oidc.REFUSED_TOKEN, exc) from exc
    except OAuthError as exc:  # the token endpoint said no (e.g. a used code)
        raise refused(oidc.REFUSED_PROVIDER, exc) from exc
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        raise refused(oidc.REFUSED_PROVIDER, exc) from exc
    claims = token.get("userinfo")
    if not claims or not token.get("id_token"):
        raise refused(oidc.REFUSED_TOKEN, "no ID token in the answer")
    claims = dict(claims)
    if settings.email_claim not in claims and metadata.get("userinfo_endpoint"):
        claims = _with_userinfo(client, settings.email_claim, token, claims, refused)
    user = oidc.sign_in(settings, claims, address=address)
    return user, token["id_token"]


def _with_userinfo(client, email_claim: str, token, claims: dict, refused) -> dict:
    """The ID token's claims plus the e-mail claims of the userinfo endpoint (for providers that
    put them only there), which must be about the same subject (OpenID Connect Core 5.3.2)."""
    try:
        info = client.userinfo(token=token)
    except (requests.RequestException, OAuthError, ValueError) as exc:
        raise refused(oidc.REFUSED_PROVIDER, exc) from exc
    if info.get("sub") != claims.get("sub"):
        raise refused(oidc.REFUSED_TOKEN, "userinfo is about another subject")
    for name in (email_claim, "email_verified"):
        if name in info and name not in claims:
            claims[name] = info[name]
    return claims


def end_session_url() -> Optional[str]:
    """Where sign-out sends the browser after the CRM session ended: the provider's
    ``end_session_endpoint`` (with ``id_token_hint`` and ``post_logout_redirect_uri``) when the
    person signed in through a provider that offers one; else None. Forgets the sign-in."""
    kept = session.pop(SESSION_KEY, None)
    if not isinstance(kept, dict) or kept.get("provider") not in _providers():
        return None
    client = _client(kept["provider"])
    try:
        if not client.load_server_metadata().get("end_session_endpoint"):
            return None
        return client.create_logout_url(
            post_logout_redirect_uri=_external("auth.login"), id_token_hint=kept.get("id_token"),
            client_id=client.client_id,
        )["url"]
    except (requests.RequestException, ValueError, KeyError) as exc:
        log.warning("OIDC end session skipped for %s: %s", kept["provider"], exc)
        return None


@bp.route("/admin/users/<int:user_id>/identities/<int:identity_id>/unlink", methods=["POST"])
@admin_required
def unlink(user_id: int, identity_id: int):
    """Remove a user's link to a provider identity (audited)."""
    from crm.i18n import gettext as _

    identity = db.get_or_404(UserIdentity, identity_id)
    if identity.user_id != user_id:
        abort(404)
    oidc.unlink_identity(identity, actor=current_user)
    flash(_("Koblingen til %(provider)s er fjernet.", provider=identity.provider), "success")
    return redirect(url_for("admin.user_edit", user_id=user_id))
