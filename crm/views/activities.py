"""Activities: the filtered list with export, detail, create/edit/copy/delete, and the activity
form (fields, choices for the current user, and the cross-field rules)."""
from dataclasses import replace

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import (
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
    URLField,
)
from wtforms.validators import InputRequired, Length, NumberRange, URL, ValidationError
from wtforms.validators import Optional as OptionalValue

from crm.extensions import db
from crm.views.forms import (PICKER, DanishDateField, DanishNumberField, EmptyForm, VersionedForm,
                             municipality_choices, non_negative, show_error, unconfirmed)
from crm.models import ACTIVITY_TYPES, TRACKS, Activity, Municipality, PsychiatricCentre, Region
from crm.services.errors import Conflict, FieldError
from crm.services.permissions import writable_region_codes
from crm.views.access import read_required, write_required
from crm.views.page_cache import cached_page
from crm.services import activities as service
from crm.services.export import EXPORT_FORMATS
from crm.services.paging import paginate
from crm.views.files import table_response
from crm.views.helpers import own_region_default

bp = Blueprint("activities", __name__, url_prefix="/aktiviteter")
PER_PAGE = 50


# --------------------------------------------------------------------------------------------
# The form

NATIONAL_CHOICE = ""


def _count_field(label):
    """An optional count ≥ 0."""
    return DanishNumberField(label, validators=[OptionalValue(), non_negative()])


class ActivityForm(VersionedForm):
    """Create/edit an activity. Field names match the model so values can be copied across."""

    type = SelectField(_l("Type"), validators=[InputRequired()])
    title = StringField(_l("Titel"), validators=[InputRequired(), Length(max=300)])
    start_date = DanishDateField(_l("Dato (start)"), validators=[InputRequired()])
    end_date = DanishDateField(_l("Slutdato (hvis over flere dage)"), validators=[OptionalValue()])
    start_time = TimeField(_l("Starttidspunkt"), validators=[OptionalValue()])
    end_time = TimeField(_l("Sluttidspunkt"), validators=[OptionalValue()])
    location = StringField(_l("Sted"), validators=[OptionalValue(), Length(max=300)])
    hours = DanishNumberField(_l("Varighed i timer"), places=2,
                              validators=[OptionalValue(), NumberRange(min=0, max=10000,
                                                                  message=_l("Skal være et tal fra 0 og op."))],
                              description=_l("Fx 2,5 (med komma eller punktum)."))
    # Offers the regions the user may write, accepts any region: the service refuses another one
    # as such (403), not as an invalid choice.
    region_code = SelectField(_l("Region"), validators=[OptionalValue()], validate_choice=False,
                              description=_l("Tom: en landsdækkende aktivitet for hele korpset."))
    municipality_codes = SelectMultipleField(_l("Kommuner"), coerce=int, validators=[OptionalValue()],
                                             render_kw={"size": 8, **PICKER, "data-outside-text": _l(
                                                 "%(names)s ligger uden for %(region)s. Er det rigtigt?")},
                                             description=_l("Hold Ctrl (Cmd på Mac) nede for at vælge flere."))
    centre_ids = SelectMultipleField(_l("Psykiatriske centre"), coerce=int, validators=[OptionalValue()],
                                     render_kw={"size": 5})
    participants = _count_field(_l("Deltagere i alt"))
    participants_municipality = _count_field(_l("Heraf fra kommuner"))
    participants_psychiatry = _count_field(_l("Heraf fra psykiatrien"))
    participants_other = _count_field(_l("Heraf andre"))
    participants_staff = _count_field(_l("Heraf medarbejdere"))
    participants_managers = _count_field(_l("Heraf ledere"))
    sessions = _count_field(_l("Antal gange (undervisningsforløb)"))
    link = URLField(_l("Link (materiale)"), validators=[OptionalValue(), URL(message=_l("Skriv en hel adresse, fx https://…")),
                                                        Length(max=500)])
    note = TextAreaField(_l("Note"), validators=[OptionalValue(), Length(max=5000)], render_kw={"rows": 4})
    submit = SubmitField(_l("Gem"))

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.type.choices = [(code, str(label)) for code, (label, _track) in ACTIVITY_TYPES.items()]
        regions = db.session.scalars(select(Region).order_by(Region.code)).all()
        self._known_regions = {str(r.code) for r in regions}
        self.region_code.choices = _region_choices(regions, user)
        # All 98 (an activity may involve any region's), grouped by region, the user's own first.
        self.municipality_codes.choices = municipality_choices(first_region=getattr(user, "region_code", None))
        self.centre_ids.choices = _centre_choices()

    def values(self) -> dict:
        """The model fields from the form (municipalities and centres are separate)."""
        skip = {"version", "submit", "csrf_token", "municipality_codes", "centre_ids", "region_code"}
        values = {name: f.data for name, f in self._fields.items() if name not in skip}
        values["title"] = (values["title"] or "").strip()
        for name in ("location", "link", "note"):
            values[name] = (values[name] or "").strip() or None
        values["region_code"] = int(self.region_code.data) if self.region_code.data else None
        return values

    def validate_region_code(self, field):
        """National (empty) or an existing region; anything else is not a valid choice."""
        if field.data.strip() not in self._known_regions:
            raise ValidationError(field.gettext("Not a valid choice."))

    def validate(self, extra_validators=None) -> bool:
        """Field validators, then the rules spanning fields (dates, split ≤ total, type fields)."""
        valid = super().validate(extra_validators)
        if not valid:  # cross-field rules only make sense once every field parsed
            return False
        for name, message in service.validation_errors(self.values()).items():
            self[name].errors = list(self[name].errors) + [message]
            valid = False
        return valid


def _region_choices(regions, user) -> list[tuple[str, str]]:
    """National plus the ``regions`` the user may write (admins: all)."""
    writable = writable_region_codes(user) if user is not None else None
    choices = [(NATIONAL_CHOICE, str(_l("Landsdækkende (ingen region)")))]
    choices += [(str(r.code), r.name) for r in regions if writable is None or r.code in writable]
    return choices


def _centre_choices() -> list[tuple[int, str]]:
    """All psychiatric centres, by region and name."""
    rows = db.session.execute(
        select(PsychiatricCentre.id, PsychiatricCentre.name, Region.name)
        .join(Region, Region.code == PsychiatricCentre.region_code)
        .order_by(PsychiatricCentre.region_code, PsychiatricCentre.name)
    )
    return [(centre_id, f"{name} ({region})") for centre_id, name, region in rows]


# --------------------------------------------------------------------------------------------
# Routes


@bp.route("/")
@read_required
@cached_page
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
    page = paginate(service.list_query(filters), request.args.get("page", 1, type=int), PER_PAGE, rows=True)
    page = replace(page, items=service.listed_activities(page.items))
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


def _form_page(form: ActivityForm, activity: Activity | None, heading: str, action: str, warnings=()):
    """Render the create/edit form (errors and warnings beside fields, input kept)."""
    return render_template("activities/form.html", form=form, activity=activity, heading=heading, action=action,
                           warnings=warnings)


def _unconfirmed_warnings(form: ActivityForm) -> list:
    """Implausible values and municipalities outside the region that the user has not yet
    confirmed with "Gem alligevel" (then nothing is saved and the form comes back)."""
    return unconfirmed(service.plausibility_warnings(form.values(), form.municipality_codes.data or []))


def _save(form: ActivityForm, activity: Activity | None) -> Activity | None:
    """Save the validated form through the service; None when it refused (shown on the form, the
    input kept; a conflict carries the stored version, so a deliberate second save goes through)."""
    try:
        return service.save_activity(activity, form.values(), form.municipality_codes.data, form.centre_ids.data,
                                     form.version.data, actor=current_user)
    except FieldError as error:
        show_error(form, error)  # the page keeps its status 200, as for any form error here
        if isinstance(error, Conflict):
            form.version.data = str(activity.version)
        return None


@bp.route("/ny", methods=["GET", "POST"])
@write_required
def new():
    """Log a new activity in the user's region (or national)."""
    form = ActivityForm(user=current_user)
    if request.method == "GET":
        form.region_code.data = str(current_user.region_code or "")
    warnings = []
    if form.validate_on_submit() and not (warnings := _unconfirmed_warnings(form)):
        activity = _save(form, None)
        if activity is not None:
            flash(_("Aktiviteten »%(title)s« er gemt.", title=activity.title), "success")
            return redirect(url_for("activities.detail", activity_id=activity.id))
    return _form_page(form, None, _("Registrér aktivitet"), url_for("activities.new"), warnings)


@bp.route("/<int:activity_id>/kopier")
@write_required
def copy(activity_id: int):
    """"Log a similar activity": the new-activity form pre-filled from this one, dates left empty."""
    source = db.get_or_404(Activity, activity_id)
    values = service.copy_values(source, actor=current_user)
    form = ActivityForm(user=current_user, formdata=None, data=values)
    form.region_code.data = str(values["region_code"] or "")
    form.version.data = ""
    return _form_page(form, None, _("Registrér en lignende aktivitet"), url_for("activities.new"))


def _activity_to_change(activity_id: int) -> Activity:
    """The activity, or 404; for a user who may change it (the service's rule: else 403)."""
    activity = db.get_or_404(Activity, activity_id)
    service.ensure_can_change(activity, actor=current_user)
    return activity


@bp.route("/<int:activity_id>/rediger", methods=["GET", "POST"])
@write_required
def edit(activity_id: int):
    """Edit an activity of the user's region (a national one: the ambassador who logged it)."""
    activity = _activity_to_change(activity_id)
    form = ActivityForm(user=current_user, obj=activity)
    if request.method == "GET":
        form.region_code.data = str(activity.region_code or "")
        form.municipality_codes.data = [m.code for m in activity.municipalities]
        form.centre_ids.data = [c.id for c in activity.centres]
        form.version.data = str(activity.version)
    warnings = []
    if form.validate_on_submit() and not (warnings := _unconfirmed_warnings(form)):
        if _save(form, activity) is not None:
            flash(_("Ændringerne er gemt."), "success")
            return redirect(url_for("activities.detail", activity_id=activity.id))
    return _form_page(form, activity, _("Redigér aktivitet"), url_for("activities.edit", activity_id=activity.id),
                      warnings)


@bp.route("/<int:activity_id>/slet", methods=["POST"])
@write_required
def delete(activity_id: int):
    """Delete an activity (POST only)."""
    activity = _activity_to_change(activity_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    title = activity.title
    service.delete_activity(activity, actor=current_user)
    flash(_("Aktiviteten »%(title)s« er slettet.", title=title), "success")
    return redirect(url_for("activities.index"))
