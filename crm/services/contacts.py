"""Work contacts: saving and deleting for good, each as the acting user under the region rule,
with the version the user saw, in one transaction."""
from dataclasses import dataclass
from functools import cache
from typing import Optional

from crm.i18n import gettext as _
from sqlalchemy import bindparam, select

from crm.extensions import db
from crm.models import AuditEntry, Contact, Municipality, PsychiatricCentre
from crm.services.errors import FieldError
from crm.services.locking import commit_versioned, ensure_version, flush_versioned, mark_updated
from crm.services.permissions import ensure_can_write, submitted_region


@dataclass
class ContactData:
    """What the contact form submits, already parsed (None: nothing, or nothing valid, chosen)."""

    name: str
    region_code: Optional[int]
    organisation: str = ""
    role: str = ""
    email: str = ""
    phone: str = ""
    municipality_code: Optional[int] = None
    centre_id: Optional[int] = None


def ensure_can_change(contact: Contact, *, actor) -> None:
    """``Forbidden`` unless ``actor`` may change ``contact`` (its region's rule)."""
    ensure_can_write(contact.region_code, user=actor)


def _check(data: ContactData, actor) -> None:
    """The region rule for what is submitted (region and municipality: ``Forbidden``), then the
    municipality and centre must belong to the contact's region (``FieldError``)."""
    region_code = submitted_region(data.region_code, actor=actor)
    if data.municipality_code is not None:
        municipality = db.session.get(Municipality, data.municipality_code)
        if municipality is not None:
            ensure_can_write(municipality.region_code, user=actor)
        if municipality is None or municipality.region_code != region_code:
            raise FieldError(_("Kommunen ligger ikke i den valgte region."), "municipality")
    if data.centre_id is not None:
        centre = db.session.get(PsychiatricCentre, data.centre_id)
        if centre is None or centre.region_code != region_code:
            raise FieldError(_("Enheden hører ikke til den valgte region."), "centre")


def save_contact(contact: Optional[Contact], data: ContactData, version=None, *, actor) -> Contact:
    """Create (``contact`` None) or update a contact, work data only, as ``actor``. An update needs
    the ``version`` the user's form was shown with. Raises ``Forbidden`` (region rule),
    ``FieldError`` or ``Conflict`` (changed meanwhile) before anything is written. Commits."""
    if contact is not None:
        ensure_can_change(contact, actor=actor)
    _check(data, actor)
    if contact is None:
        contact = Contact(name=data.name, region_code=data.region_code)
        db.session.add(contact)
    else:
        ensure_version(contact, version)
    contact.name = data.name.strip()
    contact.organisation = data.organisation.strip()
    contact.role = data.role.strip()
    contact.email = data.email.strip().lower() or None
    contact.phone = data.phone.strip() or None
    contact.region_code = data.region_code
    contact.municipality_code = data.municipality_code
    contact.centre_id = data.centre_id
    mark_updated(contact, actor)
    commit_versioned(contact)  # the database's version check, for a save in between
    return contact


# Personal data that must not outlive the contact, not even in the audit log's copies.
PERSONAL_FIELDS = ("name", "email", "phone", "role")
REDACTED = "[slettet]"


def delete_contact(contact: Contact, version=None, *, actor) -> None:
    """Delete the contact for good, as ``actor``: the row goes, and the audit log keeps only *that*
    it existed and who changed or deleted it, with the person's name, e-mail, phone and title
    blanked out. ``version`` is the one the user saw: a contact changed meanwhile is not deleted
    (``Conflict``). Raises ``Forbidden`` under the region rule. Commits."""
    ensure_can_change(contact, actor=actor)
    ensure_version(contact, version)
    contact_id = str(contact.id)
    db.session.delete(contact)
    flush_versioned(contact)  # writes the audit entry for the delete; the database checks the version
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


def municipality_contacts(municipality_code: int) -> list[Contact]:
    """One municipality's contacts by name (one query; the municipality page)."""
    return list(db.session.scalars(_municipality_contacts_query(), {"code": municipality_code}))


@cache
def _municipality_contacts_query():
    """The statement behind ``municipality_contacts`` (built once per process)."""
    return select(Contact).where(Contact.municipality_code == bindparam("code")).order_by(Contact.name)
