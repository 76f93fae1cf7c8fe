"""What every command shares: it runs in the app context, audited as the command-line administrator."""
from functools import wraps

from flask.cli import with_appcontext

from crm.audit import acting_as

CLI_ACTOR = "cli (admin)"


def as_cli_admin(func_):
    """Run the command inside the app context, audited as the command-line administrator."""

    @wraps(func_)
    @with_appcontext
    def wrapper(*args, **kwargs):
        with acting_as(CLI_ACTOR):
            return func_(*args, **kwargs)

    return wrapper
