"""Samarbejdsplaner: placeholder until its issue lands."""
from flask import Blueprint, render_template

from crm.permissions import read_required

bp = Blueprint("plans", __name__, url_prefix="/planer")


@bp.route("/")
@read_required
def index():
    return render_template("placeholder.html", title="Samarbejdsplaner")
