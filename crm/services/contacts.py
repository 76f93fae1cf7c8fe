"""Work contacts: saving with the region rule, and deleting for good."""
from dataclasses import dataclass
from typing import Optional

from crm.i18n import gettext as _
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from crm.extensions import db
from crm.models import AuditEntry, Contact, Municipality, PsychiatricCentre
from crm.services.permissions import can_write_region
from crm.services.errors import FieldError
from crm.services.locking import check_version, commit_or_conflict, conflict_message, mark_updated


class ContactError(FieldError):
    """A contact that breaks a rule (always about one field)."""


@dataclass
class ContactData:
    """What the contact form submits, already parsed."""

    name: str
    region_code: int
    organisation: str = ""
    role: str = ""
    email: str = ""
    phone: str = ""
    municipality_code: Optional[int] = None
    centre_id: Optional[int] = None


def _check(data: ContactData, user) -> None:
    """Region rule, and the municipality/centre must belong to the contact's region."""
    if not can_write_region(data.region_code, user=user):
        raise ContactError(_("Du kan kun registrere kontakter i din egen region."), "region")
    if data.municipality_code is not None:
        municipality = db.session.get(Municipality, data.municipality_code)
        if municipality is None or municipality.region_code != data.region_code:
            raise ContactError(_("Kommunen ligger ikke i den valgte region."), "municipality")
    if data.centre_id is not None:
        centre = db.session.get(PsychiatricCentre, data.centre_id)
        if centre is None or centre.region_code != data.region_code:
            raise ContactError(_("Enheden hører ikke til den valgte region."), "centre")


def _ensure_current(contact: Contact, version) -> None:
    """ContactError on the ``version`` field unless ``version`` is the stored one (someone else
    saved the contact since the user's form was shown: they are told who, nothing is changed)."""
    conflict = check_version(contact, version)
    if conflict:
        raise ContactError(conflict, "version")


def save_contact(contact: Optional[Contact], data: ContactData, user, version=None) -> Contact:
    """Create or update a contact (work data only). An update needs the ``version`` the user's
    form was shown with. Raises ContactError (field "version": changed meanwhile). Commits."""
    if contact is not None:
        _ensure_current(contact, version)
    _check(data, user)
    if contact is None:
        contact = Contact(name=data.name, region_code=data.region_code)
        db.session.add(contact)
    contact.name = data.name.strip()
    contact.organisation = data.organisation.strip()
    contact.role = data.role.strip()
    contact.email = data.email.strip().lower() or None
    contact.phone = data.phone.strip() or None
    contact.region_code = data.region_code
    contact.municipality_code = data.municipality_code
    contact.centre_id = data.centre_id
    mark_updated(contact, user)
    conflict = commit_or_conflict(contact)  # the database's version check, for a save in between
    if conflict:
        raise ContactError(conflict, "version")
    return contact


# Personal data that must not outlive the contact, not even in the audit log's copies.
PERSONAL_FIELDS = ("name", "email", "phone", "role")
REDACTED = "[slettet]"


def delete_contact(contact: Contact, version=None) -> None:
    """Delete the contact for good: the row goes, and the audit log keeps only *that* it existed
    and who changed or deleted it, with the person's name, e-mail, phone and title blanked out.
    ``version`` is the one the user saw: a contact changed meanwhile is not deleted (ContactError).
    Commits."""
    _ensure_current(contact, version)
    contact_id = str(contact.id)
    db.session.delete(contact)
    try:
        db.session.flush()  # writes the audit entry for the delete; the database checks the version
    except StaleDataError:
        db.session.rollback()
        raise ContactError(conflict_message(contact), "version")
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.entity == Contact.__table__.name, AuditEntry.entity_id == contact_id)
    )
    for entry in entries:
        changes = dict(entry.changes or {})
        for key in PERSONAL_FIELDS:
            if key in changes:
                changes[key] = [REDACTED, REDACTED] if isinstance(changes[key], list) else REDACTED
        entry.changes = changes  # a new dict, so the JSON column sees the change
    db.session.commit()
