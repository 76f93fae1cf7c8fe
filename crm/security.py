"""HTTP security headers sent with every response."""
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request

# No inline scripts anywhere: every script is a file under /static. Inline style attributes
# are allowed (Bootstrap components use them); they cannot run code.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Static files (CSS, JS, fonts) are the same for everyone and may be cached.
PUBLIC_ENDPOINTS = frozenset({"static", "bootstrap.static"})


def _content_security_policy() -> str:
    """The policy; sign-in and sign-out forms may also lead to the configured OpenID Connect
    providers (their issuer's origin: ``OIDC_PROVIDERS``), as the browser enforces ``form-action``
    on the redirect that follows a form."""
    origins = sorted({
        f"{parts.scheme}://{parts.netloc}"
        for entry in current_app.config.get("OIDC_PROVIDERS") or []
        if isinstance(entry, dict) and (parts := urlsplit(str(entry.get("issuer", "")))).netloc
    })
    if not origins:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", "form-action 'self' " + " ".join(origins))


def _add_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", _content_security_policy())
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if _is_private(response):
        # Neither the browser's back button on a shared PC nor a proxy may keep a copy.
        response.headers["Cache-Control"] = "no-store"
    return response


def _is_private(response: Response) -> bool:
    """A signed-in page or any file download (exports, documents, calendar files)."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return False
    if "Content-Disposition" in response.headers:
        return True
    # The user Flask-Login loaded for this request (every signed-in page loads it); reading it from
    # ``g`` never queries the database here, so an outage's 503 page cannot turn into a 500.
    user = g.get("_login_user")
    return bool(user is not None and user.is_authenticated)


def init_app(app: Flask) -> None:
    app.after_request(_add_headers)
