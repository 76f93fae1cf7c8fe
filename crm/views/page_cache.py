"""Rendered pages kept until anything they could show changes: the pages people open most and
the heavy overviews (start page, municipality list, board, municipality page, activity list,
dashboard, anchoring map, fidelity overview, status report) cost one statement and a lookup on
every view after the first.

A page is a function of the data, the URL, the signed-in user, the language and today's date; its
key holds all of them. The data is represented by the token the database renews in the same
transaction as every change (``crm.models.data_version``), read before anything else, so a page
rendered from older data is never served once a change has committed: never stale, as the
derived figures must be. The session's CSRF token is the one per-session part of a page: it is
stored as a placeholder and the current token put back when the page is served. A request with
flashed messages waiting is not cached (the page shows and consumes them).

The store is Flask-Caching's SimpleCache, one per worker process, on purpose: a new release
restarts the workers, so no page rendered by older code outlives it, which a store shared across
releases (Redis) could not promise without a release id in the key.
"""
from functools import wraps
from typing import Optional

from flask import Response, current_app, make_response, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from crm.clock import local_today
from crm.extensions import cache, db
from crm.i18n import current_locale
from crm.models.data_version import TOKEN_ROW, DataVersion
from crm.views.helpers import wants_json

CSRF_PLACEHOLDER = "\x00csrf-token\x00"  # cannot occur in HTML the app writes (escaped or not)


def data_token() -> Optional[int]:
    """The database's current data token (None without its row: then nothing is cached)."""
    return db.session.scalar(select(DataVersion.token).where(DataVersion.id == TOKEN_ROW))


def page_key(token: int) -> str:
    """Everything the page is a function of, besides the code itself."""
    return f"page:{token}:{current_user.id}:{current_locale()}:{local_today().isoformat()}:{request.url}"


def _cacheable_request() -> bool:
    return (current_app.config.get("PAGE_CACHE", False) and request.method == "GET"
            and current_user.is_authenticated and not session.get("_flashes") and not wants_json())


def _storable(response: Response) -> bool:
    return response.status_code == 200 and response.mimetype == "text/html" and not response.direct_passthrough


def cached_page(view):
    """Serve the view's page from the cache while the data token, user, language, date and URL are
    the same; innermost decorator, so sign-in and access checks run on every request."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not _cacheable_request():
            return view(*args, **kwargs)
        token = data_token()
        if token is None:
            return view(*args, **kwargs)
        key = page_key(token)
        stored = cache.get(key)
        if stored is not None:
            return Response(stored.replace(CSRF_PLACEHOLDER, generate_csrf()), mimetype="text/html")
        response = make_response(view(*args, **kwargs))
        if _storable(response):
            cache.set(key, response.get_data(as_text=True).replace(generate_csrf(), CSRF_PLACEHOLDER))
        return response

    wrapper.page_cached = True  # for the benchmark, which measures these pages with the cache off too
    return wrapper
