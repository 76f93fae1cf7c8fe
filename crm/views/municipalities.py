"""Municipalities: the list (search, region filter)."""
from datetime import date

from flask import Blueprint, render_template, request
from sqlalchemy import String, cast, or_, select

from crm.extensions import db
from crm.models import Municipality, Region
from crm.permissions import read_required
from crm.services.pipeline import stages_on

bp = Blueprint("municipalities", __name__, url_prefix="/kommuner")


def _int_arg(name: str):
    """A query argument as int, or None when absent or not a number (never a 500)."""
    try:
        return int(request.args.get(name, ""))
    except ValueError:
        return None


@bp.route("/")
@read_required
def index():
    """All municipalities, searchable by name or code and filterable by region."""
    q = (request.args.get("q") or "").strip()[:100]
    region_code = _int_arg("region")
    query = select(Municipality).order_by(Municipality.region_code, Municipality.code)
    if q:
        query = query.where(
            or_(Municipality.name.ilike(f"%{q}%"), cast(Municipality.code, String).like(f"{q}%"))
        )
    if region_code:
        query = query.where(Municipality.region_code == region_code)
    municipalities = db.session.scalars(query).all()
    regions = db.session.scalars(select(Region).order_by(Region.code)).all()
    stages = stages_on(date.today())
    return render_template(
        "municipalities/index.html",
        municipalities=municipalities,
        regions=regions,
        stages=stages,
        q=q,
        region_code=region_code,
    )


@bp.route("/<int:code>")
@read_required
def detail(code: int):
    """One municipality (its page grows with the pipeline)."""
    municipality = db.get_or_404(Municipality, code)
    return render_template("municipalities/detail.html", municipality=municipality)
