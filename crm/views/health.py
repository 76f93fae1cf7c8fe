"""``/healthz`` for the load balancer: is the app up and the database reachable?

Public and deliberately minimal (one ``SELECT 1``, no session, no template): it is also the
baseline the benchmarks in ``bench/`` compare every page with.
"""
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from crm.extensions import db, limiter

bp = Blueprint("health", __name__)


@bp.route("/healthz")
@limiter.exempt
def healthz():
    """200 ``{"status": "ok", "database": "ok"}``, or 503 when the database does not answer."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        current_app.logger.warning("Health check: database unreachable: %s", exc.__class__.__name__)
        response = jsonify(status="error", database="unreachable")
        response.status_code = 503
        response.headers["Retry-After"] = "5"
    else:
        response = jsonify(status="ok", database="ok")
    # Never cached by a proxy: the answer must be about now.
    response.headers["Cache-Control"] = "no-store"
    return response
