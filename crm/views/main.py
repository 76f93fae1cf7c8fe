"""The start page."""
from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.clock import local_today
from crm.extensions import db
from crm.models import Region
from crm.views.access import any_role_required
from crm.views.page_cache import cached_page
from crm.services import tasks
from crm.services.stages import stages_on

bp = Blueprint("main", __name__)


@bp.route("/")
@any_role_required
@cached_page
def index():
    """The user's own region (ambassadors) or the whole country, municipalities by region and code,
    with overdue and upcoming tasks and each municipality's next step (earliest open task). The
    expert panel, which sees no CRM page, starts in the materials list (also after sign-in)."""
    if current_user.is_expert_panel:
        return redirect(url_for("materials.index"))
    region_code = current_user.region_code if current_user.is_ambassador else None
    regions_query = select(Region).order_by(Region.code).options(selectinload(Region.municipalities))
    if region_code:
        regions_query = regions_query.where(Region.code == region_code)
    regions = db.session.scalars(regions_query).all()
    today = local_today()
    stages = stages_on(today, region_code)
    open_tasks = tasks.open_tasks(region_code)  # one query: the due lists and each next step
    due = tasks.due_tasks(today, tasks.UPCOMING_DAYS, tasks=open_tasks)
    return render_template("main/index.html", regions=regions, stages=stages, due=due,
                           next_tasks=tasks.earliest_open(open_tasks), today=today,
                           upcoming_days=tasks.UPCOMING_DAYS)
