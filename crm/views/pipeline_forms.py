"""Forms and small request helpers shared by the pipeline views (municipalities, plans, contacts)."""
from typing import Optional
from urllib.parse import urlencode

from flask import request, url_for
from crm.clock import local_today
from flask_login import current_user
from crm.i18n import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from werkzeug.routing import BuildError
from wtforms import EmailField, HiddenField, SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, Optional as OptionalValue, ValidationError
from wtforms.widgets import TextInput

from crm.extensions import db
from crm.forms import DanishDateField, VersionedForm, region_choices
from crm.models import STAGES, Municipality, PsychiatricCentre, Region, TargetGroup, User


# --- request helpers ------------------------------------------------------------------------


def int_arg(name: str, source=None) -> Optional[int]:
    """A query (or form) argument as int, or None when absent or not a number (never a 500)."""
    try:
        return int((source or request.args).get(name, ""))
    except (TypeError, ValueError):
        return None


def own_region_default() -> Optional[int]:
    """An ambassador's bare list (no query arguments at all) starts in their own region; any
    argument, ``region=`` (empty: the whole country) included, means exactly what it says, so
    links from the dashboard and the start page keep their meaning."""
    if request.args or not current_user.is_ambassador:
        return None
    return current_user.region_code


def wants_json() -> bool:
    """True for the board's fetch() calls, which ask for JSON instead of a redirect."""
    return request.accept_mimetypes.best == "application/json"


def safe_url(endpoints, **values) -> Optional[str]:
    """A URL for another area's page, trying each endpoint name in turn; None if none exists yet
    (areas land independently, so a missing page must not break this one)."""
    for endpoint in (endpoints,) if isinstance(endpoints, str) else endpoints:
        try:
            return url_for(endpoint, **values)
        except BuildError:
            continue
    return None


# Werkzeug's query-string encoding (werkzeug.urls._urlencode): these characters stay as they are.
QUERY_SAFE = "!$'()*,/:;?@"


class QueryUrls:
    """``safe_url(endpoint, **query)`` for pages with hundreds of links to pages without path
    arguments (the dashboard, the report's figures table).

    ``url_for`` costs 10–25 µs a link, so each endpoint's path is built once per page and each
    "name=value" pair encoded once, the way Werkzeug does; tests hold the results to ``url_for``'s.
    """

    def __init__(self):
        self._paths: dict[str, Optional[str]] = {}
        self._encoded: dict[tuple, str] = {}

    def __call__(self, endpoint: str, **query) -> Optional[str]:
        if endpoint not in self._paths:
            self._paths[endpoint] = safe_url(endpoint)
        path = self._paths[endpoint]
        if path is None:
            return None
        query_string = "&".join(self._encode(pair) for pair in query.items() if pair[1] is not None)
        return f"{path}?{query_string}" if query_string else path

    def _encode(self, pair: tuple) -> str:
        if pair not in self._encoded:
            self._encoded[pair] = urlencode([pair], safe=QUERY_SAFE)
        return self._encoded[pair]


def municipality_choices(region_codes=None, first_region: Optional[int] = None) -> list[SelectChoice]:
    """Municipalities as choices grouped by region (``<optgroup>``), by region then name,
    optionally only some regions; ``first_region`` (the user's own) is listed first (one query)."""
    query = (select(Municipality.code, Municipality.name, Municipality.region_code, Region.name)
             .join(Region, Region.code == Municipality.region_code)
             .order_by(Municipality.region_code != first_region if first_region else Municipality.region_code,
                       Municipality.region_code, Municipality.name))
    if region_codes is not None:
        query = query.where(Municipality.region_code.in_(region_codes))
    return [SelectChoice(str(code), name, optgroup=region) for code, name, _region_code, region
            in db.session.execute(query)]


# A select of municipalities becomes a searchable picker (static/js/pickers.js, Tom Select); without
# JavaScript it stays the plain select it is.
PICKER = {"data-picker": "municipalities", "data-no-results": _l("Ingen kommune passer på søgningen.")}


def _regional_choices(model, region_codes=None) -> list[tuple[str, str]]:
    """Choices for a per-region list (centres, target groups), by region then name; the region is
    named when several regions are listed, since names repeat across regions (one query)."""
    query = (
        select(model.id, model.name, Region.name)
        .join(Region, Region.code == model.region_code)
        .order_by(model.region_code, model.name)
    )
    if region_codes is not None:
        query = query.where(model.region_code.in_(region_codes))
    rows = db.session.execute(query).all()
    several = len({region for _id, _name, region in rows}) > 1
    return [
        (str(id_), f"{name} ({region.removeprefix('Region ')})" if several else name)
        for id_, name, region in rows
    ]


def centre_choices(region_codes=None) -> list[tuple[str, str]]:
    """Psychiatric centres as choices, by region then name."""
    return _regional_choices(PsychiatricCentre, region_codes)


def target_group_choices(region_codes=None) -> list[tuple[str, str]]:
    """Target groups as choices, by region then name."""
    return _regional_choices(TargetGroup, region_codes)


def user_choices() -> list[tuple[str, str]]:
    """Active users who can own a task (ambassadors and admins)."""
    users = db.session.scalars(
        select(User).where(User.active.is_(True), User.role.in_(("ambassador", "admin"))).order_by(User.name)
    )
    return [("", str(_l("— ingen —")))] + [(str(u.id), u.display_name) for u in users]


def ints(values) -> list[int]:
    """Selected ids from a multiple select, ignoring anything that is not a number."""
    result = []
    for value in values or []:
        try:
            result.append(int(value))
        except (TypeError, ValueError):
            continue
    return result


def _date_field(label, validators=None, **kwargs) -> DanishDateField:
    """A Danish date typed as text: a browser's type="date" input cannot show 23-11-2026, so a
    re-shown form (after an error or a conflict) would look empty and lose the user's date."""
    return DanishDateField(label, validators, widget=TextInput(), **kwargs)


STAGE_CHOICES = [(code, label) for code, label in STAGES.items()]


# --- municipality page forms ----------------------------------------------------------------


class StageChangeForm(FlaskForm):
    """A (possibly backdated) stage change, or the correction of one."""

    stage = SelectField(_l("Fase"), choices=STAGE_CHOICES)
    effective_date = _date_field(_l("Gælder fra"), validators=[InputRequired()], default=local_today)
    note = TextAreaField(_l("Bemærkning"), validators=[OptionalValue(), Length(max=2000)],
                         render_kw={"rows": 2})
    submit = SubmitField(_l("Gem faseændring"))

    def validate_effective_date(self, field):
        """A stage can be backdated but not set in the future: the history records what happened."""
        if field.data and field.data > local_today():
            raise ValidationError(_l("Datoen kan ikke ligge i fremtiden."))


class StageCorrectionForm(StageChangeForm):
    """The correction of a recorded stage change, optimistically locked like ``VersionedForm``."""

    version = HiddenField()


class MoveForm(FlaskForm):
    """The board card's "move to stage" form (the same route the drag-and-drop script posts to)."""

    stage = SelectField(_l("Flyt til fase"), choices=STAGE_CHOICES)
    submit = SubmitField(_l("Flyt"))


class NoteForm(FlaskForm):
    """A dated note on the municipality's timeline."""

    note_date = _date_field(_l("Dato"), validators=[InputRequired()], default=local_today)
    text = TextAreaField(_l("Notat"), validators=[InputRequired(), Length(max=5000)], render_kw={"rows": 3})
    submit = SubmitField(_l("Tilføj notat"))


class TaskForm(VersionedForm):
    """A task on a municipality: what, who and by when (``version`` guards edits)."""

    text = TextAreaField(_l("Opgave"), validators=[InputRequired(message=_l("Skriv hvad der skal gøres.")),
                                                   Length(max=2000)], render_kw={"rows": 2})
    owner = SelectField(_l("Ansvarlig"), validators=[OptionalValue()])
    due = _date_field(_l("Frist"), validators=[OptionalValue()])
    submit = SubmitField(_l("Gem opgave"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner.choices = user_choices()

    def owner_id(self) -> Optional[int]:
        """The chosen owner's id, or None for nobody."""
        try:
            return int(self.owner.data) if self.owner.data else None
        except (TypeError, ValueError):
            return None


# --- plans -----------------------------------------------------------------------------------


class PlanForm(VersionedForm):
    """A cooperation plan; choices are limited to what the user may write."""

    title = StringField(_l("Titel"), validators=[InputRequired(), Length(max=200)])
    region = SelectField(_l("Ejerregion"))
    municipalities = SelectMultipleField(_l("Kommuner"), render_kw={"size": 8, **PICKER})
    centres = SelectMultipleField(_l("Psykiatriske centre/enheder"), render_kw={"size": 5},
                                  description=_l("Listen vedligeholdes af en administrator (Administration › Psykiatriske centre i menuen)."))
    signed_date = _date_field(_l("Underskrevet den"), validators=[OptionalValue()])
    valid_from = _date_field(_l("Gyldig fra"), validators=[OptionalValue()])
    valid_to = _date_field(_l("Gyldig til"), validators=[OptionalValue()])
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
    """Add a target group to a region's list."""

    region = SelectField(_l("Region"))
    name = StringField(_l("Ny målgruppe"), validators=[InputRequired(), Length(max=160)])
    submit = SubmitField(_l("Tilføj målgruppe"))


# --- contacts --------------------------------------------------------------------------------


class ContactForm(VersionedForm):
    """A work contact; only work contact data (optimistic locking via ``version``)."""

    name = StringField(_l("Navn"), validators=[InputRequired(), Length(max=160)])
    organisation = StringField(_l("Organisation"), validators=[OptionalValue(), Length(max=200)])
    role = StringField(_l("Rolle/titel"), validators=[OptionalValue(), Length(max=160)])
    email = EmailField(_l("Arbejds-e-mail"), validators=[OptionalValue(), Email(), Length(max=254)])
    phone = StringField(_l("Arbejdstelefon"), validators=[OptionalValue(), Length(max=40)])
    region = SelectField(_l("Region"))
    municipality = SelectField(_l("Kommune"), validators=[OptionalValue()], render_kw=PICKER)
    centre = SelectField(_l("Psykiatrisk center/enhed"), validators=[OptionalValue()])
    submit = SubmitField(_l("Gem kontakt"))

    def __init__(self, *args, writable=None, **kwargs):
        super().__init__(*args, **kwargs)
        none = str(_l("— ingen —"))
        self.region.choices = region_choices(writable)
        self.municipality.choices = [SelectChoice("", none)] + municipality_choices(writable)
        self.centre.choices = [("", none)] + centre_choices(writable)
