"""Cooperation plans (samarbejdsplaner): list, page, create/edit with PDF document and optimistic
locking, delete, document download, and each region's list of target groups."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from crm.clock import local_today
from crm.i18n import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.extensions import db
from crm.models import CooperationPlan, Municipality, Region, TargetGroup
from crm.services.permissions import can_write_region, ensure_can_write, writable_region_codes
from crm.views.access import read_required, write_required
from crm.services import plans as plan_service
from crm.services.export import EXPORT_FORMATS
from crm.services.locking import check_version
from crm.services.uploads import UploadError
from crm.views.files import send_pdf, table_response
from crm.views.forms import region_choices
from crm.views.pipeline_forms import PlanForm, TargetGroupForm
from crm.views.helpers import int_arg, ints

bp = Blueprint("plans", __name__, url_prefix="/planer")


@bp.route("/")
@read_required
def index():
    """All plans (optionally one region), newest signature first; CSV/XLSX of what is shown."""
    region_code = int_arg("region")
    query = plan_service.plan_query().order_by(
        CooperationPlan.signed_date.desc().nulls_first(), CooperationPlan.title
    )
    if region_code:
        query = query.where(CooperationPlan.region_code == region_code)
    plans = db.session.scalars(query).all()
    if request.args.get("format") in EXPORT_FORMATS:
        return _export(request.args["format"], plans)
    regions = db.session.scalars(select(Region).order_by(Region.code)).all()
    return render_template("plans/index.html", plans=plans, regions=regions, region_code=region_code)


def _export(fmt: str, plans):
    """The plans shown, one row each."""
    header = [_("Titel"), _("Region"), _("Kommuner"), _("Psykiatri"), _("Underskrevet"), _("Gyldig fra"),
              _("Gyldig til"), _("Målgrupper"), _("Sundhedsklynge"), _("Sundhedsaftale"), _("Dokument")]
    rows = [
        (p.title, p.region.name, ", ".join(m.name for m in p.municipalities), ", ".join(c.name for c in p.centres),
         p.signed_date, p.valid_from, p.valid_to, ", ".join(g.name for g in p.target_groups),
         p.health_cluster or "", p.health_agreement or "", p.document_name or "")
        for p in plans
    ]
    return table_response(fmt, f"samarbejdsplaner-{local_today().isoformat()}", header, rows)


@bp.route("/<int:plan_id>")
@read_required
def detail(plan_id: int):
    """One plan with its municipalities, centres, target groups and document."""
    plan = db.session.scalar(plan_service.plan_query().where(CooperationPlan.id == plan_id))
    if plan is None:
        abort(404)
    return render_template("plans/detail.html", plan=plan, can_write=can_write_region(plan.region_code))


@bp.route("/<int:plan_id>/dokument")
@read_required
def document(plan_id: int):
    """The plan's PDF, only for signed-in users, always as a download."""
    plan = db.get_or_404(CooperationPlan, plan_id)
    return send_pdf(plan.document_file, plan.document_name)


def _fill_form(form: PlanForm, plan) -> None:
    """Put a stored plan's values (or a new plan's defaults) into the form for GET."""
    if plan is None:
        municipality = db.session.get(Municipality, int_arg("municipality") or 0)
        region = municipality.region_code if municipality else current_user.region_code
        form.region.data = str(region or "")
        form.municipalities.data = [str(municipality.code)] if municipality else []
        return
    form.region.data = str(plan.region_code)
    form.municipalities.data = [str(m.code) for m in plan.municipalities]
    form.centres.data = [str(c.id) for c in plan.centres]
    form.target_groups.data = [str(g.id) for g in plan.target_groups]
    form.version.data = plan.version


def _plan_data(form: PlanForm) -> plan_service.PlanData:
    """The submitted form as the service's input."""
    return plan_service.PlanData(
        title=form.title.data or "",
        region_code=int_arg("region", {"region": form.region.data}) or 0,
        municipality_codes=ints(form.municipalities.data),
        centre_ids=ints(form.centres.data),
        target_group_ids=ints(form.target_groups.data),
        signed_date=form.signed_date.data,
        valid_from=form.valid_from.data,
        valid_to=form.valid_to.data,
        health_cluster=form.health_cluster.data or "",
        health_agreement=form.health_agreement.data or "",
        note=form.note.data or "",
    )


@bp.route("/ny", methods=["GET", "POST"])
@bp.route("/<int:plan_id>/rediger", methods=["GET", "POST"])
@write_required
def edit(plan_id: int | None = None):
    """Create or edit a plan. A second editor's save is refused (input kept); saving a signed plan
    moves its municipalities to »Samarbejdsplan underskrevet« and says what it did."""
    plan = db.get_or_404(CooperationPlan, plan_id) if plan_id else None
    if plan is not None:
        ensure_can_write(plan.region_code)
    if request.method == "POST":
        _ensure_submitted_regions()
    # Stored values only for GET; a submitted form shows exactly what the user sent.
    form = PlanForm(obj=plan if request.method == "GET" else None, writable=writable_region_codes())
    if request.method == "GET":
        _fill_form(form, plan)
    elif form.validate_on_submit():
        conflict = check_version(plan, form.version.data) if plan is not None else None
        if conflict:
            return _refuse(form, plan, conflict)
        try:
            plan, outcomes = plan_service.save_plan(plan, _plan_data(form), current_user, form.document.data)
        except UploadError as error:
            form.document.errors = [*form.document.errors, str(error)]
        except plan_service.PlanError as error:
            db.session.rollback()
            if error.field == "version":
                return _refuse(form, plan, str(error))
            getattr(form, error.field or "title").errors.append(str(error))
        else:
            flash(_("Samarbejdsplanen »%(title)s« er gemt.", title=plan.title), "success")
            for outcome in outcomes:
                flash(outcome.message, "info" if outcome.moved else "warning")
            return redirect(url_for(".detail", plan_id=plan.id))
    status = 400 if request.method == "POST" else 200
    return render_template("plans/form.html", form=form, plan=plan), status


def _ensure_submitted_regions() -> None:
    """403 for a submission naming a region, or municipalities, the user may not write: the form
    never offers them, so only a forged request sends them."""
    region_code = int_arg("region", request.form)
    if region_code is not None:
        ensure_can_write(region_code)
    codes = ints(request.form.getlist("municipalities"))
    if codes:
        query = select(Municipality.region_code).where(Municipality.code.in_(codes)).distinct()
        for municipality_region in db.session.scalars(query):
            ensure_can_write(municipality_region)


def _refuse(form: PlanForm, plan: CooperationPlan, message: str):
    """Another user saved the plan meanwhile: show who, keep the input, offer the new version."""
    flash(message, "warning")
    form.version.data = plan.version
    if getattr(form.document.data, "filename", None):
        # Browsers cannot refill a file input, so say so rather than lose the file silently.
        form.document.errors = [*form.document.errors, _("Vælg filen igen, hvis du vil uploade den.")]
    return render_template("plans/form.html", form=form, plan=plan, current=plan), 409


@bp.route("/<int:plan_id>/slet", methods=["POST"])
@write_required
def delete(plan_id: int):
    """Delete a plan and its document (the stage history stays)."""
    plan = db.get_or_404(CooperationPlan, plan_id)
    ensure_can_write(plan.region_code)
    title = plan.title
    plan_service.delete_plan(plan)
    flash(_("Samarbejdsplanen »%(title)s« er slettet.", title=title), "success")
    return redirect(url_for(".index"))


@bp.route("/<int:plan_id>/dokument/slet", methods=["POST"])
@write_required
def delete_document(plan_id: int):
    """Remove the plan's document."""
    plan = db.get_or_404(CooperationPlan, plan_id)
    ensure_can_write(plan.region_code)
    plan_service.remove_document(plan, current_user)
    flash(_("Dokumentet er fjernet."), "success")
    return redirect(url_for(".detail", plan_id=plan.id))


@bp.route("/maalgrupper")
@read_required
def target_groups():
    """Each region's list of target groups, with how many plans use each."""
    return _render_target_groups(TargetGroupForm(formdata=None))


def _render_target_groups(form: TargetGroupForm, status: int = 200):
    writable = writable_region_codes()
    form.region.choices = region_choices(writable)
    if not form.region.data:
        form.region.data = str(current_user.region_code or "")
    regions = db.session.scalars(select(Region).order_by(Region.code)).all()
    return render_template("plans/target_groups.html", form=form, regions=regions,
                           groups=plan_service.target_groups_by_region(),
                           usage=plan_service.target_group_usage(), can_add=bool(form.region.choices)), status


@bp.route("/maalgrupper/ny", methods=["POST"])
@write_required
def add_target_group():
    """Add a target group to a region's list (own region only)."""
    form = TargetGroupForm()
    form.region.choices = region_choices()
    if form.validate_on_submit():
        region_code = int(form.region.data)
        ensure_can_write(region_code)
        try:
            plan_service.add_target_group(region_code, form.name.data)
        except plan_service.PlanError as error:
            form.name.errors.append(str(error))
        else:
            flash(_("Målgruppen er tilføjet."), "success")
            return redirect(url_for(".target_groups"))
    return _render_target_groups(form, 400)


@bp.route("/maalgrupper/slet", methods=["POST"])
@write_required
def delete_target_group():
    """Delete an unused target group (its id comes in the form)."""
    group = db.get_or_404(TargetGroup, int_arg("target_group_id", request.form) or 0)
    ensure_can_write(group.region_code)
    try:
        plan_service.delete_target_group(group)
    except plan_service.PlanError as error:
        flash(str(error), "danger")
    else:
        flash(_("Målgruppen er slettet."), "success")
    return redirect(url_for(".target_groups"))
