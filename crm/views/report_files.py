"""PDF files of reports, made from their print views by WeasyPrint.

The services build no markup, so a saved report's PDF is made here, on the web side: the kind's
print template (the same one its print view shows) is rendered with the context the kind's
registry entry builds, and WeasyPrint turns the HTML into a PDF. Stylesheets and fonts come from
the app's static folders (the app's and Bootstrap-Flask's); nothing is fetched from the network.
The scheduler process builds the same app, so ``crm.services.saved_reports`` finds this renderer
in ``app.extensions`` whether a web request ("send now") or the scheduler asks.
"""
import mimetypes
import os
from datetime import date
from typing import Optional
from urllib.parse import unquote, urlsplit

from flask import Flask, current_app, has_request_context, render_template
from werkzeug.exceptions import HTTPException
from werkzeug.security import safe_join

BASE_URL = "http://localhost/"


def static_file(url: str) -> Optional[str]:
    """The file on disk behind a static URL of the app (``/static/…`` or a blueprint's), or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "") or parts.netloc not in ("localhost", ""):
        return None
    app = current_app._get_current_object()
    try:
        endpoint, values = app.url_map.bind("localhost").match(unquote(parts.path))
    except HTTPException:
        return None
    if endpoint == "static":
        folder = app.static_folder
    elif endpoint.endswith(".static") and endpoint[:-7] in app.blueprints:
        folder = app.blueprints[endpoint[:-7]].static_folder
    else:
        return None
    path = safe_join(folder, values.get("filename", "")) if folder else None
    return path if path and os.path.isfile(path) else None


def _fetcher():
    """A WeasyPrint URL fetcher that serves the app's static files and refuses everything else."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnly(URLFetcher):
        def fetch(self, url, headers=None):
            path = static_file(url)
            if path is None:
                raise ValueError(f"not a static file of the app (no network): {url}")
            with open(path, "rb") as handle:
                body = handle.read()
            mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
            return URLFetcherResponse(url, body, {"Content-Type": mime})

    return StaticOnly()


def html_to_pdf(html: str) -> bytes:
    """The HTML as an A4 PDF (the print stylesheet applies)."""
    from weasyprint import HTML

    return HTML(string=html, base_url=BASE_URL, url_fetcher=_fetcher()).write_pdf()


def print_html(kind, start: date, end: date, region_code: Optional[int]) -> str:
    """The kind's print view as HTML, in a request context of its own outside requests (the
    scheduler), so ``url_for`` and the template helpers work."""
    context = kind.print_context(start, end, region_code)
    if has_request_context():
        return render_template(kind.print_template, pdf=True, **context)
    with current_app.test_request_context("/", base_url=BASE_URL):
        return render_template(kind.print_template, pdf=True, **context)


def render_pdf(kind, start: date, end: date, region_code: Optional[int]) -> bytes:
    return html_to_pdf(print_html(kind, start, end, region_code))


def register(app: Flask) -> None:
    """Let ``crm.services.saved_reports`` make PDFs in this app."""
    from crm.services.saved_reports import PDF_RENDERER

    app.extensions[PDF_RENDERER] = render_pdf
