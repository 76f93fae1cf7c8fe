"""Resultater: placeholder until its issue lands."""
from flask import Blueprint, render_template

from crm.permissions import read_required

bp = Blueprint("outcomes", __name__, url_prefix="/resultater")


@bp.route("/")
@read_required
def index():
    return render_template("placeholder.html", title="Resultater")
