"""Fidelitetsmålinger: placeholder until its issue lands."""
from flask import Blueprint, render_template

from crm.permissions import read_required

bp = Blueprint("fidelity", __name__, url_prefix="/fidelitet")


@bp.route("/")
@read_required
def index():
    return render_template("placeholder.html", title="Fidelitetsmålinger")
