"""The role decorators every route carries visibly (the region rule per record is the services'
job, through ``crm.services.permissions``). Pages send anonymous visitors to the sign-in page (with
``next``); a signed-in user who lacks the role gets 403, never a redirect.

The expert panel (``expert_panel``) is no CRM reader: ``read_required`` refuses it, so it sees only
the materials area (``any_role_required`` pages, ``panel_required`` actions) and its own account.
"""
from functools import wraps
from typing import Callable

from flask import abort
from flask_login import current_user, login_required

from crm.models.user import CRM_ROLES, ROLE_ADMIN, ROLE_AMBASSADOR, ROLE_EXPERT_PANEL, ROLE_WORKING_GROUP, ROLES


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


# Reading the CRM: every role but the expert panel. Writing: ambassadors (own region, checked per
# record) and admins.
read_required = roles_required(*CRM_ROLES)
write_required = roles_required(ROLE_AMBASSADOR, ROLE_ADMIN)
admin_required = roles_required(ROLE_ADMIN)
# The materials area: every signed-in role reads it (the service decides which materials the
# expert panel sees); the working group and admins decide review, publication and retirement; the
# expert panel comments and gives verdicts.
any_role_required = roles_required(*ROLES)
decider_required = roles_required(ROLE_WORKING_GROUP, ROLE_ADMIN)
panel_required = roles_required(ROLE_EXPERT_PANEL)
