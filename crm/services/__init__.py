"""Domain rules as plain functions, callable from views, CLI and tests alike."""
from typing import Optional


class FieldError(ValueError):
    """A rule broken by submitted data; ``field`` names the form field the message belongs to
    (None: the form as a whole), so a view can show it beside that field."""

    def __init__(self, message: str, field: Optional[str] = None):
        super().__init__(message)
        self.field = field
