"""Who may change and read what: the one place where the region rule is decided.

Every rule takes the acting user explicitly (None: nobody signed in). Services call
``ensure_can_write`` / ``ensure_can_change_activity`` and get ``Forbidden`` (mapped to 403 by the web
side); templates ask ``can_write_region`` (bound to the signed-in user in ``crm.templating``) to
hide buttons.
The role decorators every route carries live in ``crm.views.access``.
"""
from typing import Optional

from crm.extensions import db
from crm.i18n import gettext as _
from crm.services.errors import FieldError, Forbidden

from crm.models.region import Region
from crm.models.user import ROLE_ADMIN, ROLE_AMBASSADOR, ROLE_EXPERT_PANEL, ROLE_WORKING_GROUP


def can_write_region(region_code: Optional[int], owner_id: Optional[int] = None, user=None) -> bool:
    """May ``user`` (None: nobody signed in) change a record of ``region_code``?

    Admins may change anything. Ambassadors may change their own region's records; a national
    record (no region) only if they logged it themselves (``owner_id``) or are creating it.
    The working group changes nothing.
    """
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


def ensure_can_maintain_anchoring_items(user) -> None:
    """Raise ``Forbidden`` unless ``user`` may add and edit anchoring items (reference data: admins)."""
    if not (user and user.is_authenticated and user.role == ROLE_ADMIN):
        raise Forbidden()


def can_reopen_periods(user=None) -> bool:
    """May ``user`` open (and re-lock) a submitted period's lock? Administrators only; they are
    locked out of a submitted period like everyone else until they reopen it."""
    return bool(user and user.is_authenticated and user.role == ROLE_ADMIN)


def ensure_can_reopen_periods(user=None) -> None:
    """Raise ``Forbidden`` unless ``user`` may reopen submitted periods (``can_reopen_periods``)."""
    if not can_reopen_periods(user):
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
    """May ``user`` (None: nobody signed in) edit or delete this stored activity?

    As ``can_write_region``, except that a national activity nobody logged (imported from the
    command line, no creator) belongs to no ambassador: only admins change it.
    """
    if activity.region_code is None and activity.created_by_id is None:
        return bool(user and user.is_authenticated and user.role == ROLE_ADMIN)
    return can_write_region(activity.region_code, activity.created_by_id, user=user)


def ensure_can_change_activity(activity, user=None) -> None:
    """Raise ``Forbidden`` unless the user may edit or delete ``activity``."""
    if not can_change_activity(activity, user=user):
        raise Forbidden()


def writable_region_codes(user) -> Optional[set[int]]:
    """Region codes the user may write; None means all (admin)."""
    if user is None or not user.is_authenticated:
        return set()
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


# --- Saved reports that send themselves (crm.services.saved_reports) -------------------------
# Every CRM reader sees them (the working group reads, changes nothing). Admins manage all and
# alone approve external addresses; an ambassador creates national ones and ones for their own
# region, and changes, deletes and sends the ones they own.


def can_create_saved_report(region_code: Optional[int], user=None) -> bool:
    """May ``user`` create (or move a saved report to) ``region_code`` (None: national)?"""
    if not user or not user.is_authenticated:
        return False
    if user.role == ROLE_ADMIN:
        return True
    return user.role == ROLE_AMBASSADOR and region_code in (None, user.region_code)


def can_manage_saved_report(report, user=None) -> bool:
    """May ``user`` edit, delete or "send now" this saved report?"""
    if not user or not user.is_authenticated:
        return False
    if user.role == ROLE_ADMIN:
        return True
    return (user.role == ROLE_AMBASSADOR and report.owner_id == user.id
            and report.region_code in (None, user.region_code))


def can_approve_addresses(user=None) -> bool:
    """External addresses receive reports only when an admin has approved them."""
    return bool(user and user.is_authenticated and user.role == ROLE_ADMIN)


def ensure_can_manage_saved_report(report, user=None) -> None:
    if not can_manage_saved_report(report, user=user):
        raise Forbidden()


def ensure_can_approve_addresses(user=None) -> None:
    if not can_approve_addresses(user=user):
        raise Forbidden()


# --- Materials (crm.services.materials) ------------------------------------------------------
# Who makes each move of the workflow is data there (``Move.who``); these are the rules behind
# those names. Every CRM user reads every material; the expert panel sees only materials in review
# and published ones.

MATERIAL_OWNER = "owner"  # the material's ambassadors and admins
MATERIAL_PANEL = "expert_panel"  # STAR's expert panel: comments and verdicts
MATERIAL_DECIDER = "decider"  # the working group (and admins): review, publication, retirement
PANEL_VISIBLE_STATES = ("in_review", "published")


def can_create_material(user=None) -> bool:
    """Ambassadors and admins develop materials."""
    return bool(user and user.is_authenticated and user.role in (ROLE_AMBASSADOR, ROLE_ADMIN))


def can_change_material(material, user=None) -> bool:
    """May ``user`` edit ``material``, add versions, submit it, link activities? Admins always;
    an ambassador when it is theirs: they created it, are one of its authors, or one of its regions
    is their region. The working group and the expert panel never."""
    if not user or not user.is_authenticated:
        return False
    if user.role == ROLE_ADMIN:
        return True
    if user.role != ROLE_AMBASSADOR:
        return False
    return (material.created_by_id == user.id
            or any(author.id == user.id for author in material.author_users)
            or (user.region_code is not None and user.region_code in material.region_codes))


def can_see_material(material, user=None) -> bool:
    """Every CRM user reads every material; the expert panel only those in review or published."""
    if not user or not user.is_authenticated:
        return False
    if user.role == ROLE_EXPERT_PANEL:
        return material.state in PANEL_VISIBLE_STATES
    return True


def may_move_material(who: str, material, user=None) -> bool:
    """May ``user`` make a workflow move that ``who`` (MATERIAL_OWNER, _PANEL or _DECIDER) makes?"""
    if not user or not user.is_authenticated:
        return False
    if who == MATERIAL_OWNER:
        return can_change_material(material, user)
    if who == MATERIAL_PANEL:
        return user.role == ROLE_EXPERT_PANEL
    if who == MATERIAL_DECIDER:
        return user.role in (ROLE_WORKING_GROUP, ROLE_ADMIN)
    return False


def ensure_can_create_material(user=None) -> None:
    if not can_create_material(user):
        raise Forbidden()


def ensure_can_change_material(material, user=None) -> None:
    if not can_change_material(material, user):
        raise Forbidden()


def ensure_can_see_material(material, user=None) -> None:
    if not can_see_material(material, user):
        raise Forbidden()


def ensure_may_move_material(who: str, material, user=None) -> None:
    if not may_move_material(who, material, user):
        raise Forbidden()


def can_define_instruments(user=None) -> bool:
    """May ``user`` (None: nobody signed in) define quality-measurement instruments and their
    versions (items, bands, item mappings, activating and retiring)?

    Admins and the working group may: the one exception to "the working group changes nothing",
    since the working group owns the national quality-measurement concept. Ambassadors may not.
    """
    return bool(user and user.is_authenticated and user.role in (ROLE_ADMIN, ROLE_WORKING_GROUP))


def ensure_can_define_instruments(user=None) -> None:
    """Raise ``Forbidden`` unless the user may define instruments (``can_define_instruments``)."""
    if not can_define_instruments(user):
        raise Forbidden()


# --- The grant side (crm.services.budgets, crm.services.expenses) ------------------------------------
# Budgets and expenses follow the region rule (a region's ambassador and admins write, the working
# group reads). The call's reference data (cost lines), the grants and STAR's approval of a budget
# are admins' to record.

def can_maintain_grants(user=None) -> bool:
    """May ``user`` keep the cost lines and grants and record STAR's approval of a budget? (Admins.)"""
    return bool(user and user.is_authenticated and user.role == ROLE_ADMIN)


def ensure_can_maintain_grants(user=None) -> None:
    """Raise ``Forbidden`` unless ``user`` may keep the grants' reference data and approvals."""
    if not can_maintain_grants(user):
        raise Forbidden()


def ensure_can_write_region_finances(region_code: Optional[int], user=None) -> None:
    """Raise ``Forbidden`` unless ``user`` may change the budget or expenses of ``region_code``
    (the region rule; there is no national budget, so no region is nobody's)."""
    if region_code is None or not can_write_region(region_code, user=user):
        raise Forbidden()


def ensure_can_manage_users(user) -> None:
    """Raise ``Forbidden`` unless ``user`` may manage users, their sign-in identities and second
    factors (admins)."""
    if not (user and user.is_authenticated and user.role == ROLE_ADMIN):
        raise Forbidden()
