"""Contacts: work contact details of people at job centres, psychiatry and partners."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from crm.clock import local_today
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload
from wtforms import EmailField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, Optional as OptionalValue

from crm.extensions import db
from crm.models import Contact, Municipality, Region
from crm.services.errors import Conflict, FieldError
from crm.services.permissions import writable_region_codes
from crm.views.access import read_required, write_required
from crm.services import contacts as contact_service
from crm.services.export import EXPORT_FORMATS
from crm.views.files import table_response
from crm.views.forms import PICKER, VersionedForm, centre_choices, municipality_choices, region_choices, show_error
from crm.views.helpers import int_arg
from crm.services.search import LIKE_ESCAPE, contains_pattern

bp = Blueprint("contacts", __name__, url_prefix="/kontakter")


class ContactForm(VersionedForm):
    """A work contact; only work contact data (optimistic locking via ``version``).

    Region and municipality offer only what the user may write; the service checks what is
    submitted (a forged other region is refused as such, 403, not as an invalid choice)."""

    name = StringField(_l("Navn"), validators=[InputRequired(), Length(max=160)])
    organisation = StringField(_l("Organisation"), validators=[OptionalValue(), Length(max=200)])
    role = StringField(_l("Rolle/titel"), validators=[OptionalValue(), Length(max=160)])
    email = EmailField(_l("Arbejds-e-mail"), validators=[OptionalValue(), Email(), Length(max=254)])
    phone = StringField(_l("Arbejdstelefon"), validators=[OptionalValue(), Length(max=40)])
    region = SelectField(_l("Region"), validate_choice=False)
    municipality = SelectField(_l("Kommune"), validators=[OptionalValue()], render_kw=PICKER, validate_choice=False)
    centre = SelectField(_l("Psykiatrisk center/enhed"), validators=[OptionalValue()])
    submit = SubmitField(_l("Gem kontakt"))

    def __init__(self, *args, writable=None, **kwargs):
        """``writable``: region codes the user may write (None: all)."""
        super().__init__(*args, **kwargs)
        none = str(_l("— ingen —"))
        self.region.choices = region_choices(writable)
        self.municipality.choices = [SelectChoice("", none)] + municipality_choices(writable)
        self.centre.choices = [("", none)] + centre_choices(writable)


@bp.route("/")
@read_required
def index():
    """Contacts, filterable by region, municipality and a search; CSV/XLSX of what is shown."""
    region_code, municipality_code = int_arg("region"), int_arg("municipality")
    search = (request.args.get("q") or "").strip()[:100]
    query = (
        select(Contact)
        .options(joinedload(Contact.region), joinedload(Contact.municipality), joinedload(Contact.centre))
        .order_by(Contact.name)
    )
    if region_code:
        query = query.where(Contact.region_code == region_code)
    if municipality_code:
        query = query.where(Contact.municipality_code == municipality_code)
    if search:
        pattern = contains_pattern(search)
        query = query.where(or_(*(column.ilike(pattern, escape=LIKE_ESCAPE) for column in (
            Contact.name, Contact.organisation, Contact.role, Contact.email))))
    contacts = db.session.scalars(query).all()
    if request.args.get("format") in EXPORT_FORMATS:
        return _export(request.args["format"], contacts)
    regions = db.session.scalars(select(Region).order_by(Region.code)).all()
    return render_template("contacts/index.html", contacts=contacts, regions=regions, region_code=region_code,
                           municipality=db.session.get(Municipality, municipality_code or 0), q=search)


def _export(fmt: str, contacts):
    """The contacts shown, one row each."""
    header = [_("Navn"), _("Organisation"), _("Rolle/titel"), _("E-mail"), _("Telefon"), _("Region"),
              _("Kommune"), _("Psykiatri")]
    rows = [(c.name, c.organisation, c.role, c.email or "", c.phone or "", c.region.name,
             c.municipality.name if c.municipality else "", c.centre.name if c.centre else "") for c in contacts]
    return table_response(fmt, f"kontakter-{local_today().isoformat()}", header, rows)


def _fill_defaults(form: ContactForm, contact) -> None:
    """Selects for GET: the stored contact's values, or a new contact's region/municipality."""
    if contact is not None:
        form.region.data = str(contact.region_code)
        form.municipality.data = str(contact.municipality_code or "")
        form.centre.data = str(contact.centre_id or "")
        form.version.data = str(contact.version)
        return
    municipality = db.session.get(Municipality, int_arg("municipality") or 0)
    form.region.data = str(municipality.region_code if municipality else current_user.region_code or "")
    form.municipality.data = str(municipality.code) if municipality else ""


def _contact_data(form: ContactForm) -> contact_service.ContactData:
    """The submitted form as the service's input."""
    return contact_service.ContactData(
        name=form.name.data or "",
        region_code=int_arg("region", {"region": form.region.data}),
        organisation=form.organisation.data or "",
        role=form.role.data or "",
        email=form.email.data or "",
        phone=form.phone.data or "",
        municipality_code=int_arg("m", {"m": form.municipality.data}),
        centre_id=int_arg("c", {"c": form.centre.data}),
    )


@bp.route("/ny", methods=["GET", "POST"])
@bp.route("/<int:contact_id>", methods=["GET", "POST"])
@write_required
def edit(contact_id: int | None = None):
    """Create or edit a contact in a region the user may write."""
    contact = db.get_or_404(Contact, contact_id) if contact_id else None
    if contact is not None:
        contact_service.ensure_can_change(contact, actor=current_user)  # its form only for who may change it
    # Stored values only for GET; a submitted form shows exactly what the user sent.
    form = ContactForm(obj=contact if request.method == "GET" else None,
                       writable=writable_region_codes(current_user))
    if request.method == "GET":
        _fill_defaults(form, contact)
        return _form_page(form, contact)
    if not form.validate_on_submit():
        return _form_page(form, contact, 400)
    try:
        contact = contact_service.save_contact(contact, _contact_data(form), form.version.data, actor=current_user)
    except FieldError as error:
        return _refused(form, contact, error)
    flash(_("Kontakten %(name)s er gemt.", name=contact.name), "success")
    return redirect(_back(contact))


def _form_page(form: ContactForm, contact, status: int = 200, **context):
    return render_template("contacts/form.html", form=form, contact=contact, **context), status


def _refused(form: ContactForm, contact, error: FieldError):
    """The form again with the service's refusal, the user's input kept. After a conflict also
    what is stored now, and its version, so a deliberate second save goes through."""
    status = show_error(form, error)
    if not isinstance(error, Conflict):
        return _form_page(form, contact, status)
    form.version.data = str(contact.version)
    return _form_page(form, contact, status, current=contact)


def _back(contact: Contact) -> str:
    """After saving: the municipality's page if the contact belongs to one, else the list."""
    if contact.municipality_code:
        return url_for("municipalities.detail", code=contact.municipality_code)
    return url_for(".index", region=contact.region_code)


@bp.route("/<int:contact_id>/slet", methods=["POST"])
@write_required
def delete(contact_id: int):
    """Delete a contact for good (not just hide it)."""
    contact = db.get_or_404(Contact, contact_id)
    name = contact.name
    try:
        contact_service.delete_contact(contact, request.form.get("version"), actor=current_user)
    except Conflict as error:
        # Changed since the user decided to delete it: show it as it is now, to decide again.
        form = ContactForm(formdata=None, obj=contact, writable=writable_region_codes(current_user))
        _fill_defaults(form, contact)
        return _refused(form, contact, error)
    flash(_("Kontakten %(name)s er slettet.", name=name), "success")
    return redirect(url_for(".index"))
