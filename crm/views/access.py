"""The role decorators every route carries visibly (the region rule per record is the services'
job, through ``crm.services.permissions``). Pages send anonymous visitors to the sign-in page (with
``next``); a signed-in user who lacks the role gets 403, never a redirect.
"""
from functools import wraps
from typing import Callable

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
