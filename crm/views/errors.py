"""Error pages: friendly, in the user's language, never a stack trace."""
from flask import Blueprint, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from crm.extensions import db

bp = Blueprint("errors", __name__)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/")


def _render(status: int, message: str | None = None):
    if _wants_json():
        return jsonify(error=status, message=message or ""), status
    try:
        return render_template("errors/error.html", status=status, message=message), status
    except Exception:  # the page itself failed: never loop, answer in plain text
        return f"Error {status}", status, {"Content-Type": "text/plain; charset=utf-8"}


@bp.app_errorhandler(CSRFError)
def csrf_error(error: CSRFError):
    """A missing or stale CSRF token: say so and let the user try again."""
    from flask_babel import gettext as _

    return _render(400, _("Formularen var udløbet eller manglede sikkerhedsnøglen. Genindlæs siden og prøv igen."))


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException):
    return _render(error.code or 500)


@bp.app_errorhandler(OperationalError)
@bp.app_errorhandler(InterfaceError)
def database_unavailable(error: Exception):
    """The database is down or unreachable: 503 so load balancers and users know to retry."""
    db.session.rollback()
    return _render(503)


@bp.app_errorhandler(Exception)
def internal_error(error: Exception):
    """Last resort: roll back so the next request starts clean, log, and show a plain 500."""
    from flask import current_app

    db.session.rollback()
    current_app.logger.exception("Unhandled error on %s", request.path)
    return _render(500)
