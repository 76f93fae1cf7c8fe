"""Activities: the filtered list with export, detail, create/edit/copy/delete."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from crm.i18n import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.extensions import db
from crm.views.forms import EmptyForm, unconfirmed
from crm.models import ACTIVITY_TYPES, TRACKS, Activity, Municipality, Region
from crm.services.permissions import can_write_region, ensure_can_change_activity, ensure_can_write
from crm.views.access import read_required, write_required
from crm.services import activities as service
from crm.services.export import EXPORT_FORMATS
from crm.views.files import table_response
from crm.services.locking import check_version
from crm.views.activity_form import ActivityForm
from crm.views.helpers import own_region_default

bp = Blueprint("activities", __name__, url_prefix="/aktiviteter")
PER_PAGE = 50


@bp.route("/")
@read_required
def index():
    """The activity list: filters, pagination, and ``?format=csv-excel|csv|xlsx`` export of what is filtered."""
    regions = db.session.scalars(select(Region).order_by(Region.code)).all()
    filters = service.ActivityFilters.from_args(request.args, {r.code for r in regions})
    if (own := own_region_default()) is not None:
        filters.region = str(own)
    fmt = request.args.get("format")
    if fmt in EXPORT_FORMATS:
        query = service.filtered_query(filters, service.export_options())
        rows = service.export_rows(db.session.scalars(query).all())
        return table_response(fmt, "aktiviteter", service.export_header(), rows)
    query = service.filtered_query(filters, service.list_options())
    page = db.paginate(query, per_page=PER_PAGE, max_per_page=PER_PAGE, error_out=False)
    return render_template(
        "activities/index.html",
        page=page,
        filters=filters,
        filter_args=filters.as_args(),
        regions=regions,
        municipalities=db.session.execute(select(Municipality.code, Municipality.name).order_by(Municipality.name)).all(),
        types=ACTIVITY_TYPES,
        tracks=TRACKS,
        national=service.NATIONAL,
        delete_form=EmptyForm(),
    )


@bp.route("/<int:activity_id>")
@read_required
def detail(activity_id: int):
    """One activity with everything logged about it."""
    activity = db.get_or_404(Activity, activity_id)
    return render_template("activities/detail.html", activity=activity, tracks=TRACKS)


def _ensure_submitted_region_writable() -> None:
    """403 when a POST names a region the user may not write (the form only offers allowed ones)."""
    raw = (request.form.get("region_code") or "").strip()
    if raw.isdigit():
        ensure_can_write(int(raw))


def _form_page(form: ActivityForm, activity: Activity | None, heading: str, action: str, warnings=()):
    """Render the create/edit form (errors and warnings beside fields, input kept)."""
    return render_template("activities/form.html", form=form, activity=activity, heading=heading, action=action,
                           warnings=warnings)


def _unconfirmed_warnings(form: ActivityForm) -> list:
    """Implausible values and municipalities outside the region that the user has not yet
    confirmed with "Gem alligevel" (then nothing is saved and the form comes back)."""
    return unconfirmed(service.plausibility_warnings(form.values(), form.municipality_codes.data or []))


@bp.route("/ny", methods=["GET", "POST"])
@write_required
def new():
    """Log a new activity in the user's region (or national)."""
    form = ActivityForm(user=current_user)
    if request.method == "GET":
        form.region_code.data = str(current_user.region_code or "")
    else:
        _ensure_submitted_region_writable()
    warnings = []
    if form.validate_on_submit() and not (warnings := _unconfirmed_warnings(form)):
        values = form.values()
        ensure_can_write(values["region_code"])
        activity, _conflict = service.save_activity(
            None, values, form.municipality_codes.data, form.centre_ids.data, current_user
        )
        flash(_("Aktiviteten »%(title)s« er gemt.", title=activity.title), "success")
        return redirect(url_for("activities.detail", activity_id=activity.id))
    return _form_page(form, None, _("Registrér aktivitet"), url_for("activities.new"), warnings)


@bp.route("/<int:activity_id>/kopier")
@write_required
def copy(activity_id: int):
    """"Log a similar activity": the new-activity form pre-filled from this one, dates left empty."""
    source = db.get_or_404(Activity, activity_id)
    values = service.copy_values(source)
    if not can_write_region(values["region_code"]):
        values["region_code"] = current_user.region_code
    form = ActivityForm(user=current_user, formdata=None, data=values)
    form.region_code.data = str(values["region_code"] or "")
    form.version.data = ""
    return _form_page(form, None, _("Registrér en lignende aktivitet"), url_for("activities.new"))


@bp.route("/<int:activity_id>/rediger", methods=["GET", "POST"])
@write_required
def edit(activity_id: int):
    """Edit an activity of the user's region (a national one: the ambassador who logged it)."""
    activity = db.get_or_404(Activity, activity_id)
    ensure_can_change_activity(activity)
    form = ActivityForm(user=current_user, obj=activity)
    if request.method == "GET":
        form.region_code.data = str(activity.region_code or "")
        form.municipality_codes.data = [m.code for m in activity.municipalities]
        form.centre_ids.data = [c.id for c in activity.centres]
        form.version.data = str(activity.version)
    else:
        _ensure_submitted_region_writable()
    warnings = []
    if form.validate_on_submit() and not (warnings := _unconfirmed_warnings(form)):
        conflict = check_version(activity, form.version.data)
        if conflict is None:
            values = form.values()
            ensure_can_write(values["region_code"])
            activity, conflict = service.save_activity(
                activity, values, form.municipality_codes.data, form.centre_ids.data, current_user
            )
        if conflict is None:
            flash(_("Ændringerne er gemt."), "success")
            return redirect(url_for("activities.detail", activity_id=activity.id))
        flash(conflict, "warning")
        form.version.data = str(activity.version)
    return _form_page(form, activity, _("Redigér aktivitet"), url_for("activities.edit", activity_id=activity.id),
                      warnings)


@bp.route("/<int:activity_id>/slet", methods=["POST"])
@write_required
def delete(activity_id: int):
    """Delete an activity (POST only)."""
    activity = db.get_or_404(Activity, activity_id)
    ensure_can_change_activity(activity)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    title = activity.title
    service.delete_activity(activity)
    flash(_("Aktiviteten »%(title)s« er slettet.", title=title), "success")
    return redirect(url_for("activities.index"))
