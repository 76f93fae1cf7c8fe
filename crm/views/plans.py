"""Cooperation plans (samarbejdsplaner): list, page, create/edit with PDF document and optimistic
locking, delete, document download, and each region's list of target groups."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from crm.clock import local_today
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from wtforms import SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional as OptionalValue

from crm.extensions import db
from crm.models import CooperationPlan, Municipality, Region, TargetGroup
from crm.services.errors import Conflict, FieldError
from crm.services.permissions import writable_region_codes
from crm.views.access import read_required, write_required
from crm.services import plans as plan_service
from crm.services.export import EXPORT_FORMATS
from crm.services.uploads import UploadError
from crm.views.files import send_pdf, table_response
from crm.views.forms import (PICKER, VersionedForm, centre_choices, date_text_field, municipality_choices,
                             region_choices, show_error, target_group_choices)
from crm.views.helpers import int_arg, ints

bp = Blueprint("plans", __name__, url_prefix="/planer")


class PlanForm(VersionedForm):
    """A cooperation plan; the choices are what the user may write. The owning region and the
    municipalities are not refused here as invalid choices: the service checks what is submitted
    (a forged other region is refused as such, 403)."""

    title = StringField(_l("Titel"), validators=[InputRequired(), Length(max=200)])
    region = SelectField(_l("Ejerregion"), validate_choice=False)
    municipalities = SelectMultipleField(_l("Kommuner"), render_kw={"size": 8, **PICKER}, validate_choice=False)
    centres = SelectMultipleField(_l("Psykiatriske centre/enheder"), render_kw={"size": 5},
                                  description=_l("Listen vedligeholdes af en administrator (Administration › Psykiatriske centre i menuen)."))
    signed_date = date_text_field(_l("Underskrevet den"), validators=[OptionalValue()])
    valid_from = date_text_field(_l("Gyldig fra"), validators=[OptionalValue()])
    valid_to = date_text_field(_l("Gyldig til"), validators=[OptionalValue()])
    target_groups = SelectMultipleField(_l("Målgrupper"), render_kw={"size": 5})
    health_cluster = StringField(_l("Sundhedsklynge"), validators=[OptionalValue(), Length(max=200)])
    health_agreement = StringField(_l("Sundhedsaftale (link eller henvisning)"),
                                   validators=[OptionalValue(), Length(max=500)])
    note = TextAreaField(_l("Bemærkning"), validators=[OptionalValue(), Length(max=5000)], render_kw={"rows": 3})
    document = FileField(_l("Dokument (PDF)"), render_kw={"accept": "application/pdf,.pdf"})
    submit = SubmitField(_l("Gem plan"))

    def __init__(self, *args, writable=None, **kwargs):
        """``writable``: region codes the user may write (None: all)."""
        super().__init__(*args, **kwargs)
        self.region.choices = region_choices(writable)
        self.municipalities.choices = municipality_choices(writable)
        self.centres.choices = centre_choices(writable)
        self.target_groups.choices = target_group_choices(writable)


class TargetGroupForm(FlaskForm):
    """Add a target group to a region's list (the regions the user may write; the service checks
    what is submitted)."""

    region = SelectField(_l("Region"), validate_choice=False)
    name = StringField(_l("Ny målgruppe"), validators=[InputRequired(), Length(max=160)])
    submit = SubmitField(_l("Tilføj målgruppe"))

    def __init__(self, *args, writable=None, **kwargs):
        """``writable``: region codes the user may write (None: all)."""
        super().__init__(*args, **kwargs)
        self.region.choices = region_choices(writable)


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
    return render_template("plans/detail.html", plan=plan)


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
        region_code=int_arg("region", {"region": form.region.data}),
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
        plan_service.ensure_can_change(plan, actor=current_user)  # its form only for who may change it
    # Stored values only for GET; a submitted form shows exactly what the user sent.
    form = PlanForm(obj=plan if request.method == "GET" else None, writable=writable_region_codes(current_user))
    if request.method == "GET":
        _fill_form(form, plan)
        return _form_page(form, plan)
    if not form.validate_on_submit():
        return _form_page(form, plan, 400)
    try:
        plan, outcomes = plan_service.save_plan(plan, _plan_data(form), form.version.data, form.document.data,
                                                actor=current_user)
    except UploadError as error:
        form.document.errors = [*form.document.errors, str(error)]
        return _form_page(form, plan, 400)
    except FieldError as error:
        return _refused(form, plan, error)
    flash(_("Samarbejdsplanen »%(title)s« er gemt.", title=plan.title), "success")
    for outcome in outcomes:
        flash(outcome.message, "info" if outcome.moved else "warning")
    return redirect(url_for(".detail", plan_id=plan.id))


def _form_page(form: PlanForm, plan, status: int = 200, **context):
    return render_template("plans/form.html", form=form, plan=plan, **context), status


def _refused(form: PlanForm, plan, error: FieldError):
    """The form again with the service's refusal, the input kept. After a conflict (another user
    saved the plan meanwhile) also what is stored now, and its version for a deliberate resave."""
    status = show_error(form, error)
    if not isinstance(error, Conflict):
        return _form_page(form, plan, status)
    form.version.data = plan.version
    if getattr(form.document.data, "filename", None):
        # Browsers cannot refill a file input, so say so rather than lose the file silently.
        form.document.errors = [*form.document.errors, _("Vælg filen igen, hvis du vil uploade den.")]
    return _form_page(form, plan, status, current=plan)


@bp.route("/<int:plan_id>/slet", methods=["POST"])
@write_required
def delete(plan_id: int):
    """Delete a plan and its document (the stage history stays)."""
    plan = db.get_or_404(CooperationPlan, plan_id)
    title = plan.title
    try:
        plan_service.delete_plan(plan, actor=current_user)
    except Conflict as error:
        flash(str(error), "warning")
        return redirect(url_for(".detail", plan_id=plan.id))
    flash(_("Samarbejdsplanen »%(title)s« er slettet.", title=title), "success")
    return redirect(url_for(".index"))


@bp.route("/<int:plan_id>/dokument/slet", methods=["POST"])
@write_required
def delete_document(plan_id: int):
    """Remove the plan's document."""
    plan = db.get_or_404(CooperationPlan, plan_id)
    try:
        plan_service.remove_document(plan, actor=current_user)
    except Conflict as error:
        flash(str(error), "warning")
    else:
        flash(_("Dokumentet er fjernet."), "success")
    return redirect(url_for(".detail", plan_id=plan.id))


@bp.route("/maalgrupper")
@read_required
def target_groups():
    """Each region's list of target groups, with how many plans use each."""
    return _render_target_groups(TargetGroupForm(formdata=None, writable=writable_region_codes(current_user)))


def _render_target_groups(form: TargetGroupForm, status: int = 200):
    if not form.region.data:
        form.region.data = str(current_user.region_code or "")
    regions = db.session.scalars(select(Region).order_by(Region.code)).all()
    return render_template("plans/target_groups.html", form=form, regions=regions,
                           groups=plan_service.target_groups_by_region(),
                           usage=plan_service.target_group_usage(), can_add=bool(form.region.choices)), status


@bp.route("/maalgrupper/ny", methods=["POST"])
@write_required
def add_target_group():
    """Add a target group to a region's list (a region the user may write)."""
    form = TargetGroupForm(writable=writable_region_codes(current_user))
    if not form.validate_on_submit():
        return _render_target_groups(form, 400)
    try:
        plan_service.add_target_group(int_arg("region", {"region": form.region.data}), form.name.data,
                                      actor=current_user)
    except FieldError as error:
        return _render_target_groups(form, show_error(form, error))
    flash(_("Målgruppen er tilføjet."), "success")
    return redirect(url_for(".target_groups"))


@bp.route("/maalgrupper/slet", methods=["POST"])
@write_required
def delete_target_group():
    """Delete an unused target group (its id comes in the form)."""
    group = db.get_or_404(TargetGroup, int_arg("target_group_id", request.form) or 0)
    try:
        plan_service.delete_target_group(group, actor=current_user)
    except FieldError as error:
        flash(str(error), "warning")
    else:
        flash(_("Målgruppen er slettet."), "success")
    return redirect(url_for(".target_groups"))
