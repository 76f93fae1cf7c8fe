"""Statusrapport: placeholder until its issue lands."""
from flask import Blueprint, render_template

from crm.permissions import read_required

bp = Blueprint("reports", __name__, url_prefix="/rapporter")


@bp.route("/")
@read_required
def index():
    return render_template("placeholder.html", title="Statusrapport")
