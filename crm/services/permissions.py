"""Who may change and read what: the one place where the region rule is decided.

Services call ``ensure_can_write`` / ``ensure_can_change_activity`` with the acting user and get
``Forbidden`` (mapped to 403 by the web side); templates ask ``can_write_region`` to hide buttons.
The role decorators every route carries live in ``crm.views.access``.
"""
from typing import Optional

from flask_login import current_user

from crm.extensions import db
from crm.i18n import gettext as _
from crm.services.errors import FieldError, Forbidden

from crm.models.region import Region
from crm.models.user import ROLE_ADMIN, ROLE_AMBASSADOR, ROLE_WORKING_GROUP


def can_write_region(region_code: Optional[int], owner_id: Optional[int] = None, user=None) -> bool:
    """May ``user`` (default: the current user) change a record of ``region_code``?

    Admins may change anything. Ambassadors may change their own region's records; a national
    record (no region) only if they logged it themselves (``owner_id``) or are creating it.
    The working group changes nothing.
    """
    user = user or current_user
    if not user or not user.is_authenticated:
        return False
    if user.role == ROLE_ADMIN:
        return True
    if user.role != ROLE_AMBASSADOR:
        return False
    if region_code is None:
        return owner_id is None or owner_id == user.id
    return region_code == user.region_code


def ensure_can_write(region_code: Optional[int], owner_id: Optional[int] = None, user=None) -> None:
    """Raise ``Forbidden`` unless the user may change a record of ``region_code``."""
    if not can_write_region(region_code, owner_id, user=user):
        raise Forbidden()


def submitted_region(region_code: Optional[int], *, actor) -> int:
    """The region a form submitted for a record, checked by a service before it writes: ``Forbidden``
    unless ``actor`` may write it (the form offers only those, so only a forged request sends
    another), ``FieldError`` on the ``region`` field when none or no such region was chosen."""
    if region_code is not None:
        ensure_can_write(region_code, user=actor)
    if region_code is None or db.session.get(Region, region_code) is None:
        raise FieldError(_("Vælg en region fra listen."), "region")
    return region_code


def can_change_activity(activity, user=None) -> bool:
    """May ``user`` (default: the current user) edit or delete this stored activity?

    As ``can_write_region``, except that a national activity nobody logged (imported from the
    command line, no creator) belongs to no ambassador: only admins change it.
    """
    user = user or current_user
    if activity.region_code is None and activity.created_by_id is None:
        return bool(user and user.is_authenticated and user.role == ROLE_ADMIN)
    return can_write_region(activity.region_code, activity.created_by_id, user=user)


def ensure_can_change_activity(activity, user=None) -> None:
    """Raise ``Forbidden`` unless the user may edit or delete ``activity``."""
    if not can_change_activity(activity, user=user):
        raise Forbidden()


def writable_region_codes(user=None) -> Optional[set[int]]:
    """Region codes the user may write; None means all (admin)."""
    user = user or current_user
    if user.role == ROLE_ADMIN:
        return None
    if user.role == ROLE_AMBASSADOR and user.region_code:
        return {user.region_code}
    return set()


def readable_region_codes(user) -> Optional[frozenset[int]]:
    """Regions whose records ``user`` may read in a calendar feed (which has no signed-in user,
    only the feed's owner): None means all.

    Ambassadors read their own region (plus national activities); the working group and admins
    read everything; any other role reads nothing regional.
    """
    if user.role in (ROLE_ADMIN, ROLE_WORKING_GROUP):
        return None
    if user.role == ROLE_AMBASSADOR and user.region_code:
        return frozenset({user.region_code})
    return frozenset()


def can_define_instruments(user=None) -> bool:
    """May ``user`` (default: the current user) define quality-measurement instruments and their
    versions (items, bands, item mappings, activating and retiring)?

    Admins and the working group may: the one exception to "the working group changes nothing",
    since the working group owns the national quality-measurement concept. Ambassadors may not.
    """
    user = user or current_user
    return bool(user and user.is_authenticated and user.role in (ROLE_ADMIN, ROLE_WORKING_GROUP))


def ensure_can_define_instruments(user=None) -> None:
    """Raise ``Forbidden`` unless the user may define instruments (``can_define_instruments``)."""
    if not can_define_instruments(user):
        raise Forbidden()
