"""The errors a domain rule raises. Services raise these and never touch HTTP; the web side maps
them in one place (``crm.views.errors``): ``Forbidden`` → 403, ``Conflict`` → 409, and a form view
shows any ``FieldError`` (``Conflict`` included) beside the field it names, keeping the input."""
from typing import Optional


class FieldError(ValueError):
    """A rule broken by submitted data; ``field`` names the form field the message belongs to
    (None: the form as a whole), so a view can show it beside that field."""

    def __init__(self, message: str, field: Optional[str] = None):
        super().__init__(message)
        self.field = field

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class Conflict(FieldError):
    """Someone else saved the record since the user loaded it: nothing was written. The message
    names who and when; it belongs beside the form's hidden ``version`` field."""

    def __init__(self, message: str, field: Optional[str] = "version"):
        super().__init__(message, field)


class Forbidden(PermissionError):
    """The acting user may not do this (the region rule, or a role): nothing was written."""


class Locked(FieldError):
    """The record is dated in a period already submitted to STAR, and the period is not reopened
    for its region: nothing was written. The message names the submission (period, when, by
    whom) and who can unlock it. It belongs beside the form's date field (``field``); where no
    form shows it (a delete button, the board), the web side answers 409 with the message."""
