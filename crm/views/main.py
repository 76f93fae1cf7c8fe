"""The start page."""

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.clock import local_today
from crm.extensions import db
from crm.models import Municipality, Region
from crm.permissions import read_required
from crm.services.pipeline import stages_on

bp = Blueprint("main", __name__)


@bp.route("/")
@read_required
def index():
    """The user's own region (ambassadors) or the whole country, municipalities by region and code."""
    region_code = current_user.region_code if current_user.is_ambassador else None
    regions_query = select(Region).order_by(Region.code).options(selectinload(Region.municipalities))
    if region_code:
        regions_query = regions_query.where(Region.code == region_code)
    regions = db.session.scalars(regions_query).all()
    today = local_today()
    stages = stages_on(today, region_code)
    overdue = db.session.scalars(
        select(Municipality)
        .where(Municipality.next_step_due < today)
        .where(Municipality.region_code == region_code if region_code else True)
        .order_by(Municipality.next_step_due)
    ).all()
    return render_template("main/index.html", regions=regions, stages=stages, overdue=overdue, today=today)
