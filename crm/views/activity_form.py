"""The activity form: fields, choices for the current user, and the cross-field rules."""
from crm.i18n import lazy_gettext as _l
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
from wtforms.validators import InputRequired, Length, NumberRange, Optional, URL

from crm.extensions import db
from crm.views.forms import DanishDateField, DanishNumberField, VersionedForm, non_negative
from crm.models import ACTIVITY_TYPES, PsychiatricCentre, Region
from crm.services.permissions import can_write_region
from crm.services.activities import validation_errors
from crm.views.forms import PICKER, municipality_choices

NATIONAL_CHOICE = ""


def _count_field(label):
    """An optional count ≥ 0."""
    return DanishNumberField(label, validators=[Optional(), non_negative()])


class ActivityForm(VersionedForm):
    """Create/edit an activity. Field names match the model so values can be copied across."""

    type = SelectField(_l("Type"), validators=[InputRequired()])
    title = StringField(_l("Titel"), validators=[InputRequired(), Length(max=300)])
    start_date = DanishDateField(_l("Dato (start)"), validators=[InputRequired()])
    end_date = DanishDateField(_l("Slutdato (hvis over flere dage)"), validators=[Optional()])
    start_time = TimeField(_l("Starttidspunkt"), validators=[Optional()])
    end_time = TimeField(_l("Sluttidspunkt"), validators=[Optional()])
    location = StringField(_l("Sted"), validators=[Optional(), Length(max=300)])
    hours = DanishNumberField(_l("Varighed i timer"), places=2,
                              validators=[Optional(), NumberRange(min=0, max=10000,
                                                                  message=_l("Skal være et tal fra 0 og op."))],
                              description=_l("Fx 2,5 (med komma eller punktum)."))
    region_code = SelectField(_l("Region"), validators=[Optional()],
                              description=_l("Tom: en landsdækkende aktivitet for hele korpset."))
    municipality_codes = SelectMultipleField(_l("Kommuner"), coerce=int, validators=[Optional()],
                                             render_kw={"size": 8, **PICKER, "data-outside-text": _l(
                                                 "%(names)s ligger uden for %(region)s. Er det rigtigt?")},
                                             description=_l("Hold Ctrl (Cmd på Mac) nede for at vælge flere."))
    centre_ids = SelectMultipleField(_l("Psykiatriske centre"), coerce=int, validators=[Optional()],
                                     render_kw={"size": 5})
    participants = _count_field(_l("Deltagere i alt"))
    participants_municipality = _count_field(_l("Heraf fra kommuner"))
    participants_psychiatry = _count_field(_l("Heraf fra psykiatrien"))
    participants_other = _count_field(_l("Heraf andre"))
    participants_staff = _count_field(_l("Heraf medarbejdere"))
    participants_managers = _count_field(_l("Heraf ledere"))
    sessions = _count_field(_l("Antal gange (undervisningsforløb)"))
    link = URLField(_l("Link (materiale)"), validators=[Optional(), URL(message=_l("Skriv en hel adresse, fx https://…")),
                                                        Length(max=500)])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=5000)], render_kw={"rows": 4})
    submit = SubmitField(_l("Gem"))

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.type.choices = [(code, str(label)) for code, (label, _track) in ACTIVITY_TYPES.items()]
        self.region_code.choices = _region_choices(user)
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

    def validate(self, extra_validators=None) -> bool:
        """Field validators, then the rules spanning fields (dates, split ≤ total, type fields)."""
        valid = super().validate(extra_validators)
        if not valid:  # cross-field rules only make sense once every field parsed
            return False
        for name, message in validation_errors(self.values()).items():
            self[name].errors = list(self[name].errors) + [message]
            valid = False
        return valid


def _region_choices(user) -> list[tuple[str, str]]:
    """National plus the regions the user may write (admins: all)."""
    regions = db.session.scalars(select(Region).order_by(Region.code)).all()
    choices = [(NATIONAL_CHOICE, str(_l("Landsdækkende (ingen region)")))]
    choices += [(str(r.code), r.name) for r in regions if user is None or can_write_region(r.code, user=user)]
    return choices




def _centre_choices() -> list[tuple[int, str]]:
    """All psychiatric centres, by region and name."""
    rows = db.session.execute(
        select(PsychiatricCentre.id, PsychiatricCentre.name, Region.name)
        .join(Region, Region.code == PsychiatricCentre.region_code)
        .order_by(PsychiatricCentre.region_code, PsychiatricCentre.name)
    )
    return [(centre_id, f"{name} ({region})") for centre_id, name, region in rows]
