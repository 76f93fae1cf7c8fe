"""Contacts: work contact details of people at job centres, psychiatry and partners."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from crm.clock import local_today
from crm.i18n import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from crm.extensions import db
from crm.models import Contact, Municipality, Region
from crm.services.permissions import ensure_can_write, writable_region_codes
from crm.views.access import read_required, write_required
from crm.services import contacts as contact_service
from crm.services.export import EXPORT_FORMATS
from crm.views.files import table_response
from crm.views.pipeline_forms import ContactForm
from crm.views.helpers import int_arg
from crm.services.search import LIKE_ESCAPE, contains_pattern

bp = Blueprint("contacts", __name__, url_prefix="/kontakter")


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
        region_code=int_arg("region", {"region": form.region.data}) or 0,
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
    """Create or edit a contact in the user's own region."""
    contact = db.get_or_404(Contact, contact_id) if contact_id else None
    if contact is not None:
        ensure_can_write(contact.region_code)
    if request.method == "POST":
        _ensure_submitted_regions()
    form = ContactForm(obj=contact if request.method == "GET" else None, writable=writable_region_codes())
    if request.method == "GET":
        _fill_defaults(form, contact)
    elif form.validate_on_submit():
        try:
            contact = contact_service.save_contact(contact, _contact_data(form), current_user, form.version.data)
        except contact_service.ContactError as error:
            db.session.rollback()
            if error.field == "version":
                return _refuse(form, contact, str(error))
            getattr(form, error.field).errors.append(str(error))
        else:
            flash(_("Kontakten %(name)s er gemt.", name=contact.name), "success")
            return redirect(_back(contact))
    status = 400 if request.method == "POST" else 200
    return render_template("contacts/form.html", form=form, contact=contact), status


def _refuse(form: ContactForm, contact: Contact, message: str):
    """Someone else saved the contact meanwhile: say who, keep the user's input, show what is
    stored now, and carry the new version so a deliberate second save goes through."""
    flash(message, "warning")
    form.version.data = str(contact.version)
    return render_template("contacts/form.html", form=form, contact=contact, current=contact), 409


def _ensure_submitted_regions() -> None:
    """403 for a submitted region or municipality the user may not write (the form never offers
    them, so only a forged request sends them)."""
    region_code = int_arg("region", request.form)
    if region_code is not None:
        ensure_can_write(region_code)
    municipality = db.session.get(Municipality, int_arg("municipality", request.form) or 0)
    if municipality is not None:
        ensure_can_write(municipality.region_code)


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
    ensure_can_write(contact.region_code)
    name = contact.name
    try:
        contact_service.delete_contact(contact, request.form.get("version"))
    except contact_service.ContactError as error:
        # Changed since the user decided to delete it: show it as it is now, to decide again.
        form = ContactForm(formdata=None, obj=contact, writable=writable_region_codes())
        _fill_defaults(form, contact)
        return _refuse(form, contact, str(error))
    flash(_("Kontakten %(name)s er slettet.", name=name), "success")
    return redirect(url_for(".index"))
