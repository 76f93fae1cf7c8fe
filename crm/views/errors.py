"""Error pages: friendly, in the user's language, never a stack trace."""
from flask import Blueprint, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from crm.extensions import db
from crm.services.errors import Conflict, Forbidden, Locked

bp = Blueprint("errors", __name__)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/")


def _status_text(status: int) -> str:
    """What went wrong, in words, for the page and for scripts that ask for JSON alike."""
    from crm.i18n import gettext as _

    texts = {
        400: _("Forespørgslen kunne ikke forstås."),
        403: _("Du har ikke adgang til at gøre dette."),
        404: _("Siden findes ikke."),
        405: _("Handlingen er ikke tilladt her."),
        409: _("Posten er ændret af en anden i mellemtiden."),
        413: _("Filen er for stor."),
        429: _("For mange forsøg. Vent lidt og prøv igen."),
        503: _("Databasen kan ikke nås lige nu. Prøv igen om lidt."),
    }
    return texts.get(status, _("Der opstod en uventet fejl. Prøv igen."))


def _render(status: int, message: str | None = None):
    if _wants_json():
        return jsonify(error=status, message=message or _status_text(status)), status
    try:
        return render_template("errors/error.html", status=status,
                               message=message or _status_text(status)), status
    except Exception:  # the page itself failed: never loop, answer in plain text
        return f"Error {status}", status, {"Content-Type": "text/plain; charset=utf-8"}


@bp.app_errorhandler(CSRFError)
def csrf_error(error: CSRFError):
    """A missing or stale CSRF token: say so and let the user try again."""
    from crm.i18n import gettext as _

    return _render(400, _("Formularen var udløbet eller manglede sikkerhedsnøglen. Genindlæs siden og prøv igen."))


@bp.app_errorhandler(Forbidden)
def forbidden(error: Forbidden):
    """A service refused the acting user: the 403 page (or JSON), nothing written."""
    db.session.rollback()
    return _render(403, str(error) or None)


@bp.app_errorhandler(Conflict)
def conflict(error: Conflict):
    """Someone saved first and no form could show it beside a field: 409 with who and when."""
    db.session.rollback()
    return _render(409, str(error))


@bp.app_errorhandler(Locked)
def locked(error: Locked):
    """A submitted period locks the record and no form could show it beside its date field (a
    delete button, the board): 409 with which submission locks it, since when and who can unlock."""
    db.session.rollback()
    return _render(409, str(error))


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException):
    return _render(error.code or 500)


@bp.before_app_request
def refuse_nul_bytes():
    """A NUL byte is never valid text (PostgreSQL refuses it); answer 400 before any query runs."""
    values = list(request.args.values()) + list(request.form.values()) + [request.path]
    if any("\x00" in value for value in values):
        return _render(400)
    return None


@bp.app_errorhandler(DataError)
@bp.app_errorhandler(OverflowError)
def value_out_of_range(error: Exception):
    """A number or text the database cannot hold (e.g. a 40-digit id): the input is bad, not us."""
    db.session.rollback()
    return _render(400)


@bp.app_errorhandler(OperationalError)
@bp.app_errorhandler(InterfaceError)
def database_unavailable(error: Exception):
    """The database is down or unreachable: 503 so load balancers and users know to retry."""
    db.session.rollback()
    # A standalone page rendered straight from the Jinja environment: render_template would run
    # the context processors, and Flask-Login's loads the signed-in user from the database.
    page = current_app.jinja_env.get_template("errors/unavailable.html").render()
    return page, 503, {"Retry-After": "30"}


@bp.app_errorhandler(Exception)
def internal_error(error: Exception):
    """Last resort: roll back so the next request starts clean, log, and show a plain 500."""
    from flask import current_app

    db.session.rollback()
    current_app.logger.exception("Unhandled error on %s", request.path)
    return _render(500)
