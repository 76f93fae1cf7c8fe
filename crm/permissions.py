"""Who may do what: the one place where access rules are decided.

Every protected route carries one of these decorators visibly. Pages send anonymous visitors to
the sign-in page (with ``next``); a signed-in user who lacks the right gets 403, never a redirect.
Region rules for individual records go through ``ensure_can_write``.
"""
from functools import wraps
from typing import Callable, Optional

from flask import abort
from flask_login import current_user, login_required

from crm.models.user import ROLE_ADMIN, ROLE_AMBASSADOR


def roles_required(*roles: str) -> Callable:
    """Signed-in users whose role is one of ``roles``; anyone else signed in gets 403."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_roles = roles  # lets tests check every write route is guarded
        return wrapped

    return decorator


# Reading: any signed-in user. Writing: ambassadors (own region, checked per record) and admins.
read_required = login_required
write_required = roles_required(ROLE_AMBASSADOR, ROLE_ADMIN)
admin_required = roles_required(ROLE_ADMIN)


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


def ensure_can_write(region_code: Optional[int], owner_id: Optional[int] = None) -> None:
    """Abort with 403 unless the current user may change a record of ``region_code``."""
    if not can_write_region(region_code, owner_id):
        abort(403)


def can_change_activity(activity, user=None) -> bool:
    """May ``user`` (default: the current user) edit or delete this stored activity?

    As ``can_write_region``, except that a national activity nobody logged (imported from the
    command line, no creator) belongs to no ambassador: only admins change it.
    """
    user = user or current_user
    if activity.region_code is None and activity.created_by_id is None:
        return bool(user and user.is_authenticated and user.role == ROLE_ADMIN)
    return can_write_region(activity.region_code, activity.created_by_id, user=user)


def ensure_can_change_activity(activity) -> None:
    """Abort with 403 unless the current user may edit or delete ``activity``."""
    if not can_change_activity(activity):
        abort(403)


def writable_region_codes(user=None) -> Optional[set[int]]:
    """Region codes the user may write; None means all (admin)."""
    user = user or current_user
    if user.role == ROLE_ADMIN:
        return None
    if user.role == ROLE_AMBASSADOR and user.region_code:
        return {user.region_code}
    return set()
